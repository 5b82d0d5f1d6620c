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

use super::catalog::Format;
use super::{FormatProblem, Options, ReaderFormat, WriterFormat};
use layout::{CanonicalCsv, Layout};
use xml::{CanonicalXml, XmlKind};

/// The canonical formats.
pub(crate) static FORMATS: [Format; 14] = [
    Format {
        name: orders_csv::NAME,
        reader: Some(|o| Ok(Box::new(orders_csv::CanonicalOrdersCsv::reader(o)?))),
        writer: Some(|o| Ok(Box::new(orders_csv::CanonicalOrdersCsv::writer(o)?))),
    },
    Format {
        name: orders_xml::XML.name,
        reader: Some(|o| xml_reader(&orders_xml::XML, o)),
        writer: Some(|o| xml_writer(&orders_xml::XML, o)),
    },
    Format {
        name: holds::CSV.name,
        reader: Some(|o| layout_reader(&holds::CSV, o)),
        writer: Some(|o| layout_writer(&holds::CSV, o)),
    },
    Format {
        name: holds::XML.name,
        reader: Some(|o| xml_reader(&holds::XML, o)),
        writer: Some(|o| xml_writer(&holds::XML, o)),
    },
    Format {
        name: shipments::CSV.name,
        reader: Some(|o| layout_reader(&shipments::CSV, o)),
        writer: Some(|o| layout_writer(&shipments::CSV, o)),
    },
    Format {
        name: shipments::XML.name,
        reader: Some(|o| xml_reader(&shipments::XML, o)),
        writer: Some(|o| xml_writer(&shipments::XML, o)),
    },
    Format {
        name: inventory::CSV.name,
        reader: Some(|o| layout_reader(&inventory::CSV, o)),
        writer: Some(|o| layout_writer(&inventory::CSV, o)),
    },
    Format {
        name: inventory::XML.name,
        reader: Some(|o| xml_reader(&inventory::XML, o)),
        writer: Some(|o| xml_writer(&inventory::XML, o)),
    },
    Format {
        name: rmas::CSV.name,
        reader: Some(|o| layout_reader(&rmas::CSV, o)),
        writer: Some(|o| layout_writer(&rmas::CSV, o)),
    },
    Format {
        name: rmas::XML.name,
        reader: Some(|o| xml_reader(&rmas::XML, o)),
        writer: Some(|o| xml_writer(&rmas::XML, o)),
    },
    Format {
        name: returns::CSV.name,
        reader: Some(|o| layout_reader(&returns::CSV, o)),
        writer: Some(|o| layout_writer(&returns::CSV, o)),
    },
    Format {
        name: returns::XML.name,
        reader: Some(|o| xml_reader(&returns::XML, o)),
        writer: Some(|o| xml_writer(&returns::XML, o)),
    },
    Format {
        name: return_receipts_csv::REFUND_REQUESTS.name,
        reader: None,
        writer: Some(|o| Ok(Box::new(return_receipts_csv::REFUND_REQUESTS.writer(o)?))),
    },
    Format {
        name: return_receipts_csv::RESTOCK_ADJUSTMENTS.name,
        reader: None,
        writer: Some(|o| {
            Ok(Box::new(
                return_receipts_csv::RESTOCK_ADJUSTMENTS.writer(o)?,
            ))
        }),
    },
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
