//! Formats: a reader streams one kind of file into canonical [`Document`]s, a writer streams them
//! out. One file per format; none knows another. `passthrough` moves bytes unchanged and pairs only
//! with itself.

mod canonical_holds;
mod canonical_inventory;
mod canonical_orders_csv;
mod canonical_orders_xml;
mod canonical_returns;
mod canonical_rmas;
mod canonical_shipments;
pub mod canonical_table;
pub mod canonical_xml;
pub mod carriers;
pub mod grouped;
mod mapped_csv;
mod mapped_xml;
pub mod mapping;
pub mod order_status;
mod orders;
mod return_receipts_csv;
pub mod shipping;
mod shopify_fulfillments_csv;
mod shopify_inventory_csv;
mod shopify_orders_csv;
pub mod table;
pub mod text;
pub mod validate;
mod woocommerce_orders_csv;
mod woocommerce_tracking_csv;
pub mod x12;

use std::fmt;
use std::io::{self, BufRead, Write};

use serde::de::DeserializeOwned;

use crate::model::{Document, DocumentKind};
use canonical_table::{CanonicalCsv, Layout};
use canonical_xml::{CanonicalXml, XmlKind};
use shipping::ShippingMethods;

/// One defect in the data, with its position and how to fix it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// A problem with the file as a whole.
    pub fn whole_file(problem: &str, fix: &str) -> DataProblem {
        DataProblem {
            problem: problem.into(),
            fix: fix.into(),
            ..DataProblem::default()
        }
    }

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

/// A CSV writing error as the I/O error it is (the writers write only valid records).
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Name of the format that moves bytes unchanged.
pub const PASSTHROUGH: &str = "passthrough";

/// The canonical CSV formats of the kinds other than orders.
const CANONICAL_CSV: [&str; 5] = [
    canonical_holds::CSV.name,
    canonical_shipments::CSV.name,
    canonical_inventory::CSV.name,
    canonical_rmas::CSV.name,
    canonical_returns::CSV.name,
];

/// The canonical XML formats, one per kind.
const CANONICAL_XML: [&str; 6] = [
    canonical_orders_xml::XML.name,
    canonical_holds::XML.name,
    canonical_shipments::XML.name,
    canonical_inventory::XML.name,
    canonical_rmas::XML.name,
    canonical_returns::XML.name,
];

/// The X12 945 reader's name.
const X12_945: &str = "x12-945";
/// The X12 846 reader's name.
const X12_846: &str = "x12-846";
/// The X12 940 writer's name.
const X12_940: &str = "x12-940";
/// The X12 180 reader's and writer's name.
const X12_180: &str = "x12-180";
/// The X12 947 reader's name.
const X12_947: &str = "x12-947";
/// The name of the reader of partners' 997s: a route that reads them records what they
/// acknowledge and delivers nothing.
pub const X12_997: &str = "x12-997";

/// Every reader name, for messages.
pub const READERS: &[&str] = &[
    PASSTHROUGH,
    canonical_orders_csv::NAME,
    CANONICAL_CSV[0],
    CANONICAL_CSV[1],
    CANONICAL_CSV[2],
    CANONICAL_CSV[3],
    CANONICAL_CSV[4],
    CANONICAL_XML[0],
    CANONICAL_XML[1],
    CANONICAL_XML[2],
    CANONICAL_XML[3],
    CANONICAL_XML[4],
    CANONICAL_XML[5],
    shopify_orders_csv::NAME,
    woocommerce_orders_csv::NAME,
    mapped_csv::NAME,
    mapped_xml::NAME,
    X12_945,
    X12_846,
    X12_940,
    X12_180,
    X12_947,
    X12_997,
];
/// Every writer name, for messages.
pub const WRITERS: &[&str] = &[
    PASSTHROUGH,
    canonical_orders_csv::NAME,
    CANONICAL_CSV[0],
    CANONICAL_CSV[1],
    CANONICAL_CSV[2],
    CANONICAL_CSV[3],
    CANONICAL_CSV[4],
    CANONICAL_XML[0],
    CANONICAL_XML[1],
    CANONICAL_XML[2],
    CANONICAL_XML[3],
    CANONICAL_XML[4],
    CANONICAL_XML[5],
    shopify_fulfillments_csv::NAME,
    shopify_inventory_csv::NAME,
    woocommerce_tracking_csv::NAME,
    X12_940,
    X12_945,
    X12_846,
    X12_180,
    return_receipts_csv::REFUND_REQUESTS.name,
    return_receipts_csv::RESTOCK_ADJUSTMENTS.name,
];

