//! The few calls that differ between operating systems: renames that must not replace, folder
//! flushes, and shutdown signals. Everything else in cartferry is portable Rust.

use std::io;
use std::path::Path;

/// Renames `from` to `to`, failing with `AlreadyExists` when `to` exists.
///
/// On Unix this is a hard link followed by an unlink: `link(2)` refuses an existing target
/// atomically. Filesystems without hard links fall back to a check followed by rename.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => {
            if to.exists() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} already exists", to.display()),
                ));
            }
            std::fs::rename(from, to)
        }
    }
}

/// Flushes a folder's entries to disk, so a rename inside it survives a power loss.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Folder entries cannot be flushed separately on this platform; renames are durable on commit.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM on Unix, Ctrl-C elsewhere).
#[cfg(unix)]
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Resolves when the process is asked to stop (Ctrl-C).
#[cfg(not(unix))]
pub async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
