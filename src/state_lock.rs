//! The state folder's lock: one agent (`run` or `once`) at a time works on a ledger. Two
//! agents on one ledger would each resume the other's files in flight and send them to the
//! error folder while the other delivers them. The lock is an advisory lock on
//! `<state_dir>/cartferry.lock`, held for the process's life and released by the system when the
//! process ends, however it ends; the file names its holder (pid, host, since) for the one that
//! is refused. Commands that only read (`status`, `errors`) and `retry` (which puts files back
//! into an inbox) work beside a running agent.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the state folder.
pub const LOCK_FILE: &str = "cartferry.lock";

/// Why the state folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another cartferry agent is working on the state folder {} ({holder}); stop it first, or give this config its own agent.state_dir",
        state_dir.display()
    )]
    Held {
        /// The state folder.
        state_dir: PathBuf,
        /// Who holds it, as the holder wrote: `pid 123 on host, since …`.
        holder: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock the state folder ({}): {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// The state folder, locked for this process until the value is dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    /// The lock file was made by this lock: no agent has worked in this state folder before.
    first: bool,
}

impl StateLock {
    /// Locks `state_dir` (creating it and its lock file when missing), or says who holds it.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(state_dir).map_err(io)?;
        let first = !path.exists();
        let mut file = open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    state_dir: state_dir.to_path_buf(),
                    holder: holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let since = chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z");
        let holder = format!(
            "pid {} on {}, since {since}\n",
            std::process::id(),
            gethostname::gethostname().to_string_lossy()
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()))
            .map_err(io)?;
        Ok(StateLock { _file: file, first })
    }

    /// True when no agent has worked in this state folder before (its lock file is new).
    pub fn first_in_folder(&self) -> bool {
        self.first
    }
}

/// Who holds the lock, as the holder wrote it. A holder writes right after it has the lock, so
/// a file still empty is read again for a moment before the holder is called unknown.
fn holder(file: &mut File) -> String {
    for _ in 0..HOLDER_READS {
        let mut said = String::new();
        if file
            .rewind()
            .and_then(|()| file.read_to_string(&mut said))
            .is_ok()
            && !said.trim().is_empty()
        {
            return said.trim().to_string();
        }
        std::thread::sleep(HOLDER_WAIT);
    }
    "a process that has not said which".to_string()
}

/// How many times an empty lock file is read again.
const HOLDER_READS: u32 = 50;

/// How long apart.
const HOLDER_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_first_and_granted_once_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        match StateLock::acquire(dir.path()) {
            Err(LockError::Held { holder, .. }) => {
                assert!(
                    holder.starts_with(&format!("pid {} on ", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        drop(first);
        StateLock::acquire(dir.path()).expect("free again once the holder is gone");
    }
}
