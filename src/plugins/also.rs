//! `also` outputs: a route's documents written through more writers into local folders (a
//! restock list beside the refund requests, say). Each output is staged through its writer while
//! the file converts, flushed with the main output, and written into its folder once the file is
//! delivered, as a side output.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;

use super::{Ended, FileAt, Plugin, PluginError, SideOutput, Work, io_at};
use crate::config::{AlsoConfig, RouteConfig};
use crate::format::{self, DocumentWriter, FormatError, Transform, WriteContext, WriterFormat};
use crate::model::{Document, DocumentKind};
use crate::naming::NameContext;

/// One of a route's `also` outputs: its writer, where its files go, and its place in the list.
pub struct AlsoOutput {
    writer: Box<dyn WriterFormat>,
    config: AlsoConfig,
    index: usize,
}

/// One plug-in per `also` output of the route.
pub fn build(route: &RouteConfig, _: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    route
        .also
        .iter()
        .enumerate()
        .map(|(index, config)| {
            let writer = format::writer(&config.writer, &config.writer_options)
                .map_err(|problems| format::describe_problems(problems, "also: "))?;
            Ok(Box::new(AlsoOutput {
                writer,
                config: config.clone(),
                index,
            }) as Box<dyn Plugin>)
        })
        .collect()
}

impl AlsoOutput {
    fn kind(&self) -> String {
        format!("also-{}", self.index)
    }
}

impl Plugin for AlsoOutput {
    fn begin<'a>(
        &'a self,
        file: &FileAt<'a>,
        context: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        let staged = file.staged(&self.kind());
        let out = File::create(&staged).map_err(io_at(&staged))?;
        let buffered = BufWriter::new(out.try_clone().map_err(io_at(&staged))?);
        Ok(Some(Box::new(StagedOutput {
            writer: self.writer.begin(Box::new(buffered), context),
            accepts: self.writer.accepts(),
            file: out,
            path: staged,
        })))
    }

    fn side_outputs(&self, file: &FileAt<'_>) -> Vec<SideOutput> {
        vec![SideOutput {
            kind: self.kind(),
            staged: file.staged(&self.kind()),
            folder: self.config.folder.clone(),
            name: self.config.name.render(&NameContext {
                source_name: file.name(),
                route: file.route,
                claimed_at: file.taken(),
                id: file.row.id,
            }),
        }]
    }
}

/// An `also` output being staged: the documents a conversion writes that its writer takes,
/// written through that writer.
struct StagedOutput {
    writer: Box<dyn DocumentWriter>,
    accepts: &'static [DocumentKind],
    file: File,
    path: PathBuf,
}

impl Work for StagedOutput {
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

    /// Ends the output and flushes it to disk, once every document was written.
    fn finish(self: Box<Self>, _: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError> {
        if !matches!(ended, Ended::Converted { .. }) {
            return Ok(());
        }
        self.writer.finish().map_err(io_at(&self.path))?;
        self.file.sync_all().map_err(io_at(&self.path))?;
        crate::fsutil::flushed(&self.file);
        Ok(())
    }
}
