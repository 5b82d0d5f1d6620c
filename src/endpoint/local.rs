//! The `local` endpoint: a folder on this machine.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{
    BeforeRename, Endpoint, EndpointError, Entry, Listing, Put, PutOptions, Result, Unfit,
    Unfitness, part_name,
};
use crate::{fsutil, platform};

/// A folder on this machine; every `dir` is relative to its root.
#[derive(Debug, Clone)]
pub struct LocalEndpoint {
    root: PathBuf,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EndpointError {
    let path = path.display().to_string();
    move |source| EndpointError::Io { op, path, source }
}

impl LocalEndpoint {
    /// An endpoint rooted at `root`.
    pub fn new(root: PathBuf) -> LocalEndpoint {
        LocalEndpoint { root }
    }

    fn path(&self, dir: &str, name: &str) -> PathBuf {
        self.root.join(dir).join(name)
    }
}

impl Endpoint for LocalEndpoint {
    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }

    fn list(&self, dir: &str) -> Result<Listing> {
        let folder = self.root.join(dir);
        let mut listing = Listing::default();
        for item in fs::read_dir(&folder).map_err(io_err("list", &folder))? {
            let item = item.map_err(io_err("list", &folder))?;
            // A file can vanish between readdir and stat; that is not an error of the listing.
            // The entry's own metadata: a link is not followed.
            let Ok(meta) = item.metadata() else { continue };
            let kind = meta.file_type();
            let why = if kind.is_symlink() {
                Some(Unfitness::Link)
            } else if kind.is_dir() {
                Some(Unfitness::Folder)
            } else if !kind.is_file() {
                Some(Unfitness::Special)
            } else {
                None
            };
            let (name, why) = match (item.file_name().into_string(), why) {
                (Ok(name), None) => {
                    listing.files.push(Entry {
                        name,
                        size: meta.len(),
                        mtime: meta.modified().ok(),
                    });
                    continue;
                }
                (Ok(name), Some(why)) => (name, why),
                (Err(name), why) => (
                    name.to_string_lossy().into_owned(),
                    why.unwrap_or(Unfitness::NameNotUtf8),
                ),
            };
            listing.unfit.push(Unfit { name, why });
        }
        Ok(listing)
    }

    fn stat(&self, dir: &str, name: &str) -> Result<Option<Entry>> {
        let path = self.path(dir, name);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(Entry {
                name: name.to_string(),
                size: meta.len(),
                mtime: meta.modified().ok(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    fn occupied(&self, dir: &str, name: &str) -> Result<bool> {
        let path = self.path(dir, name);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    fn open_read(&self, dir: &str, name: &str) -> Result<Box<dyn Read + Send>> {
        let path = self.path(dir, name);
        Ok(Box::new(
            fs::File::open(&path).map_err(io_err("read", &path))?,
        ))
    }

    fn put(
        &self,
        dir: &str,
        name: &str,
        source: &Path,
        options: PutOptions,
        before_rename: Option<BeforeRename<'_>>,
    ) -> Result<Put> {
        let folder = self.root.join(dir);
        let part = folder.join(part_name(name, options.attempt));
        let target = folder.join(name);
        let expected = fs::metadata(source).map_err(io_err("read", source))?.len();
        fsutil::remove_if_present(&part).map_err(io_err("write", &part))?;
        // A disposable source on the same filesystem is linked, not copied: no bytes move and no
        // inode is freed when the source is deleted. Bytes to be hashed are read as they are
        // copied. Otherwise fs::copy uses copy_file_range or reflinks where the kernel offers them.
        let linked = before_rename.is_none()
            && options.source_disposable
            && fs::hard_link(source, &part).is_ok();
        let hashed = match &before_rename {
            _ if linked => None,
            Some(_) => Some(copy_hashing(source, &part, expected)?),
            None => {
                fs::copy(source, &part).map_err(io_err("write", &part))?;
                None
            }
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&part)
            .map_err(io_err("write", &part))?;
        // Flush to disk before the rename, so the final name never points at unwritten blocks.
        file.sync_all().map_err(io_err("flush", &part))?;
        fsutil::flushed(&file);
        let found = file.metadata().map_err(io_err("stat", &part))?.len();
        if found != expected {
            let _ = fs::remove_file(&part);
            return Err(EndpointError::SizeMismatch {
                path: part.display().to_string(),
                expected,
                found,
            });
        }
        drop(file);
        if let (Some(decide), Some(hashed)) = (before_rename, &hashed)
            && !decide(hashed)
        {
            fs::remove_file(&part).map_err(io_err("delete", &part))?;
            return Ok(Put::Withdrawn);
        }
        if options.replace {
            fs::rename(&part, &target).map_err(io_err("rename", &target))?;
            fsutil::renamed(&part, &target);
        } else {
            platform::rename_no_replace(&part, &target).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    let _ = fs::remove_file(&part);
                    EndpointError::AlreadyExists {
                        path: target.display().to_string(),
                    }
                } else {
                    io_err("rename", &target)(e)
                }
            })?;
        }
        platform::sync_dir(&folder).map_err(io_err("flush", &folder))?;
        Ok(Put::Delivered(expected))
    }

    fn rename(&self, from_dir: &str, from: &str, to_dir: &str, to: &str) -> Result<()> {
        let source = self.path(from_dir, from);
        let target = self.path(to_dir, to);
        platform::rename_no_replace(&source, &target).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                EndpointError::AlreadyExists {
                    path: target.display().to_string(),
                }
            } else {
                io_err("rename", &source)(e)
            }
        })
    }

    fn delete(&self, dir: &str, name: &str) -> Result<()> {
        let path = self.path(dir, name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", &path)(e)),
            _ => Ok(()),
        }
    }

    fn create_dir_all(&self, dir: &str) -> Result<()> {
        let folder = self.root.join(dir);
        fs::create_dir_all(&folder).map_err(io_err("create", &folder))
    }

    fn is_dir(&self, dir: &str) -> Result<bool> {
        let folder = self.root.join(dir);
        match fs::metadata(&folder) {
            Ok(meta) => Ok(meta.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("stat", &folder)(e)),
        }
    }

    fn local_dir(&self, dir: &str) -> Option<PathBuf> {
        Some(self.root.join(dir))
    }
}

