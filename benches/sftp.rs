//! SFTP endpoint benchmarks (issue 3); figures go to BENCHMARKS.md. The peer is OpenSSH's own
//! `sftp` client in batch mode, against the same throwaway `sshd` on loopback, in the same run.
//! Run with `cargo bench --bench sftp`.

#[path = "support/mod.rs"]
mod bench_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use bench_support::median;
use cartferry::endpoint::{Endpoint, PutOptions, SftpEndpoint};
use cartferry::fsutil;
use support::sshd::Sshd;

fn endpoint(sshd: &Sshd) -> SftpEndpoint {
    SftpEndpoint::new(sshd.sftp_config())
}

/// Runs OpenSSH's `sftp -b` with these batch commands; returns its wall time (login included).
fn openssh(sshd: &Sshd, commands: &str) -> Duration {
    sshd.sftp_batch(commands, sshd.port, &sshd.path("known_hosts"))
}

fn row(what: &str, ours: Duration, peer: Duration, unit: impl Fn(Duration) -> String) {
    println!(
        "| {what} | {:.2} s ({}) | {:.2} s ({}) | {:.2} |",
        ours.as_secs_f64(),
        unit(ours),
        peer.as_secs_f64(),
        unit(peer),
        peer.as_secs_f64() / ours.as_secs_f64()
    );
}

fn main() {
    const RUNS: usize = 3;
    const BIG: usize = 256 << 20;
    let sshd = Sshd::start();
    let root = sshd.path("root");
    let local = tempfile::tempdir().unwrap();
    let big = local.path().join("big.bin");
    {
        let mut f = fs::File::create(&big).unwrap();
        let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..BIG >> 20 {
            f.write_all(&chunk).unwrap();
        }
    }
    let ep = endpoint(&sshd);
    ep.list("").unwrap(); // connect and log in once, as the agent's long-lived session does
    let mbps = |d: Duration| format!("{:.0} MB/s", BIG as f64 / 1e6 / d.as_secs_f64());
    println!(
        "| measurement | cartferry endpoint | OpenSSH `sftp -b` | cartferry / OpenSSH speed |"
    );
    println!("|---|---|---|---|");

    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        ep.put(
            "",
            "up.bin",
            &big,
            PutOptions {
                replace: true,
                ..PutOptions::default()
            },
            None,
        )
        .unwrap();
        ours.push(start.elapsed());
        fs::remove_file(root.join("up.bin")).unwrap();
        peer.push(openssh(
            &sshd,
            &format!("put {} {}/up.bin\n", big.display(), root.display()),
        ));
        fs::remove_file(root.join("up.bin")).unwrap();
    }
    row("upload 256 MiB", median(&mut ours), median(&mut peer), mbps);

    fs::copy(&big, root.join("down.bin")).unwrap();
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let target = local.path().join("down.bin");
    for _ in 0..RUNS {
        let start = Instant::now();
        let reader = ep.open_read("", "down.bin").unwrap();
        let file = fs::File::create(&target).unwrap();
        fsutil::copy_pipelined(reader, file, fsutil::NETWORK_BUFFER_SIZE).unwrap();
        ours.push(start.elapsed());
        fs::remove_file(&target).unwrap();
        peer.push(openssh(
            &sshd,
            &format!("get {}/down.bin {}\n", root.display(), target.display()),
        ));
        fs::remove_file(&target).unwrap();
    }
    row(
        "download 256 MiB",
        median(&mut ours),
        median(&mut peer),
        mbps,
    );

    const SMALL: usize = 2000;
    let small_dir = local.path().join("small");
    fs::create_dir_all(&small_dir).unwrap();
    for i in 0..SMALL {
        fs::write(small_dir.join(format!("s{i:04}.csv")), vec![b'x'; 2048]).unwrap();
    }
    let per_sec = |d: Duration| format!("{:.0} files/s", SMALL as f64 / d.as_secs_f64());
    // OpenSSH's `put` does not fsync unless given `-f`; cartferry always does where the server
    // offers it, so the like-for-like peer is `put -f`. Both are shown.
    let (mut ours, mut peer, mut peer_fsync) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let dir = format!("small{run}");
        fs::create_dir_all(root.join(&dir)).unwrap();
        let start = Instant::now();
        for i in 0..SMALL {
            let name = format!("s{i:04}.csv");
            ep.put(
                &dir,
                &name,
                &small_dir.join(&name),
                PutOptions::default(),
                None,
            )
            .unwrap();
        }
        ours.push(start.elapsed());
        for (flag, runs) in [("", &mut peer), ("-f ", &mut peer_fsync)] {
            let peer_dir = format!("{}/peer{run}{}", root.display(), flag.trim());
            fs::create_dir_all(&peer_dir).unwrap();
            let mut batch = String::new();
            for i in 0..SMALL {
                let name = format!("s{i:04}.csv");
                batch.push_str(&format!(
                    "put {flag}{} {peer_dir}/.{name}.part\nrename {peer_dir}/.{name}.part {peer_dir}/{name}\n",
                    small_dir.join(&name).display()
                ));
            }
            runs.push(openssh(&sshd, &batch));
        }
    }
    row(
        "2,000 files of 2 KiB, temporary name + rename, one session",
        median(&mut ours),
        median(&mut peer),
        per_sec,
    );
    row(
        "the same, OpenSSH with `put -f` (fsync, as cartferry does)",
        median(&mut ours),
        median(&mut peer_fsync),
        per_sec,
    );

    let listing = root.join("many");
    fs::create_dir_all(&listing).unwrap();
    for i in 0..10_000 {
        fs::write(listing.join(format!("f{i:05}.csv")), b"x").unwrap();
    }
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        assert_eq!(ep.list("many").unwrap().files.len(), 10_000);
        ours.push(start.elapsed());
        peer.push(openssh(&sshd, &format!("ls -1 {}\n", listing.display())));
    }
    row(
        "listing a 10,000-file folder",
        median(&mut ours),
        median(&mut peer),
        |d| format!("{:.0} ms", d.as_secs_f64() * 1e3),
    );
}
