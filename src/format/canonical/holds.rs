//! `canonical-holds-csv`: holds, releases and cancellations, one row each (README.md lists the
//! columns). Rows are never merged: a hold and a later release of the same order stay two
//! documents, in file order.

use crate::format::canonical::layout::{Layout, cell, column};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, HoldAction, OrderHold};

/// The actions' names in the canonical formats.
pub static ACTIONS: cell::Names<HoldAction> = cell::Names {
    names: &[
        (HoldAction::Hold, "hold"),
        (HoldAction::Release, "release"),
        (HoldAction::Cancel, "cancel"),
    ],
    unknown: (
        "the action is not hold, release or cancel.",
        "write hold, release or cancel.",
    ),
};

/// The canonical CSV layout of holds.
pub static CSV: Layout<OrderHold> = Layout {
    name: "canonical-holds-csv",
    kind: DocumentKind::OrderHold,
    keys: &[],
    head: &[
        column!(required "order_id" => order_id),
        column!(required "action" => action in ACTIONS),
        column!(optional "reason" => reason?),
        column!(optional "requested_at" => requested_at? by cell::date),
    ],
    lists: &[],
    wrap: Document::OrderHold,
    unwrap: |d| match d {
        Document::OrderHold(h) => Some(h),
        _ => None,
    },
};

/// The canonical XML of the same documents: `<holds>` holding `<hold>` elements whose
/// children are the CSV's columns (list items as repeated child elements).
pub static XML: XmlKind<OrderHold> = XmlKind {
    name: "canonical-holds-xml",
    kind: DocumentKind::OrderHold,
    root: "holds",
    element: "hold",
    wrap: CSV.wrap,
    unwrap: CSV.unwrap,
    check: |d| crate::format::canonical::layout::findings(&CSV, d),
};
