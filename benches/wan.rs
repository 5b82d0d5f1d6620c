//! SFTP across a network's round trip (issue 19); figures go to BENCHMARKS.md, and nothing here
//! asserts a duration. A delaying TCP proxy on loopback (`DelayProxy`: each byte held half the
//! round trip each way) stands between the clients and one throwaway OpenSSH `sshd`. Through it,
//! in the same run: the whole `cartferry once` process, OpenSSH's `sftp -b`, and `rclone copy`
//! (its defaults plus `--transfers 8`; Debian's `rclone`, installed here when missing).
//! `cargo bench --bench wan` runs every case; `-- big|small|many|loopback` one of them.

#[path = "support/mod.rs"]
mod bench_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_support::median;
use support::sshd::{DelayProxy, Sshd, user};

/// Runs of each big-file measurement; the median is shown.
const RUNS: usize = 3;

/// Whether the case `name` is to run: every one when the command line names none.
fn wanted(name: &str) -> bool {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    which.is_empty() || which.iter().any(|w| w == name)
}

/// Installs Debian's rclone when it is missing (as root, or through sudo).
fn ensure_rclone() {
    let present = || {
        Command::new("rclone")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return;
    }
    eprintln!("installing rclone (Debian's package) for the WAN bench's peer");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !apt(&["install", "-y", "-q", "rclone"]) {
        apt(&["update", "-q"]);
        apt(&["install", "-y", "-q", "rclone"]);
    }
    assert!(
        present(),
        "rclone is needed as the bench's peer: apt-get install rclone"
    );
}

/// The server, seen at `port` (the proxy's, or its own), from each client.
struct Target<'a> {
    sshd: &'a Sshd,
    port: u16,
    known_hosts: PathBuf,
}

