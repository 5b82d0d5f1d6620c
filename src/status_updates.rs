//! Order status updates in the agent: a route with `status_updates` writes, for every file it
//! moves, a status file for the cart (`format/order_status.rs`) into a local folder. Rows are
//! staged while the file is converted (one per document written, by [`StagedStatus`]) or while a
//! partner's 997s are read, flushed to disk with the staged output, and written to the folder
//! once the file is delivered, as a side file (`side_files.rs`). Every row states the time the
//! file was taken, which keeps a restaged file's bytes the same.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::format::order_status::{StatusFormat, StatusWriter, status_of};
use crate::format::{DocumentTap, FormatProblem};
use crate::fsutil;
use crate::model::Document;
use crate::side_files::{FileError, io_at};

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
    pub fn stage(&self, staged: &Path, updated_at: &str) -> Result<StagedStatus, FileError> {
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
    pub fn finish(self) -> Result<u64, FileError> {
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
