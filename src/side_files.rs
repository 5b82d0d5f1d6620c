//! A file's side outputs (its order status file, its discrepancy report): staged next to its
//! output, then written into a local folder once the file is delivered, under a name the ledger
//! records first and by temporary name and rename, so a redo writes the same bytes to the same
//! name and a crash never leaves half a file under it.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::format::{DocumentTap, DocumentWriter, FormatError, WriteContext, WriterFormat};
use crate::fsutil;
use crate::ledger::{Ledger, LedgerError};
use crate::model::{Document, DocumentKind};
use crate::platform;

/// Why a step on a side file (a status file, a report, an `also` output, a 997) or on a
/// partner's 997 could not complete.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A file could not be read or written.
    #[error("could not read or write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// The error of an I/O failure on `path`.
pub fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the staged side file `kind` of ledger row `file_id` into `folder` as `name` (or a free
/// variant of it), unless it was written before. A missing staged file means nothing to write.
pub fn publish(
    ledger: &Ledger,
    file_id: i64,
    kind: &str,
    staged: &Path,
    folder: &Path,
    name: &str,
) -> Result<Option<PathBuf>, FileError> {
    let path = match ledger.side_file(file_id, kind)? {
        Some((_, true)) => return Ok(None),
        Some((path, false)) => PathBuf::from(path),
        None => {
            let path = fsutil::free_path(folder, name, None);
            ledger.writing_side_file(file_id, kind, &path.to_string_lossy())?;
            path
        }
    };
    let mut source = match File::open(staged) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ledger.wrote_side_file(file_id, kind)?;
            return Ok(None);
        }
        Err(e) => return Err(io_at(staged)(e)),
    };
    fs::create_dir_all(folder).map_err(io_at(folder))?;
    let mut temporary = tempfile::NamedTempFile::new_in(folder).map_err(io_at(folder))?;
    io::copy(&mut source, &mut temporary).map_err(io_at(&path))?;
    temporary.flush().map_err(io_at(&path))?;
    temporary.as_file().sync_all().map_err(io_at(&path))?;
    temporary
        .persist(&path)
        .map_err(|e| io_at(&path)(e.error))?;
    platform::sync_dir(folder).map_err(io_at(folder))?;
    ledger.wrote_side_file(file_id, kind)?;
    Ok(Some(path))
}

/// `name`'s stem (`orders.csv` → `orders`).
pub fn stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned())
}

/// One of a route's `also` outputs being staged: the documents a conversion writes that its
/// writer takes, written through that writer into a staged file.
pub struct StagedOutput {
    writer: Box<dyn DocumentWriter>,
    accepts: &'static [DocumentKind],
    file: File,
    path: PathBuf,
}

impl StagedOutput {
    /// Starts staging `format`'s output at `staged`.
    pub fn new(
        format: &dyn WriterFormat,
        staged: &Path,
        context: &WriteContext,
    ) -> Result<StagedOutput, FileError> {
        let file = File::create(staged).map_err(io_at(staged))?;
        let out = BufWriter::new(file.try_clone().map_err(io_at(staged))?);
        Ok(StagedOutput {
            writer: format.begin(Box::new(out), context),
            accepts: format.accepts(),
            file,
            path: staged.to_path_buf(),
        })
    }

    /// Ends the output and flushes it to disk.
    pub fn finish(self) -> Result<(), FileError> {
        self.writer.finish().map_err(io_at(&self.path))?;
        self.file.sync_all().map_err(io_at(&self.path))
    }
}

impl DocumentTap for StagedOutput {
    fn written(&mut self, document: &Document) -> io::Result<()> {
        if !self.accepts.contains(&document.kind()) {
            return Ok(());
        }
        self.writer.write(document).map_err(|e| match e {
            FormatError::Io(e) => e,
            FormatError::Data(p) => io::Error::other(format!(
                "an `also` output cannot take a document the main output took: {p}"
            )),
        })
    }
}