impl<'a> Target<'a> {
    fn new(sshd: &'a Sshd, port: u16) -> Target<'a> {
        let known_hosts =
            sshd.write_known_hosts_for_port(&format!("known_hosts_{port}"), "host_key.pub", port);
        Target {
            sshd,
            port,
            known_hosts,
        }
    }

    /// `cartferry once` with one route from `from` to `to` (`local:DIR` or `sftp:DIR`), in the
    /// folder `dir`; returns its wall time.
    fn cartferry(&self, dir: &Path, from: &str, to: &str) -> Duration {
        let endpoint = |spec: &str| -> (String, String) {
            let (kind, folder) = spec.split_once(':').unwrap();
            (
                if kind == "local" { "here" } else { "warehouse" }.into(),
                folder.into(),
            )
        };
        let ((from_ep, from_dir), (to_ep, to_dir)) = (endpoint(from), endpoint(to));
        let config = format!(
            r#"[agent]
state_dir = "state"
stable_for = "0s"
[endpoints.here]
kind = "local"
root = "{}"
[endpoints.warehouse]
kind = "sftp"
host = "127.0.0.1"
port = {}
user = "{}"
private_key = "{}"
known_hosts = "{}"
root = "{}"
timeout = "60s"
[[routes]]
name = "wan"
from = {{ endpoint = "{from_ep}", dir = "{from_dir}", pattern = "*" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "{to_ep}", dir = "{to_dir}" }}
"#,
            dir.display(),
            self.port,
            user(),
            self.sshd.path("user_key").display(),
            self.known_hosts.display(),
            self.sshd.path("root").display(),
        );
        fs::write(dir.join("cartferry.toml"), config).unwrap();
        let start = Instant::now();
        let out = Command::new(support::binary())
            .arg("--config")
            .arg(dir.join("cartferry.toml"))
            .arg("once")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "cartferry once failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    /// OpenSSH's `sftp -b` with these batch commands; returns its wall time (login included).
    fn openssh(&self, commands: &str) -> Duration {
        self.sshd.sftp_batch(commands, self.port, &self.known_hosts)
    }

    /// `rclone copy FROM TO` (`:sftp:` naming the server) with `--transfers 8`; its wall time.
    fn rclone(&self, from: &str, to: &str) -> Duration {
        let remote = format!(
            ":sftp,host=127.0.0.1,port={},user={},key_file={},known_hosts_file={}:",
            self.port,
            user(),
            self.sshd.path("user_key").display(),
            self.known_hosts.display()
        );
        let spec = |s: &str| match s.strip_prefix("sftp:") {
            Some(path) => format!("{remote}{}", self.sshd.path("root").join(path).display()),
            None => s.to_string(),
        };
        let start = Instant::now();
        let out = Command::new("rclone")
            .args(["copy", "--transfers", "8"])
            .arg(spec(from))
            .arg(spec(to))
            .env("RCLONE_CONFIG", self.sshd.path("rclone.conf"))
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "rclone copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

/// A file of `size` bytes that does not compress.
fn random_file(path: &Path, size: usize) {
    let mut f = fs::File::create(path).unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        for b in chunk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        f.write_all(&chunk).unwrap();
    }
}

/// One table row: the case, each client's median time, and cartferry's speed against each peer.
fn row(what: &str, ours: Duration, openssh: Duration, rclone: Option<Duration>) {
    let rclone_cells = rclone.map_or_else(
        || "– | –".to_string(),
        |r| {
            format!(
                "{:.2} s | {:.2}×",
                r.as_secs_f64(),
                r.as_secs_f64() / ours.as_secs_f64()
            )
        },
    );
    println!(
        "| {what} | {:.2} s | {:.2} s | {:.2}× | {rclone_cells} |",
        ours.as_secs_f64(),
        openssh.as_secs_f64(),
        openssh.as_secs_f64() / ours.as_secs_f64(),
    );
}

/// A fresh local folder `name` below `base`, with the subfolders `dirs`.
fn folder(base: &Path, name: &str, dirs: &[&str]) -> PathBuf {
    let dir = base.join(name);
    let _ = fs::remove_dir_all(&dir);
    for d in dirs {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    dir
}

/// A fresh folder `rel` on the server.
fn remote_folder(sshd: &Sshd, rel: &str) -> PathBuf {
    let dir = sshd.path("root").join(rel);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// 64 MiB up and down: each client's median of `RUNS`.
fn big(target: &Target, base: &Path, label: &str) {
    const SIZE: usize = 64 << 20;
    let source = base.join("big.bin");
    if !source.exists() {
        random_file(&source, SIZE);
    }
    let (mut ours, mut openssh, mut rclone) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = folder(base, "up", &["src", "archive"]);
        fs::copy(&source, dir.join("src/big.bin")).unwrap();
        let remote = remote_folder(target.sshd, "up");
        ours.push(target.cartferry(&dir, "local:src", "sftp:up"));
        assert_eq!(
            fs::metadata(remote.join("big.bin")).unwrap().len(),
            SIZE as u64
        );
        let remote = remote_folder(target.sshd, "up");
        openssh.push(target.openssh(&format!(
            "put {} {}/big.bin\n",
            source.display(),
            remote.display()
        )));
        let remote = remote_folder(target.sshd, "up");
        let only = folder(base, "only", &[""]);
        fs::copy(&source, only.join("big.bin")).unwrap();
        rclone.push(target.rclone(&only.display().to_string(), "sftp:up"));
        assert_eq!(
            fs::metadata(remote.join("big.bin")).unwrap().len(),
            SIZE as u64
        );
    }
    row(
        &format!("{label}: upload 64 MiB"),
        median(&mut ours),
        median(&mut openssh),
        Some(median(&mut rclone)),
    );
    let (mut ours, mut openssh, mut rclone) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let remote = remote_folder(target.sshd, "down");
        fs::copy(&source, remote.join("big.bin")).unwrap();
        let dir = folder(base, "down", &["dst"]);
        ours.push(target.cartferry(&dir, "sftp:down", "local:dst"));
        assert_eq!(
            fs::metadata(dir.join("dst/big.bin")).unwrap().len(),
            SIZE as u64
        );
        let got = folder(base, "got", &[""]);
        fs::copy(&source, remote.join("big.bin")).unwrap();
        openssh.push(target.openssh(&format!(
            "get {}/big.bin {}\n",
            remote.display(),
            got.display()
        )));
        let got = folder(base, "got", &[""]);
        rclone.push(target.rclone("sftp:down", &got.display().to_string()));
        assert_eq!(
            fs::metadata(got.join("big.bin")).unwrap().len(),
            SIZE as u64
        );
    }
    row(
        &format!("{label}: download 64 MiB"),
        median(&mut ours),
        median(&mut openssh),
        Some(median(&mut rclone)),
    );
}

/// `count` files of 2 KiB up, once per client: OpenSSH puts each under a temporary name and
/// renames it, as a careful script would.
fn small(target: &Target, base: &Path, label: &str, count: usize) {
    let files = folder(base, "small", &[""]);
    for i in 0..count {
        // Each its own content: cartferry archives a file whose bytes it delivered before.
        let mut content = format!("{i:08}\n").into_bytes();
        content.resize(2048, b'x');
        fs::write(files.join(format!("s{i:04}.csv")), content).unwrap();
    }
    let dir = folder(base, "up", &["src"]);
    for i in 0..count {
        let name = format!("s{i:04}.csv");
        fs::copy(files.join(&name), dir.join("src").join(&name)).unwrap();
    }
    let remote = remote_folder(target.sshd, "small");
    let ours = target.cartferry(&dir, "local:src", "sftp:small");
    assert_eq!(fs::read_dir(&remote).unwrap().count(), count);
    let remote = remote_folder(target.sshd, "small");
    let mut batch = String::new();
    for i in 0..count {
        let name = format!("s{i:04}.csv");
        let r = remote.display();
        batch.push_str(&format!(
            "put {} {r}/.{name}.part\nrename {r}/.{name}.part {r}/{name}\n",
            files.join(&name).display()
        ));
    }
    let openssh = target.openssh(&batch);
    assert_eq!(fs::read_dir(&remote).unwrap().count(), count);
    let remote = remote_folder(target.sshd, "small");
    let rclone = target.rclone(&files.display().to_string(), "sftp:small");
    assert_eq!(fs::read_dir(&remote).unwrap().count(), count);
    row(
        &format!("{label}: {count} files of 2 KiB up"),
        ours,
        openssh,
        Some(rclone),
    );
}

fn header() {
    println!(
        "| case | cartferry `once` | OpenSSH `sftp -b` | cartferry vs OpenSSH | rclone copy --transfers 8 | cartferry vs rclone |"
    );
    println!("|---|---|---|---|---|---|");
}

fn main() {
    ensure_rclone();
    let sshd = Sshd::start();
    let base = tempfile::tempdir().unwrap();
    header();
    for rtt_ms in [20u64, 100] {
        let proxy = DelayProxy::start(sshd.port, Duration::from_millis(rtt_ms / 2));
        let target = Target::new(&sshd, proxy.port);
        let label = format!("{rtt_ms} ms RTT");
        if wanted("big") {
            big(&target, base.path(), &label);
        }
        if wanted("small") && rtt_ms == 20 {
            small(&target, base.path(), &label, 200);
        }
        if wanted("many") && rtt_ms == 100 {
            small(&target, base.path(), &label, 1000);
        }
    }
    if wanted("loopback") {
        loopback(&sshd, base.path());
    }
}

/// 256 MiB up on loopback, no proxy: the whole `cartferry once` process against `sftp -b`.
fn loopback(sshd: &Sshd, base: &Path) {
    const SIZE: usize = 256 << 20;
    let target = Target::new(sshd, sshd.port);
    let source = base.join("loopback.bin");
    random_file(&source, SIZE);
    // OpenSSH's `put` leaves the bytes to the server's page cache; `put -f` flushes them to its
    // disk (fsync@openssh.com) before the close, as cartferry does before every rename.
    let puts = ["put", "put -f"];
    let (mut ours, mut openssh) = (Vec::new(), vec![Vec::new(); puts.len()]);
    // The clients take turns going first, and each starts after a `sync`, so that none meets
    // another's 256 MiB still being written back.
    for run in 0..LOOPBACK_RUNS {
        let dir = folder(base, "up", &["src"]);
        fs::copy(&source, dir.join("src/loopback.bin")).unwrap();
        for turn in 0..=puts.len() {
            let client = (run + turn) % (puts.len() + 1);
            let remote = remote_folder(sshd, "up");
            bench_support::sync_disks();
            match client.checked_sub(1) {
                None => ours.push(target.cartferry(&dir, "local:src", "sftp:up")),
                Some(i) => openssh[i].push(target.openssh(&format!(
                    "{} {} {}/loopback.bin\n",
                    puts[i],
                    source.display(),
                    remote.display()
                ))),
            }
            assert_eq!(
                fs::metadata(remote.join("loopback.bin")).unwrap().len(),
                SIZE as u64
            );
        }
    }
    let ours = median(&mut ours);
    for (put, mut runs) in puts.iter().zip(openssh) {
        row(
            &format!("loopback: upload 256 MiB (OpenSSH `{put}`)"),
            ours,
            median(&mut runs),
            None,
        );
    }
}

/// Runs of the loopback upload: more than the others, since on a shared 2-core machine a
/// 256 MiB upload varies by a third from run to run.
const LOOPBACK_RUNS: usize = 9;
