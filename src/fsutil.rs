//! Local file helpers for the agent's own folders (processing, staging, archive, errors).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::naming::with_counter;

/// Size of the buffers used to stream files.
pub const BUFFER_SIZE: usize = 256 * 1024;

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Streams a reader to its end; returns its length and SHA-256 (hex).
pub fn sha256_of(mut reader: impl Read) -> io::Result<Hashed> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER_SIZE];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex(&hasher.finalize())))
}

/// Size of the buffer for network copies: libssh2 reads ahead in proportion to the buffer it is
/// given, so small buffers crawl over real networks (DEPENDENCY-NOTES.md).
pub const NETWORK_BUFFER_SIZE: usize = 1 << 20;

/// Copies `reader` to `writer` through a buffer of `buffer_size` bytes; returns the bytes copied.
pub fn copy_with_buffer(
    mut reader: impl Read,
    mut writer: impl Write,
    buffer_size: usize,
) -> io::Result<u64> {
    let mut buf = vec![0u8; buffer_size];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// The length and SHA-256 (lowercase hex) of a stream of bytes.
pub type Hashed = (u64, String);

/// Copies like [`copy_with_buffer`], but reads on a second thread while this one writes, so a
/// network download and the local disk work at the same time, and hashes on the reading thread
/// what it reads. At most four buffers are in flight. Returns the length and hash of the copy.
pub fn copy_pipelined(
    reader: impl Read + Send,
    mut writer: impl Write,
    buffer_size: usize,
) -> io::Result<Hashed> {
    let (total, hashed) = read_ahead(reader, buffer_size, |ahead| {
        let mut total = 0u64;
        while let Some(chunk) = ahead.next_chunk()? {
            writer.write_all(chunk)?;
            total += chunk.len() as u64;
        }
        Ok(total)
    })?;
    hashed
        .filter(|(size, _)| *size == total)
        .ok_or_else(|| io::Error::other("the copy stopped before the end of what was read"))
}

/// Hands `reader` to `consume` and hashes, in order, the bytes `consume` reads: inline for a
/// stream of at most `expected` ≤ [`NETWORK_BUFFER_SIZE`] bytes, and otherwise on a second
/// thread that reads ahead (see [`read_ahead`]), so that hashing and what `consume` does with
/// the bytes (encrypting them for the network, say) share the work of two cores. `consume` must
/// read to the end. Returns what `consume` returned, and the length and hash of what it read.
pub fn read_hashed<T>(
    reader: impl Read + Send,
    expected: u64,
    consume: impl FnOnce(&mut dyn Read) -> io::Result<T>,
) -> io::Result<(T, Hashed)> {
    let (result, hashed) = if expected <= NETWORK_BUFFER_SIZE as u64 {
        let mut hashing = HashingReader::new(reader);
        let result = consume(&mut hashing)?;
        (result, hashing.finish())
    } else {
        read_ahead(reader, NETWORK_BUFFER_SIZE, |ahead| consume(ahead))?
    };
    let hashed = hashed.ok_or_else(|| io::Error::other("the reader was not read to its end"))?;
    Ok((result, hashed))
}

/// Reads `reader` on a second thread into buffers of `buffer_size` bytes (at most four in flight),
/// hashing them in order, while `consume` takes them on this thread. Returns what `consume`
/// returned, and the length and hash of the stream when `consume` read it to its end.
fn read_ahead<T>(
    reader: impl Read + Send,
    buffer_size: usize,
    consume: impl FnOnce(&mut ReadAhead) -> io::Result<T>,
) -> io::Result<(T, Option<Hashed>)> {
    std::thread::scope(|scope| {
        let (full_tx, full) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
        let (empty, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let reading = scope.spawn(move || {
            let mut reader = reader;
            let mut hasher = Sha256::new();
            let mut total = 0u64;
            loop {
                let mut buf = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| vec![0u8; buffer_size]);
                buf.resize(buffer_size, 0);
                let result = match reader.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    read => read.map(|n| {
                        buf.truncate(n);
                        hasher.update(&buf);
                        total += n as u64;
                        buf
                    }),
                };
                let (end, stop) = match &result {
                    Ok(buf) if buf.is_empty() => (
                        Some((total, hex(&std::mem::take(&mut hasher).finalize()))),
                        true,
                    ),
                    Ok(_) => (None, false),
                    Err(_) => (None, true),
                };
                if full_tx.send(result).is_err() || stop {
                    return end;
                }
            }
        });
        let mut ahead = ReadAhead {
            full,
            empty,
            chunk: Vec::new(),
            at: 0,
            ended: false,
        };
        let result = consume(&mut ahead);
        let ended = ahead.ended;
        // Dropping the receiving end stops a reader that is still reading.
        drop(ahead);
        let hashed = reading
            .join()
            .map_err(|_| io::Error::other("the reading thread panicked"))?;
        Ok((result?, hashed.filter(|_| ended)))
    })
}

