//! Order status updates: a route with `status_updates` writes, for every file it moves, a status
//! file for the cart (in one of the formats of `formats.rs`) into a local folder. Rows are
//! staged while the file is converted (one per document written, the status it brings its order
//! to: [`status_of`]) or while a partner's 997s are recorded, flushed to disk with the staged
//! output, and written to the folder once the file is delivered, as a side output. Every row
//! states the time the file was taken, which keeps a restaged file's bytes the same.

pub mod formats;

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;

use super::{Ended, FileAt, Plugin, PluginError, SideOutput, Work, io_at, side_files};
use crate::config::RouteConfig;
use crate::format::{self, Transform, WriteContext};
use crate::fsutil;
use crate::model::{Document, OrderStatus, StatusUpdate, status_of};
use formats::{StatusFormat, StatusWriter};

/// The suffix of a file's staged status rows.
const STAGED: &str = "status";

/// A route's status updates: the cart's format and the folder the files go to.
#[derive(Debug, Clone)]
pub struct StatusUpdates {
    format: StatusFormat,
    folder: PathBuf,
}

/// The route's status updates, when it writes them.
pub fn build(route: &RouteConfig, _: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    let Some(config) = &route.status_updates else {
        return Ok(Vec::new());
    };
    let format = StatusFormat::new(&config.format, &config.options, "status_updates.options")
        .map_err(|problems| format::describe_problems(problems, ""))?;
    Ok(vec![Box::new(StatusUpdates {
        format,
        folder: config.folder.clone(),
    })])
}

impl Plugin for StatusUpdates {
    fn begin<'a>(
        &'a self,
        file: &FileAt<'a>,
        _: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        let staged = file.staged(STAGED);
        let updated_at = file.taken().format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let out = File::create(&staged).map_err(io_at(&staged))?;
        let writer = self
            .format
            .begin(
                Box::new(BufWriter::new(out.try_clone().map_err(io_at(&staged))?)),
                &updated_at,
            )
            .map_err(io_at(&staged))?;
        Ok(Some(Box::new(StagedStatus {
            writer,
            file: out,
            path: staged,
        })))
    }

    fn side_outputs(&self, file: &FileAt<'_>) -> Vec<SideOutput> {
        vec![SideOutput {
            kind: "status".into(),
            staged: file.staged(STAGED),
            folder: self.folder.clone(),
            name: format!("{}.status.csv", side_files::stem(file.name())),
        }]
    }
}

/// A status file being staged.
struct StagedStatus {
    writer: StatusWriter<'static>,
    file: File,
    path: PathBuf,
}

impl Work for StagedStatus {
    fn written(&mut self, document: &Document) -> io::Result<()> {
        match status_of(document) {
            Some(update) => self.writer.write(&update),
            None => Ok(()),
        }
    }

    fn status(&mut self, update: &StatusUpdate) -> io::Result<()> {
        self.writer.write(update)
    }

    fn left_out(&mut self, document: &Document, note: &str) -> io::Result<()> {
        match document {
            Document::Order(order) => self.writer.write(&StatusUpdate {
                order_id: order.order_id.clone(),
                status: OrderStatus::AlreadySent,
                detail: note.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Flushes the staged file to disk; a file without rows is removed instead, so nothing is
    /// written for it. A refused file's rows are left to the journey's clean-up.
    fn finish(self: Box<Self>, _: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError> {
        if matches!(ended, Ended::Refused) {
            return Ok(());
        }
        let rows = self.writer.finish().map_err(io_at(&self.path))?;
        if rows == 0 {
            fsutil::remove_if_present(&self.path).map_err(io_at(&self.path))?;
        } else {
            self.file.sync_all().map_err(io_at(&self.path))?;
            fsutil::flushed(&self.file);
        }
        Ok(())
    }
}
