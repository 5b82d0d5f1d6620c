//! `canonical-rmas-csv`: return authorizations, one row per authorised line; rows of an RMA
//! share `rma_id` (README.md lists the columns).

use crate::format::canonical::layout::{Field, ItemField, Layout, List, cell};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, RmaAuthorization, RmaLine};

/// The canonical CSV layout of RMA authorizations.
pub static CSV: Layout<RmaAuthorization> = Layout {
    name: "canonical-rmas-csv",
    kind: DocumentKind::RmaAuthorization,
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
            name: "customer_name",
            required: false,
            get: |r| cell::opt(&r.customer_name),
            set: |r, v| {
                r.customer_name = Some(v.into());
                Ok(())
            },
        },
    ],
    lists: &[List {
        noun: "line",
        min: 1,
        len: |r| r.lines.len(),
        push: |r| r.lines.push(RmaLine::default()),
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
                name: "quantity",
                required: true,
                get: |r, i| r.lines[i].quantity.to_string(),
                set: |r, i, v| {
                    r.lines[i].quantity = cell::positive(v)?;
                    Ok(())
                },
            },
            ItemField {
                name: "reason",
                required: false,
                get: |r, i| cell::opt(&r.lines[i].reason),
                set: |r, i, v| {
                    r.lines[i].reason = Some(v.into());
                    Ok(())
                },
            },
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
