//! The X12 readers: one per transaction set (`x12-945`, `x12-846` …), each a function from a
//! transaction set to the documents it carries, over the envelope reader. A set of another kind
//! is reported, not skipped. X12 files are not split: a bad transaction set sends the whole file
//! to the error folder (a 997 rejecting it is the partner's answer).

use std::io::{self, BufRead};

use super::acknowledgment_997::{AckStatus, Acknowledger};
use super::envelope::{Envelopes, TransactionSet};
use super::syntax::Segment;
use crate::format::{
    DataProblem, FormatError, FormatProblem, Item, Items, NoOptions, OnInvalid, Options,
    ReaderFormat, Span, parse_options,
};

/// What one transaction set gives: documents, or the problems that keep it from giving any.
pub type SetItems = Vec<Item>;

/// An X12 reader of one transaction set.
pub struct X12Reader {
    /// ST01 of the sets it reads.
    set: &'static str,
    /// The documents a set carries.
    map: fn(&TransactionSet) -> SetItems,
}

impl X12Reader {
    /// The reader of `set`, with a route's `reader_options` (none yet).
    pub fn new(
        set: &'static str,
        map: fn(&TransactionSet) -> SetItems,
        options: &Options,
    ) -> Result<X12Reader, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "reader_options")?;
        Ok(X12Reader { set, map })
    }
}

impl ReaderFormat for X12Reader {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let (set_id, map) = (self.set, self.map);
        let header = std::iter::once(Ok(Item::Header(Span::default())));
        let sets = Envelopes::new(input).flat_map(move |set| match set {
            Err(e) => vec![Err(e)],
            Ok(set) if set.id != set_id => vec![Ok(Item::Rejected(
                vec![DataProblem {
                    line: Some(set.line),
                    field: Some("ST01".into()),
                    value: Some(set.id.clone()),
                    problem: format!(
                        "transaction set {} is a {}, and this route reads {set_id}s.",
                        set.control, set.id
                    ),
                    fix: format!("send {} files to the route that reads them.", set.id),
                    ..DataProblem::default()
                }],
                None,
            ))],
            Ok(set) => map(&set).into_iter().map(Ok).collect(),
        });
        Box::new(header.chain(sets))
    }

    fn default_on_invalid(&self) -> OnInvalid {
        OnInvalid::RejectFile
    }

    fn acknowledge(
        &self,
        input: Box<dyn BufRead + '_>,
        answer: &mut Acknowledger<'_>,
    ) -> Option<io::Result<bool>> {
        Some(self.judge(input, answer))
    }
}

impl X12Reader {
    /// Judges every set (but 997s) as [`ReaderFormat::read`] reads it: accepted when it gives documents
    /// without problems, rejected with AK5 code 1 (not supported) when it is another set and 5
    /// (segments in error) when its data has problems. `Ok(false)`: the envelope broke off.
    fn judge(
        &self,
        input: Box<dyn BufRead + '_>,
        answer: &mut Acknowledger<'_>,
    ) -> io::Result<bool> {
        for set in Envelopes::new(input) {
            let set = match set {
                Ok(set) => set,
                Err(FormatError::Io(e)) => return Err(e),
                Err(FormatError::Data(_)) => return Ok(false),
            };
            if set.id == "997" {
                // Acknowledgments are never acknowledged: two agents would answer each other
                // forever.
                continue;
            } else if set.id != self.set {
                answer.set(&set, AckStatus::Rejected, &["1"])?;
            } else if (self.map)(&set)
                .iter()
                .any(|item| matches!(item, Item::Rejected(..)))
            {
                answer.set(&set, AckStatus::Rejected, &["5"])?;
            } else {
                answer.set(&set, AckStatus::Accepted, &[])?;
            }
        }
        Ok(true)
    }
}

/// Text, or `None` when blank.
pub fn given(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// Element `index` of `segment` as a whole number: X12 `R` values such as `3`, `-2` or `3.0`.
fn whole_number(segment: &Segment, index: usize) -> Option<i64> {
    let text = segment.element(index).trim();
    text.strip_suffix(".0").unwrap_or(text).parse().ok()
}

/// Problems found while reading one transaction set, with its id once known.
#[derive(Default)]
pub struct Findings {
    /// The document's id (order id, RMA id …) for reports.
    pub id: Option<String>,
    /// The problems so far.
    pub problems: Vec<DataProblem>,
}

impl Findings {
    /// A problem with element `element` (`W12-03`) of `segment`.
    pub fn at(&mut self, segment: &Segment, element: &str, problem: &str, fix: &str) {
        // `W12-03` names element 3; a bare segment id names no value.
        let value = element
            .split_once('-')
            .and_then(|(_, i)| i.parse::<usize>().ok())
            .map_or("", |i| segment.element(i));
        self.problems.push(DataProblem {
            line: Some(segment.line),
            field: Some(element.to_string()),
            document_id: self.id.clone(),
            value: (!value.is_empty()).then(|| value.to_string()),
            problem: format!("segment {}: {problem}", segment.number),
            fix: fix.to_string(),
        });
    }

    /// A problem with the set as a whole, reported at its ST on `line`.
    pub fn whole(&mut self, line: u64, field: &str, problem: String, fix: String) {
        self.problems.push(DataProblem {
            line: Some(line),
            field: (!field.is_empty()).then(|| field.to_string()),
            document_id: self.id.clone(),
            problem,
            fix,
            ..DataProblem::default()
        });
    }

    /// A whole number ≥ 0 in element `element` of `segment`; `None` (and a problem) otherwise.
    pub fn count(&mut self, segment: &Segment, element: &str, index: usize) -> Option<u32> {
        let count = whole_number(segment, index).and_then(|n| u32::try_from(n).ok());
        if count.is_none() {
            self.at(
                segment,
                element,
                "the quantity is not a whole number.",
                "the warehouse must send whole units here.",
            );
        }
        count
    }

    /// A whole number, negative allowed, in element `element` of `segment`; `None` (and a
    /// problem) otherwise.
    pub fn signed(&mut self, segment: &Segment, element: &str, index: usize) -> Option<i64> {
        let number = whole_number(segment, index);
        if number.is_none() {
            self.at(
                segment,
                element,
                "the quantity is not a whole number.",
                &format!("the warehouse must send whole units in {element}."),
            );
        }
        number
    }

    /// The model's own checks of the set's document (`canonical_*::XML.check`), reported at the
    /// set's ST on `line`.
    pub fn checks(&mut self, line: u64, findings: Vec<crate::format::canonical_xml::Finding>) {
        for (path, _value, problem, fix) in findings {
            self.whole(line, &path, problem, fix);
        }
    }

    /// An X12 date (CCYYMMDD) in element `index` as ISO 8601; `None` when empty, a problem when
    /// not a date.
    pub fn date(&mut self, segment: &Segment, element: &str, index: usize) -> Option<String> {
        let text = segment.element(index).trim();
        if text.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(text, "%Y%m%d") {
            Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
            Err(_) => {
                self.at(
                    segment,
                    element,
                    "the date is not a date written CCYYMMDD.",
                    "the warehouse must send dates as CCYYMMDD, such as 20261122.",
                );
                None
            }
        }
    }

    /// The set's item: `document` when nothing was found wrong.
    pub fn item(self, document: crate::model::Document) -> Item {
        if self.problems.is_empty() {
            Item::Document(document, None)
        } else {
            Item::Rejected(self.problems, None)
        }
    }
}
