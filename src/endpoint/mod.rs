//! Endpoints: places files live. One trait, one file per kind (`local.rs`, `sftp.rs`), like
//! rclone's backends. Operations a kind cannot do atomically are stated on the trait, not faked.

mod local;
mod sftp;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use local::LocalEndpoint;
pub use sftp::SftpEndpoint;

use crate::config::EndpointConfig;
use crate::fsutil::Hashed;

/// One file in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name, without folder.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, when the endpoint reports one.
    pub mtime: Option<SystemTime>,
}

/// What a folder holds: its plain files, and the entries no route takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The plain files with UTF-8 names.
    pub files: Vec<Entry>,
    /// Everything else but `.` and `..`.
    pub unfit: Vec<Unfit>,
}

/// An entry of a folder that no route takes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unfit {
    /// Its name; a name that is not UTF-8 has `�` for the bytes that are not.
    pub name: String,
    /// Why no route takes it.
    pub why: Unfitness,
}

/// Why an entry of a folder is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unfitness {
    /// Its name is not valid UTF-8 (another character set, such as Latin-1).
    NameNotUtf8,
    /// A symbolic link.
    Link,
    /// A folder.
    Folder,
    /// A pipe, socket or device.
    Special,
}

impl std::fmt::Display for Unfitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unfitness::NameNotUtf8 => {
                "its name is not valid UTF-8 (it was written in another character set, such as Latin-1); rename it with letters the name can keep"
            }
            Unfitness::Link => {
                "it is a symbolic link, and cartferry takes only plain files (a link could make it read a file elsewhere); put the file itself in the folder"
            }
            Unfitness::Folder => "it is a folder, and cartferry takes only files",
            Unfitness::Special => {
                "it is not a plain file (a pipe, socket or device), and cartferry takes only files"
            }
        })
    }
}

/// A failed endpoint operation, with the path it concerned.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The operating system or server refused or failed.
    #[error("could not {op} {path}: {source}")]
    Io {
        /// What was attempted ("list", "read", "rename", …).
        op: &'static str,
        /// The path concerned, as the endpoint names it.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The target name already holds a file and replacing was not allowed.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The taken path.
        path: String,
    },
    /// The server could not be reached, or was refused (unknown host key, failed login).
    #[error("{server}: {message}")]
    Refused {
        /// `user@host:port`.
        server: String,
        /// What happened and what to do.
        message: String,
    },
    /// The endpoint waits after the server refused cartferry, so as not to get the account
    /// locked: not the file's fault, so its files wait without using up their attempts.
    #[error("{server}: {message}")]
    Paused {
        /// `user@host:port`.
        server: String,
        /// What happened and what to do.
        message: String,
        /// How long until the endpoint tries again.
        wait: std::time::Duration,
    },
    /// A written file does not have the size that was sent.
    #[error("{path} holds {found} bytes after writing {expected}")]
    SizeMismatch {
        /// The written path.
        path: String,
        /// Bytes sent.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
}

impl EndpointError {
    /// True when the file or folder does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, EndpointError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Result of endpoint operations.
pub type Result<T> = std::result::Result<T, EndpointError>;

/// How `put` treats the target name and the source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Replace a file that already has the final name.
    pub replace: bool,
    /// The caller deletes `source` right after a successful put and never changes it, so the
    /// endpoint may share its storage (a hard link on the same filesystem) instead of copying.
    pub source_disposable: bool,
    /// Which attempt at this delivery this is: each attempt writes its own temporary file (see
    /// [`part_name`]), so a stalled earlier attempt that wakes up never writes into this one.
    pub attempt: u32,
}

/// Asked by `put` once its temporary file is whole and flushed, with the length and SHA-256 of
/// the bytes it sent (hashed as they were read for sending, not in a pass of their own): `true`
/// lets the file take its final name, `false` withdraws it.
pub type BeforeRename<'a> = &'a mut dyn FnMut(&Hashed) -> bool;

/// How a `put` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The file is under its final name; this many bytes.
    Delivered(u64),
    /// [`BeforeRename`] withdrew it: its temporary file is deleted, and nothing has the name.
    Withdrawn,
}

