//! Formats: a reader streams one kind of file into canonical [`Document`]s, a writer streams them
//! out. One file per format; none knows another. `passthrough` moves bytes unchanged and pairs only
//! with itself.

mod canonical_orders_csv;

use std::fmt;
use std::io::{self, BufRead, Write};

use crate::model::{Document, DocumentKind};

/// One defect in the data, with its position and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataProblem {
    /// 1-based line in the file, when known.
    pub line: Option<u64>,
    /// The field (column or element) concerned.
    pub field: Option<String>,
    /// The order (or other document id) concerned.
    pub document_id: Option<String>,
    /// The offending value as found; may be customer data, so never logged.
    pub value: Option<String>,
    /// What is wrong, one sentence.
    pub problem: String,
    /// What to change, one sentence.
    pub fix: String,
}

impl DataProblem {
    /// Where the problem is: `line 4, field "quantity", order 1002`.
    pub fn position(&self) -> String {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        if let Some(field) = &self.field {
            parts.push(format!("field \"{field}\""));
        }
        if let Some(id) = &self.document_id {
            parts.push(format!("order {id}"));
        }
        if parts.is_empty() {
            "the file".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The position and problem without the offending value: safe for logs.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.position(), self.problem)
    }
}

impl fmt::Display for DataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.position())?;
        if let Some(value) = &self.value {
            write!(f, "\"{value}\" — ")?;
        }
        write!(f, "{} Fix: {}", self.problem, self.fix)
    }
}

/// Why reading or writing a document failed.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The data is wrong; the merchant must fix the file.
    #[error("{0}")]
    Data(Box<DataProblem>),
    /// Reading or writing the bytes failed; worth retrying.
    #[error("input/output failed: {0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    /// A data problem.
    pub fn data(problem: DataProblem) -> FormatError {
        FormatError::Data(Box::new(problem))
    }
}

/// A stream of documents read from one file.
pub type Documents<'a> = Box<dyn Iterator<Item = Result<Document, FormatError>> + 'a>;

/// A format that reads files into documents.
pub trait ReaderFormat: Send + Sync {
    /// Starts reading `input`; documents come out one at a time, in file order.
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Documents<'a>;
}

/// An open output of a writer format.
pub trait DocumentWriter {
    /// Appends one document.
    fn write(&mut self, document: &Document) -> Result<(), FormatError>;
    /// Writes any trailer and flushes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A format that writes documents into files.
pub trait WriterFormat: Send + Sync {
    /// The document kinds this writer can write.
    fn accepts(&self) -> &'static [DocumentKind];
    /// Starts writing into `output`.
    fn begin<'a>(&self, output: Box<dyn Write + 'a>) -> Box<dyn DocumentWriter + 'a>;
}

/// Name of the format that moves bytes unchanged.
pub const PASSTHROUGH: &str = "passthrough";

/// Every reader name, for messages.
pub const READERS: &[&str] = &[PASSTHROUGH, canonical_orders_csv::NAME];
/// Every writer name, for messages.
pub const WRITERS: &[&str] = &[PASSTHROUGH, canonical_orders_csv::NAME];

/// The reader format with this name.
pub fn reader(name: &str) -> Option<Box<dyn ReaderFormat>> {
    match name {
        canonical_orders_csv::NAME => Some(Box::new(canonical_orders_csv::CanonicalOrdersCsv)),
        _ => None,
    }
}

/// The writer format with this name.
pub fn writer(name: &str) -> Option<Box<dyn WriterFormat>> {
    match name {
        canonical_orders_csv::NAME => Some(Box::new(canonical_orders_csv::CanonicalOrdersCsv)),
        _ => None,
    }
}

/// How a route turns a source file into its output.
pub enum Transform {
    /// Bytes unchanged.
    Passthrough,
    /// Read into documents, write them out.
    Convert {
        /// The reader.
        reader: Box<dyn ReaderFormat>,
        /// The writer.
        writer: Box<dyn WriterFormat>,
    },
}

/// A reader/writer pairing that cannot work, with the key to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairProblem {
    /// `reader` or `writer`.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Transform {
    /// The transform for a reader and writer name.
    pub fn new(reader_name: &str, writer_name: &str) -> Result<Transform, PairProblem> {
        let unknown = |key, name: &str, known: &[&str]| PairProblem {
            key,
            message: format!("unknown format \"{name}\"; known: {}", known.join(", ")),
        };
        match (reader_name == PASSTHROUGH, writer_name == PASSTHROUGH) {
            (true, true) => return Ok(Transform::Passthrough),
            (true, false) | (false, true) => {
                return Err(PairProblem {
                    key: if reader_name == PASSTHROUGH { "writer" } else { "reader" },
                    message: "\"passthrough\" moves bytes unchanged, so reader and writer must both be \"passthrough\"".into(),
                });
            }
            (false, false) => {}
        }
        let reader = reader(reader_name).ok_or_else(|| unknown("reader", reader_name, READERS))?;
        let writer = writer(writer_name).ok_or_else(|| unknown("writer", writer_name, WRITERS))?;
        Ok(Transform::Convert { reader, writer })
    }

    /// True when output bytes are the input bytes.
    pub fn is_passthrough(&self) -> bool {
        matches!(self, Transform::Passthrough)
    }
}

