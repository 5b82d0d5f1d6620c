//! The X12 readers: one per transaction set (`x12-945`, `x12-846` …), each a function from a
//! transaction set to the documents it carries, over the envelope reader. A set of another kind
//! is reported, not skipped. X12 files are not split: a bad transaction set sends the whole file
//! to the error folder (a 997 rejecting it is the partner's answer).

use std::io::{self, BufRead};
use std::sync::Arc;

use super::acknowledgment_997::{AckStatus, Acknowledger};
use super::envelope::{Envelopes, TransactionSet};
use super::findings::{SetItems, article};
use crate::format::{
    DataProblem, FormatError, FormatProblem, Item, Items, NoOptions, OnInvalid, Options,
    ReaderFormat, Span, parse_options,
};

/// The documents one transaction set carries, as a reader's options shape them.
pub type SetMapping = Arc<dyn Fn(&TransactionSet) -> SetItems + Send + Sync>;

/// An X12 reader of one transaction set.
pub struct X12Reader {
    /// ST01 of the sets it reads.
    set: &'static str,
    /// The documents a set carries.
    map: SetMapping,
}

impl X12Reader {
    /// The reader of `set`, which takes no `reader_options`.
    pub fn new(
        set: &'static str,
        map: fn(&TransactionSet) -> SetItems,
        options: &Options,
    ) -> Result<X12Reader, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "reader_options")?;
        Ok(X12Reader::mapped(set, Arc::new(map)))
    }

    /// The reader of `set` through `map`, which holds the set's own reader options.
    pub fn mapped(set: &'static str, map: SetMapping) -> X12Reader {
        X12Reader { set, map }
    }
}

impl ReaderFormat for X12Reader {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let (set_id, map) = (self.set, self.map.clone());
        let header = std::iter::once(Ok(Item::Header(Span::default())));
        let sets = Envelopes::new(input).flat_map(move |set| match set {
            Err(e) => vec![Err(e)],
            Ok(set) if set.id != set_id => vec![Ok(Item::Rejected(
                vec![DataProblem {
                    line: Some(set.line),
                    field: Some("ST01".into()),
                    value: Some(set.id.clone()),
                    problem: format!(
                        "transaction set {} is {} {}, and this route reads {set_id}s.",
                        set.control,
                        article(&set.id),
                        set.id
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
            if set.id == "997" || set.id == "999" {
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
