//! `x12-945`: the Warehouse Shipping Advice, one shipment confirmation per transaction set.
//!
//! W06-02 is the order id (the depositor order number the 940 sent), W06-03 the ship date (or
//! G62 qualifier 11), W06-04 the shipment id; W27-02 the carrier's SCAC and W27-03 its routing
//! (the service; the carrier itself when there is no SCAC). Every tracking number in the detail
//! is a package: `MAN` (any qualifier) under `LX`, and `N9` with qualifier `2I`, `CN`, `BM` or
//! `LV` (guides differ on where they put them). Each `W12` is a shipped line: the SKU from
//! W12-08 (or the UPC in W12-06), shipped W12-03, ordered W12-02. W03-01, when present, must be
//! the sum of the lines' shipped units.

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use crate::format::canonical::shipments;
use crate::model::{Document, Package, ShipmentConfirmation, ShippedLine};

/// ST01 of the sets this reads.
pub const SET: &str = "945";

/// N9 qualifiers that carry a package's tracking or label number.
const TRACKING_REFERENCES: [&str; 4] = ["2I", "CN", "BM", "LV"];

/// The shipment confirmation a 945 carries.
pub fn shipments(set: &TransactionSet) -> SetItems {
    let mut found = Findings::default();
    let mut shipment = ShipmentConfirmation::default();
    let mut saw_w06 = false;
    let mut in_detail = false;
    let mut total = None;
    for segment in &set.segments {
        match segment.id() {
            "W06" if !saw_w06 => {
                saw_w06 = true;
                shipment.order_id = segment.element(2).trim().to_string();
                found.id = given(&shipment.order_id);
                if shipment.order_id.is_empty() {
                    found.at(
                        segment,
                        "W06-02",
                        "the depositor order number (the order id) is empty.",
                        "the warehouse must send back the order id the 940 carried in W05-02.",
                    );
                }
                shipment.ship_date = found.date(segment, "W06-03", 3);
                shipment.shipment_id = given(segment.element(4)).or(given(segment.element(5)));
            }
            "G62" if segment.element(1) == "11" && shipment.ship_date.is_none() => {
                shipment.ship_date = found.date(segment, "G62-02", 2);
            }
            "W27" => {
                let (scac, routing) = (given(segment.element(2)), given(segment.element(3)));
                match scac {
                    Some(scac) => {
                        shipment.carrier = scac;
                        shipment.service = routing;
                    }
                    None => shipment.carrier = routing.unwrap_or_default(),
                }
            }
            "LX" => in_detail = true,
            "MAN" if in_detail => add_package(&mut shipment, segment.element(2)),
            "N9" if in_detail && TRACKING_REFERENCES.contains(&segment.element(1).trim()) => {
                add_package(&mut shipment, segment.element(2));
            }
            "W12" => {
                let sku = given(segment.element(8)).or(given(segment.element(6)));
                let shipped = found.count(segment, "W12-03", 3);
                let ordered = if segment.element(2).trim().is_empty() {
                    None
                } else {
                    found.count(segment, "W12-02", 2)
                };
                match sku {
                    Some(sku) => shipment.lines.push(ShippedLine {
                        sku,
                        quantity_ordered: ordered,
                        quantity_shipped: shipped.unwrap_or_default(),
                    }),
                    None => found.at(
                        segment,
                        "W12-08",
                        "the line has no product id (W12-07/W12-08) or UPC (W12-06).",
                        "the warehouse must name the SKU of every shipped line.",
                    ),
                }
            }
            "W03" => total = Some(segment),
            _ => {}
        }
    }
    if !saw_w06 {
        found.whole(
            set.line,
            "W06",
            format!("transaction set {} has no W06 segment.", set.control),
            "the warehouse must begin every 945 with W06, carrying the order id.".into(),
        );
    }
    if shipment.carrier.is_empty() {
        found.whole(
            set.line,
            "W27",
            format!("transaction set {} names no carrier.", set.control),
            "the warehouse must send W27 with the carrier's SCAC in W27-02.".into(),
        );
    }
    if let Some(w03) = total
        && found.problems.is_empty()
    {
        let sum: u64 = shipment
            .lines
            .iter()
            .map(|l| u64::from(l.quantity_shipped))
            .sum();
        if found
            .count(w03, "W03-01", 1)
            .is_some_and(|n| u64::from(n) != sum)
        {
            found.at(
                w03,
                "W03-01",
                &format!(
                    "the total says a different number of units than the lines, which ship {sum}."
                ),
                "the warehouse must send W03-01 as the sum of the W12-03 quantities.",
            );
        }
    }
    if found.problems.is_empty() {
        found.checks(set.line, (shipments::XML.check)(&mut shipment));
    }
    vec![found.item(Document::ShipmentConfirmation(shipment))]
}

/// Adds a package for `tracking` unless it is blank or already there.
fn add_package(shipment: &mut ShipmentConfirmation, tracking: &str) {
    let tracking = tracking.trim();
    if !tracking.is_empty()
        && !shipment
            .packages
            .iter()
            .any(|p| p.tracking_number == tracking)
    {
        shipment.packages.push(Package {
            tracking_number: tracking.to_string(),
            weight: None,
        });
    }
}
