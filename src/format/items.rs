//! What readers and writers exchange: the items a reader finds (header, documents, rejected
//! rows, each with its span in the file) and what a writer is told about the file it writes.

use super::{DataProblem, FormatError};
use crate::model::Document;

/// Where a document came from: a run of whole rows of the decoded input text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// The line `start` is on (1-based).
    pub line: u64,
}

/// What a reader finds, in file order.
// Items stream a few hundred at a time, so the size of the largest variant costs little; boxing
// documents would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    /// The header (and anything before the first row), once, before any row.
    Header(Span),
    /// A document to write, with its rows when the reader can tell them.
    Document(Document, Option<Span>),
    /// Rows that make no usable document, with every problem found in them.
    Rejected(Vec<DataProblem>, Option<Span>),
    /// A value the reader could not use in the document that follows, which it keeps without it
    /// (an optional field left empty): reported, never a reason to refuse the document.
    Warning(DataProblem),
}

/// A stream of items read from one file; an error ends it (the file as a whole cannot be read).
pub type Items<'a> = Box<dyn Iterator<Item = Result<Item, FormatError>> + 'a>;

/// What one bad document does to its file (`on_invalid` in a route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Nothing is delivered; the whole file goes to the error folder.
    RejectFile,
    /// The good documents are delivered; the bad ones alone go to the error folder, as rows of
    /// the original file under its header.
    Split,
}

impl OnInvalid {
    /// Parses the config spelling.
    pub fn parse(text: &str) -> Option<OnInvalid> {
        match text {
            "reject-file" => Some(OnInvalid::RejectFile),
            "split" => Some(OnInvalid::Split),
            _ => None,
        }
    }
}

/// Interchange and group control numbers reserved for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlNumbers {
    /// ISA13 / IEA02.
    pub interchange: u64,
    /// GS06 / GE02.
    pub group: u64,
}

/// What a writer may need to know about the file it writes.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// Control numbers reserved for the file (see [`WriterFormat::control_key`]); a preview
    /// without a ledger numbers its envelope 1.
    pub control_numbers: Option<ControlNumbers>,
    /// When the file is written (X12 envelope dates and times).
    pub time: chrono::NaiveDateTime,
}

impl WriteContext {
    /// A file written now, without reserved control numbers.
    pub fn now() -> WriteContext {
        WriteContext {
            control_numbers: None,
            time: chrono::Local::now().naive_local(),
        }
    }
}
