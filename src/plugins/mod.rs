//! Per-file features: what a route does with a file besides reader → writer. Each is a
//! [`Plugin`] in a file (or folder) of its own; the journey calls a route's plug-ins in a loop
//! and names none of them.
//!
//! A plug-in's life with one file:
//! 1. [`Plugin::begin`], before the file is converted: the plug-in starts its [`Work`] on the
//!    file (opens a staged output, a scratch database …), or declines.
//! 2. [`Work::written`] for every document the conversion writes (and [`Work::status`] for
//!    every order status a recording route learns), in file order.
//! 3. [`Work::finish`] once the conversion is over, told how it ended ([`Ended`]): the plug-in
//!    flushes what it staged, records in the ledger, or (for a refused file) lets it go.
//! 4. After delivery, the journey writes each of the plug-in's [`SideOutput`]s into its folder
//!    exactly once ([`side_files::publish`]), and at the journey's end removes everything the
//!    plug-in staged ([`Plugin::staged`]).
//!
//! Every staged file lives at `<staging>/<ledger id>.<suffix>` ([`FileAt::staged`]) and every
//! row a plug-in stages states when the file was taken ([`FileAt::taken`]), so a redo after a
//! crash stages the same bytes.
//!
//! A new per-file feature is a new file here plus one line in [`build`].

pub mod acknowledgments;
pub mod also;
pub mod order_ledger;
pub mod reconcile;
pub mod side_files;
pub mod status_updates;

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local};

use crate::config::RouteConfig;
use crate::format::{DocumentTap, Transform, Verdict, WriteContext};
use crate::ledger::{FileRow, Ledger, LedgerError};
use crate::model::{Document, StatusUpdate};
use crate::report::Failure;

/// Why a plug-in's step could not complete.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
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
pub fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PluginError + '_ {
    move |source| PluginError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One file of a route, as its plug-ins see it.
pub struct FileAt<'a> {
    /// The route's name.
    pub route: &'a str,
    /// The file's ledger row.
    pub row: &'a FileRow,
    /// The ledger.
    pub ledger: &'a Ledger,
    /// The claimed file, in the processing area.
    pub source: &'a Path,
    /// The route's staging folder.
    pub staging: &'a Path,
}

impl FileAt<'_> {
    /// Where this file's staged output `suffix` waits: `<staging>/<ledger id>.<suffix>`.
    pub fn staged(&self, suffix: &str) -> PathBuf {
        self.staging.join(format!("{}.{suffix}", self.row.id))
    }

    /// When the file was taken, in local time: what staged rows state, so a redo writes the
    /// same bytes.
    pub fn taken(&self) -> DateTime<Local> {
        DateTime::from_timestamp_millis(self.row.claimed_at_ms)
            .unwrap_or_default()
            .with_timezone(&Local)
    }

    /// The file's name.
    pub fn name(&self) -> &str {
        &self.row.name
    }
}

/// How a file's conversion (or recording) ended, as [`Work::finish`] is told.
pub enum Ended<'a> {
    /// Every document was written; the staged output, flushed, is at `output`.
    Converted {
        /// The staged output.
        output: &'a Path,
    },
    /// A recording route recorded what the file says; nothing is delivered.
    Recorded,
    /// Nothing is delivered: the data was refused (the file goes to the error folder), or every
    /// document was left out as delivered before (see [`Work::judge`]).
    Refused,
}

/// A file's side output: its kind in the ledger, where it is staged, and where it goes once
/// the file is delivered.
pub struct SideOutput {
    /// The kind, one per plug-in and file (`status`, `also-0` …).
    pub kind: String,
    /// Where it is staged; a missing staged file means nothing to write.
    pub staged: PathBuf,
    /// The local folder it is written into.
    pub folder: PathBuf,
    /// The name it is written under (or a free variant of it).
    pub name: String,
}

/// A per-file feature of a route.
pub trait Plugin: Send + Sync {
    /// Starts on a file about to be converted (or recorded), whose output is written with
    /// `context`; `None` when the plug-in has nothing to do with it.
    fn begin<'a>(
        &'a self,
        file: &FileAt<'a>,
        context: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError>;

    /// What the plug-in staged for `file` that is written once the file is delivered.
    fn side_outputs(&self, _file: &FileAt<'_>) -> Vec<SideOutput> {
        Vec::new()
    }