/// Copies `source` (`expected` bytes) to a new `part`, hashing the bytes as they are read.
fn copy_hashing(source: &Path, part: &Path, expected: u64) -> Result<fsutil::Hashed> {
    let input = fs::File::open(source).map_err(io_err("read", source))?;
    let mut output = fs::File::create(part).map_err(io_err("write", part))?;
    let (_, hashed) = fsutil::read_hashed(input, expected, |input| {
        fsutil::copy_with_buffer(input, &mut output, fsutil::BUFFER_SIZE)
    })
    .map_err(io_err("write", part))?;
    Ok(hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_does_not_replace_unless_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let ep = LocalEndpoint::new(tmp.path().to_path_buf());
        let src = tmp.path().join("src");
        fs::write(&src, b"new").unwrap();
        fs::write(tmp.path().join("out.csv"), b"old").unwrap();
        let err = ep
            .put("", "out.csv", &src, PutOptions::default(), None)
            .unwrap_err();
        assert!(matches!(err, EndpointError::AlreadyExists { .. }));
        assert_eq!(fs::read(tmp.path().join("out.csv")).unwrap(), b"old");
        assert!(!tmp.path().join(".out.csv.0.part").exists());
        let replace = PutOptions {
            replace: true,
            source_disposable: true,
            attempt: 0,
        };
        assert_eq!(
            ep.put("", "out.csv", &src, replace, None).unwrap(),
            Put::Delivered(3)
        );
        assert_eq!(fs::read(tmp.path().join("out.csv")).unwrap(), b"new");
        assert!(!tmp.path().join(".out.csv.0.part").exists());
    }

    #[test]
    fn a_put_asked_before_its_rename_has_the_hash_of_what_it_wrote_and_can_be_withdrawn() {
        let tmp = tempfile::tempdir().unwrap();
        let ep = LocalEndpoint::new(tmp.path().to_path_buf());
        let src = tmp.path().join("src");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &body).unwrap();
        let expected = fsutil::sha256_of(&body[..]).unwrap();
        for (deliver, name) in [(false, "withdrawn.bin"), (true, "delivered.bin")] {
            let mut asked = Vec::new();
            let mut decide = |hashed: &fsutil::Hashed| {
                asked.push(hashed.clone());
                deliver
            };
            let put = ep
                .put("", name, &src, PutOptions::default(), Some(&mut decide))
                .unwrap();
            assert_eq!(asked, std::slice::from_ref(&expected), "{name}");
            assert!(!tmp.path().join(part_name(name, 0)).exists(), "{name}");
            if deliver {
                assert_eq!(put, Put::Delivered(body.len() as u64));
                assert_eq!(fs::read(tmp.path().join(name)).unwrap(), body);
            } else {
                assert_eq!(put, Put::Withdrawn);
                assert!(!tmp.path().join(name).exists());
            }
        }
    }

    #[test]
    fn list_gives_the_files_and_says_why_the_rest_is_not_one() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("sub")).unwrap();
        fs::write(tmp.path().join("a.csv"), b"12345").unwrap();
        std::os::unix::fs::symlink("a.csv", tmp.path().join("link.csv")).unwrap();
        let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
        fs::write(tmp.path().join(latin1), b"x").unwrap();
        let ep = LocalEndpoint::new(tmp.path().to_path_buf());
        let listing = ep.list("").unwrap();
        assert_eq!(listing.files.len(), 1);
        let file = &listing.files[0];
        assert_eq!((file.name.as_str(), file.size), ("a.csv", 5));
        let mut unfit: Vec<(String, Unfitness)> =
            listing.unfit.into_iter().map(|u| (u.name, u.why)).collect();
        unfit.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            unfit,
            [
                ("caf\u{FFFD}.csv".to_string(), Unfitness::NameNotUtf8),
                ("link.csv".to_string(), Unfitness::Link),
                ("sub".to_string(), Unfitness::Folder),
            ]
        );
    }
}
