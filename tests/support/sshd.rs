//! A real OpenSSH server for tests: Debian's `/usr/sbin/sshd` on 127.0.0.1 at a free port, with
//! throwaway host and user keys and internal-sftp, stopped by its pid when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::wait_until;

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd and the files a client needs to reach it.
pub struct Sshd {
    child: Child,
    /// Its folder: keys, config, and `root/` where SFTP files live.
    pub dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "cartferry-test",
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen (Debian: apt-get install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

fn spawn(dir: &Path) -> Child {
    Command::new(SSHD)
        .arg("-D")
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .stderr(Stdio::null())
        .spawn()
        .expect("starting sshd")
}

/// Every process below `pid`, read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        // The field after the parenthesised command name: state, then the parent's pid.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let all: Vec<u32> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            all.iter()
                .copied()
                .filter(|p| parent_of(*p) == Some(parent)),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Sends `signal` to every process of `pids`.
pub fn signal_all(pids: &[u32], signal: &str) {
    for pid in pids {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The user the tests log in as: whoever runs them.
pub fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Sshd {
    /// Starts a server; panics with install advice when sshd is missing.
    pub fn start() -> Sshd {
        Sshd::start_with("")
    }

    /// Starts a server whose sshd_config ends with `extra` (for `Match` blocks).
    pub fn start_with(extra: &str) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install Debian's openssh-server (apt-get install -y openssh-server); scripts/test-all.sh does this"
        );
        // sshd insists on its privilege-separation folder.
        let _ = fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("root")).unwrap();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("other_key"));
        fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel INFO\n{extra}",
            d = d.display()
        );
        fs::write(d.join("sshd_config"), config).unwrap();
        let child = spawn(d);
        let sshd = Sshd { child, dir, port };
        sshd.wait_listening();
        sshd.write_known_hosts("known_hosts", "host_key.pub");
        sshd
    }

    fn wait_listening(&self) {
        let port = self.port;
        let listening = || TcpStream::connect(("127.0.0.1", port)).is_ok();
        assert!(
            wait_until(Duration::from_secs(10), listening),
            "sshd did not listen on port {port}"
        );
    }

    /// Sends `signal` (`STOP`, `CONT`) to the session processes the server has forked so far,
    /// not to the server itself; returns them, to signal them again.
    pub fn signal_sessions(&self, signal: &str) -> Vec<u32> {
        let sessions = descendants(self.child.id());
        signal_all(&sessions, signal);
        sessions
    }

    /// Kills the server and every session process it forked, as a crash would. (Sessions call
    /// setsid(), so they are found by parentage, not by process group.)
    pub fn kill_all(&mut self) {
        let mut pids = descendants(self.child.id());
        pids.push(self.child.id());
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.child = spawn(self.dir.path());
        self.wait_listening();
    }

    /// Writes a known_hosts file trusting the public key in `key_file` for this server.
    pub fn write_known_hosts(&self, name: &str, key_file: &str) -> PathBuf {
        self.write_known_hosts_for_port(name, key_file, self.port)
    }

    /// The same for the server seen at another port (behind a proxy).
    pub fn write_known_hosts_for_port(&self, name: &str, key_file: &str, port: u16) -> PathBuf {
        let key = fs::read_to_string(self.dir.path().join(key_file)).unwrap();
        let mut parts = key.split_whitespace();
        let line = format!(
            "[127.0.0.1]:{} {} {}\n",
            port,
            parts.next().unwrap(),
            parts.next().unwrap()
        );
        let path = self.dir.path().join(name);
        fs::write(&path, line).unwrap();
        path
    }

    /// The server's own log (`LogLevel INFO`: every login accepted or refused).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logins the server refused: connections closed while the user was still authenticating.
    pub fn refused_logins(&self) -> usize {
        self.log()
            .matches("Connection closed by authenticating user")
            .count()
    }

    /// A path in the server's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// An example's `config` with its `[endpoints.warehouse]` table pointing at this server, and
    /// its folders polled and settled quickly.
    pub fn as_warehouse_of(&self, config: &str) -> String {
        let start = config
            .find("[endpoints.warehouse]")
            .expect("the example has a warehouse endpoint");
        let end = start + config[start..].find("\n\n").unwrap();
        format!(
            "{}{}{}",
            &config[..start],
            self.endpoint("warehouse", "user_key", "known_hosts"),
            &config[end..]
        )
        .replace("poll_interval = \"1m\"", "poll_interval = \"300ms\"")
        .replace("stable_for = \"5s\"", "stable_for = \"50ms\"")
    }

    /// An `[endpoints.NAME]` table for this server with the given key and known_hosts files.
    pub fn endpoint(&self, name: &str, key: &str, known_hosts: &str) -> String {
        format!(
            "[endpoints.{name}]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nprivate_key = \"{}\"\nknown_hosts = \"{}\"\nroot = \"{}\"\ntimeout = \"10s\"\ncreate_dirs = true\n",
            self.port,
            user(),
            self.path(key).display(),
            self.path(known_hosts).display(),
            self.path("root").display()
        )
    }

    /// The same table for this server seen at `port` (behind a proxy), with a known_hosts file
    /// for that port.
    pub fn endpoint_through(&self, name: &str, port: u16) -> String {
        let known_hosts = format!("known_hosts_{port}");
        self.write_known_hosts_for_port(&known_hosts, "host_key.pub", port);
        self.endpoint(name, "user_key", &known_hosts).replace(
            &format!("port = {}\n", self.port),
            &format!("port = {port}\n"),
        )
    }

    /// The settings of an SFTP endpoint on this server's `root`, logging in with `user_key`, for
    /// benches that drive the endpoint itself.
    pub fn sftp_config(&self) -> cartferry::config::SftpConfig {
        cartferry::config::SftpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            user: user(),
            private_key: Some(self.path("user_key")),
            passphrase: None,
            password: None,
            agent: false,
            known_hosts: self.path("known_hosts"),
            root: self.path("root").display().to_string(),
            timeout: Duration::from_secs(60),
            create_dirs: false,
            connections: 4,
        }
    }

    /// Runs OpenSSH's `sftp -b` with these batch commands against this server at `port`, trusting
    /// it through `known_hosts`; returns its wall time (login included), for benchmarks.
    pub fn sftp_batch(&self, commands: &str, port: u16, known_hosts: &Path) -> Duration {
        let batch = self.path("batch.txt");
        fs::write(&batch, commands).unwrap();
        let start = Instant::now();
        let status = Command::new("sftp")
            .arg("-q")
            .arg("-b")
            .arg(&batch)
            .arg("-i")
            .arg(self.path("user_key"))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .arg("-P")
            .arg(port.to_string())
            .arg(format!("{}@127.0.0.1", user()))
            .stdout(Stdio::null())
            .status()
            .expect("sftp (Debian: apt-get install openssh-client)");
        assert!(status.success(), "sftp -b failed");
        start.elapsed()
    }
}

