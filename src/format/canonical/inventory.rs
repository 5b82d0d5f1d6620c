//! `canonical-inventory-csv`: stock per SKU and location, one row each (README.md lists the
//! columns).

use crate::format::canonical::layout::{Layout, cell, column};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, InventoryRecord};

/// The canonical CSV layout of inventory records.
pub static CSV: Layout<InventoryRecord> = Layout {
    name: "canonical-inventory-csv",
    kind: DocumentKind::InventoryRecord,
    keys: &[],
    head: &[
        column!(required "sku" => sku),
        column!(optional "location" => location?),
        column!(required "on_hand" => on_hand by cell::integer),
        column!(optional "available" => available? by cell::integer),
        column!(optional "as_of" => as_of? by cell::date),
    ],
    lists: &[],
    wrap: Document::InventoryRecord,
    unwrap: |d| match d {
        Document::InventoryRecord(r) => Some(r),
        _ => None,
    },
};

/// The canonical XML of the same documents: `<inventory>` holding `<record>` elements whose
/// children are the CSV's columns (list items as repeated child elements).
pub static XML: XmlKind<InventoryRecord> = XmlKind {
    name: "canonical-inventory-xml",
    kind: DocumentKind::InventoryRecord,
    root: "inventory",
    element: "record",
    wrap: CSV.wrap,
    unwrap: CSV.unwrap,
    check: |d| crate::format::canonical::layout::findings(&CSV, d),
};
