//! `canonical-rmas-csv`: return authorizations, one row per authorised line; rows of an RMA
//! share `rma_id` (README.md lists the columns).

use crate::format::canonical::layout::{Layout, List, cell, column};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, RmaAuthorization, RmaLine};

/// The canonical CSV layout of RMA authorizations.
pub static CSV: Layout<RmaAuthorization> = Layout {
    name: "canonical-rmas-csv",
    kind: DocumentKind::RmaAuthorization,
    keys: &["rma_id"],
    head: &[
        column!(required "rma_id" => rma_id),
        column!(required "order_id" => order_id),
        column!(optional "customer_name" => customer_name?),
    ],
    lists: &[List {
        noun: "line",
        min: 1,
        len: |r| r.lines.len(),
        push: |r| r.lines.push(RmaLine::default()),
        fields: &[
            column!(required "sku" => lines.sku),
            column!(required "quantity" => lines.quantity by cell::positive),
            column!(optional "reason" => lines.reason?),
        ],
    }],
    wrap: Document::RmaAuthorization,
    unwrap: |d| match d {
        Document::RmaAuthorization(r) => Some(r),
        _ => None,
    },
};

/// The canonical XML of the same documents: `<rmas>` holding `<rma>` elements whose
/// children are the CSV's columns (list items as repeated child elements).
pub static XML: XmlKind<RmaAuthorization> = XmlKind {
    name: "canonical-rmas-xml",
    kind: DocumentKind::RmaAuthorization,
    root: "rmas",
    element: "rma",
    wrap: CSV.wrap,
    unwrap: CSV.unwrap,
    check: |d| crate::format::canonical::layout::findings(&CSV, d),
};
