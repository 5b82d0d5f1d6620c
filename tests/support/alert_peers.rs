//! Real receivers for alerts: an SMTP server (Python's `aiosmtpd`, installed by the test command
//! into `target/alert-peers`) that keeps each e-mail in a maildir, and an HTTP server (Python's
//! own `http.server`) that keeps each POST's body. Both listen on 127.0.0.1 only.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_until;

/// The Python with aiosmtpd.
fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/alert-peers/bin/python");
    assert!(
        python.exists(),
        "aiosmtpd is missing: run `bash scripts/test-all.sh`, which installs it into target/alert-peers"
    );
    python
}

/// A port on 127.0.0.1 nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                || child.try_wait().ok().flatten().is_some()
        }),
        "{what} did not start on port {port}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "{what} stopped at its start"
    );
}

/// aiosmtpd on 127.0.0.1, keeping every e-mail it takes in a maildir.
pub struct SmtpServer {
    child: Child,
    /// Its port.
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts it on `port`, keeping mail under `dir`.
    pub fn start(port: u16, dir: &Path) -> SmtpServer {
        let maildir = dir.join("maildir");
        let mut child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting aiosmtpd");
        wait_for_port(port, &mut child, "aiosmtpd");
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    /// Every e-mail taken so far, oldest first, with folded header lines unfolded.
    pub fn messages(&self) -> Vec<String> {
        messages_in(&self.maildir)
    }
}

/// The e-mails in a maildir, oldest first (by modification time, then name).
pub fn messages_in(maildir: &Path) -> Vec<String> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(maildir.join("new"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| {
            let text = fs::read_to_string(p).unwrap().replace("\r\n", "\n");
            let (headers, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let body = if headers.contains("Content-Transfer-Encoding: quoted-printable") {
                quoted_printable(body)
            } else {
                body.to_string()
            };
            format!("{}\n\n{body}", headers.replace("\n ", " "))
        })
        .collect()
}

/// A quoted-printable body decoded (RFC 2045 6.7): soft line breaks dropped, `=XX` as bytes.
fn quoted_printable(body: &str) -> String {
    let bytes = body.replace("=\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP receiver: each POST's body goes to `<dir>/<n>.json`; it answers with the status in
/// `<dir>/status` (200 when there is none).
const RECEIVER: &str = r#"
import http.server, os, sys
folder = sys.argv[2]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            status = int(open(os.path.join(folder, "status")).read())
        except FileNotFoundError:
            status = 200
        if status == 200:
            n = len([f for f in os.listdir(folder) if f.endswith(".json")])
            tmp = os.path.join(folder, ".tmp")
            with open(tmp, "wb") as f:
                f.write(body)
            os.rename(tmp, os.path.join(folder, "%06d.json" % n))
            with open(os.path.join(folder, "%06d.headers" % n), "w") as f:
                f.write(str(self.headers))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"taken" if status == 200 else b"not now")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
"#;

/// An HTTP server on 127.0.0.1 that keeps what is posted to it.
pub struct WebhookReceiver {
    child: Child,
    /// Its port.
    pub port: u16,
    folder: PathBuf,
}

impl WebhookReceiver {
    /// Starts it, keeping bodies under `dir`.
    pub fn start(dir: &Path) -> WebhookReceiver {
        let folder = dir.join("posts");
        fs::create_dir_all(&folder).unwrap();
        let port = free_port();
        let mut child = Command::new("python3")
            .args(["-c", RECEIVER])
            .arg(port.to_string())
            .arg(&folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting python3's http.server");
        wait_for_port(port, &mut child, "the webhook receiver");
        WebhookReceiver {
            child,
            port,
            folder,
        }
    }

    /// Its address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Makes it answer every POST with `status` (and keep nothing unless it is 200).
    pub fn answer_with(&self, status: u16) {
        fs::write(self.folder.join("status"), status.to_string()).unwrap();
    }

    /// Every body taken so far, parsed, oldest first.
    pub fn posts(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.folder)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The headers of the `n`th post.
    pub fn headers(&self, n: usize) -> String {
        fs::read_to_string(self.folder.join(format!("{n:06}.headers"))).unwrap()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
