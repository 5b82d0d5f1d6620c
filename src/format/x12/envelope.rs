//! X12 envelopes: interchanges (ISA … IEA) holding functional groups (GS … GE) holding
//! transaction sets (ST … SE). Reading yields each transaction set with its group and
//! interchange, and checks every count (SE01, GE01, IEA01) and control number (SE02 = ST02,
//! GE02 = GS06, IEA02 = ISA13) as it goes; a broken envelope ends the file with the segment's
//! number and a sentence. A transaction set is held whole (at most [`MAX_SET_BYTES`]), never the
//! file.

use std::io::BufRead;
use std::sync::Arc;

use super::syntax::{Segment, SegmentReader, Separators, broken};
use crate::format::FormatError;

/// Largest transaction set read, in bytes of segment text.
pub const MAX_SET_BYTES: usize = 16 << 20;

/// What an ISA says about its interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange {
    /// ISA05 and ISA06, the sender's id qualifier and id (trimmed).
    pub sender: (String, String),
    /// ISA07 and ISA08, the receiver's.
    pub receiver: (String, String),
    /// ISA12, such as `00401`.
    pub version: String,
    /// ISA13.
    pub control: String,
    /// ISA15 is `T`.
    pub test: bool,
    /// The separators it declares.
    pub separators: Separators,
}

/// What a GS says about its functional group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// GS01, such as `SW` for 945s.
    pub functional_id: String,
    /// GS02, the application sender's code.
    pub sender: String,
    /// GS03, the application receiver's code.
    pub receiver: String,
    /// GS06.
    pub control: String,
    /// GS08, such as `004010`.
    pub version: String,
}

/// One transaction set, its segments between ST and SE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSet {
    /// The interchange it came in.
    pub interchange: Arc<Interchange>,
    /// Its functional group.
    pub group: Arc<Group>,
    /// ST01, such as `945`.
    pub id: String,
    /// ST02.
    pub control: String,
    /// The ST segment's number in the file.
    pub st_number: u64,
    /// The ST segment's line.
    pub line: u64,
    /// The segments after ST and before SE.
    pub segments: Vec<Segment>,
}

/// The transaction sets of an X12 input, their envelopes checked.
pub struct Envelopes<'a> {
    segments: SegmentReader<'a>,
    interchange: Option<Open<Arc<Interchange>>>,
    group: Option<Open<Arc<Group>>>,
    set: Option<(TransactionSet, usize)>,
    any: bool,
    ended: bool,
}

/// An open envelope and how many envelopes it holds so far.
struct Open<T> {
    header: T,
    held: u64,
    /// The header segment's number and line.
    at: (u64, u64),
}

