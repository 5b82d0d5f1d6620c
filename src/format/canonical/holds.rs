//! `canonical-holds-csv`: holds, releases and cancellations, one row each (README.md lists the
//! columns). Rows are never merged: a hold and a later release of the same order stay two
//! documents, in file order.

use crate::format::canonical::layout::{Bad, Field, Layout, cell};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, HoldAction, OrderHold};

/// The canonical CSV layout of holds.
pub static CSV: Layout<OrderHold> = Layout {
    name: "canonical-holds-csv",
    kind: DocumentKind::OrderHold,
    keys: &[],
    head: &[
        Field {
            name: "order_id",
            required: true,
            get: |h| h.order_id.clone(),
            set: |h, v| {
                h.order_id = v.into();
                Ok(())
            },
        },
        Field {
            name: "action",
            required: true,
            get: |h| action_name(h.action).into(),
            set: |h, v| {
                h.action = action(v)?;
                Ok(())
            },
        },
        Field {
            name: "reason",
            required: false,
            get: |h| cell::opt(&h.reason),
            set: |h, v| {
                h.reason = Some(v.into());
                Ok(())
            },
        },
        Field {
            name: "requested_at",
            required: false,
            get: |h| cell::opt(&h.requested_at),
            set: |h, v| {
                h.requested_at = Some(cell::date(v)?);
                Ok(())
            },
        },
    ],
    lists: &[],
    wrap: Document::OrderHold,
    unwrap: |d| match d {
        Document::OrderHold(h) => Some(h),
        _ => None,
    },
};

/// The action's name in the canonical formats.
pub fn action_name(action: HoldAction) -> &'static str {
    match action {
        HoldAction::Hold => "hold",
        HoldAction::Release => "release",
        HoldAction::Cancel => "cancel",
    }
}

fn action(v: &str) -> Result<HoldAction, Bad> {
    match v.to_ascii_lowercase().as_str() {
        "hold" => Ok(HoldAction::Hold),
        "release" => Ok(HoldAction::Release),
        "cancel" => Ok(HoldAction::Cancel),
        _ => Err((
            "the action is not hold, release or cancel.",
            "write hold, release or cancel.",
        )),
    }
}

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
