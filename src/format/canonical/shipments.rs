//! `canonical-shipments-csv`: shipment confirmations. A shipment's rows share `order_id` and
//! `shipment_id`; row N carries its Nth package (tracking number) and its Nth shipped line,
//! either of which may be empty when the shipment has fewer (README.md lists the columns).

use crate::format::canonical::layout::{Layout, List, cell, column};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, Package, ShipmentConfirmation, ShippedLine};

/// The canonical CSV layout of shipment confirmations.
pub static CSV: Layout<ShipmentConfirmation> = Layout {
    name: "canonical-shipments-csv",
    kind: DocumentKind::ShipmentConfirmation,
    keys: &["order_id", "shipment_id"],
    head: &[
        column!(required "order_id" => order_id),
        column!(optional "shipment_id" => shipment_id?),
        column!(optional "ship_date" => ship_date? by cell::date),
        column!(required "carrier" => carrier),
        column!(optional "service" => service?),
    ],
    lists: &[
        List {
            noun: "package",
            min: 0,
            len: |s| s.packages.len(),
            push: |s| s.packages.push(Package::default()),
            fields: &[
                column!(required "tracking_number" => packages.tracking_number),
                column!(optional "weight" => packages.weight?),
            ],
        },
        List {
            noun: "line",
            min: 1,
            len: |s| s.lines.len(),
            push: |s| s.lines.push(ShippedLine::default()),
            fields: &[
                column!(required "sku" => lines.sku),
                column!(required "quantity_shipped" => lines.quantity_shipped by cell::count),
                column!(optional "quantity_ordered" => lines.quantity_ordered? by cell::count),
            ],
        },
    ],
    wrap: Document::ShipmentConfirmation,
    unwrap: |d| match d {
        Document::ShipmentConfirmation(s) => Some(s),
        _ => None,
    },
};

/// The canonical XML of the same documents: `<shipments>` holding `<shipment>` elements whose
/// children are the CSV's columns (list items as repeated child elements).
pub static XML: XmlKind<ShipmentConfirmation> = XmlKind {
    name: "canonical-shipments-xml",
    kind: DocumentKind::ShipmentConfirmation,
    root: "shipments",
    element: "shipment",
    wrap: CSV.wrap,
    unwrap: CSV.unwrap,
    check: |d| crate::format::canonical::layout::findings(&CSV, d),
};
