//! The `sftp` endpoint: a folder on an SFTP server, over libssh2 (`ssh2`).
//!
//! Up to `connections` sessions per endpoint, each opened when a transfer needs one and none is
//! idle, and reused; a session-level failure (a dead socket, a timeout) closes that session, and
//! the next lease connects afresh. Host keys are checked
//! strictly against the configured known_hosts file before any login. Atomicity: SFTP v3 renames
//! refuse an existing target, so `put` with `replace` deletes the old file first (not atomic).

use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine;
use ssh2::{
    CheckResult, ErrorCode, HashType, KnownHostFileKind, MethodType, OpenFlags, OpenType, Session,
    Sftp,
};

use super::{
    BeforeRename, Endpoint, EndpointError, Entry, Listing, Put, PutOptions, Result, Unfit,
    Unfitness, part_name,
};
use crate::config::SftpConfig;
use crate::fsutil::{self, Hashed};
use crate::ledger::{Ledger, Pause};

/// SFTP status code for a missing file (`SSH_FX_NO_SUCH_FILE`).
const FX_NO_SUCH_FILE: i32 = 2;
/// SFTP status code for an operation the server does not offer (`SSH_FX_OP_UNSUPPORTED`).
const FX_OP_UNSUPPORTED: i32 = 8;

/// A live session: the socket is kept to shut it down first, so that dropping the session never
/// waits for a dead server.
struct Connection {
    sftp: Sftp,
    session: Session,
    socket: TcpStream,
    last_used: Instant,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// A login or host-key refusal, remembered so that the server is not asked again too soon:
/// many servers lock an account after a few failed logins (DESIGN.md).
struct Refusal {
    message: String,
    count: u32,
    until: Instant,
}

/// An endpoint's sessions: the idle ones, and how many are open (idle or leased). Each transfer
/// leases one for its whole length, so transfers to one server run side by side up to
/// `connections`; no operation leases a second while it holds one (the pool could run dry).
struct Pool {
    state: Mutex<PoolState>,
    /// Signalled when a lease ends.
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    open: usize,
    /// The sessions the server takes: `connections`, lowered when it refused one more.
    allowed: usize,
    /// When a lowered `allowed` goes back to `connections`, to try one more again.
    limited_until: Option<Instant>,
    connections: usize,
}

impl Pool {
    fn new(connections: usize) -> Pool {
        Pool {
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
                allowed: connections.max(1),
                limited_until: None,
                connections: connections.max(1),
            }),
            returned: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A session that was counted open is gone (closed after a failure, or never connected).
    fn closed(&self) {
        self.state().open -= 1;
        self.returned.notify_one();
    }
}

/// A session leased from the pool: back to it when dropped, or closed when a failure `broke` it.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<Pool>,
    broken: bool,
}

impl Lease {
    fn sftp(&self) -> &Sftp {
        &self
            .conn
            .as_ref()
            .expect("a lease holds its session until dropped")
            .sftp
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.broken {
            // Closed outside the pool's lock: its socket is shut first, so this never waits.
            drop(conn);
            self.pool.closed();
        } else {
            conn.last_used = Instant::now();
            self.pool.state().idle.push(conn);
            self.pool.returned.notify_one();
        }
    }
}

/// A folder on an SFTP server.
pub struct SftpEndpoint {
    config: SftpConfig,
    /// The sessions to the server, shared with open readers (which hold one each).
    pool: Arc<Pool>,
    refusal: Mutex<Option<Refusal>>,
    /// The state folder whose ledger shares pauses with other processes, when there is one.
    state_dir: Option<PathBuf>,
    /// The server was found not to offer `fsync@openssh.com` (said once).
    no_fsync: std::sync::atomic::AtomicBool,
}

/// First wait after a refused login or host key; doubled for each further refusal.
const REFUSAL_PAUSE: Duration = Duration::from_secs(60);
/// Longest wait between login attempts after refusals.
const MAX_REFUSAL_PAUSE: Duration = Duration::from_secs(3600);
/// How long an endpoint keeps to fewer sessions after the server refused one more.
const SESSION_LIMIT_PAUSE: Duration = Duration::from_secs(600);
/// A session idle this long is checked with a keepalive before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(10);

fn to_io(e: ssh2::Error) -> io::Error {
    match e.code() {
        ErrorCode::SFTP(FX_NO_SUCH_FILE) => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        _ => io::Error::other(e.to_string()),
    }
}