/// The receiving end of [`read_ahead`]: whole buffers ([`ReadAhead::next_chunk`]) or a plain
/// [`Read`].
struct ReadAhead {
    full: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    empty: std::sync::mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ReadAhead {
    /// The next buffer read, whole; `None` at the end.
    fn next_chunk(&mut self) -> io::Result<Option<&[u8]>> {
        if self.ended {
            return Ok(None);
        }
        let used = std::mem::take(&mut self.chunk);
        if used.capacity() > 0 {
            let _ = self.empty.send(used);
        }
        self.at = 0;
        match self.full.recv() {
            Ok(Ok(buf)) if buf.is_empty() => {
                self.ended = true;
                Ok(None)
            }
            Ok(Ok(buf)) => {
                self.chunk = buf;
                Ok(Some(&self.chunk))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the reading thread stopped")),
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() && self.next_chunk()?.is_none() {
            return Ok(0);
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A reader that hashes and counts what is read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    ended: bool,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
            ended: false,
        }
    }

    /// The byte count and SHA-256 of everything read, once the end was read.
    fn finish(self) -> Option<Hashed> {
        self.ended
            .then(|| (self.read, hex(&self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        self.ended |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// The inner writer, the byte count and the SHA-256 (hex) of everything written.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.written, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Moves a file, across filesystems if need be (copy, flush, rename, then remove the original).
/// Creates the target's folder. The target name must be free or replaceable. The rename itself is
/// not flushed to disk: callers that need it to survive a power cut call [`crate::platform::sync_dir`].
pub fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    match fs::rename(from, to) {
        Ok(()) => renamed(from, to),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            // Never copy what a link points at, nor read a pipe: only regular files are copied.
            let kind = fs::symlink_metadata(from)?.file_type();
            if kind.is_symlink() {
                return crate::platform::move_link(from, to);
            }
            if !kind.is_file() {
                return Err(io::Error::other(format!(
                    "{} is not a regular file and cannot be copied to another file system",
                    from.display()
                )));
            }
            let tmp = parent.join(format!(
                ".{}.part",
                to.file_name().unwrap_or_default().to_string_lossy()
            ));
            fs::copy(from, &tmp)?;
            let copy = fs::File::open(&tmp)?;
            copy.sync_all()?;
            flushed(&copy);
            fs::rename(&tmp, to)?;
            fs::remove_file(from)?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Writes a small file whole: to a temporary name, flushed, then renamed.
pub fn write_whole(path: &Path, contents: &[u8]) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    flushed(tmp.as_file());
    let tmp_path = tmp.path().to_path_buf();
    tmp.persist(path).map_err(|e| e.error)?;
    renamed(&tmp_path, path);
    Ok(())
}

/// `dir/name`, or `dir/name-2…` when the name (or, with `companion`, the companion file it
/// would have, such as its report) is taken.
pub fn free_path(dir: &Path, name: &str, companion: Option<fn(&Path) -> PathBuf>) -> PathBuf {
    // Any entry takes a name: a dangling link or a folder as much as a file.
    let occupied = |path: &Path| fs::symlink_metadata(path).is_ok();
    let taken = |n: &str| {
        let path = dir.join(n);
        occupied(&path) || companion.is_some_and(|of| occupied(&of(&path)))
    };
    if !taken(name) {
        return dir.join(name);
    }
    (2..)
        .map(|n| with_counter(name, n))
        .find(|n| !taken(n))
        .map(|n| dir.join(n))
        .unwrap_or_else(|| dir.join(name))
}

/// Removes a file; an absent file is fine.
pub fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Notes that `file` was just flushed to disk, for the power-cut tests: a test build
/// (feature `failpoints`) appends `f <inode> <size>` to the file `CARTFERRY_FLUSH_JOURNAL`
/// names, so that a simulated power cut keeps exactly what was flushed. Nothing otherwise.
pub fn flushed(file: &fs::File) {
    #[cfg(feature = "failpoints")]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::MetadataExt;
        journal(&format!("f {} {}", meta.ino(), meta.len()));
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = file;
}

/// Notes, as [`flushed`] does, that the file at `path` was just flushed by a library that owns
/// its handle (SQLite's write-ahead log after a commit made with `synchronous = FULL`).
pub fn flushed_at(path: &Path) {
    #[cfg(feature = "failpoints")]
    if let Ok(file) = fs::File::open(path) {
        flushed(&file);
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = path;
}

/// Notes, as [`flushed`] does, that `from` was renamed to `to` (`r <from>\t<to>`): a power cut
/// undoes a rename whose folder was not flushed after it.
pub fn renamed(from: &Path, to: &Path) {
    #[cfg(feature = "failpoints")]
    journal(&format!("r {}\t{}", from.display(), to.display()));
    #[cfg(not(feature = "failpoints"))]
    let _ = (from, to);
}

/// Notes, as [`flushed`] does, that the folder `dir` was flushed (`d <dir>`).
pub fn dir_flushed(dir: &Path) {
    #[cfg(feature = "failpoints")]
    journal(&format!("d {}", dir.display()));
    #[cfg(not(feature = "failpoints"))]
    let _ = dir;
}

/// Appends `line` to the power-cut tests' journal, when a test names one.
#[cfg(feature = "failpoints")]
fn journal(line: &str) {
    if let Some(journal) = std::env::var_os("CARTFERRY_FLUSH_JOURNAL") {
        let _ = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal)
            .and_then(|mut j| j.write_all(format!("{line}\n").as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_known_text() {
        let (n, h) = sha256_of(&b"abc"[..]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        assert_eq!(w.finish().2, h);
    }

    #[test]
    fn pipelined_copy_keeps_every_byte_in_order_and_reports_read_errors() {
        let data: Vec<u8> = (0..3_000_001u32).map(|i| (i % 253) as u8).collect();
        let mut out = Vec::new();
        assert_eq!(
            copy_pipelined(&data[..], &mut out, 4096).unwrap(),
            sha256_of(&data[..]).unwrap()
        );
        assert_eq!(out, data);

        struct Failing(u32);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                if self.0 > 3 {
                    return Err(io::Error::other("connection lost"));
                }
                buf[0] = 1;
                Ok(1)
            }
        }
        let err = copy_pipelined(Failing(0), Vec::new(), 16).unwrap_err();
        assert_eq!(err.to_string(), "connection lost");
    }

    #[test]
    fn the_hash_of_what_is_read_is_that_of_the_whole_stream_inline_or_read_ahead() {
        // A consumer that reads in odd sizes, as an upload window does.
        let consume = |input: &mut dyn Read| {
            let mut got = Vec::new();
            let mut buf = [0u8; 7919];
            loop {
                match input.read(&mut buf)? {
                    0 => return Ok(got),
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        for len in [0usize, 5, NETWORK_BUFFER_SIZE, 3 * NETWORK_BUFFER_SIZE + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
            let (got, hashed) = read_hashed(&data[..], len as u64, consume).unwrap();
            assert_eq!(got, data, "{len} bytes");
            assert_eq!(hashed, sha256_of(&data[..]).unwrap(), "{len} bytes");
        }
    }

    #[test]
    fn a_hash_of_a_stream_not_read_to_its_end_is_refused() {
        let data = vec![1u8; 3 * NETWORK_BUFFER_SIZE];
        for expected in [10, data.len() as u64] {
            let err =
                read_hashed(&data[..], expected, |input| input.read(&mut [0u8; 10])).unwrap_err();
            assert!(err.to_string().contains("not read to its end"), "{err}");
        }
    }

    #[test]
    fn free_path_skips_taken_names_and_companions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.csv"), "").unwrap();
        fs::write(dir.path().join("a-2.csv.error.txt"), "").unwrap();
        assert_eq!(
            free_path(dir.path(), "a.csv", Some(crate::report::report_path)),
            dir.path().join("a-3.csv")
        );
    }
}
