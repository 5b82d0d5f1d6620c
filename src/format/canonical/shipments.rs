//! `canonical-shipments-csv`: shipment confirmations. A shipment's rows share `order_id` and
//! `shipment_id`; row N carries its Nth package (tracking number) and its Nth shipped line,
//! either of which may be empty when the shipment has fewer (README.md lists the columns).

use crate::format::canonical::layout::{Field, ItemField, Layout, List, cell};
use crate::format::canonical::xml::XmlKind;
use crate::model::{Document, DocumentKind, Package, ShipmentConfirmation, ShippedLine};

/// The canonical CSV layout of shipment confirmations.
pub static CSV: Layout<ShipmentConfirmation> = Layout {
    name: "canonical-shipments-csv",
    kind: DocumentKind::ShipmentConfirmation,
    keys: &["order_id", "shipment_id"],
    head: &[
        Field {
            name: "order_id",
            required: true,
            get: |s| s.order_id.clone(),
            set: |s, v| {
                s.order_id = v.into();
                Ok(())
            },
        },
        Field {
            name: "shipment_id",
            required: false,
            get: |s| cell::opt(&s.shipment_id),
            set: |s, v| {
                s.shipment_id = Some(v.into());
                Ok(())
            },
        },
        Field {
            name: "ship_date",
            required: false,
            get: |s| cell::opt(&s.ship_date),
            set: |s, v| {
                s.ship_date = Some(cell::date(v)?);
                Ok(())
            },
        },
        Field {
            name: "carrier",
            required: true,
            get: |s| s.carrier.clone(),
            set: |s, v| {
                s.carrier = v.into();
                Ok(())
            },
        },
        Field {
            name: "service",
            required: false,
            get: |s| cell::opt(&s.service),
            set: |s, v| {
                s.service = Some(v.into());
                Ok(())
            },
        },
    ],
    lists: &[
        List {
            noun: "package",
            min: 0,
            len: |s| s.packages.len(),
            push: |s| s.packages.push(Package::default()),
            fields: &[
                ItemField {
                    name: "tracking_number",
                    required: true,
                    get: |s, i| s.packages[i].tracking_number.clone(),
                    set: |s, i, v| {
                        s.packages[i].tracking_number = v.into();
                        Ok(())
                    },
                },
                ItemField {
                    name: "weight",
                    required: false,
                    get: |s, i| cell::opt(&s.packages[i].weight),
                    set: |s, i, v| {
                        s.packages[i].weight = Some(v.into());
                        Ok(())
                    },
                },
            ],
        },
        List {
            noun: "line",
            min: 1,
            len: |s| s.lines.len(),
            push: |s| s.lines.push(ShippedLine::default()),
            fields: &[
                ItemField {
                    name: "sku",
                    required: true,
                    get: |s, i| s.lines[i].sku.clone(),
                    set: |s, i, v| {
                        s.lines[i].sku = v.into();
                        Ok(())
                    },
                },
                ItemField {
                    name: "quantity_shipped",
                    required: true,
                    get: |s, i| s.lines[i].quantity_shipped.to_string(),
                    set: |s, i, v| {
                        s.lines[i].quantity_shipped = cell::count(v)?;
                        Ok(())
                    },
                },
                ItemField {
                    name: "quantity_ordered",
                    required: false,
                    get: |s, i| {
                        s.lines[i]
                            .quantity_ordered
                            .map_or_else(String::new, |q| q.to_string())
                    },
                    set: |s, i, v| {
                        s.lines[i].quantity_ordered = Some(cell::count(v)?);
                        Ok(())
                    },
                },
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