impl SftpEndpoint {
    /// An endpoint for these settings; nothing is connected until the first operation.
    pub fn new(config: SftpConfig) -> SftpEndpoint {
        SftpEndpoint {
            pool: Arc::new(Pool::new(config.connections)),
            config,
            refusal: Mutex::new(None),
            state_dir: None,
            no_fsync: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The endpoint, sharing its pauses after refusals through the ledger in `state_dir`, so
    /// that another process (a `once` from cron) waits them out too.
    pub fn with_ledger(mut self, state_dir: &Path) -> SftpEndpoint {
        self.state_dir = Some(state_dir.to_path_buf());
        self
    }

    /// The pause another process recorded for this server, while it lasts.
    fn shared_pause(&self) -> Option<Refusal> {
        let ledger = Ledger::open_existing(self.state_dir.as_deref()?).ok()??;
        let pause = ledger.endpoint_pause(&self.server()).ok()??;
        let left = pause.until_ms - crate::ledger::now_ms();
        (left > 0).then(|| Refusal {
            message: pause.message,
            count: pause.refusals,
            until: Instant::now() + Duration::from_millis(left as u64),
        })
    }

    /// Records this server's pause (or, with `None`, its end) for other processes.
    fn share_pause(&self, refusal: Option<&Refusal>) {
        let Some(state_dir) = &self.state_dir else {
            return;
        };
        let server = self.server();
        let shared = Ledger::open_existing(state_dir).and_then(|ledger| match (ledger, refusal) {
            // No ledger (a `check` before the first run): nothing to share the pause through.
            (None, _) => Ok(()),
            (Some(ledger), Some(r)) => ledger.pause_endpoint(
                &server,
                &Pause {
                    until_ms: crate::ledger::now_ms()
                        + r.until
                            .saturating_duration_since(Instant::now())
                            .as_millis() as i64,
                    refusals: r.count,
                    message: r.message.clone(),
                },
            ),
            (Some(ledger), None) => ledger.unpause_endpoint(&server),
        });
        if let Err(e) = shared {
            tracing::warn!(server = server.as_str(), error = %e, "could not share the endpoint's pause through the ledger");
        }
    }

    fn server(&self) -> String {
        self.config.server()
    }

    /// A login secret (passphrase, password) that cannot be read here: this machine's fault,
    /// not a refusal by the server, so it does not pause the endpoint.
    fn secret_unreadable(&self, message: String) -> EndpointError {
        EndpointError::Io {
            op: "read the login secret for",
            path: self.server(),
            source: std::io::Error::other(message),
        }
    }

    fn refused(&self, message: String) -> EndpointError {
        EndpointError::Refused {
            server: self.server(),
            message,
        }
    }

    /// The remote path of `dir/name`, joined with '/' whatever this machine's separator is.
    fn path(&self, dir: &str, name: &str) -> PathBuf {
        let parts = [self.config.root.as_str(), dir, name];
        let joined = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_end_matches('/'))
            .collect::<Vec<_>>()
            .join("/");
        let rooted = self.config.root.starts_with('/') && !joined.starts_with('/');
        PathBuf::from(if rooted { format!("/{joined}") } else { joined })
    }

    /// Connects, checks the host key, and logs in; `alone` when no other session is open. Alone,
    /// a refused login pauses the endpoint. Beside other sessions, the server knows the login, so
    /// any failure but the host key's is its limit on sessions ([`SessionError::Limit`]).
    fn connect(&self, alone: bool) -> std::result::Result<Connection, SessionError> {
        let c = &self.config;
        let limited = |e: EndpointError| {
            if alone {
                SessionError::Failed(e)
            } else {
                SessionError::Limit(e)
            }
        };
        let net = |e: io::Error| limited(self.refused(format!("cannot connect: {e}")));
        let addr = (c.host.as_str(), c.port)
            .to_socket_addrs()
            .map_err(net)?
            .next()
            .ok_or_else(|| self.refused(format!("{} has no address", c.host)))?;
        let tcp = TcpStream::connect_timeout(&addr, c.timeout).map_err(net)?;
        // libssh2 hands the socket one whole SSH packet per send, so Nagle's algorithm only
        // holds back the small packets of the key exchange and login behind the server's
        // delayed acknowledgments (on loopback, the handshake took 57–104 ms with it and
        // 15–24 ms without). OpenSSH's server does the same for its sessions.
        tcp.set_nodelay(true).map_err(net)?;
        let socket = tcp.try_clone().map_err(net)?;
        // Before the session is dropped, so that its goodbye cannot wait on a dead peer.
        let fail = |e: SessionError| {
            let _ = socket.shutdown(Shutdown::Both);
            e
        };
        let mut session = Session::new().map_err(|e| self.refused(e.to_string()))?;
        session.set_timeout(c.timeout.as_millis().min(u32::MAX as u128) as u32);
        session.set_tcp_stream(tcp);
        prefer_aes_gcm(&session);
        session
            .handshake()
            .map_err(|e| fail(limited(self.refused(format!("SSH handshake failed: {e}")))))?;
        self.check_host_key(&session)
            .inspect_err(|e| self.remember_refusal(e, Refuser::Cartferry))
            .map_err(|e| fail(SessionError::Failed(e)))?;
        self.log_in(&session).map_err(|e| {
            // Only the server's refusals pause the endpoint; a secret this machine cannot read
            // is said as it is, and tried again next time.
            let refused = matches!(e, EndpointError::Refused { .. });
            fail(if !refused {
                SessionError::Failed(e)
            } else if alone {
                self.remember_refusal(&e, Refuser::Server);
                SessionError::Failed(e)
            } else {
                SessionError::Limit(e)
            })
        })?;
        session.set_keepalive(true, 15);
        tracing::debug!(
            server = self.server().as_str(),
            upstream_cipher = session.methods(MethodType::CryptCs).unwrap_or("?"),
            downstream_cipher = session.methods(MethodType::CryptSc).unwrap_or("?"),
            "SSH session opened"
        );
        let sftp = start_sftp(&session, &socket, c.timeout)
            .map_err(|e| fail(limited(self.refused(format!("no SFTP service: {e}")))))?;
        Ok(Connection {
            sftp,
            session,
            socket,
            last_used: Instant::now(),
        })
    }

    fn check_host_key(&self, session: &Session) -> Result<()> {
        let c = &self.config;
        let (key, key_type) = session
            .host_key()
            .ok_or_else(|| self.refused("the server sent no host key".into()))?;
        let fingerprint = session
            .host_key_hash(HashType::Sha256)
            .map(|h| base64::engine::general_purpose::STANDARD_NO_PAD.encode(h))
            .unwrap_or_default();
        let mut known = session
            .known_hosts()
            .map_err(|e| self.refused(e.to_string()))?;
        known
            .read_file(&c.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| {
                self.refused(format!(
                    "cannot read known_hosts {}: {e}",
                    c.known_hosts.display()
                ))
            })?;
        let host = if c.port == 22 {
            c.host.clone()
        } else {
            format!("[{}]:{}", c.host, c.port)
        };
        let shown = format!("{key_type:?} key SHA256:{fingerprint}");
        match known.check_port(&c.host, c.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::NotFound => Err(self.refused(format!(
                "the server's host key is not in {} ({shown}); nothing was sent. If the 3PL confirms this fingerprint, trust it with: ssh-keyscan -p {} {} >> {}",
                c.known_hosts.display(), c.port, c.host, c.known_hosts.display()
            ))),
            CheckResult::Mismatch => Err(self.refused(format!(
                "the server's host key CHANGED: {host} now presents {shown}, which does not match {}; nothing was sent. This can be an attack. Ask the 3PL whether they replaced their key; only then replace the line for {host} in that file",
                c.known_hosts.display()
            ))),
            CheckResult::Failure => Err(self.refused("the host key could not be checked".into())),
        }
    }

    fn log_in(&self, session: &Session) -> Result<()> {
        let c = &self.config;
        let mut tried = Vec::new();
        if let Some(key) = &c.private_key {
            let passphrase = c
                .passphrase
                .as_ref()
                .map(|s| s.read())
                .transpose()
                .map_err(|e| self.secret_unreadable(e))?;
            match session.userauth_pubkey_file(&c.user, None, key, passphrase.as_deref()) {
                Ok(()) => return Ok(()),
                Err(e) => tried.push(format!("key {}: {}", key.display(), e.message())),
            }
        }
        if c.agent {
            match session.userauth_agent(&c.user) {
                Ok(()) => return Ok(()),
                Err(e) => tried.push(format!("ssh-agent: {}", e.message())),
            }
        }
        if let Some(secret) = &c.password {
            let password = secret.read().map_err(|e| self.secret_unreadable(e))?;
            match session.userauth_password(&c.user, &password) {
                Ok(()) => return Ok(()),
                Err(e) => tried.push(format!("password: {}", e.message())),
            }
        }
        Err(self.refused(format!(
            "the server refused the login of {} ({}); check the user name and that the server has this key",
            c.user,
            tried.join("; ")
        )))
    }

    fn remember_refusal(&self, error: &EndpointError, by: Refuser) {
        let mut refusal = self.refusal.lock().unwrap_or_else(|p| p.into_inner());
        let count = refusal.as_ref().map_or(0, |r| r.count) + 1;
        let pause = REFUSAL_PAUSE
            .saturating_mul(2u32.saturating_pow(count - 1))
            .min(MAX_REFUSAL_PAUSE);
        let (server, pause_s) = (self.server(), pause.as_secs());
        match by {
            Refuser::Server => tracing::error!(
                server = server.as_str(),
                refusals = count,
                pause_s,
                "the SFTP server refused cartferry; not trying again before the pause ends"
            ),
            Refuser::Cartferry => tracing::error!(
                server = server.as_str(),
                refusals = count,
                pause_s,
                "cartferry refused the SFTP server (its host key is not trusted); not trying again before the pause ends"
            ),
        }
        *refusal = Some(Refusal {
            message: error.to_string(),
            count,
            until: Instant::now() + pause,
        });
        self.share_pause(refusal.as_ref());
    }

    /// A session of the pool: an idle one that still answers, else a new one while fewer than
    /// the allowed number are open, else the next one returned. After a refusal, no new login
    /// is tried before its pause ends. A server that refuses one more session while others are
    /// open has reached its limit: the pool keeps to the number open, says so once, and waits
    /// for one of them.
    fn lease(&self) -> Result<Lease> {
        loop {
            if let Some(conn) = self.idle_session() {
                return Ok(self.leased(conn));
            }
            let mut state = self.pool.state();
            // One may have come back since the look above; its signal would be missed.
            if !state.idle.is_empty() {
                continue;
            }
            if state
                .limited_until
                .is_some_and(|until| until <= Instant::now())
            {
                state.limited_until = None;
                state.allowed = state.connections;
            }
            if state.open >= state.allowed {
                drop(
                    self.pool
                        .returned
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner()),
                );
                continue;
            }
            state.open += 1;
            let others = state.open - 1;
            drop(state);
            match self.open_session(others) {
                Ok(conn) => return Ok(self.leased(conn)),
                Err(SessionError::Limit(why)) => {
                    let mut state = self.pool.state();
                    state.open -= 1;
                    state.allowed = state.open.max(1);
                    if state.limited_until.is_none() {
                        tracing::warn!(
                            server = self.server().as_str(),
                            sessions = state.allowed,
                            retry_after_s = SESSION_LIMIT_PAUSE.as_secs(),
                            error = %why,
                            "the SFTP server refused one more session; cartferry keeps to the sessions it has, and tries one more later"
                        );
                    }
                    state.limited_until = Some(Instant::now() + SESSION_LIMIT_PAUSE);
                }
                Err(SessionError::Failed(e)) => {
                    self.pool.closed();
                    return Err(e);
                }
            }
        }
    }

