//! Order status updates in the agent: a route with `status_updates` writes, for every file it
//! moves, a status file for the cart (`format/order_status.rs`) into a local folder. Rows are
//! staged while the file is converted (one per document written, by [`StatusTap`]) or while a
//! partner's 997s are read, flushed to disk with the staged output, and written to the folder
//! once the file is delivered: under a name the ledger records first, by temporary name and
//! rename, so a redo writes the same bytes to the same name. Every row states the time the file
//! was taken, which keeps a redo's bytes the same.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::format::order_status::{StatusFormat, StatusWriter, status_of};
use crate::format::{DocumentTap, FormatProblem};
use crate::fsutil;
use crate::ledger::{Ledger, LedgerError};
use crate::model::Document;
use crate::platform;

/// Why a status step could not complete.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A file could not be read or written.
    #[error("could not write the order status file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StatusError + '_ {
    move |source| StatusError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A route's status updates: the cart's format and the folder the files go to.
#[derive(Debug, Clone)]
pub struct StatusUpdates {
    /// The cart's status format.
    pub format: StatusFormat,
    /// The local folder status files are written into.
    pub folder: PathBuf,
}

impl StatusUpdates {
    /// A route's `status_updates`, checked.
    pub fn new(config: &crate::config::StatusUpdatesConfig) -> Result<Self, Vec<FormatProblem>> {
        Ok(StatusUpdates {
            format: StatusFormat::new(&config.format, &config.options, "status_updates.options")?,
            folder: config.folder.clone(),
        })
    }

    /// Starts staging a status file at `staged`, every row saying `updated_at`.
    pub fn stage(&self, staged: &Path, updated_at: &str) -> Result<StagedStatus, StatusError> {
        let file = File::create(staged).map_err(io_at(staged))?;
        let writer = self
            .format
            .begin(
                Box::new(BufWriter::new(file.try_clone().map_err(io_at(staged))?)),
                updated_at,
            )
            .map_err(io_at(staged))?;
        Ok(StagedStatus {
            writer,
            file,
            path: staged.to_path_buf(),
        })
    }
}

/// A status file being staged.
pub struct StagedStatus {
    /// Where rows go.
    pub writer: StatusWriter<'static>,
    file: File,
    path: PathBuf,
}

impl StagedStatus {
    /// Flushes the staged file to disk; a file without rows is removed instead, so nothing is
    /// written for it.
    pub fn finish(self) -> Result<u64, StatusError> {
        let rows = self.writer.finish().map_err(io_at(&self.path))?;
        if rows == 0 {
            fsutil::remove_if_present(&self.path).map_err(io_at(&self.path))?;
        } else {
            self.file.sync_all().map_err(io_at(&self.path))?;
        }
        Ok(rows)
    }
}

impl DocumentTap for StagedStatus {
    fn written(&mut self, document: &Document) -> io::Result<()> {
        match status_of(document) {
            Some(update) => self.writer.write(&update),
            None => Ok(()),
        }
    }
}

/// Writes the staged status file of ledger row `file_id` (from source `source_name`) into the
/// folder, unless it was written before. A missing staged file means no rows.
pub fn publish(
    ledger: &Ledger,
    file_id: i64,
    updates: &StatusUpdates,
    staged: &Path,
    source_name: &str,
) -> Result<Option<PathBuf>, StatusError> {
    let path = match ledger.status_file(file_id)? {
        Some((_, true)) => return Ok(None),
        Some((path, false)) => PathBuf::from(path),
        None => {
            let stem = Path::new(source_name).file_stem().map_or_else(
                || source_name.to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            let path = fsutil::free_path(&updates.folder, &format!("{stem}.status.csv"), None);
            ledger.writing_status_file(file_id, &path.to_string_lossy())?;
            path
        }
    };
    let mut source = match File::open(staged) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ledger.wrote_status_file(file_id)?;
            return Ok(None);
        }
        Err(e) => return Err(io_at(staged)(e)),
    };
    fs::create_dir_all(&updates.folder).map_err(io_at(&updates.folder))?;
    let mut temporary =
        tempfile::NamedTempFile::new_in(&updates.folder).map_err(io_at(&updates.folder))?;
    io::copy(&mut source, &mut temporary).map_err(io_at(&path))?;
    temporary.flush().map_err(io_at(&path))?;
    temporary.as_file().sync_all().map_err(io_at(&path))?;
    temporary
        .persist(&path)
        .map_err(|e| io_at(&path)(e.error))?;
    platform::sync_dir(&updates.folder).map_err(io_at(&updates.folder))?;
    ledger.wrote_status_file(file_id)?;
    Ok(Some(path))
}
