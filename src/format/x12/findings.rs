//! What reading one transaction set finds: its documents, or the problems (with segment,
//! element and line) that keep it from giving any. Shared by every set's mapping and by the
//! 997 reader.

use super::syntax::Segment;
use crate::format::{DataProblem, Item};

/// What one transaction set gives: documents, or the problems that keep it from giving any.
pub type SetItems = Vec<Item>;

/// `a` or `an` before a transaction set's number as it is said aloud: an 810 ("an eight-ten"),
/// an 860, but a 940 and a 180 ("a one-eighty").
pub fn article(set_id: &str) -> &'static str {
    if set_id.starts_with('8') { "an" } else { "a" }
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
    /// What the id names when it is not an order (`SKU`, `RMA`).
    pub noun: Option<&'static str>,
    /// The problems so far.
    pub problems: Vec<DataProblem>,
}

impl Findings {
    /// Findings of a set whose id names `noun` (`RMA`), not an order.
    pub fn naming(noun: &'static str) -> Findings {
        Findings {
            noun: Some(noun),
            ..Findings::default()
        }
    }

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
            document_noun: self.noun,
            value: (!value.is_empty()).then(|| value.to_string()),
            problem: format!("segment {}: {problem}", segment.number),
            fix: fix.to_string(),
            same_elsewhere: 0,
        });
    }

    /// A problem with the set as a whole, reported at its ST on `line`.
    pub fn whole(&mut self, line: u64, field: &str, problem: String, fix: String) {
        self.problems.push(DataProblem {
            line: Some(line),
            field: (!field.is_empty()).then(|| field.to_string()),
            document_id: self.id.clone(),
            document_noun: self.noun,
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

    /// The model's own checks of the set's document (`canonical::<kind>::XML.check`), reported at the
    /// set's ST on `line`.
    pub fn checks(&mut self, line: u64, findings: Vec<crate::format::canonical::xml::Finding>) {
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