    /// A further session for a transfer that holds one already, only when one is idle or may be
    /// opened: never waited for, since the pool could run dry under its own holders.
    fn spare_lease(&self) -> Option<Lease> {
        if let Some(conn) = self.idle_session() {
            return Some(self.leased(conn));
        }
        let mut state = self.pool.state();
        if state.open >= state.allowed || state.open == 0 {
            return None;
        }
        state.open += 1;
        let others = state.open - 1;
        drop(state);
        match self.open_session(others) {
            Ok(conn) => Some(self.leased(conn)),
            Err(_) => {
                // Its limit, if it was one, is learnt by the next `lease`.
                self.pool.closed();
                None
            }
        }
    }

    /// An idle session of the pool, checked with a keepalive when it was idle long; those that
    /// do not answer are closed on the way.
    fn idle_session(&self) -> Option<Connection> {
        loop {
            let conn = self.pool.state().idle.pop()?;
            if conn.last_used.elapsed() < IDLE_CHECK || conn.session.keepalive_send().is_ok() {
                return Some(conn);
            }
            drop(conn);
            self.pool.closed();
        }
    }

    /// `conn`, leased from the pool.
    fn leased(&self, conn: Connection) -> Lease {
        Lease {
            conn: Some(conn),
            pool: self.pool.clone(),
            broken: false,
        }
    }

