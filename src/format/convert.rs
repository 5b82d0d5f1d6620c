//! A conversion: a route's reader streamed into its writer, every data problem collected, and,
//! when the route splits files, the rows of the documents left out.

use std::io::{self, BufRead, Write};

use super::shared::shipping::ShippingMethods;
use super::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Item, OnInvalid, Options,
    ReaderFormat, Span, WriteContext, WriterFormat, canonical, reader, writer,
};
use super::{PASSTHROUGH, X12_997};
use crate::model::Document;

/// A route's choice of formats.
#[derive(Debug, Clone, Copy)]
pub struct FormatChoice<'a> {
    /// Reader name.
    pub reader: &'a str,
    /// Reader options.
    pub reader_options: &'a Options,
    /// Writer name.
    pub writer: &'a str,
    /// Writer options.
    pub writer_options: &'a Options,
    /// What a bad document does to its file; the reader's default when unset.
    pub on_invalid: Option<OnInvalid>,
    /// Shipping method → carrier and service; orders must match when it is not empty.
    pub shipping_methods: &'a ShippingMethods,
}

/// How a route turns a source file into its output.
pub enum Transform {
    /// Bytes unchanged.
    Passthrough,
    /// Read into documents, write them out.
    Convert(Conversion),
    /// Read into the ledger, nothing written: partners' 997s, recorded against the groups
    /// cartferry sent.
    Record,
}

/// A reader, a writer, and what a bad document does to its file.
pub struct Conversion {
    /// The reader.
    pub reader: Box<dyn ReaderFormat>,
    /// The writer.
    pub writer: Box<dyn WriterFormat>,
    /// What a bad document does.
    pub on_invalid: OnInvalid,
    /// Shipping method → carrier and service, applied to every order.
    pub shipping_methods: ShippingMethods,
}

impl Transform {
    /// The transform a route's formats make, or every problem with them.
    pub fn new(choice: FormatChoice<'_>) -> Result<Transform, Vec<FormatProblem>> {
        let FormatChoice {
            reader: reader_name,
            writer: writer_name,
            ..
        } = choice;
        if reader_name == X12_997 {
            return if writer_name.is_empty() {
                Ok(Transform::Record)
            } else {
                Err(vec![FormatProblem {
                    key: "writer".into(),
                    message: "a route reading x12-997 records the acknowledgments and writes nothing: leave out writer and to".into(),
                }])
            };
        }
        match (reader_name == PASSTHROUGH, writer_name == PASSTHROUGH) {
            (true, true) => return Ok(Transform::Passthrough),
            (true, false) | (false, true) => {
                return Err(vec![FormatProblem {
                    key: if reader_name == PASSTHROUGH { "writer" } else { "reader" }.into(),
                    message: "\"passthrough\" moves bytes unchanged, so reader and writer must both be \"passthrough\"".into(),
                }]);
            }
            (false, false) => {}
        }
        let reader = reader(reader_name, choice.reader_options);
        let writer = writer(writer_name, choice.writer_options);
        match (reader, writer) {
            (Ok(reader), Ok(writer)) => Ok(Transform::Convert(Conversion {
                on_invalid: choice
                    .on_invalid
                    .unwrap_or_else(|| reader.default_on_invalid()),
                shipping_methods: choice.shipping_methods.clone(),
                reader,
                writer,
            })),
            (reader, writer) => Err(reader
                .err()
                .into_iter()
                .chain(writer.err())
                .flatten()
                .collect()),
        }
    }

    /// True when output bytes are the input bytes.
    pub fn is_passthrough(&self) -> bool {
        matches!(self, Transform::Passthrough)
    }
}

/// What a conversion found wrong with its input.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The data has defects and nothing should be delivered: the whole file is rejected.
    #[error("{} in the data", crate::report::counted(*total as u64, "problem", "problems"))]
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

/// The documents a split conversion left out, to be copied to the error folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The input's header.
    pub header: Span,
    /// The rows of every rejected document, in file order.
    pub spans: Vec<Span>,
    /// The first problems (at most the cap given to [`convert`]).
    pub problems: Vec<DataProblem>,
    /// How many problems there were in all.
    pub total: usize,
}

/// What a conversion delivered, and what it left out.
#[derive(Debug, Default)]
pub struct Converted {
    /// Documents written.
    pub written: u64,
    /// Documents left out (split mode only).
    pub rejected: Option<Rejected>,
    /// Values the documents written were kept without (the first, at most the problem cap).
    pub warnings: Vec<DataProblem>,
    /// How many warnings there were in all.
    pub warnings_total: usize,
    /// Documents left out as delivered before (see [`Verdict::LeaveOut`]).
    pub left_out: u64,
    /// Why the first of them was left out.
    pub first_left_out: Option<String>,
}