/// Checks that a reader and writer name can form a route.
pub fn check_pair(reader_name: &str, writer_name: &str) -> Result<(), PairProblem> {
    Transform::new(reader_name, writer_name).map(|_| ())
}

/// What a conversion found wrong with its input.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The data has defects; nothing should be delivered.
    #[error("{total} problem(s) in the data")]
    Data {
        /// The first problems (at most the cap given to [`convert`]).
        problems: Vec<DataProblem>,
        /// How many there were in all.
        total: usize,
    },
    /// Reading or writing failed.
    #[error("input/output failed: {0}")]
    Io(#[from] io::Error),
}

/// Documents handed from the reading thread to the writing thread at a time.
const BATCH: usize = 256;

/// Messages in flight between the two threads; with [`BATCH`], this bounds the memory a
/// conversion holds, whatever the file's size.
const BATCHES_IN_FLIGHT: usize = 8;

/// What the reading thread hands to the writing thread, in file order.
enum Parsed {
    Documents(Vec<Document>),
    Problem(FormatError),
}

/// Inputs at least this large are parsed and written on two threads.
const PARALLEL_FROM_BYTES: u64 = 1 << 20;

/// Streams `input` through `reader` into `writer`'s `output`. Reads to the end even after a data
/// problem, so one report lists every problem (the first `max_problems` of them).
/// Returns the number of documents written.
///
/// When `input_len` is unknown or large, parsing and writing run on two threads joined by a
/// bounded channel, so a large file uses two cores in bounded memory; written batches go back to
/// the reading thread to be freed where they were allocated (glibc's malloc is slow to free
/// another thread's memory). Small inputs are converted on the calling thread.
pub fn convert(
    reader: &dyn ReaderFormat,
    writer: &dyn WriterFormat,
    input: Box<dyn BufRead + Send + '_>,
    input_len: Option<u64>,
    output: Box<dyn Write + '_>,
    max_problems: usize,
) -> Result<u64, ConvertError> {
    if input_len.is_some_and(|n| n < PARALLEL_FROM_BYTES) {
        let parsed = reader.read(input).map(|item| match item {
            Ok(doc) => Parsed::Documents(vec![doc]),
            Err(e) => Parsed::Problem(e),
        });
        return write_all(writer, parsed, drop, output, max_problems);
    }
    std::thread::scope(|scope| {
        let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Document>>();
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in reader.read(input) {
                match item {
                    Ok(doc) => batch.push(doc),
                    Err(e) => {
                        let docs = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        let sent = parsed_tx.send(Parsed::Documents(docs));
                        if sent
                            .and_then(|()| parsed_tx.send(Parsed::Problem(e)))
                            .is_err()
                        {
                            return; // the writer stopped
                        }
                    }
                }
                if batch.len() == BATCH {
                    let docs = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if parsed_tx.send(Parsed::Documents(docs)).is_err() {
                        return;
                    }
                    spent_rx.try_iter().for_each(drop);
                }
            }
            let _ = parsed_tx.send(Parsed::Documents(batch));
        });
        let recycle = |docs| {
            let _ = spent_tx.send(docs);
        };
        write_all(writer, parsed_rx, recycle, output, max_problems)
    })
}

/// Writes parsed documents in order; `recycle` receives each written batch.
fn write_all(
    writer: &dyn WriterFormat,
    parsed: impl IntoIterator<Item = Parsed>,
    mut recycle: impl FnMut(Vec<Document>),
    output: Box<dyn Write + '_>,
    max_problems: usize,
) -> Result<u64, ConvertError> {
    let mut out = writer.begin(output);
    let mut problems = Vec::new();
    let mut total = 0usize;
    let mut written = 0u64;
    let mut note = |p: DataProblem, problems: &mut Vec<DataProblem>| {
        total += 1;
        if problems.len() < max_problems {
            problems.push(p);
        }
    };
    for message in parsed {
        let docs = match message {
            Parsed::Problem(FormatError::Data(p)) => {
                note(*p, &mut problems);
                continue;
            }
            Parsed::Problem(FormatError::Io(e)) => return Err(ConvertError::Io(e)),
            Parsed::Documents(docs) => docs,
        };
        for doc in &docs {
            if !writer.accepts().contains(&doc.kind()) {
                note(
                    DataProblem {
                        line: None,
                        field: None,
                        document_id: None,
                        value: None,
                        problem: format!("this route's writer cannot write a {}.", doc.kind()),
                        fix: "send this file to a route whose writer handles it.".into(),
                    },
                    &mut problems,
                );
            } else if problems.is_empty() {
                match out.write(doc) {
                    Ok(()) => written += 1,
                    Err(FormatError::Data(p)) => note(*p, &mut problems),
                    Err(FormatError::Io(e)) => return Err(ConvertError::Io(e)),
                }
            }
        }
        recycle(docs);
    }
    if !problems.is_empty() {
        return Err(ConvertError::Data { problems, total });
    }
    out.finish()?;
    Ok(written)
}