/// A throwaway system account that logs in with a password, removed when dropped. sshd checks
/// passwords against the system's accounts, so making one needs root (or passwordless sudo), as
/// installing sshd does.
pub struct PasswordUser {
    /// The account's name.
    pub name: String,
    /// Its password.
    pub password: String,
    /// Its home folder, owned by it and open to all (so tests can plant files there): its SFTP
    /// root.
    pub home: tempfile::TempDir,
}

/// Runs a system administration command, through `sudo -n` when not root.
fn as_root(program: &str, args: &[&str], input: Option<&str>) -> bool {
    use std::io::Write;
    let mut command = if user() == "root" {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("-n").arg(program);
        sudo
    };
    let Ok(mut child) = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    if let Some(input) = input {
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait().is_ok_and(|s| s.success())
}

impl PasswordUser {
    /// Creates the account with a random password and no login shell.
    pub fn create() -> PasswordUser {
        let name = format!(
            "cftest{}x{}",
            std::process::id(),
            fastrand::u32(..1_000_000)
        );
        let password: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        let home = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let home_dir = home.path().display().to_string();
        assert!(
            as_root(
                "useradd",
                &[
                    "--no-create-home",
                    "--home-dir",
                    &home_dir,
                    "--shell",
                    "/usr/sbin/nologin",
                    &name
                ],
                None
            ),
            "cannot create a throwaway account for the password-login test: run the tests as root or with passwordless sudo (useradd comes with Debian's passwd package)"
        );
        let user = PasswordUser {
            name,
            password,
            home,
        };
        assert!(
            as_root(
                "chpasswd",
                &[],
                Some(&format!("{}:{}\n", user.name, user.password))
            ),
            "chpasswd failed for the throwaway account"
        );
        assert!(
            as_root("chown", &[&user.name, &home_dir], None),
            "chown failed"
        );
        user
    }

    /// The sshd_config block that lets this account, and only it, log in with its password.
    pub fn sshd_match(&self) -> String {
        format!("Match User {}\n    PasswordAuthentication yes\n", self.name)
    }
}

impl Drop for PasswordUser {
    fn drop(&mut self) {
        as_root("userdel", &[&self.name], None);
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A listener on 127.0.0.1 that forwards to a target; it stops taking and passing bytes when
/// dropped.
pub struct Forwarder {
    /// The port clients connect to.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Listens on a free port of 127.0.0.1 and hands each connection, with its own connection to
/// 127.0.0.1:`target`, to `connected`, until the forwarder is dropped.
fn forward(
    target: u16,
    connected: impl Fn(TcpStream, TcpStream, &std::sync::Arc<std::sync::atomic::AtomicBool>)
    + Send
    + 'static,
) -> Forwarder {
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            let Ok((client, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            client.set_nonblocking(false).unwrap();
            for s in [&client, &server] {
                s.set_nodelay(true).unwrap();
            }
            connected(client, server, &stop2);
        }
    });
    Forwarder { port, stop }
}

/// A TCP forwarder between the agent and sshd that can go silent: it keeps every connection
/// open but stops passing bytes, like a network that drops packets without resets.
pub struct SilentProxy {
    /// The port the agent connects to.
    pub port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _forwarder: Forwarder,
}

impl SilentProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`target`.
    pub fn start(target: u16) -> SilentProxy {
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let silent2 = silent.clone();
        let forwarder = forward(target, move |client, server, stop| {
            for (from, to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let (silent, stop) = (silent2.clone(), stop.clone());
                std::thread::spawn(move || pump(from, to, &silent, &stop, |_| {}));
            }
        });
        SilentProxy {
            port: forwarder.port,
            silent,
            _forwarder: forwarder,
        }
    }

    /// Stops passing bytes (connections stay open).
    pub fn go_silent(&self) {
        self.silent
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Passes bytes again.
    pub fn resume(&self) {
        self.silent
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Copies bytes one way, calling `seen` before passing each read on, until either side closes
/// or the proxy stops; holds them while `silent`. The end is passed on (a half-close).
fn pump(
    from: TcpStream,
    mut to: TcpStream,
    silent: &std::sync::atomic::AtomicBool,
    stop: &std::sync::atomic::AtomicBool,
    seen: impl FnMut(usize),
) {
    copy_until_end(from, &mut to, silent, stop, seen);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Copies bytes from `from` to `to` until either side closes or the proxy stops, calling `seen`
/// before passing each read on; holds them while `silent`.
fn copy_until_end(
    mut from: TcpStream,
    to: &mut impl std::io::Write,
    silent: &std::sync::atomic::AtomicBool,
    stop: &std::sync::atomic::AtomicBool,
    mut seen: impl FnMut(usize),
) {
    use std::io::Read;
    use std::sync::atomic::Ordering;
    from.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if silent.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                seen(n);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

/// A TCP forwarder that holds every byte for `one_way` in each direction, like a network whose
/// round trip is twice that (its bandwidth unbounded). Loopback only; it stops with its last
/// connection or when dropped.
pub struct DelayProxy {
    /// The port the client connects to.
    pub port: u16,
    _forwarder: Forwarder,
}

impl DelayProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`target`, `one_way` late each way.
    pub fn start(target: u16, one_way: Duration) -> DelayProxy {
        let forwarder = forward(target, move |client, server, stop| {
            for (from, to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let stop = stop.clone();
                std::thread::spawn(move || delayed_pump(from, to, one_way, &stop));
            }
        });
        DelayProxy {
            port: forwarder.port,
            _forwarder: forwarder,
        }
    }
}

/// Copies bytes one way, each `delay` after it arrived, until either side closes or the proxy
/// stops.
fn delayed_pump(
    from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::io::Write;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut line = DelayLine { tx, delay };
    let never = std::sync::atomic::AtomicBool::new(false);
    copy_until_end(from, &mut line, &never, stop, |_| {});
    drop(line);
    let _ = writer.join();
}

/// The sending end of a delay line: what is written leaves `delay` later.
struct DelayLine {
    tx: std::sync::mpsc::Sender<(Instant, Vec<u8>)>,
    delay: Duration,
}

impl std::io::Write for DelayLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .send((Instant::now() + self.delay, buf.to_vec()))
            .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A TCP forwarder that counts round trips: the times the client speaks again after the server
/// has spoken. Requests sent together before an answer count once; on loopback, one request
/// waiting for its answer counts one.
pub struct CountingProxy {
    /// The port the client connects to.
    pub port: u16,
    turns: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _forwarder: Forwarder,
}

impl CountingProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`target`, counting.
    pub fn start(target: u16) -> CountingProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let turns = Arc::new(AtomicU64::new(0));
        let turns2 = turns.clone();
        let forwarder = forward(target, move |client, server, stop| {
            // Per connection: whether the server spoke since the client last did.
            let answered = Arc::new(AtomicBool::new(true));
            for (from, to, client_speaks) in [
                (
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    true,
                ),
                (server, client, false),
            ] {
                let (turns, stop, answered) = (turns2.clone(), stop.clone(), answered.clone());
                std::thread::spawn(move || {
                    pump(from, to, &AtomicBool::new(false), &stop, |_| {
                        if client_speaks {
                            if answered.swap(false, Ordering::SeqCst) {
                                turns.fetch_add(1, Ordering::SeqCst);
                            }
                        } else {
                            // Before the bytes go on, so the client's reply finds it said.
                            answered.store(true, Ordering::SeqCst);
                        }
                    })
                });
            }
        });
        CountingProxy {
            port: forwarder.port,
            turns,
            _forwarder: forwarder,
        }
    }

    /// Round trips so far, over every connection.
    pub fn turns(&self) -> u64 {
        self.turns.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A TCP forwarder that lets at most `limit` connections through at a time and closes any
/// further one at once, as a server that limits its sessions per user does.
pub struct LimitingProxy {
    /// The port the client connects to.
    pub port: u16,
    refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _forwarder: Forwarder,
}

impl LimitingProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`target`, `limit` connections at a time.
    pub fn start(target: u16, limit: usize) -> LimitingProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
        let refused = Arc::new(AtomicU64::new(0));
        let refused2 = refused.clone();
        let active = Arc::new(AtomicUsize::new(0));
        let forwarder = forward(target, move |client, server, stop| {
            if active.fetch_add(1, Ordering::SeqCst) >= limit {
                active.fetch_sub(1, Ordering::SeqCst);
                refused2.fetch_add(1, Ordering::SeqCst);
                return;
            }
            // The connection counts until both directions have ended.
            let ends = Arc::new(AtomicUsize::new(2));
            for (from, to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let (stop, active, ends) = (stop.clone(), active.clone(), ends.clone());
                std::thread::spawn(move || {
                    pump(from, to, &AtomicBool::new(false), &stop, |_| {});
                    if ends.fetch_sub(1, Ordering::SeqCst) == 1 {
                        active.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        LimitingProxy {
            port: forwarder.port,
            refused,
            _forwarder: forwarder,
        }
    }

    /// Connections closed at once for being one too many.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}
