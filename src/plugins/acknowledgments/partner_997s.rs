//! Partners' 997s: a route reading `x12-997` delivers nothing; it records what each 997 says
//! against the groups cartferry sent (one transaction per group), tells the route's plug-ins
//! each order's new status (accepted or rejected by the warehouse), and sends a file whose 997s
//! reject orders to the error folder with a report naming each of them.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::format::x12::acknowledgment_997::{self, AckStatus, GroupAck};
use crate::format::x12::envelope::{Envelopes, TransactionSet};
use crate::format::x12::findings::article;
use crate::format::x12::writer::control_key;
use crate::format::{DataProblem, FormatError};
use crate::ledger::Ledger;
use crate::model::{OrderStatus, StatusUpdate};
use crate::plugins::{FileAt, PluginError, Recorded, Recorder, Works, io_at};
use crate::report::Failure;

/// The recorder of partners' 997s.
pub struct PartnerAcknowledgments;

impl Recorder for PartnerAcknowledgments {
    /// Records what the 997s in the file acknowledge; the documents they reject send the file
    /// to the error folder with a report naming them.
    fn record(
        &self,
        file: &FileAt<'_>,
        works: &mut Works<'_>,
        max_problems: usize,
    ) -> Result<Recorded, PluginError> {
        let reading = read(file.ledger, file.source, file.name(), max_problems, works)?;
        let failure = if reading.rejected_total > 0 {
            let total = reading.rejected_total + reading.unreadable.len();
            let problems = reading
                .rejected
                .into_iter()
                .chain(reading.unreadable)
                .collect();
            Some(Failure::rejected_by_partner(
                problems,
                total,
                reading.rejected_total,
            ))
        } else if !reading.unreadable.is_empty() {
            let total = reading.unreadable.len();
            Some(Failure::data(reading.unreadable, total))
        } else {
            if reading.unknown_groups > 0 {
                warn!(
                    route = file.route,
                    file = file.name(),
                    groups = reading.unknown_groups,
                    "acknowledgments of groups cartferry has no record of sending were ignored"
                );
            }
            None
        };
        Ok(Recorded {
            records: reading.groups,
            failure,
        })
    }
}

/// The ledger key of the partner at the other end of `set`'s interchange, as cartferry's own
/// interchanges to it are keyed: received interchanges have sender and receiver swapped.
fn partner_of_received(set: &TransactionSet) -> String {
    let i = &set.interchange;
    control_key((&i.receiver.0, &i.receiver.1), (&i.sender.0, &i.sender.1))
}

/// What a file of partners' 997s said.
#[derive(Debug, Default)]
struct Reading {
    /// Groups acknowledged that cartferry sent.
    groups: u64,
    /// Groups acknowledged that cartferry has no record of sending.
    unknown_groups: u64,
    /// The documents the partner rejected, one problem each (the first `max`).
    rejected: Vec<DataProblem>,
    /// How many were rejected in all.
    rejected_total: usize,
    /// What keeps parts of the file from being read (broken envelope, garbled 997).
    unreadable: Vec<DataProblem>,
}