    /// Opens a session, `others` being open already. With none open, a failure is said and
    /// paused on as a refusal; with others open, a failure to log in is the server's limit.
    fn open_session(&self, others: usize) -> std::result::Result<Connection, SessionError> {
        if others == 0 {
            let mut refusal = self.refusal.lock().unwrap_or_else(|p| p.into_inner());
            if refusal.is_none() {
                *refusal = self.shared_pause();
            }
            if let Some(r) = refusal.as_ref() {
                let wait = r.until.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    return Err(SessionError::Failed(EndpointError::Paused {
                        server: self.server(),
                        message: format!(
                            "not trying again for {} s, so that the server does not lock the account ({}; the last: {})",
                            wait.as_secs(),
                            crate::report::counted(r.count, "refusal", "refusals"),
                            r.message
                        ),
                        wait,
                    }));
                }
            }
        }
        let conn = self.connect(others == 0)?;
        let had = self
            .refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // A pause this process knew of (its own, or one read from the ledger) is over.
        if had.is_some() {
            self.share_pause(None);
        }
        Ok(conn)
    }

    /// Writes `source` to the open remote `part`: alone through `remote`, or, with `spare`
    /// sessions, in as many more ranges side by side, each through its own handle of `part`.
    /// Returns the bytes the server acknowledged and, with `hash`, the length and SHA-256 of the
    /// file: of the bytes read for sending when they go alone, and, when they go in ranges (out
    /// of order), of a read of the whole file in order beside them. A range that fails breaks its
    /// session.
    fn upload(
        &self,
        source: &mut LocalSource<'_>,
        remote: &mut ssh2::File,
        part: &Path,
        mut spare: Vec<Lease>,
        hash: bool,
    ) -> io::Result<(u64, Option<Hashed>)> {
        let (path, size, input) = (source.path, source.size, &mut source.file);
        if spare.is_empty() {
            if !hash {
                return Ok((upload_windowed(input, remote, UPLOAD_WINDOW)?, None));
            }
            let (sent, hashed) = fsutil::read_hashed(input, size, |input| {
                upload_windowed(input, remote, UPLOAD_WINDOW)
            })?;
            return Ok((sent, Some(hashed)));
        }
        let ranges = ranges(size, spare.len() + 1);
        std::thread::scope(|scope| {
            let hashing =
                hash.then(|| scope.spawn(|| std::fs::File::open(path).and_then(fsutil::sha256_of)));
            let others: Vec<_> = spare
                .iter_mut()
                .zip(&ranges[1..])
                .map(|(lease, &(start, len))| {
                    scope.spawn(move || {
                        let sent = (|| {
                            let mut file = lease
                                .sftp()
                                .open_mode(part, OpenFlags::WRITE, 0o644, OpenType::File)
                                .map_err(to_io)?;
                            file.seek(SeekFrom::Start(start))?;
                            let mut local = std::fs::File::open(path)?;
                            local.seek(SeekFrom::Start(start))?;
                            let sent =
                                upload_windowed(&mut local.take(len), &mut file, UPLOAD_WINDOW)?;
                            file.close().map_err(to_io)?;
                            Ok(sent)
                        })();
                        if sent.is_err() {
                            lease.broken = true;
                        }
                        sent
                    })
                })
                .collect();
            let first = upload_windowed(&mut input.take(ranges[0].1), remote, UPLOAD_WINDOW);
            let sent = others
                .into_iter()
                .map(joined)
                .try_fold(first?, |total, sent| io::Result::Ok(total + sent?))?;
            let hashed = hashing.map(joined).transpose()?;
            Ok((sent, hashed))
        })
    }

    /// Runs `op` on a leased session. A session-level failure closes the session.
    fn with_sftp<T>(
        &self,
        op: &'static str,
        path: &Path,
        f: impl FnOnce(&Sftp) -> std::result::Result<T, ssh2::Error>,
    ) -> Result<T> {
        let mut lease = self.lease()?;
        self.on(&mut lease, op, path, f)
    }

    /// Runs `op` on the session of `lease`. A session-level failure breaks the lease.
    fn on<T>(
        &self,
        lease: &mut Lease,
        op: &'static str,
        path: &Path,
        f: impl FnOnce(&Sftp) -> std::result::Result<T, ssh2::Error>,
    ) -> Result<T> {
        f(lease.sftp()).map_err(|e| {
            if matches!(e.code(), ErrorCode::Session(_)) {
                lease.broken = true;
            }
            EndpointError::Io {
                op,
                path: format!("{}:{}", self.server(), path.display()),
                source: to_io(e),
            }
        })
    }
}

