//! `canonical-returns-csv`: what the warehouse received back, one row per returned SKU; rows of
//! a receipt share `rma_id` (README.md lists the columns).

use crate::format::canonical::layout::{Bad, Field, ItemField, Layout, List, cell};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, ItemCondition, ReturnLine, ReturnReceipt};

/// The canonical CSV layout of return receipts.
pub static CSV: Layout<ReturnReceipt> = Layout {
    name: "canonical-returns-csv",
    kind: DocumentKind::ReturnReceipt,
    keys: &["rma_id"],
    head: &[
        Field {
            name: "rma_id",
            required: true,
            get: |r| r.rma_id.clone(),
            set: |r, v| {
                r.rma_id = v.into();
                Ok(())
            },
        },
        Field {
            name: "order_id",
            required: true,
            get: |r| r.order_id.clone(),
            set: |r, v| {
                r.order_id = v.into();
                Ok(())
            },
        },
        Field {
            name: "received_date",
            required: false,
            get: |r| cell::opt(&r.received_date),
            set: |r, v| {
                r.received_date = Some(cell::date(v)?);
                Ok(())
            },
        },
    ],
    lists: &[List {
        noun: "line",
        min: 1,
        len: |r| r.lines.len(),
        push: |r| r.lines.push(ReturnLine::default()),
        fields: &[
            ItemField {
                name: "sku",
                required: true,
                get: |r, i| r.lines[i].sku.clone(),
                set: |r, i, v| {
                    r.lines[i].sku = v.into();
                    Ok(())
                },
            },
            ItemField {
                name: "quantity_restocked",
                required: false,
                get: |r, i| r.lines[i].quantity_restocked.to_string(),
                set: |r, i, v| {
                    r.lines[i].quantity_restocked = cell::count(v)?;
                    Ok(())
                },
            },
            ItemField {
                name: "quantity_damaged",
                required: false,
                get: |r, i| r.lines[i].quantity_damaged.to_string(),
                set: |r, i, v| {
                    r.lines[i].quantity_damaged = cell::count(v)?;
                    Ok(())
                },
            },
            ItemField {
                name: "condition",
                required: false,
                get: |r, i| condition_name(r.lines[i].condition).into(),
                set: |r, i, v| {
                    r.lines[i].condition = condition(v)?;
                    Ok(())
                },
            },
        ],
    }],
    wrap: Document::ReturnReceipt,
    unwrap: |d| match d {
        Document::ReturnReceipt(r) => Some(r),
        _ => None,
    },
};

/// The condition's name in the canonical formats.
pub fn condition_name(condition: ItemCondition) -> &'static str {
    match condition {
        ItemCondition::Resellable => "resellable",
        ItemCondition::Damaged => "damaged",
        ItemCondition::Other => "other",
    }
}

fn condition(v: &str) -> Result<ItemCondition, Bad> {
    match v.to_ascii_lowercase().as_str() {
        "resellable" => Ok(ItemCondition::Resellable),
        "damaged" => Ok(ItemCondition::Damaged),
        "other" => Ok(ItemCondition::Other),
        _ => Err((
            "the condition is not resellable, damaged or other.",
            "write resellable, damaged or other.",
        )),
    }
}

/// The canonical XML of the same documents: `<returns>` holding `<return>` elements whose
/// children are the CSV's columns (list items as repeated child elements).
pub static XML: XmlKind<ReturnReceipt> = XmlKind {
    name: "canonical-returns-xml",
    kind: DocumentKind::ReturnReceipt,
    root: "returns",
    element: "return",
    wrap: CSV.wrap,
    unwrap: CSV.unwrap,
    check: |d| crate::format::canonical::layout::findings(&CSV, d),
};