/// A place files live. Folders (`dir`) are relative to the endpoint's root; names have no slashes.
///
/// Atomicity: `put` never exposes a partial file under its final name on any kind. Replacing an
/// existing final name is atomic on `local` (rename(2)); kinds without an atomic replace say so in
/// their docs and delete first.
pub trait Endpoint: Send + Sync {
    /// A short description for messages, such as `local folder /srv/cart`.
    fn describe(&self) -> String;

    /// What `dir` holds directly, in no particular order: its plain files, and what else is
    /// there (see [`Listing`]).
    fn list(&self, dir: &str) -> Result<Listing>;

    /// The file `name` in `dir`, or `None` when absent.
    fn stat(&self, dir: &str, name: &str) -> Result<Option<Entry>>;

    /// True when anything has the name `name` in `dir`: a file, a folder, a link (even a
    /// dangling one), a pipe. A delivery takes only a name nothing has.
    fn occupied(&self, dir: &str, name: &str) -> Result<bool>;

    /// Streams the file's bytes.
    fn open_read(&self, dir: &str, name: &str) -> Result<Box<dyn Read + Send>>;

    /// Delivers the local file `source` as `dir/name`: written to `.<name>.part`, flushed to disk,
    /// size-verified, then renamed. Without `options.replace`, an existing `name` is left alone
    /// and [`EndpointError::AlreadyExists`] returned. With `before_rename`, the bytes are hashed
    /// as they are sent, and it decides, before the rename, whether the file is delivered.
    fn put(
        &self,
        dir: &str,
        name: &str,
        source: &Path,
        options: PutOptions,
        before_rename: Option<BeforeRename<'_>>,
    ) -> Result<Put>;

    /// Moves `from_dir/from` to `to_dir/to` on this endpoint, never replacing an existing file.
    fn rename(&self, from_dir: &str, from: &str, to_dir: &str, to: &str) -> Result<()>;

    /// Deletes a file; deleting an absent file succeeds.
    fn delete(&self, dir: &str, name: &str) -> Result<()>;

    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &str) -> Result<()>;

    /// True when `dir` is a folder (a link to one counts).
    fn is_dir(&self, dir: &str) -> Result<bool>;

    /// The local path of `dir` when this endpoint's files are plain local files, so that the agent
    /// can claim them by rename and watch the folder for events.
    fn local_dir(&self, dir: &str) -> Option<PathBuf>;

    /// Whether a session to the server is open, for kinds that keep one (`None`: no session).
    fn connected(&self) -> Option<bool> {
        None
    }
}

/// Every configured endpoint by name, built once so that routes share them (one pool of SFTP
/// sessions per server, not one per route).
pub type Endpoints = std::collections::BTreeMap<String, Arc<dyn Endpoint>>;

/// Builds every endpoint of a config.
pub fn open_all(config: &crate::config::Config) -> Endpoints {
    config
        .endpoints
        .iter()
        .map(|(name, c)| (name.clone(), open(c, &config.agent.state_dir)))
        .collect()
}

/// Builds the endpoint a config entry describes; `state_dir` holds the ledger through which
/// SFTP endpoints share their pauses after a refusal with other processes.
pub fn open(config: &EndpointConfig, state_dir: &Path) -> Arc<dyn Endpoint> {
    match config {
        EndpointConfig::Local { root, .. } => Arc::new(LocalEndpoint::new(root.clone())),
        EndpointConfig::Sftp(sftp) => {
            Arc::new(SftpEndpoint::new(sftp.clone()).with_ledger(state_dir))
        }
    }
}

/// Creates `dir` on `endpoint` unless it is there; whether it was created (a route's folder
/// created this way is worth a word: a mistyped name would be watched or written quietly).
pub fn create_if_missing(endpoint: &dyn Endpoint, dir: &str) -> Result<bool> {
    if endpoint.is_dir(dir)? {
        return Ok(false);
    }
    endpoint.create_dir_all(dir)?;
    Ok(true)
}

/// The name under which attempt `attempt` of a `put` writes before renaming:
/// `.<name>.<attempt>.part` (shortened when that is too long for a file name), hidden and
/// temporary on every endpoint, so no reader takes it for a finished file. One name per attempt:
/// a server that resumes a stalled session of an earlier attempt writes into that attempt's file,
/// never into the one renamed into place.
pub fn part_name(name: &str, attempt: u32) -> String {
    crate::naming::fitted(".", name, &format!(".{attempt}.part"))
}