/// The cipher asked for first where the processor has AES in hardware.
const PREFERRED_CIPHER: &str = "aes128-gcm@openssh.com";

/// Puts AES-128-GCM first among the ciphers offered in both directions, when this processor
/// computes it in hardware; libssh2's own order follows, and a server without it chooses from
/// the rest. cartferry's libssh2 (vendor/libssh2-sys) encrypts and decrypts an AES-GCM packet in
/// one OpenSSL call, about twice as fast end to end as the portable ChaCha20-Poly1305 that
/// libssh2 puts first.
fn prefer_aes_gcm(session: &Session) {
    if !crate::platform::aes_gcm_in_hardware() {
        return;
    }
    for direction in [MethodType::CryptCs, MethodType::CryptSc] {
        let Ok(supported) = session.supported_algs(direction) else {
            continue;
        };
        if !supported.contains(&PREFERRED_CIPHER) {
            continue;
        }
        let order: Vec<&str> = std::iter::once(PREFERRED_CIPHER)
            .chain(supported.into_iter().filter(|c| *c != PREFERRED_CIPHER))
            .collect();
        if let Err(e) = session.method_pref(direction, &order.join(",")) {
            tracing::debug!("libssh2 kept its own cipher order: {e}");
        }
    }
}

/// Starts the SFTP subsystem on a logged-in session. OpenSSH's server sends its host keys just
/// after the login, then holds its answer to the channel's opening (Nagle's algorithm) until they
/// are acknowledged, and Linux holds that acknowledgment up to 40 ms while libssh2 waits: a
/// 40 ms stall in every login (44 ms of a 1.4 s `once` on loopback). So the start runs without
/// blocking, and each time libssh2 waits for the server, what arrived is acknowledged at once.
#[cfg(unix)]
fn start_sftp(session: &Session, socket: &TcpStream, timeout: Duration) -> io::Result<Sftp> {
    let deadline = Instant::now() + timeout;
    session.set_blocking(false);
    let started = loop {
        match session.sftp().map_err(io::Error::from) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                crate::platform::acknowledge_now(socket);
                let (read, write) = match session.block_directions() {
                    ssh2::BlockDirections::Outbound => (false, true),
                    ssh2::BlockDirections::Both => (true, true),
                    _ => (true, false),
                };
                let left = deadline.saturating_duration_since(Instant::now());
                if !crate::platform::wait_for_socket(socket, read, write, left)? {
                    break Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the server did not start SFTP in time",
                    ));
                }
            }
            started => break started,
        }
    };
    session.set_blocking(true);
    started
}

