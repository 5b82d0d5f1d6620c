//! `x12-940` as a reader: Warehouse Shipping Orders into orders and cancellations, the inverse of
//! the writer in `shipping_order_940.rs` (for a warehouse's side, tests and replays).
//!
//! `W05*F` (or `D`) is a cancellation of W05-02, its `NTE`s the reason; any other W05 is an order.
//! The ship-to is the `N1*ST` loop (N1-02 split at its last space into first and last name, `N2`
//! the company, `N3`, `N4`, `PER` phone and email); `G62*04` the order date; `NTE`s the notes,
//! joined by spaces; `W66` W66-10 the carrier and W66-05 the routing (the service, and the
//! shipping method's name); each `LX`/`W01` a line (the SKU in W01-05, else W01-07, else the UPC
//! in W01-03), with `G69` its description. Every order then gets the checks of any order reader.

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use super::syntax::Segment;
use crate::format::shared::validate::{Field, check_order};
use crate::model::{Document, HoldAction, Order, OrderHold, OrderLine};

/// ST01 of the sets this reads.
pub const SET: &str = "940";

/// The element each checked order field is read from, for reports.
fn element_of(field: Field) -> &'static str {
    match field {
        Field::OrderId => "W05-02",
        Field::ShipToName => "N1-02",
        Field::Address1 => "N3-01",
        Field::City => "N4-01",
        Field::State => "N4-02",
        Field::PostalCode => "N4-03",
        Field::Country => "N4-04",
        Field::ShippingMethod => "W66-05",
        Field::Lines | Field::Sku(_) => "W01-05",
        Field::Quantity(_) => "W01-01",
    }
}

/// The order or cancellation a 940 carries.
pub fn orders(set: &TransactionSet) -> SetItems {
    let mut found = Findings::default();
    let Some(w05) = set.segments.first().filter(|s| s.id() == "W05") else {
        found.whole(
            set.line,
            "W05",
            format!("transaction set {} does not begin with W05.", set.control),
            "a 940 must begin with W05, carrying the order id.".into(),
        );
        return vec![found.item(Document::Order(Order::default()))];
    };
    let order_id = w05.element(2).trim().to_string();
    found.id = given(&order_id);
    let notes: Vec<&str> = set
        .segments
        .iter()
        .filter(|s| s.id() == "NTE" && !s.element(2).trim().is_empty())
        .map(|s| s.element(2).trim())
        .collect();
    let notes = (!notes.is_empty()).then(|| notes.join(" "));
    if matches!(w05.element(1).trim(), "F" | "D") {
        let hold = OrderHold {
            order_id,
            action: HoldAction::Cancel,
            reason: notes,
            requested_at: None,
        };
        if hold.order_id.is_empty() {
            found.at(
                w05,
                "W05-02",
                "the order id is empty.",
                "the 940 must name the order to cancel in W05-02.",
            );
        }
        return vec![found.item(Document::OrderHold(hold))];
    }
    let mut order = Order {
        order_id,
        notes,
        ..Order::default()
    };
    let mut in_ship_to = false;
    let mut line_segments: Vec<&Segment> = Vec::new();
    let mut line_number = 0;
    for segment in &set.segments {
        match segment.id() {
            "N1" => {
                in_ship_to = segment.element(1).trim() == "ST";
                if in_ship_to {
                    let name = segment.element(2).trim();
                    let (first, last) = name.rsplit_once(' ').unwrap_or(("", name));
                    order.ship_to.first_name = first.trim().to_string();
                    order.ship_to.last_name = last.trim().to_string();
                }
            }
            "N2" if in_ship_to => order.ship_to.company = given(segment.element(1)),
            "N3" if in_ship_to => {
                order.ship_to.address1 = segment.element(1).trim().to_string();
                order.ship_to.address2 = given(segment.element(2));
            }
            "N4" if in_ship_to => {
                order.ship_to.city = segment.element(1).trim().to_string();
                order.ship_to.state = given(segment.element(2));
                order.ship_to.postal_code = segment.element(3).trim().to_string();
                order.ship_to.country = segment.element(4).trim().to_string();
            }
            "PER" if in_ship_to => {
                for pair in [3, 5, 7] {
                    let value = given(segment.element(pair + 1));
                    match segment.element(pair).trim() {
                        "TE" => order.ship_to.phone = value,
                        "EM" => order.ship_to.email = value,
                        _ => {}
                    }
                }
            }
            "N9" | "G62" | "NTE" | "W66" | "LX" => {
                in_ship_to = false;
                match segment.id() {
                    "G62" if segment.element(1) == "04" => {
                        order.order_date = found.date(segment, "G62-02", 2);
                    }
                    "W66" => {
                        let routing = given(segment.element(5));
                        order.carrier = given(segment.element(10));
                        order.service = routing.clone().filter(|_| order.carrier.is_some());
                        order.shipping_method = routing
                            .or_else(|| order.carrier.clone())
                            .unwrap_or_default();
                    }
                    "LX" => {
                        line_number = segment.element(1).trim().parse().unwrap_or(line_number + 1);
                    }
                    _ => {}
                }
            }
            "W01" => {
                line_segments.push(segment);
                let sku = given(segment.element(5))
                    .or(given(segment.element(7)))
                    .or(given(segment.element(3)))
                    .unwrap_or_default();
                let quantity = found.count(segment, "W01-01", 1).unwrap_or_default();
                let number = if line_number == 0 {
                    order.lines.len() as u32 + 1
                } else {
                    line_number
                };
                order.lines.push(OrderLine {
                    line_number: number,
                    sku,
                    quantity,
                    ..OrderLine::default()
                });
            }
            "G69" => {
                if let Some(line) = order.lines.last_mut() {
                    line.description = given(segment.element(1));
                }
            }
            _ => {}
        }
    }
    if found.problems.is_empty() {
        for f in check_order(&mut order) {
            let at = match f.field {
                Field::Sku(i) | Field::Quantity(i) => line_segments.get(i).copied(),
                _ => None,
            };
            match at {
                Some(segment) => found.at(segment, element_of(f.field), &f.problem, &f.fix),
                None => found.whole(set.line, element_of(f.field), f.problem, f.fix),
            }
        }
    }
    vec![found.item(Document::Order(order))]
}
