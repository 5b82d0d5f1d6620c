//! Helpers shared by the benchmarks.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion; returns wall time and the child's peak RSS in KiB.
pub fn measured(cmd: &mut Command) -> (Duration, u64) {
    measured_expecting(cmd, 0)
}

/// The same, for a command that must exit with `code`.
pub fn measured_expecting(cmd: &mut Command, code: i32) -> (Duration, u64) {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own un-reaped child; status and usage point to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(rc, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code,
        "{cmd:?} did not exit with {code}"
    );
    std::mem::forget(child);
    (took, usage.ru_maxrss as u64)
}
