//! `canonical-orders-xml`: orders as `<orders>` holding `<order>` elements whose children are
//! the canonical model's fields (`ship_to` nested, lines as repeated `<line>` elements). The
//! same checks as every order reader apply (`validate.rs`).

use crate::format::canonical::xml::{Finding, XmlKind};
use crate::format::shared::validate::{Field, check_order};
use crate::model::{Document, DocumentKind, Order};

/// The canonical XML of orders.
pub static XML: XmlKind<Order> = XmlKind {
    name: "canonical-orders-xml",
    kind: DocumentKind::Order,
    root: "orders",
    element: "order",
    wrap: Document::Order,
    unwrap: |d| match d {
        Document::Order(o) => Some(o),
        _ => None,
    },
    check,
};

fn check(order: &mut Order) -> Vec<Finding> {
    check_order(order)
        .into_iter()
        .map(|f| {
            let path = match f.field {
                Field::OrderId => "order_id".to_string(),
                Field::ShipToName => "ship_to last_name".into(),
                Field::Address1 => "ship_to address1".into(),
                Field::City => "ship_to city".into(),
                Field::State => "ship_to state".into(),
                Field::PostalCode => "ship_to postal_code".into(),
                Field::Country => "ship_to country".into(),
                Field::ShippingMethod => "shipping_method".into(),
                Field::Lines => "line".into(),
                Field::Sku(i) => format!("line {} sku", i + 1),
                Field::Quantity(i) => format!("line {} quantity", i + 1),
            };
            (path, f.value, f.problem, f.fix)
        })
        .collect()
}