    /// Everything the plug-in may have staged for `file`, removed when its journey ends.
    fn staged(&self, file: &FileAt<'_>) -> Vec<PathBuf> {
        self.side_outputs(file)
            .into_iter()
            .map(|o| o.staged)
            .collect()
    }
}

/// A plug-in's work on one file, from [`Plugin::begin`] to [`Work::finish`].
pub trait Work {
    /// Whether `document` is to be written to the file's output (see [`Verdict`]); the first
    /// plug-in that does not say [`Verdict::Write`] decides.
    fn judge(&mut self, _document: &Document) -> io::Result<Verdict> {
        Ok(Verdict::Write)
    }

    /// `document` was left out of the file's output, for the reason `note`.
    fn left_out(&mut self, _document: &Document, _note: &str) -> io::Result<()> {
        Ok(())
    }

    /// `document` was written to the file's output.
    fn written(&mut self, _document: &Document) -> io::Result<()> {
        Ok(())
    }

    /// An order's new status, learnt otherwise than from a document written (a partner's 997).
    fn status(&mut self, _update: &StatusUpdate) -> io::Result<()> {
        Ok(())
    }

    /// The conversion is over and ended as `ended` says.
    fn finish(self: Box<Self>, file: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError>;
}

/// The work of every plug-in of a route on one file.
pub struct Works<'p>(Vec<Box<dyn Work + 'p>>);

impl<'p> Works<'p> {
    /// Begins every plug-in's work on `file`.
    pub fn begin(
        plugins: &'p [Box<dyn Plugin>],
        file: &FileAt<'p>,
        context: &WriteContext,
    ) -> Result<Works<'p>, PluginError> {
        let mut works = Vec::new();
        for plugin in plugins {
            works.extend(plugin.begin(file, context)?);
        }
        Ok(Works(works))
    }

    /// What a conversion shows its documents to: every work, or nothing when there is none.
    pub fn tap(&mut self) -> Option<&mut dyn DocumentTap> {
        (!self.0.is_empty()).then_some(self as &mut dyn DocumentTap)
    }

    /// Tells every work of an order's new status.
    pub fn status(&mut self, update: &StatusUpdate) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|w| w.status(update))
    }

    /// Finishes every work, in the plug-ins' order.
    pub fn finish(self, file: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError> {
        self.0.into_iter().try_for_each(|w| w.finish(file, ended))
    }
}

impl DocumentTap for Works<'_> {
    fn judge(&mut self, document: &Document) -> io::Result<Verdict> {
        for work in &mut self.0 {
            match work.judge(document)? {
                Verdict::Write => {}
                verdict => return Ok(verdict),
            }
        }
        Ok(Verdict::Write)
    }

    fn left_out(&mut self, document: &Document, note: &str) -> io::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|w| w.left_out(document, note))
    }

    fn written(&mut self, document: &Document) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|w| w.written(document))
    }
}

/// What a route that delivers nothing does with a file: it records what the file says.
pub trait Recorder: Send + Sync {
    /// Records what the claimed file says, telling `works` of the order statuses it learns;
    /// lists at most `max_problems` problems.
    fn record(
        &self,
        file: &FileAt<'_>,
        works: &mut Works<'_>,
        max_problems: usize,
    ) -> Result<Recorded, PluginError>;
}

/// What a [`Recorder`] made of a file.
pub struct Recorded {
    /// How many records it made.
    pub records: u64,
    /// Why the file goes to the error folder once recorded, if it does.
    pub failure: Option<Failure>,
}

/// Makes a route's plug-ins of one feature from its config (none when the route does not use
/// the feature), or says what is wrong with the feature's settings.
type Build = fn(&RouteConfig, &Transform) -> Result<Vec<Box<dyn Plugin>>, String>;

/// Every per-file feature, in the order their work runs and their side outputs are written.
const FEATURES: [Build; 6] = [
    order_ledger::build,
    status_updates::build,
    reconcile::build,
    also::build,
    acknowledgments::answers::build,
    acknowledgments::sent_groups::build,
];

/// A route's plug-ins, from its config and its formats.
pub fn build(route: &RouteConfig, transform: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    let mut plugins = Vec::new();
    for feature in FEATURES {
        plugins.extend(feature(route, transform)?);
    }
    Ok(plugins)
}

/// The recorder of a route whose formats record rather than deliver.
pub fn recorder(transform: &Transform) -> Option<Box<dyn Recorder>> {
    matches!(transform, Transform::Record).then(|| {
        Box::new(acknowledgments::partner_997s::PartnerAcknowledgments) as Box<dyn Recorder>
    })
}
