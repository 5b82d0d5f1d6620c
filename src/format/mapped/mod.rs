//! Mapped formats: any cart's or warehouse's CSV or XML, as any of the six kinds, through a
//! mapping in the route's `reader_options` (`mapping.rs`). Each input is turned into canonical
//! rows (`mapped_csv.rs`, `mapped_xml.rs`) and read by the kind's canonical CSV reader, so a
//! mapping gets every canonical check and reports name the merchant's own columns.

pub(crate) mod mapped_csv;
pub(crate) mod mapped_xml;
pub mod mapping;

use super::family::Format;

/// The mapped formats.
pub(crate) static FORMATS: [Format; 2] = [
    Format::reads(mapped_csv::NAME, |o| {
        Ok(Box::new(mapped_csv::MappedCsv::reader(o)?))
    }),
    Format::reads(mapped_xml::NAME, |o| {
        Ok(Box::new(mapped_xml::MappedXml::reader(o)?))
    }),
];
