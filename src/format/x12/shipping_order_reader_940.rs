//! `x12-940` as a reader: Warehouse Shipping Orders into orders and cancellations, the inverse of
//! the writer in `shipping_order_940.rs` (for a warehouse's side, tests and replays).
//!
//! `W05*F` (or `D`) is a cancellation of W05-02, its `NTE`s the reason; any other W05 is an order.
//! The ship-to is the first `N1` loop whose qualifier is in `ship_to_qualifiers` (`ST`, else the
//! consignee `CN`; N1-02 split at its last space into first and last name, `N2` the company,
//! `N3`, `N4`, `PER` phone and email); `G62*04` the order date; `NTE`s the notes,
//! joined by spaces; `W66` W66-10 the carrier and W66-05 the routing (the service, and the
//! shipping method's name); each `LX`/`W01` a line (the SKU in W01-05, else W01-07, else the UPC
//! in W01-03), with `G69` its description. Every order then gets the checks of any order reader.

use std::sync::Arc;

use serde::Deserialize;

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use super::reader::X12Reader;
use super::syntax::Segment;
use crate::format::shared::validate::{Field, check_order};
use crate::format::{FormatProblem, Options, parse_options};
use crate::model::{Address, Document, HoldAction, Order, OrderHold, OrderLine};

/// ST01 of the sets this reads.
pub const SET: &str = "940";

/// The reader's `reader_options`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReaderOptions {
    /// The N1-01 qualifiers that name the ship-to, in order of preference.
    ship_to_qualifiers: Vec<String>,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            ship_to_qualifiers: vec!["ST".into(), "CN".into()],
        }
    }
}

/// The `x12-940` reader, with a route's `reader_options` (`ship_to_qualifiers`).
pub fn reader(options: &Options) -> Result<X12Reader, Vec<FormatProblem>> {
    let options: ReaderOptions = parse_options(options, "reader_options")?;
    let qualifiers: Vec<String> = options
        .ship_to_qualifiers
        .iter()
        .map(|q| q.trim().to_ascii_uppercase())
        .filter(|q| !q.is_empty())
        .collect();
    if qualifiers.is_empty() {
        return Err(vec![FormatProblem {
            key: "reader_options.ship_to_qualifiers".into(),
            message: "must name at least one N1-01 qualifier, such as \"ST\"".into(),
        }]);
    }
    Ok(X12Reader::mapped(
        SET,
        Arc::new(move |set| orders(set, &qualifiers)),
    ))
}

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

/// The order or cancellation a 940 carries, its ship-to the first party loop qualified as one of
/// `qualifiers`.
fn orders(set: &TransactionSet, qualifiers: &[String]) -> SetItems {
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
    // Every party loop, by its qualifier; the ship-to is chosen once all are read.
    let mut parties: Vec<(String, Address)> = Vec::new();
    let mut in_party = false;
    let mut line_segments: Vec<&Segment> = Vec::new();
    let mut line_number = 0;
    for segment in &set.segments {
        let party = parties.last_mut().filter(|_| in_party).map(|(_, a)| a);
        match (segment.id(), party) {
            ("N1", _) => {
                in_party = true;
                let name = segment.element(2).trim();
                let (first, last) = name.rsplit_once(' ').unwrap_or(("", name));
                let address = Address {
                    first_name: first.trim().to_string(),
                    last_name: last.trim().to_string(),
                    ..Address::default()
                };
                parties.push((segment.element(1).trim().to_string(), address));
            }
            ("N2", Some(party)) => party.company = given(segment.element(1)),
            ("N3", Some(party)) => {
                party.address1 = segment.element(1).trim().to_string();
                party.address2 = given(segment.element(2));
            }
            ("N4", Some(party)) => {
                party.city = segment.element(1).trim().to_string();
                party.state = given(segment.element(2));
                party.postal_code = segment.element(3).trim().to_string();
                party.country = segment.element(4).trim().to_string();
            }
            ("PER", Some(party)) => {
                for pair in [3, 5, 7] {
                    let value = given(segment.element(pair + 1));
                    match segment.element(pair).trim() {
                        "TE" => party.phone = value,
                        "EM" => party.email = value,
                        _ => {}
                    }
                }
            }
            ("N9" | "G62" | "NTE" | "W66" | "LX", _) => {
                in_party = false;
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
            ("W01", _) => {
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
            ("G69", _) => {
                if let Some(line) = order.lines.last_mut() {
                    line.description = given(segment.element(1));
                }
            }
            _ => {}
        }
    }
    let ship_to = qualifiers
        .iter()
        .find_map(|q| parties.iter().position(|(p, _)| p == q));
    match ship_to {
        Some(i) => order.ship_to = parties.swap_remove(i).1,
        None if found.problems.is_empty() => {
            let loops: Vec<&str> = parties.iter().map(|(q, _)| q.as_str()).collect();
            let there = if loops.is_empty() {
                "it has no N1 loop at all".to_string()
            } else {
                format!("its N1 loops are {}", loops.join(", "))
            };
            found.whole(
                set.line,
                "N1-01",
                format!(
                    "the order has no ship-to: no N1 loop is qualified {} ({there}).",
                    qualifiers.join(" or ")
                ),
                "ask the sender for the ship-to in an N1*ST loop, or, when it is in another loop, name that qualifier in the route's reader_options.ship_to_qualifiers.".into(),
            );
            return vec![found.item(Document::Order(order))];
        }
        None => {}
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
