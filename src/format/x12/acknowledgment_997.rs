//! The 997 Functional Acknowledgment, both ways: what cartferry answers for a functional group it
//! received (one `AK2`/`AK5` per transaction set, `AK9` for the group), and what a partner's 997
//! says about a group cartferry sent. The agent decides which sets to accept; this file only
//! writes and reads the acknowledgments.

use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use tempfile::SpooledTempFile;

use super::envelope::{Group, TransactionSet};
use super::findings::{Findings, given};
use super::syntax::Segment;
use super::writer::{InterchangeWriter, Partner};
use crate::format::{DataProblem, WriteContext};

/// What an acknowledgment says of a transaction set (AK5-01) or a group (AK9-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// `A`: accepted.
    Accepted,
    /// `E`: accepted, but errors were noted.
    AcceptedWithErrors,
    /// `P`: some of the group's sets accepted (groups only).
    PartiallyAccepted,
    /// `R`: rejected.
    Rejected,
}

impl AckStatus {
    /// The code written in AK5-01 and AK9-01.
    pub fn code(self) -> &'static str {
        match self {
            AckStatus::Accepted => "A",
            AckStatus::AcceptedWithErrors => "E",
            AckStatus::PartiallyAccepted => "P",
            AckStatus::Rejected => "R",
        }
    }

    fn parse(code: &str) -> Option<AckStatus> {
        match code.trim() {
            "A" => Some(AckStatus::Accepted),
            "E" => Some(AckStatus::AcceptedWithErrors),
            "P" => Some(AckStatus::PartiallyAccepted),
            "R" | "M" | "W" | "X" => Some(AckStatus::Rejected),
            _ => None,
        }
    }

    /// Whether the set or group counts as taken.
    pub fn accepted(self) -> bool {
        matches!(self, AckStatus::Accepted | AckStatus::AcceptedWithErrors)
    }
}

/// The acknowledgment of one transaction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAck {
    /// ST01 of the set.
    pub id: String,
    /// ST02 of the set.
    pub control: String,
    /// AK5-01.
    pub status: AckStatus,
    /// AK5-02 … AK5-06: why, when not accepted (`5`: one or more segments in error).
    pub codes: Vec<String>,
}

/// The acknowledgment of one functional group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAck {
    /// AK1-01: the group's GS01.
    pub functional_id: String,
    /// AK1-02: the group's GS06.
    pub control: String,
    /// One per transaction set.
    pub sets: Vec<SetAck>,
    /// AK9-01.
    pub status: AckStatus,
    /// AK9-02: sets the group held.
    pub received: u64,
    /// AK9-04: sets accepted.
    pub accepted: u64,
    /// AK9-05 … AK9-09: why, when not all accepted.
    pub codes: Vec<String>,
}

/// The segment and element holding the document's reference (order id, RMA number …) in each
/// set cartferry writes, so that a partner's rejection can name the order it rejects.
const REFERENCES: &[(&str, &str, usize)] = &[
    ("940", "W05", 2),
    ("945", "W06", 2),
    ("180", "BGN", 2),
    ("846", "BIA", 3),
];

/// The reference of the document `set` carries (W05-02 of a 940 …), when its kind has one.
pub fn document_reference(set: &TransactionSet) -> Option<String> {
    let &(_, segment_id, element) = REFERENCES.iter().find(|(id, _, _)| *id == set.id)?;
    set.segments
        .iter()
        .find(|s| s.id() == segment_id)
        .and_then(|s| given(s.element(element)))
}

/// Most bytes of AK2/AK5 segments held in memory for one group before they spill to a
/// temporary file.
const SPOOL_IN_MEMORY: usize = 1 << 20;

/// One functional group being acknowledged.
struct OpenGroup {
    group: Arc<Group>,
    /// AK2/AK5 pairs written so far.
    spool: SpooledTempFile,
    sets: u64,
    accepted: u64,
}

/// Writes one interchange of 997s while the received sets are judged one by one: one 997 per
/// functional group, its AK2/AK5 pairs spooled (in memory, then in a temporary file) until the
/// group ends, so a group of any size is answered in bounded memory.
pub struct Acknowledger<'a> {
    interchange: InterchangeWriter<'a>,
    open: Option<OpenGroup>,
    groups: u64,
}

impl<'a> Acknowledger<'a> {
    /// An interchange of 997s for `partner` into `out`, numbered and dated by `context`.
    pub fn new(out: Box<dyn Write + 'a>, partner: Partner, context: &WriteContext) -> Self {
        Acknowledger {
            interchange: InterchangeWriter::new(out, partner, ("997", "FA"), context),
            open: None,
            groups: 0,
        }
    }

