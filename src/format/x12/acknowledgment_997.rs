//! The 997 Functional Acknowledgment, both ways: what cartferry answers for a functional group it
//! received (one `AK2`/`AK5` per transaction set, `AK9` for the group), and what a partner's 997
//! says about a group cartferry sent. The agent decides which sets to accept; this file only
//! writes and reads the acknowledgments.

use std::io::{self, Write};

use super::envelope::{Group, TransactionSet};
use super::reader::Findings;
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
    fn code(self) -> &'static str {
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

impl GroupAck {
    /// The acknowledgment of `group`, whose sets were each accepted or rejected as `sets` says.
    pub fn of(group: &Group, sets: Vec<SetAck>) -> GroupAck {
        let received = sets.len() as u64;
        let accepted = sets.iter().filter(|s| s.status.accepted()).count() as u64;
        let status = match accepted {
            n if n == received => AckStatus::Accepted,
            0 => AckStatus::Rejected,
            _ => AckStatus::PartiallyAccepted,
        };
        GroupAck {
            functional_id: group.functional_id.clone(),
            control: group.control.clone(),
            sets,
            status,
            received,
            accepted,
            // 5: number of included transaction sets does not match actual count is not ours to
            // say here; a group with rejected sets is described by the sets' AK5 codes.
            codes: Vec::new(),
        }
    }

    /// The segments of its 997 (between ST and SE).
    pub fn segments(&self) -> Vec<Segment> {
        let mut segments = vec![Segment::new("AK1", &[&self.functional_id, &self.control])];
        for set in &self.sets {
            segments.push(Segment::new("AK2", &[&set.id, &set.control]));
            let mut ak5 = vec![set.status.code()];
            ak5.extend(set.codes.iter().take(5).map(String::as_str));
            segments.push(Segment::new("AK5", &ak5));
        }
        let counts = [
            self.received.to_string(),
            self.received.to_string(),
            self.accepted.to_string(),
        ];
        let mut ak9 = vec![self.status.code(), &counts[0], &counts[1], &counts[2]];
        ak9.extend(self.codes.iter().take(5).map(String::as_str));
        segments.push(Segment::new("AK9", &ak9));
        segments
    }
}

/// Writes `acks` as one interchange of 997s (one per group acknowledged) for `partner`.
pub fn write(
    out: Box<dyn Write + '_>,
    partner: Partner,
    context: &WriteContext,
    acks: &[GroupAck],
) -> io::Result<()> {
    let mut interchange = InterchangeWriter::new(out, partner, ("997", "FA"), context);
    for ack in acks {
        interchange.write_set(&ack.segments())?;
    }
    interchange.finish()
}

/// What a received 997 says, or the problems that keep it from saying anything.
pub fn read(set: &TransactionSet) -> Result<GroupAck, Vec<DataProblem>> {
    let mut found = Findings::default();
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
            "AK5" => {
                let (Some(ack), Some((id, control))) = (ack.as_mut(), pending_set.take()) else {
                    found.at(segment, "AK5", "an AK5 without its AK1 and AK2.", "the partner's 997 must acknowledge each set with AK2 then AK5.");
                    continue;
                };
                match AckStatus::parse(segment.element(1)) {
                    Some(status) => ack.sets.push(SetAck {
                        id,
                        control,
                        status,
                        codes: codes(segment, 2..=6),
                    }),
                    None => found.at(segment, "AK5-01", "the acknowledgment code is not A, E, M, R, W or X.", "the partner's 997 must say whether the set was accepted."),
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