/// Starts the SFTP subsystem on a logged-in session.
#[cfg(not(unix))]
fn start_sftp(session: &Session, _socket: &TcpStream, _timeout: Duration) -> io::Result<Sftp> {
    session.sftp().map_err(to_io)
}

/// Why a session could not be opened.
enum SessionError {
    /// The server would not take one more session beside those open.
    Limit(EndpointError),
    /// Any other failure (a refusal with no session open, a pause, a network fault).
    Failed(EndpointError),
}

impl From<EndpointError> for SessionError {
    fn from(e: EndpointError) -> SessionError {
        SessionError::Failed(e)
    }
}

/// Who refused whom, when a connection is paused.
#[derive(Debug, Clone, Copy)]
enum Refuser {
    /// The server refused the login.
    Server,
    /// cartferry refused the server's host key.
    Cartferry,
}

/// A remote file being read on a leased session, which a failed read breaks. The file is
/// closed before the session goes back (fields drop in order).
struct RemoteReader {
    file: ssh2::File,
    lease: Lease,
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file
            .read(buf)
            .inspect_err(|_| self.lease.broken = true)
    }
}

/// The local file a put sends: its path (each range of it opens its own handle), a handle for the
/// first or only stream, and its size.
struct LocalSource<'a> {
    path: &'a Path,
    file: std::fs::File,
    size: u64,
}

/// The result of a scoped thread; a panic is an error.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, io::Result<T>>) -> io::Result<T> {
    thread
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("an upload thread panicked")))
}

/// Files at least this big are uploaded in ranges over several sessions, when the pool has
/// sessions to spare: each SSH channel has a window of its own.
const RANGED_UPLOAD_MIN: u64 = 16 << 20;

/// The shortest round trip at which a big file goes in ranges. Nearer, one channel's 2 MiB
/// window already carries 50 MB/s or more, and more sessions cost logins and CPU for little.
const RANGED_UPLOAD_MIN_ROUND_TRIP: Duration = Duration::from_millis(40);

/// `size` bytes cut into `parts` ranges (start, length) of whole MiB but the last.
fn ranges(size: u64, parts: usize) -> Vec<(u64, u64)> {
    const MIB: u64 = 1 << 20;
    let each = size.div_ceil(parts as u64).div_ceil(MIB) * MIB;
    (0..parts as u64)
        .map(|i| {
            let start = (i * each).min(size);
            (start, each.min(size - start))
        })
        .collect()
}

/// Bytes an upload keeps in flight. OpenSSH's server grants a channel 2 MiB; more than that
/// waits in libssh2 for the server's window to open.
const UPLOAD_WINDOW: usize = 4 << 20;