    /// Records how `set` was received: `status`, with AK5 error `codes` when not accepted.
    pub fn set(
        &mut self,
        set: &TransactionSet,
        status: AckStatus,
        codes: &[&str],
    ) -> io::Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|open| !Arc::ptr_eq(&open.group, &set.group))
        {
            self.close_group()?;
        }
        let open = self.open.get_or_insert_with(|| OpenGroup {
            group: Arc::clone(&set.group),
            spool: SpooledTempFile::new(SPOOL_IN_MEMORY),
            sets: 0,
            accepted: 0,
        });
        let partner = self.interchange.partner();
        partner.write_segment(
            &Segment::new("AK2", &[&set.id, &set.control]),
            &mut open.spool,
        )?;
        let mut ak5 = vec![status.code()];
        ak5.extend(codes.iter().take(5));
        partner.write_segment(&Segment::new("AK5", &ak5), &mut open.spool)?;
        open.sets += 1;
        open.accepted += u64::from(status.accepted());
        Ok(())
    }

    /// Writes the open group's 997: AK1, its AK2/AK5 pairs, AK9.
    fn close_group(&mut self) -> io::Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let status = match open.accepted {
            n if n == open.sets => AckStatus::Accepted,
            0 => AckStatus::Rejected,
            _ => AckStatus::PartiallyAccepted,
        };
        let (sets, accepted) = (open.sets.to_string(), open.accepted.to_string());
        let head = [Segment::new(
            "AK1",
            &[&open.group.functional_id, &open.group.control],
        )];
        let tail = [Segment::new(
            "AK9",
            &[status.code(), &sets, &sets, &accepted],
        )];
        open.spool.seek(SeekFrom::Start(0))?;
        self.interchange
            .write_set_parts(&head, (&mut open.spool, 2 * open.sets), &tail)?;
        self.groups += 1;
        Ok(())
    }

    /// Ends the interchange; returns how many groups it acknowledges. With `last_group_whole`
    /// false (its envelope broke off), the last group gets no 997: nothing about it can be
    /// acknowledged with certainty.
    pub fn finish(mut self, last_group_whole: bool) -> io::Result<u64> {
        if last_group_whole {
            self.close_group()?;
        }
        let groups = self.groups;
        self.interchange.finish()?;
        Ok(groups)
    }
}

/// What a received 997 says, or the problems that keep it from saying anything.
pub fn read(set: &TransactionSet) -> Result<GroupAck, Vec<DataProblem>> {
    let mut found = Findings::naming("group");
    let mut ack: Option<GroupAck> = None;
    let mut pending_set: Option<(String, String)> = None;
    for segment in &set.segments {
        match segment.id() {
            "AK1" => {
                found.id = Some(segment.element(2).trim().to_string());
                ack = Some(GroupAck {
                    functional_id: segment.element(1).trim().into(),
                    control: segment.element(2).trim().into(),
                    sets: Vec::new(),
                    status: AckStatus::Rejected,
                    received: 0,
                    accepted: 0,
                    codes: Vec::new(),
                });
            }
            "AK2" => {
                pending_set = Some((
                    segment.element(1).trim().into(),
                    segment.element(2).trim().into(),
                ));
            }
            // A 999 (005010's implementation acknowledgment) says it in IK5.
            "AK5" | "IK5" => {
                let (Some(ack), Some((id, control))) = (ack.as_mut(), pending_set.take()) else {
                    found.at(segment, segment.id(), &format!("an {} without its AK1 and AK2.", segment.id()), "the partner's acknowledgment must acknowledge each set with AK2 then AK5 (IK5 in a 999).");
                    continue;
                };
                match AckStatus::parse(segment.element(1)) {
                    Some(status) => ack.sets.push(SetAck {
                        id,
                        control,
                        status,
                        codes: codes(segment, 2..=6),
                    }),
                    None => found.at(segment, &format!("{}-01", segment.id()), "the acknowledgment code is not A, E, M, R, W or X.", "the partner's acknowledgment must say whether the set was accepted."),
                }
            }
            "AK9" => match (ack.as_mut(), AckStatus::parse(segment.element(1))) {
                (Some(ack), Some(status)) => {
                    ack.status = status;
                    ack.received = found.count(segment, "AK9-02", 2).map_or(0, u64::from);
                    ack.accepted = found.count(segment, "AK9-04", 4).map_or(0, u64::from);
                    ack.codes = codes(segment, 5..=9);
                }
                _ => found.at(segment, "AK9-01", "the group's acknowledgment is missing its AK1 or its code is not A, E, P or R.", "the partner's 997 must end with AK9 for the group AK1 names."),
            },
            _ => {}
        }
    }
    match ack {
        Some(ack) if found.problems.is_empty() => Ok(ack),
        Some(_) => Err(found.problems),
        None => {
            found.whole(
                set.line,
                "AK1",
                format!("997 {} names no functional group (AK1).", set.control),
                "the partner's 997 must name the group it acknowledges in AK1.".into(),
            );
            Err(found.problems)
        }
    }
}

/// The non-empty elements in `range` of `segment`.
fn codes(segment: &Segment, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range
        .map(|i| segment.element(i).trim())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}