/// Reads the 997s in `path` (file `file_name`) and records what they acknowledge; lists the
/// documents they reject, at most `max` of them, and tells `works` each order's new status
/// (accepted or rejected by the warehouse).
fn read(
    ledger: &Ledger,
    path: &Path,
    file_name: &str,
    max: usize,
    works: &mut Works<'_>,
) -> Result<Reading, PluginError> {
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
        if set.id != "997" && set.id != "999" {
            reading.unreadable.push(DataProblem {
                line: Some(set.line),
                field: Some("ST01".into()),
                value: Some(set.id.clone()),
                problem: format!(
                    "transaction set {} is {} {}, and this route reads 997s and 999s.",
                    set.control,
                    article(&set.id),
                    set.id
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
                    works: &mut *works,
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
    works: &'a mut Works<'w>,
}

impl Found<'_, '_> {
    /// One set acknowledged: its order's status, and a problem when it was rejected.
    fn set(
        &mut self,
        sent: (&str, Option<String>),
        accepted: bool,
        problem: impl Fn() -> DataProblem,
    ) -> Result<(), PluginError> {
        let (set_id, reference) = sent;
        if let (Some(order_id), "940") = (&reference, set_id) {
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
            self.works
                .status(&update)
                .map_err(|source| PluginError::Io {
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
) -> Result<(), PluginError> {
    let partner = partner_of_received(set);
    let sent = match ack.control.parse::<u64>() {
        Ok(group) => ledger
            .sent_group(&partner, group)?
            .map(|sent| (group, sent)),
        Err(_) => None,
    };
    let Some((group, sent)) = sent else {
        found.reading.unknown_groups += 1;
        warn!(
            file = found.file_name,
            group = ack.control.parse::<u64>().ok(),
            "a 997 acknowledges a group cartferry has no record of sending; ignored"
        );
        return Ok(());
    };
    // A 997 whose group or sets are not what was sent under those numbers (another partner's
    // numbering, a 997 for some other kind of group) says nothing about what cartferry sent.
    if let Some(mismatch) = mismatch(ledger, &partner, group, &sent.functional_id, ack)? {
        let kind = if set.id == "999" { "999" } else { "997" };
        found.reading.unreadable.push(DataProblem {
            line: Some(set.line),
            field: Some(mismatch.element.into()),
            value: Some(mismatch.found),
            problem: format!(
                "this {kind} does not match what cartferry sent as group {group} ({} from {}, route {}): {}; nothing it says was applied.",
                sent.output_name.as_deref().unwrap_or("?"),
                sent.source_name,
                sent.route,
                mismatch.why
            ),
            fix: "check with the partner which group this acknowledges; the groups cartferry sent keep waiting for their own 997.".into(),
            ..DataProblem::default()
        });
        return Ok(());
    }
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
        let control = set_control(&set_ack.control);
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

/// How a 997 differs from the group it names.
struct Mismatch {
    /// The element that differs (`AK1-01`, `AK2-01`, `AK2-02`).
    element: &'static str,
    /// What the 997 has there.
    found: String,
    /// Why it does not match, a clause.
    why: String,
}

/// How `ack` differs from group `group` sent to `partner` as `functional_id` (GS01): its AK1-01,
/// or an AK2 naming a set the group does not have or of another type. `None`: it matches.
fn mismatch(
    ledger: &Ledger,
    partner: &str,
    group: u64,
    functional_id: &str,
    ack: &GroupAck,
) -> Result<Option<Mismatch>, PluginError> {
    if ack.functional_id != functional_id {
        return Ok(Some(Mismatch {
            element: "AK1-01",
            found: ack.functional_id.clone(),
            why: format!(
                "it acknowledges a group of functional identifier {}, and group {group} was {functional_id}",
                ack.functional_id
            ),
        }));
    }
    for set_ack in &ack.sets {
        let control = set_control(&set_ack.control);
        match ledger.sent_set(partner, group, &control)? {
            None => {
                return Ok(Some(Mismatch {
                    element: "AK2-02",
                    found: set_ack.control.clone(),
                    why: format!("group {group} has no transaction set {}", set_ack.control),
                }));
            }
            Some((set_id, _)) if set_id != set_ack.id => {
                return Ok(Some(Mismatch {
                    element: "AK2-01",
                    found: set_ack.id.clone(),
                    why: format!(
                        "it acknowledges set {} as {} {}, and that set was {} {set_id}",
                        set_ack.control,
                        article(&set_ack.id),
                        set_ack.id,
                        article(&set_id)
                    ),
                }));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// A set's control number as cartferry writes it (`0001`); partners may drop the zeros.
fn set_control(control: &str) -> String {
    match control.parse::<u64>() {
        Ok(n) => format!("{n:04}"),
        Err(_) => control.to_string(),
    }
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
