//! Formats: a reader streams one kind of file into canonical [`Document`]s, a writer streams them
//! out. A folder per family, one file per format; none knows another. `passthrough` moves bytes
//! unchanged and pairs only with itself.
//!
//! - `canonical/`: cartferry's own layouts, the six document kinds in CSV and XML, and return
//!   receipts as the cart's refund and restock work lists.
//! - `shopify/`, `woocommerce/`: the carts' own exports and imports.
//! - `mapped/`: any CSV or XML, as any kind, through a mapping in the route.
//! - `x12/`: ANSI X12 EDI, one file per transaction set and direction.
//! - `shared/`: what readers share: decoding, tables, grouping rows into documents, order checks,
//!   shipping methods and carriers.
//!
//! Around them: [`catalog`] finds a format by name, [`convert`](mod@convert) streams a reader
//! into a writer, [`items`] and [`problems`] are what they exchange.

pub mod canonical;
pub mod catalog;
pub mod convert;
pub mod family;
pub mod items;
pub mod mapped;
pub mod problems;
pub mod shared;
pub mod shopify;
pub mod woocommerce;
pub mod x12;

use std::io::{self, BufRead, Write};

use crate::model::{Document, DocumentKind};

pub use catalog::{PASSTHROUGH, X12_997, reader, writer};
pub use convert::{
    Conversion, ConvertError, Converted, DocumentTap, FormatChoice, Rejected, Transform, Verdict,
    convert, convert_tapped,
};
pub use items::{ControlNumbers, Item, Items, OnInvalid, Span, WriteContext};
pub use problems::{
    DataProblem, FormatError, FormatProblem, NoOptions, Options, describe_problems, parse_options,
};

/// A format that reads files into documents.
pub trait ReaderFormat: Send + Sync {
    /// Starts reading `input`; items come out one at a time, in file order.
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a>;

    /// What a bad document does to its file when the route does not say.
    fn default_on_invalid(&self) -> OnInvalid {
        OnInvalid::Split
    }

    /// Copies the header and the rows in `spans` (sorted, as this reader gave them for `input`)
    /// into `output` in the input's own encoding; returns the line each span starts on there.
    /// Readers that give no spans never split, and keep this default.
    fn copy_rows(
        &self,
        _input: Box<dyn BufRead + '_>,
        _header: Span,
        _spans: &[Span],
        _output: &mut dyn Write,
    ) -> io::Result<Vec<u64>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this format cannot split files",
        ))
    }

    /// For formats whose senders expect a functional acknowledgment (X12): judges each
    /// received transaction set as [`ReaderFormat::read`] would and writes the answer into
    /// `answer`; `Ok(false)` when the envelope broke off, so its last group is left
    /// unanswered. `None` for formats without acknowledgments.
    fn acknowledge(
        &self,
        _input: Box<dyn BufRead + '_>,
        _answer: &mut x12::acknowledgment_997::Acknowledger<'_>,
    ) -> Option<io::Result<bool>> {
        None
    }
}

/// An open output of a writer format.
pub trait DocumentWriter {
    /// Appends one document. A data problem is found before anything of the document is written.
    fn write(&mut self, document: &Document) -> Result<(), FormatError>;
    /// Writes any trailer and flushes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A format that writes documents into files.
pub trait WriterFormat: Send + Sync {
    /// The document kinds this writer can write.
    fn accepts(&self) -> &'static [DocumentKind];
    /// The ledger key of the control numbers each file needs (X12 envelopes); none by default.
    fn control_key(&self) -> Option<String> {
        None
    }
    /// How long the receiver of this writer's X12 groups may take to acknowledge them (997);
    /// `None`: no acknowledgment is expected.
    fn acknowledgment_due(&self) -> Option<std::time::Duration> {
        None
    }
    /// Starts writing one file into `output`.
    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a>;
}
