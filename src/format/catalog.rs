//! Every format by name: each family lists its formats ([`Format`]), and a route's `reader` and
//! `writer` are looked up here.

use super::family::Format;
use super::{FormatProblem, Options, ReaderFormat, WriterFormat};
use super::{canonical, mapped, shopify, woocommerce, x12};

/// Name of the format that moves bytes unchanged.
pub const PASSTHROUGH: &str = "passthrough";

/// The name of the reader of partners' 997s: a route that reads them records what they
/// acknowledge and delivers nothing.
pub const X12_997: &str = "x12-997";

/// Every family's formats, in the order messages list them.
static FAMILIES: [&[Format]; 5] = [
    &canonical::FORMATS,
    &shopify::FORMATS,
    &woocommerce::FORMATS,
    &mapped::FORMATS,
    &x12::FORMATS,
];

fn formats() -> impl Iterator<Item = &'static Format> {
    FAMILIES.into_iter().flatten()
}

/// Every reader name, for messages.
pub fn reader_names() -> Vec<&'static str> {
    std::iter::once(PASSTHROUGH)
        .chain(formats().filter(|f| f.reader.is_some()).map(|f| f.name))
        .chain([X12_997])
        .collect()
}

/// Every writer name, for messages.
pub fn writer_names() -> Vec<&'static str> {
    std::iter::once(PASSTHROUGH)
        .chain(formats().filter(|f| f.writer.is_some()).map(|f| f.name))
        .collect()
}

fn unknown(key: &str, name: &str, known: Vec<&str>) -> Vec<FormatProblem> {
    vec![FormatProblem {
        key: key.into(),
        message: format!("unknown format \"{name}\"; known: {}", known.join(", ")),
    }]
}

/// The reader format with this name and options.
pub fn reader(name: &str, options: &Options) -> Result<Box<dyn ReaderFormat>, Vec<FormatProblem>> {
    match formats().find(|f| f.name == name).and_then(|f| f.reader) {
        Some(make) => make(options),
        None => Err(unknown("reader", name, reader_names())),
    }
}

/// The writer format with this name and options.
pub fn writer(name: &str, options: &Options) -> Result<Box<dyn WriterFormat>, Vec<FormatProblem>> {
    match formats().find(|f| f.name == name).and_then(|f| f.writer) {
        Some(make) => make(options),
        None => Err(unknown("writer", name, writer_names())),
    }
}
