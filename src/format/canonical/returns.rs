//! `canonical-returns-csv`: what the warehouse received back, one row per returned SKU; rows of
//! a receipt share `rma_id` (README.md lists the columns).

use crate::format::canonical::layout::{Layout, List, cell, column};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, ItemCondition, ReturnLine, ReturnReceipt};

/// The conditions' names in the canonical formats.
pub static CONDITIONS: cell::Names<ItemCondition> = cell::Names {
    names: &[
        (ItemCondition::Resellable, "resellable"),
        (ItemCondition::Damaged, "damaged"),
        (ItemCondition::Other, "other"),
    ],
    unknown: (
        "the condition is not resellable, damaged or other.",
        "write resellable, damaged or other.",
    ),
};

/// The canonical CSV layout of return receipts.
pub static CSV: Layout<ReturnReceipt> = Layout {
    name: "canonical-returns-csv",
    kind: DocumentKind::ReturnReceipt,
    keys: &["rma_id"],
    head: &[
        column!(required "rma_id" => rma_id),
        column!(required "order_id" => order_id),
        column!(optional "received_date" => received_date? by cell::date),
    ],
    lists: &[List {
        noun: "line",
        min: 1,
        len: |r| r.lines.len(),
        push: |r| r.lines.push(ReturnLine::default()),
        fields: &[
            column!(required "sku" => lines.sku),
            column!(optional "quantity_restocked" => lines.quantity_restocked by cell::count),
            column!(optional "quantity_damaged" => lines.quantity_damaged by cell::count),
            column!(optional "condition" => lines.condition in CONDITIONS),
        ],
    }],
    wrap: Document::ReturnReceipt,
    unwrap: |d| match d {
        Document::ReturnReceipt(r) => Some(r),
        _ => None,
    },
};

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