/// A canonical XML reader.
fn xml_reader<D: serde::de::DeserializeOwned + Send + Sync + 'static>(
    kind: &'static XmlKind<D>,
    options: &Options,
) -> Result<Box<dyn ReaderFormat>, Vec<FormatProblem>> {
    Ok(Box::new(CanonicalXml::reader(kind, options)?))
}

/// A canonical XML writer.
fn xml_writer<D: serde::Serialize + Send + Sync + 'static>(
    kind: &'static XmlKind<D>,
    options: &Options,
) -> Result<Box<dyn WriterFormat>, Vec<FormatProblem>> {
    Ok(Box::new(CanonicalXml::writer(kind, options)?))
}

/// A canonical CSV reader.
fn layout_reader<D: Default + Send + Sync + 'static>(
    layout: &'static Layout<D>,
    options: &Options,
) -> Result<Box<dyn ReaderFormat>, Vec<FormatProblem>> {
    Ok(Box::new(CanonicalCsv::reader(layout, options)?))
}

/// A canonical CSV writer.
fn layout_writer<D: Default + Send + Sync + 'static>(
    layout: &'static Layout<D>,
    options: &Options,
) -> Result<Box<dyn WriterFormat>, Vec<FormatProblem>> {
    Ok(Box::new(CanonicalCsv::writer(layout, options)?))
}

/// A format's options (`reader_options` / `writer_options` in a route).
pub type Options = toml::Table;

/// The options of a format that takes none.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoOptions {}

/// Something wrong with a route's formats, with the key to blame (`reader`,
/// `reader_options.encoding`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatProblem {
    /// The key below the route.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// `problems` as one line, each key after `prefix` (`"also."`): for messages about a config
