//! X12 functional acknowledgments in the agent, both ways. Every group cartferry sends is
//! recorded when its file is staged (partner, GS06, each set's ST02 and the order it carries)
//! and waits for the partner's 997; a route reading `x12-997` matches each 997 against those
//! records, and sends the orders a partner rejected to the error folder. A route with
//! `acknowledge` answers every group it receives with a 997 of its own, staged and then written
//! into a local folder as a side file (`side_files.rs`), so a redo never sends a second one.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use crate::format::order_status::{OrderStatus, StatusUpdate, StatusWriter};
use crate::format::x12::acknowledgment_997::{self, AckStatus, Acknowledger, GroupAck};
use crate::format::x12::envelope::{Envelopes, TransactionSet};
use crate::format::x12::writer::{Partner, control_key};
use crate::format::{ControlNumbers, DataProblem, FormatError, ReaderFormat, WriteContext};
use crate::fsutil;
use crate::ledger::{Ledger, SentSet};
use crate::side_files::{self, FileError, io_at};

/// The ledger key of the partner at the other end of `set`'s interchange, as cartferry's own
/// interchanges to it are keyed: received interchanges have sender and receiver swapped.
fn partner_of_received(set: &TransactionSet) -> String {
    let i = &set.interchange;
    control_key((&i.receiver.0, &i.receiver.1), (&i.sender.0, &i.sender.1))
}