/// Two control numbers or counts are the same: as numbers when both are, else as text.
pub fn same(a: &str, b: &str) -> bool {
    match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// A trailer that counts what its envelope holds (element 1) and repeats its header's control
/// number (element 2): GE for GS, IEA for ISA.
struct Trailer {
    /// The trailer's segment id.
    id: &'static str,
    /// Its header's segment id.
    header: &'static str,
    /// What the envelope is called in messages.
    what: &'static str,
    /// What it holds, in the plural.
    holds: &'static str,
}

impl Trailer {
    /// The element and the problem when `segment` disagrees with the envelope it ends: its
    /// header's `control` number, holding `held`.
    fn mismatch(&self, segment: &Segment, control: &str, held: u64) -> Option<(String, String)> {
        let (id, what, holds) = (self.id, self.what, self.holds);
        if !same(segment.element(1), &held.to_string()) {
            let count = segment.element(1);
            return Some((
                format!("{id}01"),
                format!("{what} {control} says it has {count} {holds}, but it has {held}."),
            ));
        }
        if !same(segment.element(2), control) {
            let number = segment.element(2);
            return Some((
                format!("{id}02"),
                format!(
                    "the {id}'s control number {number} is not its {}'s, {control}.",
                    self.header
                ),
            ));
        }
        None
    }
}

const RESEND: &str =
    "the sender's EDI software wrote a broken envelope: ask them to send the file again.";

impl<'a> Envelopes<'a> {
    /// The transaction sets of `input`.
    pub fn new(input: Box<dyn BufRead + 'a>) -> Self {
        Envelopes {
            segments: SegmentReader::new(input),
            interchange: None,
            group: None,
            set: None,
            any: false,
            ended: false,
        }
    }

    fn next_set(&mut self) -> Result<Option<TransactionSet>, FormatError> {
        loop {
            let Some(segment) = self.segments.next_segment()? else {
                return self.end().map(|()| None);
            };
            self.any = true;
            if let Some(set) = self.take(segment)? {
                return Ok(Some(set));
            }
        }
    }

    /// At the end of the input: every envelope must be closed.
    fn end(&mut self) -> Result<(), FormatError> {
        // The error points at where the unclosed envelope starts.
        let open = if let Some((set, _)) = &self.set {
            Some((
                (set.st_number, set.line),
                format!("transaction set {} (ST02)", set.control),
            ))
        } else if let Some(group) = &self.group {
            Some((
                group.at,
                format!("functional group {} (GS06)", group.header.control),
            ))
        } else {
            self.interchange
                .as_ref()
                .map(|i| (i.at, format!("interchange {} (ISA13)", i.header.control)))
        };
        if let Some(((number, line), what)) = open {
            return Err(broken(
                number,
                line,
                "",
                format!("the file ends inside {what}, which starts here."),
                "the file was cut short: ask the sender to send it again.",
            ));
        }
        if !self.any {
            return Err(broken(
                0,
                1,
                "",
                "the file is empty.".into(),
                "ask the sender to send the file again.",
            ));
        }
        Ok(())
    }

    /// Takes one segment; a transaction set once its SE has been read.
    fn take(&mut self, segment: Segment) -> Result<Option<TransactionSet>, FormatError> {
        let (number, line) = (segment.number, segment.line);
        let fault = |element: &str, problem: String| broken(number, line, element, problem, RESEND);
        if let Some((set, bytes)) = self.set.as_mut() {
            match segment.id() {
                "SE" => {}
                "ST" | "GE" | "GS" | "IEA" | "ISA" => {
                    return Err(fault(
                        segment.id(),
                        format!(
                            "{} comes before the SE that ends transaction set {}.",
                            segment.id(),
                            set.control
                        ),
                    ));
                }
                _ => {
                    *bytes += segment.size();
                    if *bytes > MAX_SET_BYTES {
                        return Err(fault(
                            "",
                            format!(
                                "transaction set {} is larger than {} MiB.",
                                set.control,
                                MAX_SET_BYTES >> 20
                            ),
                        ));
                    }
                    set.segments.push(segment);
                    return Ok(None);
                }
            }
            let (set, _) = self.set.take().unwrap_or_else(|| unreachable!());
            let counted = set.segments.len() + 2;
            if !same(segment.element(1), &counted.to_string()) {
                return Err(fault(
                    "SE01",
                    format!(
                        "transaction set {} says it has {} segments, but it has {counted}.",
                        set.control,
                        segment.element(1)
                    ),
                ));
            }
            if !same(segment.element(2), &set.control) {
                return Err(fault(
                    "SE02",
                    format!(
                        "the SE's control number {} is not its ST's, {}.",
                        segment.element(2),
                        set.control
                    ),
                ));
            }
            if let Some(group) = self.group.as_mut() {
                group.held += 1;
            }
            return Ok(Some(set));
        }
        match segment.id() {
            "ISA" => {
                if let Some(open) = &self.interchange {
                    return Err(fault(
                        "ISA",
                        format!(
                            "a new interchange starts before the IEA of interchange {}.",
                            open.header.control
                        ),
                    ));
                }
                let separators = self.segments.separators().unwrap_or(Separators::STANDARD);
                self.interchange = Some(Open {
                    header: Arc::new(Interchange {
                        sender: (
                            segment.element(5).trim().into(),
                            segment.element(6).trim().into(),
                        ),
                        receiver: (
                            segment.element(7).trim().into(),
                            segment.element(8).trim().into(),
                        ),
                        version: segment.element(12).trim().into(),
                        control: segment.element(13).trim().into(),
                        test: segment.element(15).trim() == "T",
                        separators,
                    }),
                    held: 0,
                    at: (number, line),
                });
            }
            "GS" => {
                if self.interchange.is_none() {
                    return Err(fault(
                        "GS",
                        "a functional group (GS) starts outside an interchange (ISA … IEA).".into(),
                    ));
                }
                if let Some(open) = &self.group {
                    return Err(fault(
                        "GS",
                        format!(
                            "a new functional group starts before the GE of group {}.",
                            open.header.control
                        ),
                    ));
                }
                self.group = Some(Open {
                    header: Arc::new(Group {
                        functional_id: segment.element(1).trim().into(),
                        sender: segment.element(2).trim().into(),
                        receiver: segment.element(3).trim().into(),
                        control: segment.element(6).trim().into(),
                        version: segment.element(8).trim().into(),
                    }),
                    held: 0,
                    at: (number, line),
                });
            }
            "ST" => {
                let (Some(interchange), Some(group)) = (&self.interchange, &self.group) else {
                    return Err(fault(
                        "ST",
                        "a transaction set (ST) starts outside a functional group (GS … GE)."
                            .into(),
                    ));
                };
                self.set = Some((
                    TransactionSet {
                        interchange: Arc::clone(&interchange.header),
                        group: Arc::clone(&group.header),
                        id: segment.element(1).trim().into(),
                        control: segment.element(2).trim().into(),
                        st_number: number,
                        line,
                        segments: Vec::new(),
                    },
                    0,
                ));
            }
            "GE" => {
                let Some(group) = self.group.take() else {
                    return Err(fault(
                        "GE",
                        "a GE ends a functional group that was never started.".into(),
                    ));
                };
                let trailer = Trailer {
                    id: "GE",
                    header: "GS",
                    what: "functional group",
                    holds: "transaction sets",
                };
                if let Some((element, problem)) =
                    trailer.mismatch(&segment, &group.header.control, group.held)
                {
                    return Err(fault(&element, problem));
                }
                if let Some(interchange) = self.interchange.as_mut() {
                    interchange.held += 1;
                }
            }
            "IEA" => {
                if let Some(group) = &self.group {
                    return Err(fault(
                        "IEA",
                        format!(
                            "the interchange ends before the GE of functional group {}.",
                            group.header.control
                        ),
                    ));
                }
                let Some(interchange) = self.interchange.take() else {
                    return Err(fault(
                        "IEA",
                        "an IEA ends an interchange that was never started.".into(),
                    ));
                };
                let trailer = Trailer {
                    id: "IEA",
                    header: "ISA",
                    what: "interchange",
                    holds: "functional groups",
                };
                if let Some((element, problem)) =
                    trailer.mismatch(&segment, &interchange.header.control, interchange.held)
                {
                    return Err(fault(&element, problem));
                }
            }
            other => {
                return Err(fault(
                    other,
                    format!("{other} is outside a transaction set (ST … SE)."),
                ));
            }
        }
        Ok(None)
    }
}

impl Iterator for Envelopes<'_> {
    type Item = Result<TransactionSet, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.next_set() {
            Ok(Some(set)) => Some(Ok(set)),
            Ok(None) => {
                self.ended = true;
                None
            }
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }
}