/// that was already checked.
pub fn describe_problems(problems: Vec<FormatProblem>, prefix: &str) -> String {
    problems
        .into_iter()
        .map(|p| format!("{prefix}{}: {}", p.key, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads `options` into a format's own options type. Unknown keys and bad values are problems
/// naming their key below `table_key`.
pub fn parse_options<T: DeserializeOwned>(
    options: &Options,
    table_key: &str,
) -> Result<T, Vec<FormatProblem>> {
    let mut unknown = Vec::new();
    let parsed: Result<T, toml::de::Error> =
        serde_ignored::deserialize(toml::Value::Table(options.clone()), |path| {
            unknown.push(path.to_string())
        });
    let parsed = parsed.map_err(|e| {
        vec![FormatProblem {
            key: table_key.to_string(),
            message: e.message().to_string(),
        }]
    })?;
    if unknown.is_empty() {
        Ok(parsed)
    } else {
        Err(unknown
            .into_iter()
            .map(|key| FormatProblem {
                key: format!("{table_key}.{key}"),
                message: "is not an option of this format".into(),
            })
            .collect())
    }
}

/// The reader format with this name and options.
pub fn reader(name: &str, options: &Options) -> Result<Box<dyn ReaderFormat>, Vec<FormatProblem>> {
    let unknown = || {
        vec![FormatProblem {
            key: "reader".into(),
            message: format!("unknown format \"{name}\"; known: {}", READERS.join(", ")),
        }]
    };
    match name {
        n if n == canonical_holds::CSV.name => layout_reader(&canonical_holds::CSV, options),
        n if n == canonical_shipments::CSV.name => {
            layout_reader(&canonical_shipments::CSV, options)
        }
        n if n == canonical_inventory::CSV.name => {
            layout_reader(&canonical_inventory::CSV, options)
        }
        n if n == canonical_rmas::CSV.name => layout_reader(&canonical_rmas::CSV, options),
        n if n == canonical_returns::CSV.name => layout_reader(&canonical_returns::CSV, options),
        n if n == canonical_orders_xml::XML.name => xml_reader(&canonical_orders_xml::XML, options),
        n if n == canonical_holds::XML.name => xml_reader(&canonical_holds::XML, options),
        n if n == canonical_shipments::XML.name => xml_reader(&canonical_shipments::XML, options),
        n if n == canonical_inventory::XML.name => xml_reader(&canonical_inventory::XML, options),
        n if n == canonical_rmas::XML.name => xml_reader(&canonical_rmas::XML, options),
        n if n == canonical_returns::XML.name => xml_reader(&canonical_returns::XML, options),
        canonical_orders_csv::NAME => Ok(Box::new(
            canonical_orders_csv::CanonicalOrdersCsv::reader(options)?,
        )),
        shopify_orders_csv::NAME => Ok(Box::new(shopify_orders_csv::ShopifyOrdersCsv::reader(
            options,
        )?)),
        woocommerce_orders_csv::NAME => Ok(Box::new(
            woocommerce_orders_csv::WooCommerceOrdersCsv::reader(options)?,
        )),
        mapped_csv::NAME => Ok(Box::new(mapped_csv::MappedCsv::reader(options)?)),
        mapped_xml::NAME => Ok(Box::new(mapped_xml::MappedXml::reader(options)?)),
        X12_945 => Ok(Box::new(x12::reader::X12Reader::new(
            x12::shipping_advice_945::SET,
            x12::shipping_advice_945::shipments,
            options,
        )?)),
        X12_940 => Ok(Box::new(x12::reader::X12Reader::new(
            x12::shipping_order_reader_940::SET,
            x12::shipping_order_reader_940::orders,
            options,
        )?)),
        X12_180 => Ok(Box::new(x12::reader::X12Reader::new(
            x12::return_authorization_180::SET,
            x12::return_authorization_180::receipts,
            options,
        )?)),
        X12_947 => Ok(Box::new(x12::reader::X12Reader::new(
            x12::inventory_adjustment_947::SET,
            x12::inventory_adjustment_947::receipts,
            options,
        )?)),
        X12_846 => Ok(Box::new(x12::reader::X12Reader::new(
            x12::inventory_advice_846::SET,
            x12::inventory_advice_846::inventory,
            options,
        )?)),
        _ => Err(unknown()),
    }
}

/// The writer format with this name and options.
pub fn writer(name: &str, options: &Options) -> Result<Box<dyn WriterFormat>, Vec<FormatProblem>> {
    match name {
        n if n == canonical_holds::CSV.name => layout_writer(&canonical_holds::CSV, options),
        n if n == canonical_shipments::CSV.name => {
            layout_writer(&canonical_shipments::CSV, options)
        }
        n if n == canonical_inventory::CSV.name => {
            layout_writer(&canonical_inventory::CSV, options)
        }
        n if n == canonical_rmas::CSV.name => layout_writer(&canonical_rmas::CSV, options),
        n if n == canonical_returns::CSV.name => layout_writer(&canonical_returns::CSV, options),
        n if n == canonical_orders_xml::XML.name => xml_writer(&canonical_orders_xml::XML, options),
        n if n == canonical_holds::XML.name => xml_writer(&canonical_holds::XML, options),
        n if n == canonical_shipments::XML.name => xml_writer(&canonical_shipments::XML, options),
        n if n == canonical_inventory::XML.name => xml_writer(&canonical_inventory::XML, options),
        n if n == canonical_rmas::XML.name => xml_writer(&canonical_rmas::XML, options),
        n if n == canonical_returns::XML.name => xml_writer(&canonical_returns::XML, options),
        canonical_orders_csv::NAME => Ok(Box::new(
            canonical_orders_csv::CanonicalOrdersCsv::writer(options)?,
        )),
        shopify_fulfillments_csv::NAME => Ok(Box::new(
            shopify_fulfillments_csv::ShopifyFulfillmentsCsv::writer(options)?,
        )),
        shopify_inventory_csv::NAME => Ok(Box::new(
            shopify_inventory_csv::ShopifyInventoryCsv::writer(options)?,
        )),
        X12_940 => Ok(Box::new(x12::shipping_order_940::writer(options)?)),
        X12_945 => Ok(Box::new(x12::shipping_advice_writer_945::writer(options)?)),
        X12_846 => Ok(Box::new(
            x12::inventory_advice_writer_846::InventoryAdvice846::writer(options)?,
        )),
        X12_180 => Ok(Box::new(x12::return_authorization_180::writer(options)?)),
        woocommerce_tracking_csv::NAME => Ok(Box::new(
            woocommerce_tracking_csv::WooCommerceTrackingCsv::writer(options)?,
        )),
        n if n == return_receipts_csv::REFUND_REQUESTS.name => Ok(Box::new(
            return_receipts_csv::REFUND_REQUESTS.writer(options)?,
        )),
        n if n == return_receipts_csv::RESTOCK_ADJUSTMENTS.name => Ok(Box::new(
            return_receipts_csv::RESTOCK_ADJUSTMENTS.writer(options)?,
        )),
        _ => Err(vec![FormatProblem {
            key: "writer".into(),
            message: format!("unknown format \"{name}\"; known: {}", WRITERS.join(", ")),
        }]),
    }
}

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
    /// Partners' 997s: recorded against the groups cartferry sent; nothing is delivered.
    Acknowledgments,
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
                Ok(Transform::Acknowledgments)
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
#[derive(Debug)]
pub struct Converted {
    /// Documents written.
    pub written: u64,
    /// Documents left out (split mode only).
    pub rejected: Option<Rejected>,
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

/// Sees every document a conversion writes, right after it is written (a route's order status
/// updates are made this way).
pub trait DocumentTap {
    /// `document` was written.
    fn written(&mut self, document: &Document) -> io::Result<()>;
}

impl DocumentTap for Vec<&mut dyn DocumentTap> {
    fn written(&mut self, document: &Document) -> io::Result<()> {
        self.iter_mut().try_for_each(|tap| tap.written(document))
    }
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
        written: 0,
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
    written: u64,
    /// A rejected document came without its rows, so the file cannot be split.
    unsplittable: bool,
}

impl Sink<'_, '_> {
    fn reject(&mut self, problems: Vec<DataProblem>, span: Option<Span>) {
        self.total += problems.len();
        let room = self.max_problems.saturating_sub(self.problems.len());
        self.problems.extend(problems.into_iter().take(room));
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
                            format!("{kind} ({})", canonical_holds::action_name(h.action))
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
                problems.truncate(self.max_problems.saturating_sub(1));
                problems.push(*p);
                ConvertError::Data {
                    problems,
                    total: self.total,
                }
            }
        }
    }

    fn finish(self) -> Result<Converted, ConvertError> {
        if self.total == 0 {
            self.out.finish()?;
            return Ok(Converted {
                written: self.written,
                rejected: None,
            });
        }
        match self.header {
            Some(header) if self.splitting() && self.written > 0 => {
                self.out.finish()?;
                Ok(Converted {
                    written: self.written,
                    rejected: Some(Rejected {
                        header,
                        spans: self.spans,
                        problems: self.problems,
                        total: self.total,
                    }),
                })
            }
            _ => Err(ConvertError::Data {
                problems: self.problems,
                total: self.total,
            }),
        }
    }
}