/// Records every group of the staged X12 output `staged` (of file `file_id`) as sent, each
/// set with the document it carries; `due`: how long the partner may take to acknowledge.
pub fn record_sent(
    ledger: &Ledger,
    file_id: i64,
    due: Option<std::time::Duration>,
    staged: &Path,
) -> Result<(), FileError> {
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

/// What a file of partners' 997s said.
#[derive(Debug, Default)]
pub struct Reading {
    /// Groups acknowledged that cartferry sent.
    pub groups: u64,
    /// Groups acknowledged that cartferry has no record of sending.
    pub unknown_groups: u64,
    /// The documents the partner rejected, one problem each (the first `max`).
    pub rejected: Vec<DataProblem>,
    /// How many were rejected in all.
    pub rejected_total: usize,
    /// What keeps parts of the file from being read (broken envelope, garbled 997).
    pub unreadable: Vec<DataProblem>,
}

/// Reads the 997s in `path` (file `file_name`) and records what they acknowledge; lists the
/// documents they reject, at most `max` of them, and writes each order's new status
/// (accepted or rejected by the warehouse) to `statuses`.
pub fn read(
    ledger: &Ledger,
    path: &Path,
    file_name: &str,
    max: usize,
    mut statuses: Option<&mut StatusWriter<'_>>,
) -> Result<Reading, FileError> {
    let file = File::open(path).map_err(io_at(path))?;
    let mut reading = Reading::default();
    for set in Envelopes::new(Box::new(BufReader::new(file))) {
        let set = match set {
            Ok(set) => set,
            Err(FormatError::Io(e)) => return Err(io_at(path)(e)),
            Err(FormatError::Data(p)) => {
                reading.unreadable.push(*p);
                break;
            }
        };
        if set.id != "997" {
            reading.unreadable.push(DataProblem {
                line: Some(set.line),
                field: Some("ST01".into()),
                value: Some(set.id.clone()),
                problem: format!(
                    "transaction set {} is a {}, and this route reads 997s.",
                    set.control, set.id
                ),
                fix: format!("send {} files to the route that reads them.", set.id),
                ..DataProblem::default()
            });
            continue;
        }
        match acknowledgment_997::read(&set) {
            Ok(ack) => ledger.atomically(|| {
                let found = Found {
                    file_name,
                    max,
                    reading: &mut reading,
                    statuses: statuses.as_deref_mut(),
                };
                record_ack(ledger, &set, &ack, found)
            })?,
            Err(problems) => reading.unreadable.extend(problems),
        }
    }
    Ok(reading)
}

/// Where what a 997 says goes.
struct Found<'a, 'w> {
    file_name: &'a str,
    max: usize,
    reading: &'a mut Reading,
    statuses: Option<&'a mut StatusWriter<'w>>,
}

impl Found<'_, '_> {
    /// One set acknowledged: its order's status, and a problem when it was rejected.
    fn set(
        &mut self,
        sent: (&str, Option<String>),
        accepted: bool,
        problem: impl Fn() -> DataProblem,
    ) -> Result<(), FileError> {
        let (set_id, reference) = sent;
        if let (Some(statuses), Some(order_id), "940") =
            (self.statuses.as_deref_mut(), &reference, set_id)
        {
            let update = StatusUpdate {
                order_id: order_id.clone(),
                status: if accepted {
                    OrderStatus::AcceptedByWarehouse
                } else {
                    OrderStatus::RejectedByWarehouse
                },
                detail: if accepted {
                    String::new()
                } else {
                    problem().value.unwrap_or_default()
                },
            };
            statuses.write(&update).map_err(|source| FileError::Io {
                path: PathBuf::from(self.file_name),
                source,
            })?;
        }
        if !accepted {
            self.reading.rejected_total += 1;
            if self.reading.rejected.len() < self.max {
                let mut p = problem();
                p.document_id = reference;
                self.reading.rejected.push(p);
            }
        }
        Ok(())
    }
}

/// Records one group's acknowledgment: each set's, its orders' statuses, and the documents it
/// rejects.
fn record_ack(
    ledger: &Ledger,
    set: &TransactionSet,
    ack: &GroupAck,
    mut found: Found<'_, '_>,
) -> Result<(), FileError> {
    let partner = partner_of_received(set);
    let sent = match ack.control.parse::<u64>() {
        Ok(group) => ledger
            .sent_group(&partner, group)?
            .map(|sent| (group, sent)),
        Err(_) => None,
    };
    let Some((group, sent)) = sent else {
        found.reading.unknown_groups += 1;
        tracing::warn!(
            file = found.file_name,
            group = ack.control.as_str(),
            "a 997 acknowledges a group cartferry has no record of sending; ignored"
        );
        return Ok(());
    };
    found.reading.groups += 1;
    ledger.acknowledge_group(&partner, group, ack.status.code(), found.file_name)?;
    let sent_in = format!(
        "sent in {} (from {}, route {})",
        sent.output_name.as_deref().unwrap_or("?"),
        sent.source_name,
        sent.route
    );
    let rejection = |control: &str, element: &str, codes: &[String]| {
        DataProblem {
        line: Some(set.line),
        field: Some(element.into()),
        value: Some(codes.join(" ")).filter(|c| !c.is_empty()),
        problem: format!(
            "the partner rejected transaction set {control} of group {group} {sent_in}{}.",
            explain(codes)
        ),
        fix: "ask the partner why, correct the document in the cart and export it again; this 997 is recorded and needs no retry.".into(),
        ..DataProblem::default()
    }
    };
    let mut listed = HashSet::new();
    for set_ack in &ack.sets {
        let codes = set_ack.codes.join(" ");
        // Sets are numbered 0001, 0002 … as cartferry writes them; a partner may drop the zeros.
        let control = match set_ack.control.parse::<u64>() {
            Ok(n) => format!("{n:04}"),
            Err(_) => set_ack.control.clone(),
        };
        listed.insert(control.clone());
        let recorded =
            ledger.acknowledge_set(&partner, group, &control, set_ack.status.code(), &codes)?;
        let (set_id, reference) = recorded.unwrap_or_default();
        found.set((&set_id, reference), set_ack.status.accepted(), || {
            rejection(&set_ack.control, "AK5-01", &set_ack.codes)
        })?;
    }
    // Sets the 997 does not list (many partners list only the sets in error) share the
    // group's fate: rejected with a rejected group, accepted otherwise.
    let accepted = ack.status != AckStatus::Rejected;
    ledger.each_set_of_group(&partner, group, |control, set_id, reference| {
        if listed.contains(control) {
            return Ok(());
        }
        found.set((set_id, reference), accepted, || {
            rejection(control, "AK9-01", &ack.codes)
        })
    })?;
    Ok(())
}

/// What the AK5/AK9 error codes mean, as a clause.
fn explain(codes: &[String]) -> String {
    let meanings: Vec<String> = codes
        .iter()
        .map(|code| {
            let meaning = match code.as_str() {
                "1" => "transaction set not supported",
                "2" => "trailer missing",
                "3" => "control numbers in header and trailer do not match",
                "4" => "segment count does not match",
                "5" => "one or more segments in error",
                "6" => "missing or invalid transaction set identifier",
                "7" => "missing or invalid control number",
                _ => "see the partner's code list",
            };
            format!("code {code}: {meaning}")
        })
        .collect();
    if meanings.is_empty() {
        String::new()
    } else {
        format!(" ({})", meanings.join("; "))
    }
}

/// How a route answers the groups it receives: whose envelope, and which folder.
#[derive(Debug, Clone)]
pub struct Answering {
    /// The partner the 997s go to.
    pub partner: Partner,
    /// The local folder they are written into (a route there sends them on).
    pub folder: PathBuf,
}

/// Writes the 997 answering the received file `input` (ledger row `file_id`), as `reader`
/// judges its sets, unless it was written before. The 997 is staged at `staged` (flushed to
/// disk) and then written as a side file: once its name is recorded, a redo writes the staged
/// bytes again and never makes a 997 with other control numbers. Returns the path written, if
/// any group could be answered.
pub fn answer(
    ledger: &Ledger,
    file_id: i64,
    answering: &Answering,
    reader: &dyn ReaderFormat,
    input: &Path,
    staged: &Path,
) -> Result<Option<PathBuf>, FileError> {
    let name = match ledger.side_file(file_id, ANSWER)? {
        Some((_, true)) => return Ok(None),
        // Its name is recorded: `publish` writes the staged bytes under it.
        Some((path, false)) => path,
        None => stage_answer(ledger, answering, reader, input, staged)?,
    };
    side_files::publish(ledger, file_id, ANSWER, staged, &answering.folder, &name)
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
) -> Result<String, FileError> {
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
    } else {
        drop(file);
        fsutil::remove_if_present(staged).map_err(io_at(staged))?;
    }
    Ok(format!("997-{interchange:09}.edi"))
}