/// Documents handed from the reading thread to the writing thread at a time.
const BATCH: usize = 256;

/// Messages in flight between the two threads; with [`BATCH`], this bounds the memory a
/// conversion holds, whatever the file's size.
const BATCHES_IN_FLIGHT: usize = 8;

/// What the reading thread hands to the writing thread, in file order.
enum Parsed {
    Items(Vec<Item>),
    Unreadable(FormatError),
}

/// Most rejected documents a split keeps track of; past this many, the whole file is rejected
/// (so memory stays bounded however bad a huge file is).
const MAX_SPLIT_DOCUMENTS: usize = 100_000;

/// Inputs at least this large are parsed and written on two threads.
const PARALLEL_FROM_BYTES: u64 = 1 << 20;

/// Streams `input` through the conversion's reader into its writer's `output`. Reads to the end
/// even after a data problem, so one report lists every problem (the first `max_problems`).
///
/// With [`OnInvalid::Split`], good documents are written and bad ones returned as
/// [`Rejected`] spans; when nothing good is left, or the reader cannot tell where a bad document
/// came from, the whole file is rejected ([`ConvertError::Data`]) as with
/// [`OnInvalid::RejectFile`].
///
/// When `input_len` is unknown or large, parsing and writing run on two threads joined by a
/// bounded channel, so a large file uses two cores in bounded memory; written batches go back to
/// the reading thread to be freed where they were allocated (glibc's malloc is slow to free
/// another thread's memory). Small inputs are converted on the calling thread.
pub fn convert(
    conversion: &Conversion,
    context: &WriteContext,
    input: Box<dyn BufRead + Send + '_>,
    input_len: Option<u64>,
    output: Box<dyn Write + '_>,
    max_problems: usize,
) -> Result<Converted, ConvertError> {
    convert_tapped(
        conversion,
        context,
        input,
        input_len,
        output,
        max_problems,
        None,
    )
}

/// What becomes of a document a reader found, as a route's plug-ins judge it before it is
/// written.
#[derive(Debug)]
pub enum Verdict {
    /// Written.
    Write,
    /// Written, with a warning about it (a cancellation of an order never sent).
    WriteWarned(DataProblem),
    /// Not written, and not a problem: it was delivered before (the note says when and where).
    LeaveOut(String),
    /// Refused like a bad document: to the error folder, with the problem.
    Refuse(DataProblem),
}

/// Sees every document a conversion is about to write, and every one it writes, right after it
/// is written (a route's plug-ins see them this way).
pub trait DocumentTap {
    /// Whether `document` is to be written; an error is a fault that stops the conversion.
    fn judge(&mut self, _document: &Document) -> io::Result<Verdict> {
        Ok(Verdict::Write)
    }

    /// `document` was left out, as a judge said, for the reason `note`.
    fn left_out(&mut self, _document: &Document, _note: &str) -> io::Result<()> {
        Ok(())
    }

    /// `document` was written.
    fn written(&mut self, document: &Document) -> io::Result<()>;
}

/// [`convert`], showing every document written to `tap`.
pub fn convert_tapped<'o>(
    conversion: &Conversion,
    context: &WriteContext,
    input: Box<dyn BufRead + Send + '_>,
    input_len: Option<u64>,
    output: Box<dyn Write + 'o>,
    max_problems: usize,
    tap: Option<&'o mut dyn DocumentTap>,
) -> Result<Converted, ConvertError> {
    let reader = conversion.reader.as_ref();
    let mut sink = Sink {
        conversion,
        tap,
        out: conversion.writer.begin(output, context),
        max_problems,
        header: None,
        spans: Vec::new(),
        problems: Vec::new(),
        total: 0,
        repeats: Repeats::default(),
        warnings: Vec::new(),
        warnings_total: 0,
        written: 0,
        left_out: 0,
        first_left_out: None,
        unsplittable: false,
    };
    if input_len.is_some_and(|n| n < PARALLEL_FROM_BYTES) {
        for item in reader.read(input) {
            match item {
                Ok(mut item) => sink.take(&mut item)?,
                Err(e) => return Err(sink.unreadable(e)),
            }
        }
        return sink.finish();
    }
    std::thread::scope(|scope| {
        let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Item>>();
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in reader.read(input) {
                match item {
                    Ok(item) => batch.push(item),
                    Err(e) => {
                        let items = std::mem::take(&mut batch);
                        let _ = parsed_tx
                            .send(Parsed::Items(items))
                            .and_then(|()| parsed_tx.send(Parsed::Unreadable(e)));
                        return;
                    }
                }
                if batch.len() == BATCH {
                    let items = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if parsed_tx.send(Parsed::Items(items)).is_err() {
                        return; // the writer stopped
                    }
                    spent_rx.try_iter().for_each(drop);
                }
            }
            let _ = parsed_tx.send(Parsed::Items(batch));
        });
        for message in parsed_rx {
            match message {
                Parsed::Unreadable(e) => return Err(sink.unreadable(e)),
                Parsed::Items(mut items) => {
                    // The items go back whole, to be freed on the thread that allocated them.
                    for item in &mut items {
                        sink.take(item)?;
                    }
                    let _ = spent_tx.send(items);
                }
            }
        }
        sink.finish()
    })
}

