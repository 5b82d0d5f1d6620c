//! The groups cartferry sends: a route whose writer numbers X12 envelopes records, as it stages
//! each file, every group in it (partner, GS06) and every set (ST02) with the order it carries,
//! so that a partner's 997 can be matched to them and a group without one shows as late.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::Duration;

use crate::config::RouteConfig;
use crate::format::x12::acknowledgment_997;
use crate::format::x12::envelope::Envelopes;
use crate::format::x12::writer::control_key;
use crate::format::{FormatError, Transform, WriteContext};
use crate::ledger::{Ledger, SentSet};
use crate::plugins::{Ended, FileAt, Plugin, PluginError, Work, io_at};

/// Records the groups of a route's staged X12 outputs.
pub struct SentGroups {
    /// How long the partner may take to acknowledge a group.
    due: Option<Duration>,
}

/// The route's record of sent groups, when its writer numbers X12 envelopes.
pub fn build(_: &RouteConfig, transform: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    Ok(match transform {
        Transform::Convert(c) if c.writer.control_key().is_some() => vec![Box::new(SentGroups {
            due: c.writer.acknowledgment_due(),
        })],
        _ => Vec::new(),
    })
}

impl Plugin for SentGroups {
    fn begin<'a>(
        &'a self,
        _: &FileAt<'a>,
        _: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        Ok(Some(Box::new(Recording { due: self.due })))
    }
}

/// Waits for a file's output to be staged, then records its groups.
struct Recording {
    due: Option<Duration>,
}

impl Work for Recording {
    fn finish(self: Box<Self>, file: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError> {
        match ended {
            Ended::Converted { output } => record_sent(file.ledger, file.row.id, self.due, output),
            Ended::Recorded | Ended::Refused => Ok(()),
        }
    }
}

/// Records every group of the staged X12 output `staged` (of file `file_id`) as sent, each
/// set with the document it carries; `due`: how long the partner may take to acknowledge.
fn record_sent(
    ledger: &Ledger,
    file_id: i64,
    due: Option<std::time::Duration>,
    staged: &Path,
) -> Result<(), PluginError> {
    let file = File::open(staged).map_err(io_at(staged))?;
    let mut log = ledger.record_sent(file_id, due)?;
    for set in Envelopes::new(Box::new(BufReader::new(file))) {
        let set = set.map_err(|e| {
            io_at(staged)(match e {
                FormatError::Io(e) => e,
                FormatError::Data(p) => io::Error::other(format!("own output unreadable: {p}")),
            })
        })?;
        let i = &set.interchange;
        let reference = acknowledgment_997::document_reference(&set);
        log.set(&SentSet {
            partner: &control_key((&i.sender.0, &i.sender.1), (&i.receiver.0, &i.receiver.1)),
            group: set.group.control.trim().parse().unwrap_or_default(),
            functional_id: &set.group.functional_id,
            set_id: &set.id,
            control: &set.control,
            reference: reference.as_deref(),
        })?;
    }
    Ok(log.commit()?)
}
