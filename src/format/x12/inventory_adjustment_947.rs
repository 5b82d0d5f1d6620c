//! `x12-947`: the Warehouse Inventory Adjustment Advice, read as a return receipt: the units a
//! warehouse restocked or wrote off as damaged after a return.
//!
//! The RMA is `N9*RZ` (returned goods authorization), else W15-02 (the adjustment number); the
//! order is `N9*CO`; the date W15-01. Each `W19` adjusts one SKU (W19-06, else W19-08, else the
//! UPC in W19-04) by W19-02 units: a reason of `AU` (damaged in facility), `AV` (damaged in
//! transit), `07` (dumped or destroyed) or `52` (rework of damaged product) counts them damaged,
//! any other reason restocked. Consecutive `W19`s of one SKU make one line; a negative quantity
//! counts by its size.

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use crate::format::canonical::returns;
use crate::model::{Document, ItemCondition, ReturnLine, ReturnReceipt};

/// ST01 of the sets this reads.
pub const SET: &str = "947";

/// Adjustment reasons that write units off as damaged.
const DAMAGED: [&str; 4] = ["AU", "AV", "07", "52"];

/// The return receipt a 947 carries.
pub fn receipts(set: &TransactionSet) -> SetItems {
    let mut found = Findings::naming("RMA");
    let mut receipt = ReturnReceipt::default();
    let mut adjustment_number = None;
    let mut rma = None;
    for segment in &set.segments {
        match segment.id() {
            "W15" => {
                receipt.received_date = found.date(segment, "W15-01", 1);
                adjustment_number = given(segment.element(2));
            }
            "N9" => match segment.element(1).trim() {
                "RZ" => rma = Some(segment.element(2).trim().to_string()),
                "CO" => receipt.order_id = segment.element(2).trim().to_string(),
                _ => {}
            },
            "W19" => {
                let sku = [6, 8, 4]
                    .iter()
                    .map(|i| segment.element(*i).trim())
                    .find(|s| !s.is_empty())
                    .unwrap_or_default()
                    .to_string();
                // A negative quantity counts by its size.
                let Some(quantity) = found.signed(segment, "W19-02", 2).map(i64::unsigned_abs)
                else {
                    continue;
                };
                let Ok(quantity) = u32::try_from(quantity) else {
                    found.at(
                        segment,
                        "W19-02",
                        "the quantity is larger than any stock.",
                        "check the quantity the warehouse sent.",
                    );
                    continue;
                };
                let damaged = DAMAGED.contains(&segment.element(1).trim());
                if receipt.lines.last().is_none_or(|line| line.sku != sku) {
                    receipt.lines.push(ReturnLine {
                        sku,
                        ..ReturnLine::default()
                    });
                }
                let Some(line) = receipt.lines.last_mut() else {
                    continue;
                };
                if damaged {
                    line.quantity_damaged += quantity;
                    line.condition = ItemCondition::Damaged;
                } else {
                    line.quantity_restocked += quantity;
                }
            }
            _ => {}
        }
    }
    receipt.rma_id = rma.or(adjustment_number).unwrap_or_default();
    found.id = given(&receipt.rma_id);
    if found.problems.is_empty() {
        let findings = (returns::XML.check)(&mut receipt)
            .into_iter()
            .map(|(path, value, problem, fix)| {
                let fix = format!(
                    "{fix} (a 947 names the RMA in N9*RZ or W15-02 and the order in N9*CO)"
                );
                (path, value, problem, fix)
            })
            .collect();
        found.checks(set.line, findings);
    }
    vec![found.item(Document::ReturnReceipt(receipt))]
}
