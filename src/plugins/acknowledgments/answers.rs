//! Answers: a route with `acknowledge` answers every X12 group it receives with a 997 of its
//! own (AK5 A for a set that reads cleanly, R 5 for data problems, R 1 for the wrong set type),
//! written into a local folder where a route sends it on. A file refused for its data is still
//! answered; a 997 is never answered.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use tracing::info;

use crate::config::RouteConfig;
use crate::format::x12::acknowledgment_997::Acknowledger;
use crate::format::x12::writer::Partner;
use crate::format::{self, ControlNumbers, ReaderFormat, Transform, WriteContext};
use crate::fsutil;
use crate::ledger::Ledger;
use crate::plugins::{Ended, FileAt, Plugin, PluginError, SideOutput, Work, io_at, side_files};

/// The suffix of a file's staged 997.
const STAGED: &str = "997";

/// The route's answers, when it acknowledges what it receives.
pub fn build(route: &RouteConfig, _: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    let Some(acknowledge) = &route.acknowledge else {
        return Ok(Vec::new());
    };
    let partner = Partner::from_options(&acknowledge.partner)
        .map_err(|problems| format::describe_problems(problems, "acknowledge.partner."))?;
    let choice = route.formats();
    let reader = format::reader(choice.reader, choice.reader_options)
        .map_err(|problems| format::describe_problems(problems, ""))?;
    Ok(vec![Box::new(Answers {
        answering: Answering {
            partner,
            folder: acknowledge.folder.clone(),
        },
        reader,
    })])
}

/// A route's answers: how it answers, and the reader that judges each set.
pub struct Answers {
    answering: Answering,
    reader: Box<dyn ReaderFormat>,
}

impl Plugin for Answers {
    fn begin<'a>(
        &'a self,
        _: &FileAt<'a>,
        _: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        Ok(Some(Box::new(Answer { answers: self })))
    }

    /// The 997 is written as soon as the file is judged (see [`answer`]), not after delivery.
    fn staged(&self, file: &FileAt<'_>) -> Vec<PathBuf> {
        vec![file.staged(STAGED)]
    }
}

/// Answers one file once its conversion is over, whether its data was taken or refused.
struct Answer<'a> {
    answers: &'a Answers,
}

impl Work for Answer<'_> {
    fn finish(self: Box<Self>, file: &FileAt<'_>, _: &Ended<'_>) -> Result<(), PluginError> {
        let written = answer(
            file.ledger,
            file.row.id,
            &self.answers.answering,
            self.answers.reader.as_ref(),
            file.source,
            &file.staged(STAGED),
        )?;
        if let Some(path) = written {
            info!(route = file.route, file = file.name(), acknowledgment = %path.display(), "997 written");
        }
        Ok(())
    }
}

/// How a route answers the groups it receives: whose envelope, and which folder.
#[derive(Debug, Clone)]
struct Answering {
    /// The partner the 997s go to.
    partner: Partner,
    /// The local folder they are written into (a route there sends them on).
    folder: PathBuf,
}

/// Writes the 997 answering the received file `input` (ledger row `file_id`), as `reader`
/// judges its sets, unless it was written before. The 997 is staged at `staged` (flushed to
/// disk) and then written as a side file: once its name is recorded, a redo writes the staged
/// bytes again and never makes a 997 with other control numbers. Returns the path written, if
/// any group could be answered.
fn answer(
    ledger: &Ledger,
    file_id: i64,
    answering: &Answering,
    reader: &dyn ReaderFormat,
    input: &Path,
    staged: &Path,
) -> Result<Option<PathBuf>, PluginError> {
    let name = match ledger.side_file(file_id, ANSWER)? {
        Some((_, true)) => return Ok(None),
        // Its name is recorded: `publish` writes the staged bytes under it.
        Some((path, false)) => path,
        None => stage_answer(ledger, answering, reader, input, staged)?,
    };
    let output = SideOutput {
        kind: ANSWER.into(),
        staged: staged.to_path_buf(),
        folder: answering.folder.clone(),
        name,
    };
    side_files::publish(ledger, file_id, &output)
}

/// The side-file kind of the 997 answering a received file.
const ANSWER: &str = "997";

/// Stages the 997 answering `input` at `staged` with newly reserved control numbers; returns
/// its name. A file with no group to answer stages nothing.
fn stage_answer(
    ledger: &Ledger,
    answering: &Answering,
    reader: &dyn ReaderFormat,
    input: &Path,
    staged: &Path,
) -> Result<String, PluginError> {
    let (interchange, group) = ledger.reserve_control_numbers(&answering.partner.control_key())?;
    let context = WriteContext {
        control_numbers: Some(ControlNumbers { interchange, group }),
        ..WriteContext::now()
    };
    let mut file = File::create(staged).map_err(io_at(staged))?;
    let source = File::open(input).map_err(io_at(input))?;
    let groups = {
        let mut acknowledger = Acknowledger::new(
            Box::new(BufWriter::new(&mut file)),
            answering.partner.clone(),
            &context,
        );
        let whole = reader
            .acknowledge(Box::new(BufReader::new(source)), &mut acknowledger)
            .unwrap_or(Ok(true))
            .map_err(io_at(input))?;
        acknowledger.finish(whole).map_err(io_at(staged))?
    };
    if groups > 0 {
        file.sync_all().map_err(io_at(staged))?;
        crate::fsutil::flushed(&file);
    } else {
        drop(file);
        fsutil::remove_if_present(staged).map_err(io_at(staged))?;
    }
    Ok(format!("997-{interchange:09}.edi"))
}
