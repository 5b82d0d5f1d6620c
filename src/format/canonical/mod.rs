//! cartferry's own layouts: the six document kinds in CSV and XML, and return receipts as the
//! cart's refund and restock work lists. Orders have their own CSV file; the five other kinds are
//! each one [`Layout`](layout::Layout) (`holds.rs`, `shipments.rs`, …) that drives the generic
//! CSV reader and writer of `layout.rs` and the checks of the XML twin; the XML formats are one
//! generic streaming reader and writer over the model's serde derives (`xml.rs`).

pub(crate) mod holds;
pub(crate) mod inventory;
pub mod layout;
pub(crate) mod orders_csv;
pub(crate) mod orders_xml;
pub(crate) mod return_receipts_csv;
pub(crate) mod returns;
pub(crate) mod rmas;
pub(crate) mod shipments;
pub mod xml;

use super::family::Format;
use super::{FormatProblem, Options, ReaderFormat, WriterFormat};
use layout::{CanonicalCsv, Layout};
use xml::{CanonicalXml, XmlKind};

/// The format `CSV` of module `$kind`, a [`Layout`] read and written by [`CanonicalCsv`].
macro_rules! csv {
    ($kind:ident) => {
        Format::both(
            $kind::CSV.name,
            |o| layout_reader(&$kind::CSV, o),
            |o| layout_writer(&$kind::CSV, o),
        )
    };
}

/// The format `XML` of module `$kind`, an [`XmlKind`] read and written by [`CanonicalXml`].
macro_rules! xml {
    ($kind:ident) => {
        Format::both(
            $kind::XML.name,
            |o| xml_reader(&$kind::XML, o),
            |o| xml_writer(&$kind::XML, o),
        )
    };
}

/// The canonical formats.
pub(crate) static FORMATS: [Format; 14] = [
    Format::both(
        orders_csv::NAME,
        |o| Ok(Box::new(orders_csv::CanonicalOrdersCsv::reader(o)?)),
        |o| Ok(Box::new(orders_csv::CanonicalOrdersCsv::writer(o)?)),
    ),
    xml!(orders_xml),
    csv!(holds),
    xml!(holds),
    csv!(shipments),
    xml!(shipments),
    csv!(inventory),
    xml!(inventory),
    csv!(rmas),
    xml!(rmas),
    csv!(returns),
    xml!(returns),
    Format::writes(return_receipts_csv::REFUND_REQUESTS.name, |o| {
        Ok(Box::new(return_receipts_csv::REFUND_REQUESTS.writer(o)?))
    }),
    Format::writes(return_receipts_csv::RESTOCK_ADJUSTMENTS.name, |o| {
        Ok(Box::new(
            return_receipts_csv::RESTOCK_ADJUSTMENTS.writer(o)?,
        ))
    }),
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
