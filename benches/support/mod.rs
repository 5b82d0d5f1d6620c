//! Helpers shared by the benchmarks (each benchmark uses some of them).
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion; returns wall time and the child's peak RSS in KiB.
pub fn measured(cmd: &mut Command) -> (Duration, u64) {
    measured_expecting(cmd, 0)
}

/// The same, for a command that must exit with `code`.
pub fn measured_expecting(cmd: &mut Command, code: i32) -> (Duration, u64) {
    let run = measured_run(cmd, code);
    (run.wall, run.peak_rss_kib)
}

/// What one run of a command took.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Wall time.
    pub wall: Duration,
    /// CPU time, user and system, of every thread.
    pub cpu: Duration,
    /// Peak resident memory, KiB.
    pub peak_rss_kib: u64,
}

/// The peak resident memory (KiB) of process `pid`'s current program, as `/proc` says it.
fn high_water_kib(pid: libc::pid_t) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs a command to completion, which must exit with `code`; what it took. The peak memory is
/// watched in `/proc` while it runs: the kernel's own count (`ru_maxrss`) starts from this
/// process's peak, since the child begins as a copy of it, so a bench that once held more than
/// the program it runs would see its own figure.
pub fn measured_run(cmd: &mut Command, code: i32) -> Run {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = high_water_kib(pid).map_or(peak, |now| peak.max(now));
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own un-reaped child; status and usage point to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let watched = watcher.join().expect("the memory watcher");
    assert_eq!(rc, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code,
        "{cmd:?} did not exit with {code}"
    );
    std::mem::forget(child);
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_rss_kib: if watched > 0 {
            watched
        } else {
            usage.ru_maxrss as u64
        },
    }
}

/// Waits for `child` (already told to stop); its CPU time, user and system, of every thread.
pub fn cpu_of(child: std::process::Child) -> Duration {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own un-reaped child; status and usage point to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    std::mem::forget(child);
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Flushes the machine's dirty pages to disk, so that a run does not meet the writeback of what
/// came before it.
pub fn sync_disks() {
    let flushed = Command::new("sync").status().is_ok_and(|s| s.success());
    assert!(flushed, "sync failed");
}

/// The median of `values` (sorted here).
pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// A fresh scratch folder `cartferry-bench-NAME-PID` below `BENCH_DIR` (default: the system
/// temporary folder).
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    scratch_below(&base, name)
}

/// A fresh scratch folder `cartferry-bench-NAME-PID` below `base`.
pub fn scratch_below(base: &std::path::Path, name: &str) -> PathBuf {
    let dir = base.join(format!("cartferry-bench-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the bench `name` is to run: every one when the command line names none
/// (`cargo bench --bench agent -- latency` runs only `latency`).
pub fn wanted(name: &str) -> bool {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    which.is_empty() || which.iter().any(|w| w == name)
}
