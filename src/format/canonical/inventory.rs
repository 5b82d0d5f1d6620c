//! `canonical-inventory-csv`: stock per SKU and location, one row each (README.md lists the
//! columns).

use crate::format::canonical::layout::{Field, Layout, cell};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, InventoryRecord};

/// The canonical CSV layout of inventory records.
pub static CSV: Layout<InventoryRecord> = Layout {
    name: "canonical-inventory-csv",
    kind: DocumentKind::InventoryRecord,
    keys: &[],
    head: &[
        Field {
            name: "sku",
            required: true,
            get: |r| r.sku.clone(),
            set: |r, v| {
                r.sku = v.into();
                Ok(())
            },
        },
        Field {
            name: "location",
            required: false,
            get: |r| cell::opt(&r.location),
            set: |r, v| {
                r.location = Some(v.into());
                Ok(())
            },
        },
        Field {
            name: "on_hand",
            required: true,
            get: |r| r.on_hand.to_string(),
            set: |r, v| {
                r.on_hand = cell::integer(v)?;
                Ok(())
            },
        },
        Field {
            name: "available",
            required: false,
            get: |r| r.available.map_or_else(String::new, |a| a.to_string()),
            set: |r, v| {
                r.available = Some(cell::integer(v)?);
                Ok(())
            },
        },
        Field {
            name: "as_of",
            required: false,
            get: |r| cell::opt(&r.as_of),
            set: |r, v| {
                r.as_of = Some(cell::date(v)?);
                Ok(())
            },
        },
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
