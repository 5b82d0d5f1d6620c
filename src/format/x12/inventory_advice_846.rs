//! `x12-846`: the Inventory Inquiry/Advice, one inventory record per `LIN`.
//!
//! The SKU is the LIN's first product id qualified `SK`, `VN`, `BP`, `IN` or `MG` (else its first
//! id); `QTY` qualifier `17` is on hand and `33` available (an 846 with only `33` reports that
//! number as both, as many warehouses send only what can be sold). The location is the header's
//! `N1*WH` (its id in N1-04, else its name); the date is `DTM*405` or BIA-04. CTT-01, when
//! present, must count the LINs.

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use super::syntax::Segment;
use crate::model::{Document, InventoryRecord};

/// ST01 of the sets this reads.
pub const SET: &str = "846";

/// LIN product id qualifiers that name the SKU, in order of preference.
const SKU_QUALIFIERS: [&str; 5] = ["SK", "VN", "BP", "IN", "MG"];

/// A record being read from its LIN onwards.
struct Reading {
    record: InventoryRecord,
    found: Findings,
    on_hand: Option<i64>,
    /// The LIN's line.
    line: u64,
}

/// The inventory records an 846 carries.
pub fn inventory(set: &TransactionSet) -> SetItems {
    let mut items = Vec::new();
    let mut location = None;
    let mut as_of = None;
    let mut header = Findings::default();
    let mut current: Option<Reading> = None;
    let mut lins = 0u64;
    let finish = |reading: Reading, items: &mut SetItems| {
        let Reading {
            mut record,
            mut found,
            on_hand,
            line,
        } = reading;
        if on_hand.is_none() && record.available.is_none() && found.problems.is_empty() {
            found.whole(
                line,
                "QTY",
                "the item has no quantity on hand (QTY*17) or available (QTY*33).".into(),
                "the warehouse must send a QTY with qualifier 17 or 33 after every LIN.".into(),
            );
        }
        record.on_hand = on_hand.or(record.available).unwrap_or_default();
        items.push(found.item(Document::InventoryRecord(record)));
    };
    for segment in &set.segments {
        match segment.id() {
            "BIA" => as_of = header.date(segment, "BIA-04", 4).or(as_of),
            "DTM" if segment.element(1) == "405" => as_of = header.date(segment, "DTM-02", 2),
            "N1" if segment.element(1) == "WH" && current.is_none() => {
                location = given(segment.element(4)).or(given(segment.element(2)));
            }
            "LIN" => {
                lins += 1;
                if let Some(reading) = current.take() {
                    finish(reading, &mut items);
                }
                current = Some(start(segment, location.clone(), as_of.clone()));
            }
            "QTY" => {
                if let Some(reading) = current.as_mut() {
                    let qualifier = segment.element(1).trim();
                    if matches!(qualifier, "17" | "33") {
                        let quantity = reading.found.signed(segment, "QTY-02", 2);
                        match qualifier {
                            "17" => reading.on_hand = quantity,
                            _ => reading.record.available = quantity,
                        }
                    }
                }
            }
            "CTT" => {
                if let Some(reading) = current.take() {
                    finish(reading, &mut items);
                }
                if !super::envelope::same(segment.element(1), &lins.to_string()) {
                    header.at(
                        segment,
                        "CTT-01",
                        &format!("the total says a different number of items than the {lins} LIN segments."),
                        "the warehouse must count the LIN segments in CTT-01.",
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(reading) = current.take() {
        finish(reading, &mut items);
    }
    if lins == 0 {
        header.whole(
            set.line,
            "LIN",
            format!("transaction set {} has no LIN item.", set.control),
            "the warehouse must send one LIN with its QTY per SKU.".into(),
        );
    }
    if !header.problems.is_empty() {
        // A header problem (a bad date, a wrong count) spoils every record of the set.
        return vec![crate::format::Item::Rejected(header.problems, None)];
    }
    items
}

/// A record for the LIN `segment`.
fn start(segment: &Segment, location: Option<String>, as_of: Option<String>) -> Reading {
    let pairs: Vec<(&str, &str)> = (2..segment.len().max(2))
        .step_by(2)
        .map(|i| (segment.element(i).trim(), segment.element(i + 1).trim()))
        .filter(|(_, id)| !id.is_empty())
        .collect();
    let sku = SKU_QUALIFIERS
        .iter()
        .find_map(|q| pairs.iter().find(|(qualifier, _)| qualifier == q))
        .or(pairs.first())
        .map(|(_, id)| id.to_string())
        .unwrap_or_default();
    let mut found = Findings {
        id: given(&sku),
        noun: Some("SKU"),
        ..Findings::default()
    };
    if sku.is_empty() {
        found.at(
            segment,
            "LIN-03",
            "the item has no product id.",
            "the warehouse must name the SKU in LIN-03 (qualified in LIN-02).",
        );
    }
    Reading {
        record: InventoryRecord {
            sku,
            location,
            as_of,
            ..InventoryRecord::default()
        },
        found,
        on_hand: None,
        line: segment.line,
    }
}