/// The writing side of a conversion: writes good documents, gathers problems and spans.
struct Sink<'c, 'o> {
    conversion: &'c Conversion,
    tap: Option<&'o mut dyn DocumentTap>,
    out: Box<dyn DocumentWriter + 'o>,
    max_problems: usize,
    header: Option<Span>,
    spans: Vec<Span>,
    problems: Vec<DataProblem>,
    total: usize,
    /// Problems said alike (field, problem and fix) on several rows: said once, with the lines.
    repeats: Repeats,
    warnings: Vec<DataProblem>,
    warnings_total: usize,
    written: u64,
    left_out: u64,
    first_left_out: Option<String>,
    /// A rejected document came without its rows, so the file cannot be split.
    unsplittable: bool,
}

impl Sink<'_, '_> {
    fn reject(&mut self, problems: Vec<DataProblem>, span: Option<Span>) {
        self.total += problems.len();
        for problem in problems {
            if self.repeats.seen_again(&problem) {
                continue;
            }
            if self.problems.len() < self.max_problems {
                self.problems.push(problem);
            }
        }
        match span {
            Some(span) if self.spans.len() < MAX_SPLIT_DOCUMENTS => self.spans.push(span),
            _ => {
                self.unsplittable = true;
                self.spans = Vec::new();
            }
        }
    }

    fn splitting(&self) -> bool {
        self.conversion.on_invalid == OnInvalid::Split && !self.unsplittable
    }

    fn take(&mut self, item: &mut Item) -> Result<(), ConvertError> {
        match item {
            Item::Header(span) => self.header = Some(*span),
            Item::Warning(warning) => {
                self.warnings_total += 1;
                if self.warnings.len() < self.max_problems {
                    self.warnings.push(std::mem::take(warning));
                }
            }
            Item::Rejected(problems, span) => self.reject(std::mem::take(problems), *span),
            Item::Document(doc, span) => {
                let span = *span;
                if let Document::Order(order) = doc
                    && let Err(mut problem) = self.conversion.shipping_methods.apply(order)
                {
                    problem.line = span.map(|s| s.line);
                    self.reject(vec![*problem], span);
                    return Ok(());
                }
                if !self.conversion.writer.accepts().contains(&doc.kind()) {
                    let kind = doc.kind();
                    let what = match doc {
                        Document::OrderHold(h) => {
                            format!("{kind} ({})", canonical::holds::ACTIONS.name(h.action))
                        }
                        _ => kind.to_string(),
                    };
                    let problem = DataProblem {
                        line: span.map(|s| s.line),
                        document_id: Some(doc.id().to_string()),
                        problem: format!(
                            "this {what} cannot be written: the route's writer does not write {kind}s."
                        ),
                        fix: format!(
                            "send {kind}s through a route whose writer takes them, or pass this one on by hand."
                        ),
                        ..DataProblem::default()
                    };
                    self.reject(vec![problem], span);
                } else if self.problems.is_empty() || self.splitting() {
                    let verdict = match self.tap.as_mut() {
                        Some(tap) => tap.judge(doc)?,
                        None => Verdict::Write,
                    };
                    match verdict {
                        Verdict::Write => {}
                        Verdict::WriteWarned(mut warning) => {
                            warning.line = warning.line.or(span.map(|s| s.line));
                            self.take(&mut Item::Warning(warning))?;
                        }
                        Verdict::LeaveOut(note) => {
                            if let Some(tap) = self.tap.as_mut() {
                                tap.left_out(doc, &note)?;
                            }
                            self.left_out += 1;
                            self.first_left_out.get_or_insert(note);
                            return Ok(());
                        }
                        Verdict::Refuse(mut problem) => {
                            problem.line = problem.line.or(span.map(|s| s.line));
                            self.reject(vec![problem], span);
                            return Ok(());
                        }
                    }
                    match self.out.write(doc) {
                        Ok(()) => {
                            self.written += 1;
                            if let Some(tap) = self.tap.as_mut() {
                                tap.written(doc)?;
                            }
                        }
                        Err(FormatError::Data(mut p)) => {
                            p.line = p.line.or(span.map(|s| s.line));
                            self.reject(vec![*p], span);
                        }
                        Err(FormatError::Io(e)) => return Err(ConvertError::Io(e)),
                    }
                }
            }
        }
        Ok(())
    }

