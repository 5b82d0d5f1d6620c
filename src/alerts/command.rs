//! A program as a channel: run with the message as JSON on its standard input, for anything
//! neither e-mail nor a webhook reaches. Exit status 0 means it took the message.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Message, Transport};

/// A command channel.
pub(super) struct Program {
    /// The program and its arguments.
    pub(super) argv: Vec<String>,
    /// Killed when it runs longer.
    pub(super) timeout: Duration,
}

/// What of its output is quoted, at most.
const QUOTED: usize = 200;

impl Transport for Program {
    fn send(&self, message: &Message) -> Result<String, String> {
        let program = &self.argv[0];
        let mut child = Command::new(program)
            .args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let input = message.json().to_string();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        // Read on threads of their own, so that a chatty program never fills a pipe and waits.
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut out);
                }
                String::from_utf8_lossy(&out)
                    .chars()
                    .take(QUOTED)
                    .collect::<String>()
            })
        };
        let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{program} ran longer than {} and was stopped",
                        humantime::format_duration(self.timeout)
                    ));
                }
                Err(e) => return Err(format!("cannot wait for {program}: {e}")),
            }
        };
        let _ = writer.join();
        let said = stdout.join().unwrap_or_default();
        let complained = stderr.join().unwrap_or_default();
        if status.success() {
            Ok(format!("{program} took it: {}", said.trim()))
        } else {
            Err(format!(
                "{program} failed ({status}): {}",
                complained.trim()
            ))
        }
    }
}