/// Uploads `input` through `remote` with up to `window` bytes in flight; returns the bytes the
/// server acknowledged. libssh2 sends what one `write` is given as a train of requests, returns
/// as soon as the first are acknowledged, and expects the rest to be passed again. Passing them
/// again with new bytes behind makes the new ones join the train, so it never drains; a plain
/// `write_all` of each buffer waits for the buffer's last acknowledgment before the next buffer
/// leaves: a round trip per buffer.
fn upload_windowed(
    input: &mut (impl Read + ?Sized),
    remote: &mut impl io::Write,
    window: usize,
) -> io::Result<u64> {
    let mut buf = vec![0u8; window];
    // `buf[start..end]`: read, and not yet acknowledged.
    let (mut start, mut end) = (0, 0);
    let mut at_end = false;
    let mut acknowledged = 0u64;
    loop {
        if start >= window / 2 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if !at_end && end < window {
            match input.read(&mut buf[end..]) {
                Ok(0) => at_end = true,
                Ok(n) => end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if start == end {
            if at_end {
                return Ok(acknowledged);
            }
            continue;
        }
        match remote.write(&buf[start..end]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                start += n;
                acknowledged += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Endpoint for SftpEndpoint {
    fn describe(&self) -> String {
        format!("SFTP folder {}:{}", self.server(), self.config.root)
    }

    fn list(&self, dir: &str) -> Result<Listing> {
        let path = self.path(dir, "");
        let items = self.with_sftp("list", &path, |s| s.readdir(&path))?;
        let mut listing = Listing::default();
        for (p, stat) in items {
            let Some(name) = p.file_name() else { continue };
            let why = match stat.file_type() {
                _ if stat.is_file() => None,
                ssh2::FileType::Symlink => Some(Unfitness::Link),
                ssh2::FileType::Directory => Some(Unfitness::Folder),
                _ => Some(Unfitness::Special),
            };
            match (name.to_str(), why) {
                (Some(name), None) => listing.files.push(Entry {
                    name: name.to_string(),
                    size: stat.size.unwrap_or(0),
                    mtime: stat.mtime.map(|t| UNIX_EPOCH + Duration::from_secs(t)),
                }),
                (shown, why) => listing.unfit.push(Unfit {
                    name: shown.map_or_else(|| name.to_string_lossy().into_owned(), str::to_string),
                    why: why.unwrap_or(Unfitness::NameNotUtf8),
                }),
            }
        }
        Ok(listing)
    }

    fn stat(&self, dir: &str, name: &str) -> Result<Option<Entry>> {
        let path = self.path(dir, name);
        match self.with_sftp("stat", &path, |s| s.stat(&path)) {
            Ok(stat) if stat.is_file() => Ok(Some(Entry {
                name: name.to_string(),
                size: stat.size.unwrap_or(0),
                mtime: stat.mtime.map(|t| UNIX_EPOCH + Duration::from_secs(t)),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn occupied(&self, dir: &str, name: &str) -> Result<bool> {
        let path = self.path(dir, name);
        match self.with_sftp("stat", &path, |s| s.lstat(&path)) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn open_read(&self, dir: &str, name: &str) -> Result<Box<dyn Read + Send>> {
        let path = self.path(dir, name);
        let mut lease = self.lease()?;
        let file = self.on(&mut lease, "read", &path, |s| s.open(&path))?;
        Ok(Box::new(RemoteReader { file, lease }))
    }

    /// Five round trips for a small file: open, write, fsync, close, rename. The size is
    /// checked against the server's acknowledgments of the writes, and the final name by the
    /// rename itself (SFTP v3 refuses to rename onto an existing name): only a refused rename
    /// asks whether the name is taken.
    fn put(
        &self,
        dir: &str,
        name: &str,
        source: &Path,
        options: PutOptions,
        before_rename: Option<BeforeRename<'_>>,
    ) -> Result<Put> {
        let part = self.path(dir, &part_name(name, options.attempt));
        let target = self.path(dir, name);
        let local_err = |op| {
            let path = source.display().to_string();
            move |source| EndpointError::Io { op, path, source }
        };
        let expected = std::fs::metadata(source).map_err(local_err("read"))?.len();
        let mut local = LocalSource {
            path: source,
            file: std::fs::File::open(source).map_err(local_err("read"))?,
            size: expected,
        };
        // One session for the whole put, so that puts to one server run side by side.
        let mut lease = self.lease()?;
        // The open is one round trip: how far the server is.
        let opening = Instant::now();
        let mut remote = self.on(&mut lease, "write", &part, |s| {
            s.open_mode(
                &part,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                0o644,
                OpenType::File,
            )
        })?;
        let write_err = |source| EndpointError::Io {
            op: "write",
            path: format!("{}:{}", self.server(), part.display()),
            source,
        };
        // A big file to a far server goes in ranges over the sessions to spare, each with its
        // own window. Those not open yet log in side by side: a login is several round trips.
        let far = opening.elapsed() >= RANGED_UPLOAD_MIN_ROUND_TRIP;
        let spare: Vec<Lease> = if far && expected >= RANGED_UPLOAD_MIN {
            std::thread::scope(|scope| {
                let asked: Vec<_> = (1..self.config.connections)
                    .map(|_| scope.spawn(|| self.spare_lease()))
                    .collect();
                asked
                    .into_iter()
                    .filter_map(|h| h.join().ok().flatten())
                    .collect()
            })
        } else {
            Vec::new()
        };
        let hash = before_rename.is_some();
        let written = self
            .upload(&mut local, &mut remote, &part, spare, hash)
            .map_err(write_err)
            .and_then(|(acknowledged, hashed)| {
                // The bytes reach the server's disk before the rename makes them the delivery:
                // with fsync@openssh.com where the server offers it. A server without it is
                // said once, and its deliveries are as durable as its own close makes them.
                match remote.fsync() {
                    Ok(()) => {}
                    Err(e) if e.code() == ErrorCode::SFTP(FX_OP_UNSUPPORTED) => {
                        if !self
                            .no_fsync
                            .swap(true, std::sync::atomic::Ordering::Relaxed)
                        {
                            tracing::warn!(
                                server = self.server().as_str(),
                                "the SFTP server does not offer fsync@openssh.com: deliveries there are flushed only as the server closes files, so a power cut on the server could lose a delivery it reported as done"
                            );
                        }
                    }
                    Err(e) => return Err(write_err(to_io(e))),
                }
                remote.close().map_err(|e| write_err(to_io(e)))?;
                Ok((acknowledged, hashed))
            });
        drop(remote);
        let (acknowledged, hashed) = written.inspect_err(|_| {
            // The session may be mid-request: a fresh one for what comes next.
            lease.broken = true;
        })?;
        if acknowledged != expected {
            let _ = self.on(&mut lease, "delete", &part, |s| s.unlink(&part));
            return Err(EndpointError::SizeMismatch {
                path: format!("{}:{}", self.server(), part.display()),
                expected,
                found: acknowledged,
            });
        }
        if let (Some(decide), Some(hashed)) = (before_rename, &hashed)
            && !decide(hashed)
        {
            self.on(&mut lease, "delete", &part, |s| s.unlink(&part))?;
            return Ok(Put::Withdrawn);
        }
        let renamed = self.on(&mut lease, "rename", &target, |s| {
            s.rename(&part, &target, None)
        });
        let Err(refused) = renamed else {
            return Ok(Put::Delivered(expected));
        };
        // Refused: the usual reason is a file with the final name.
        let taken = match self.on(&mut lease, "stat", &target, |s| s.lstat(&target)) {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        if !taken {
            return Err(refused);
        }
        if !options.replace {
            let _ = self.on(&mut lease, "delete", &part, |s| s.unlink(&part));
            return Err(EndpointError::AlreadyExists {
                path: format!("{}:{}", self.server(), target.display()),
            });
        }
        self.on(&mut lease, "delete", &target, |s| s.unlink(&target))?;
        self.on(&mut lease, "rename", &target, |s| {
            s.rename(&part, &target, None)
        })?;
        Ok(Put::Delivered(expected))
    }

    fn rename(&self, from_dir: &str, from: &str, to_dir: &str, to: &str) -> Result<()> {
        let source = self.path(from_dir, from);
        let target = self.path(to_dir, to);
        if self.stat(to_dir, to)?.is_some() {
            return Err(EndpointError::AlreadyExists {
                path: format!("{}:{}", self.server(), target.display()),
            });
        }
        self.with_sftp("rename", &source, |s| s.rename(&source, &target, None))
    }

    fn delete(&self, dir: &str, name: &str) -> Result<()> {
        let path = self.path(dir, name);
        match self.with_sftp("delete", &path, |s| s.unlink(&path)) {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    fn is_dir(&self, dir: &str) -> Result<bool> {
        let path = self.path(dir, "");
        match self.with_sftp("stat", &path, |s| s.stat(&path)) {
            Ok(stat) => Ok(stat.is_dir()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn create_dir_all(&self, dir: &str) -> Result<()> {
        let mut sofar = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !sofar.is_empty() {
                sofar.push('/');
            }
            sofar.push_str(part);
            let path = self.path(&sofar, "");
            let exists = self.with_sftp("stat", &path, |s| s.stat(&path)).is_ok();
            if !exists {
                self.with_sftp("create", &path, |s| s.mkdir(&path, 0o755))?;
            }
        }
        Ok(())
    }

    fn local_dir(&self, _dir: &str) -> Option<PathBuf> {
        None
    }

    fn connected(&self) -> Option<bool> {
        Some(self.pool.state().open > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(root: &str) -> SftpEndpoint {
        SftpEndpoint::new(SftpConfig {
            host: "example.invalid".into(),
            port: 22,
            user: "u".into(),
            private_key: None,
            passphrase: None,
            password: None,
            agent: true,
            known_hosts: PathBuf::from("/dev/null"),
            root: root.into(),
            timeout: Duration::from_secs(1),
            create_dirs: false,
            connections: 1,
        })
    }

    #[test]
    fn a_big_file_is_cut_into_ranges_of_whole_mebibytes_that_cover_it_once() {
        let mib = 1u64 << 20;
        assert_eq!(
            ranges(64 * mib + 5, 4),
            [
                (0, 17 * mib),
                (17 * mib, 17 * mib),
                (34 * mib, 17 * mib),
                (51 * mib, 13 * mib + 5)
            ]
        );
        // More ranges than mebibytes: the last ones are empty.
        assert_eq!(ranges(mib, 3), [(0, mib), (mib, 0), (mib, 0)]);
    }

    #[test]
    fn remote_paths_use_slashes_and_keep_the_root() {
        assert_eq!(
            endpoint("/").path("in/orders", "a.csv"),
            PathBuf::from("/in/orders/a.csv")
        );
        assert_eq!(
            endpoint("/srv/3pl/").path("in", ""),
            PathBuf::from("/srv/3pl/in")
        );
        assert_eq!(endpoint(".").path("", "a.csv"), PathBuf::from("./a.csv"));
    }
}