    /// The error for a file that cannot be read on, with the problems found before it.
    fn unreadable(&mut self, e: FormatError) -> ConvertError {
        match e {
            FormatError::Io(e) => ConvertError::Io(e),
            FormatError::Data(p) => {
                self.total += 1;
                let mut problems = std::mem::take(&mut self.problems);
                self.repeats.summarise(&mut problems);
                problems.truncate(self.max_problems.saturating_sub(1));
                problems.push(*p);
                ConvertError::Data {
                    problems,
                    total: self.total,
                }
            }
        }
    }

    fn finish(mut self) -> Result<Converted, ConvertError> {
        self.repeats.summarise(&mut self.problems);
        if self.total == 0 {
            self.out.finish()?;
            return Ok(Converted {
                written: self.written,
                rejected: None,
                warnings: self.warnings,
                warnings_total: self.warnings_total,
                left_out: self.left_out,
                first_left_out: self.first_left_out,
            });
        }
        match self.header {
            Some(header) if self.splitting() && self.written + self.left_out > 0 => {
                self.out.finish()?;
                Ok(Converted {
                    written: self.written,
                    rejected: Some(Rejected {
                        header,
                        spans: self.spans,
                        problems: self.problems,
                        total: self.total,
                    }),
                    warnings: self.warnings,
                    warnings_total: self.warnings_total,
                    left_out: self.left_out,
                    first_left_out: self.first_left_out,
                })
            }
            _ => Err(ConvertError::Data {
                problems: self.problems,
                total: self.total,
            }),
        }
    }
}

/// Most kinds of problem tracked for repeats; past it, new kinds are listed one by one (a file
/// whose problems all differ needs no summary, and memory stays bounded).
const MAX_REPEAT_KINDS: usize = 256;

/// Lines of a repeated problem listed in its summary.
const LINES_LISTED: usize = 8;

/// Problems found alike on several rows (the same field, problem and fix: an empty SKU on every
/// line of a small store's export), so that a report says each once, with where it is.
#[derive(Default)]
struct Repeats {
    /// Per kind: how many times it was found, and the first lines.
    kinds: std::collections::HashMap<ProblemKind, (usize, Vec<u64>)>,
}

/// What makes two problems alike: their field, problem and fix.
type ProblemKind = (Option<String>, String, String);

/// The kind of `problem`.
fn kind_of(problem: &DataProblem) -> ProblemKind {
    (
        problem.field.clone(),
        problem.problem.clone(),
        problem.fix.clone(),
    )
}

impl Repeats {
    /// Counts `problem`; true when its kind was seen before (so it need not be listed again).
    fn seen_again(&mut self, problem: &DataProblem) -> bool {
        let key = kind_of(problem);
        let room = self.kinds.len() < MAX_REPEAT_KINDS;
        match self.kinds.get_mut(&key) {
            Some((count, lines)) => {
                *count += 1;
                if lines.len() < LINES_LISTED {
                    lines.extend(problem.line);
                }
                true
            }
            None => {
                if room {
                    self.kinds
                        .insert(key, (1, problem.line.into_iter().collect()));
                }
                false
            }
        }
    }

    /// Rewrites each listed problem found on other rows too, saying how often and where.
    fn summarise(&self, problems: &mut [DataProblem]) {
        for problem in problems {
            let key = kind_of(problem);
            let Some((count, lines)) = self.kinds.get(&key).filter(|(n, _)| *n > 1) else {
                continue;
            };
            let listed: Vec<String> = lines.iter().map(u64::to_string).collect();
            let more = if *count > lines.len() { ", …" } else { "" };
            problem.same_elsewhere = count - 1;
            problem.problem = format!(
                "{} The same on {} in all (lines {}{more}).",
                problem.problem,
                crate::report::counted(*count as u64, "row", "rows"),
                listed.join(", ")
            );
        }
    }
}
