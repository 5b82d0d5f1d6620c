//! The few calls that differ between operating systems and processors: renames that must not
//! replace, folder flushes, opening a claimed file without following links, shutdown signals,
//! and whether the processor computes AES in hardware. Everything else in cartferry is portable
//! Rust.

use std::fs::File;
use std::io;
use std::path::Path;

/// What an entry is, for people, when cartferry will not read it as a file.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a folder"
    } else if file_type.is_file() {
        "a file"
    } else {
        "a special file (a pipe, socket or device)"
    }
}

/// Opens the regular file at `path` for reading without following a symbolic link, and makes
/// sure the file opened is the entry looked at. `Ok(Err(what))` says what the entry is instead
/// (`"a symbolic link"`, `"a folder"` …): an entry swapped in after a listing is never read
/// through, whatever it points at.
pub fn open_regular(path: &Path) -> io::Result<Result<File, &'static str>> {
    let seen = std::fs::symlink_metadata(path)?;
    if !seen.is_file() {
        return Ok(Err(kind_of(seen.file_type())));
    }
    let file = match open_no_follow(path) {
        Ok(file) => file,
        Err(e) if is_link_refused(&e) => return Ok(Err("a symbolic link")),
        Err(e) => return Err(e),
    };
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Ok(Err(kind_of(opened.file_type())));
    }
    if !same_file(&seen, &opened) {
        return Ok(Err("a file swapped for another while it was being claimed"));
    }
    Ok(Ok(file))
}

/// Opens `path` read-only, refusing a symbolic link, and without blocking on a pipe.
#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Opens `path` read-only (the link check before it is all this platform offers).
#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// True when an open failed because the path is a symbolic link (`O_NOFOLLOW`).
#[cfg(unix)]
fn is_link_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// True when an open failed because the path is a symbolic link.
#[cfg(not(unix))]
fn is_link_refused(_: &io::Error) -> bool {
    false
}

/// True when two metadata describe the same file (device and inode).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// True when two metadata describe the same file, as far as this platform tells.
#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Why `dir` is no fit folder for cartferry to claim files into: not a real folder of its own
/// user (a link, a file, another user's folder) or, when `beside` is given, on another file
/// system than `beside` (a claim is a rename). `None` when it is fit.
#[cfg(unix)]
pub fn unfit_claim_dir(dir: &Path, beside: Option<&Path>) -> io::Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(Some(format!(
            "{} is {}, not a folder",
            dir.display(),
            kind_of(meta.file_type())
        )));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Ok(Some(format!(
            "{} belongs to user id {}, not to the user cartferry runs as ({me})",
            dir.display(),
            meta.uid()
        )));
    }
    if let Some(beside) = beside
        && std::fs::metadata(beside)?.dev() != meta.dev()
    {
        return Ok(Some(format!(
            "{} is on another file system than {}, so a claim could not be a rename",
            dir.display(),
            beside.display()
        )));
    }
    Ok(None)
}

/// Why `dir` is no fit folder for cartferry to claim files into (not a real folder); `None`
/// when it is fit.
#[cfg(not(unix))]
pub fn unfit_claim_dir(dir: &Path, _beside: Option<&Path>) -> io::Result<Option<String>> {
    let meta = std::fs::symlink_metadata(dir)?;
    Ok((!meta.is_dir()).then(|| {
        format!(
            "{} is {}, not a folder",
            dir.display(),
            kind_of(meta.file_type())
        )
    }))
}

/// Makes `path` readable and writable by its owner only (0600): for files that quote customer
/// data, such as the ledger with its reports. A file that is so already is left alone, so that
/// one on a file system gone read-only can still be opened (and its fault be said).
#[cfg(unix)]
pub fn owner_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(path)?.permissions().mode() & 0o777 == 0o600 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Files are private to their user by other means on this platform.
#[cfg(not(unix))]
pub fn owner_only(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates `dir` and its parents, the last one readable by its owner only (0700).
#[cfg(unix)]
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates `dir` and its parents.
#[cfg(not(unix))]
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A temporary file in `dir` that will be renamed into a file for others to read: created with
/// the permissions the process's umask gives new files (0644 under umask 022), as a delivered
/// file is, rather than the 0600 of a private temporary file.
#[cfg(unix)]
pub fn shared_temp_file(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// A temporary file in `dir` that will be renamed into a file for others to read.
#[cfg(not(unix))]
pub fn shared_temp_file(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::NamedTempFile::new_in(dir)
}

/// Moves the symbolic link `from` to `to` (the link itself, never what it points at).
#[cfg(unix)]
pub fn move_link(from: &Path, to: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
    std::fs::remove_file(from)
}

/// Symbolic links are not moved across file systems on this platform.
#[cfg(not(unix))]
pub fn move_link(from: &Path, _to: &Path) -> io::Result<()> {
    Err(io::Error::other(format!(
        "{} is a symbolic link and cannot be moved to another file system",
        from.display()
    )))
}

/// Renames `from` to `to`, failing with `AlreadyExists` when `to` exists.
///
/// On Unix this is a hard link followed by an unlink: `link(2)` refuses an existing target
/// atomically. Filesystems without hard links fall back to a check followed by rename.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            crate::fsutil::renamed(from, to);
            crate::crash_point!("rename.linked");
            std::fs::remove_file(from)
        }
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
    std::fs::File::open(dir)?.sync_all()?;
    crate::fsutil::dir_flushed(dir);
    Ok(())
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

/// Whether this processor computes AES-GCM in hardware (AES rounds and carry-less multiply), as
/// OpenSSL then does it several times faster than a portable cipher.
pub fn aes_gcm_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Acknowledges at once what `socket` has received (Linux's `TCP_QUICKACK`), instead of up to
/// 40 ms later in the hope of carrying the acknowledgment on data of its own. Elsewhere, nothing.
#[cfg(target_os = "linux")]
pub fn acknowledge_now(socket: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, and an option value of the size given. A failure only leaves
    // the acknowledgment to the kernel's own timing.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Acknowledges at once what `socket` has received: on Linux only.
#[cfg(not(target_os = "linux"))]
pub fn acknowledge_now(_socket: &std::net::TcpStream) {}

/// Waits until `socket` can be read from (with `read`) or written to (with `write`), or until
/// `timeout` passes; false when it passed. A signal ends the wait early, as readiness would.
#[cfg(unix)]
pub fn wait_for_socket(
    socket: &std::net::TcpStream,
    read: bool,
    write: bool,
    timeout: std::time::Duration,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    };
    let millis = timeout.as_millis().min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut poll, 1, millis) } {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(e)
            }
        }
        ready => Ok(ready > 0),
    }
}
