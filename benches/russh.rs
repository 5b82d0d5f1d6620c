//! The SSH stack itself, measured (issue 19): how fast a pure-Rust SSH and SFTP client (`russh` +
//! `russh-sftp`, RustCrypto ciphers) uploads 256 MiB on loopback, beside libssh2 (cartferry's
//! `ssh2`, through the SFTP endpoint) and OpenSSH's `sftp -b`, to the same throwaway `sshd` in the
//! same run. The russh client sends 64 writes of 32 KiB ahead, as OpenSSH's does, and hashes what
//! it sends on a second thread, as cartferry's put does. Built only with the `russh-bench`
//! feature: `cargo bench --features russh-bench --bench russh`.

#[path = "support/mod.rs"]
mod bench_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_support::median;
use cartferry::endpoint::{Endpoint, PutOptions, SftpEndpoint};
use russh::keys::{PrivateKeyWithHashAlg, load_secret_key};
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use support::sshd::{Sshd, user};

/// Runs of each measurement; the median is shown.
const RUNS: usize = 5;

/// The file uploaded.
const SIZE: usize = 256 << 20;

/// Bytes per SFTP write request (OpenSSH's `sftp` default).
const WRITE_LEN: usize = 32 << 10;

/// Write requests in flight (OpenSSH's `sftp` default).
const IN_FLIGHT: usize = 64;

/// Takes the throwaway server's host key unchecked: this measures transfer, not trust.
struct AcceptAny;

impl russh::client::Handler for AcceptAny {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Uploads `source` to `remote` (a `.part`, fsync, close, rename) with russh; the wall time,
/// login included.
async fn russh_put(sshd: &Sshd, source: &Path, remote: &str) -> Duration {
    let start = Instant::now();
    let config = Arc::new(russh::client::Config::default());
    let mut session = russh::client::connect(config, ("127.0.0.1", sshd.port), AcceptAny)
        .await
        .unwrap();
    let key = load_secret_key(sshd.path("user_key"), None).unwrap();
    let hash = session.best_supported_rsa_hash().await.unwrap().flatten();
    let auth = session
        .authenticate_publickey(user(), PrivateKeyWithHashAlg::new(Arc::new(key), hash))
        .await
        .unwrap();
    assert!(auth.success(), "russh login refused");
    let channel = session.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let sftp = Arc::new(RawSftpSession::new(channel.into_stream()));
    sftp.init().await.unwrap();
    let part = format!("{remote}.part");
    let handle = sftp
        .open(
            &part,
            OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
            FileAttributes::default(),
        )
        .await
        .unwrap()
        .handle;
    // Read and hash on a second thread, as cartferry's put does; write here, IN_FLIGHT ahead.
    let (chunks, mut receive) = tokio::sync::mpsc::channel::<Vec<u8>>(IN_FLIGHT);
    let reader = {
        let source = source.to_path_buf();
        tokio::task::spawn_blocking(move || {
            use sha2::Digest;
            use std::io::Read;
            let mut file = fs::File::open(source).unwrap();
            let mut hasher = sha2::Sha256::new();
            loop {
                let mut chunk = vec![0u8; WRITE_LEN];
                let n = file.read(&mut chunk).unwrap();
                if n == 0 {
                    return hasher.finalize();
                }
                chunk.truncate(n);
                hasher.update(&chunk);
                chunks.blocking_send(chunk).unwrap();
            }
        })
    };
    let mut writes: tokio::task::JoinSet<Result<_, russh_sftp::client::error::Error>> =
        tokio::task::JoinSet::new();
    let mut offset = 0u64;
    while let Some(chunk) = receive.recv().await {
        if writes.len() >= IN_FLIGHT {
            writes.join_next().await.unwrap().unwrap().unwrap();
        }
        let (sftp, handle, at) = (sftp.clone(), handle.clone(), offset);
        offset += chunk.len() as u64;
        writes.spawn(async move { sftp.write(handle, at, chunk).await });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap().unwrap();
    }
    reader.await.unwrap();
    sftp.extended(
        "fsync@openssh.com",
        russh_sftp::extensions::FsyncExtension {
            handle: handle.clone(),
        }
        .try_into()
        .unwrap(),
    )
    .await
    .unwrap();
    sftp.close(handle).await.unwrap();
    sftp.rename(&part, remote).await.unwrap();
    assert_eq!(offset, SIZE as u64);
    let took = start.elapsed();
    let _ = sftp.close_session();
    took
}

fn main() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("up.bin");
    let body: Vec<u8> = (0..SIZE as u32)
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    fs::write(&source, &body).unwrap();
    let root = sshd.path("root");
    fs::create_dir_all(&root).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let endpoint = SftpEndpoint::new(sshd.sftp_config());
    let clients = [
        "russh",
        "libssh2 (cartferry's put)",
        "OpenSSH `put -f`",
        "OpenSSH `put`",
    ];
    let mut runs = vec![Vec::new(); clients.len()];
    for run in 0..RUNS {
        for turn in 0..clients.len() {
            let client = (run + turn) % clients.len();
            let remote = root.join(format!("{client}.bin"));
            bench_support::sync_disks();
            let took = match client {
                0 => runtime.block_on(russh_put(&sshd, &source, &remote.to_string_lossy())),
                1 => {
                    let start = Instant::now();
                    let mut new = |_: &cartferry::fsutil::Hashed| true;
                    endpoint
                        .put("", "1.bin", &source, PutOptions::default(), Some(&mut new))
                        .unwrap();
                    start.elapsed()
                }
                _ => sshd.sftp_batch(
                    &format!(
                        "{} {} {}\n",
                        if client == 2 { "put -f" } else { "put" },
                        source.display(),
                        remote.display()
                    ),
                    sshd.port,
                    &sshd.path("known_hosts"),
                ),
            };
            assert_eq!(fs::metadata(&remote).unwrap().len(), SIZE as u64);
            fs::remove_file(&remote).unwrap();
            runs[client].push(took);
        }
    }
    println!("| upload 256 MiB on loopback, login included | median of {RUNS} |");
    println!("|---|---|");
    for (client, mut took) in clients.iter().zip(runs) {
        println!("| {client} | {:.2} s |", median(&mut took).as_secs_f64());
    }
}
