//! `x12-180`: Return Merchandise Authorization and Notification. Out, an RMA authorizes a return
//! (RDR-01 `RA`); in, a warehouse's return notification reports what came back, read as a return
//! receipt. The writer also writes return receipts, so a warehouse's side and round trips work.
//!
//! Both: `BGN*00` (the RMA number, the date), `N9*CO` (the order), then one `BLI` per line (the
//! SKU qualified as `sku_qualifier`, the quantity, `EA`) with its `RDR`. An RMA adds `N1*BY` (the
//! customer) and per line `RDR*RA` with the reason as text. A receipt line becomes a `BLI` of the
//! units restocked (`RDR*CR`, consumer return to vendor) and one of the units damaged (`RDR*DI`,
//! dispose), each with the line's condition as the return reason: none when resellable, `DA`
//! (damaged product) when damaged, `WG` (wrong goods) otherwise.
//!
//! Reading, consecutive `BLI`s of one SKU make one line: units under `RDR*DI` or `SD` are damaged,
//! the rest restocked; a reason of `DA`, `DM`, `DP`, `DR` or `DT` makes the condition damaged,
//! `WG`, `NA` or a response of `UI` other, anything else resellable.

use std::sync::Arc;

use serde::Deserialize;

use super::envelope::TransactionSet;
use super::findings::{Findings, SetItems, given};
use super::syntax::Segment;
use super::writer::{
    Elements, Partner, PartnerOptions, SetBuilder, X12Writer, check_code, vendor_item,
    with_partner, wrong_kind, x12_date,
};
use crate::format::canonical::returns;
use crate::format::{DataProblem, FormatProblem, Options, parse_options};
use crate::model::{
    Document, DocumentKind, ItemCondition, ReturnLine, ReturnReceipt, RmaAuthorization,
};

/// ST01 of the sets this reads and writes.
pub const SET: &str = "180";

/// Return reasons that mean the item came back damaged.
const DAMAGED: [&str; 5] = ["DA", "DM", "DP", "DR", "DT"];

/// The writer's options: the partner's envelope and the SKU's qualifier.
#[derive(Debug, Deserialize)]
struct ReturnOptions {
    partner: PartnerOptions,
    /// BLI-01: the qualifier of the SKU in BLI-02.
    #[serde(default = "vendor_item")]
    sku_qualifier: String,
}

/// The 180 writer, with a route's `writer_options` (`partner`, `sku_qualifier`).
pub fn writer(options: &Options) -> Result<X12Writer, Vec<FormatProblem>> {
    let options: ReturnOptions = parse_options(options, "writer_options")?;
    let mut problems = Vec::new();
    check_code("sku_qualifier", &options.sku_qualifier, &mut problems);
    let partner = with_partner(options.partner, problems)?;
    Ok(X12Writer::new(
        partner,
        &[DocumentKind::RmaAuthorization, DocumentKind::ReturnReceipt],
        Arc::new(Builder {
            sku_qualifier: options.sku_qualifier,
        }),
    ))
}

/// Builds 180 transaction sets.
struct Builder {
    sku_qualifier: String,
}

impl SetBuilder for Builder {
    fn ids(&self) -> (&'static str, &'static str) {
        (SET, "AN")
    }

    fn build(
        &self,
        partner: &Partner,
        document: &Document,
        date: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        match document {
            Document::RmaAuthorization(rma) => self.rma(partner, rma, date),
            Document::ReturnReceipt(receipt) => self.receipt(partner, receipt, date),
            other => Err(wrong_kind(other, SET, "RMAs and return receipts")),
        }
    }
}

impl Builder {
    fn head(
        e: &Elements<'_>,
        rma_id: &str,
        order_id: &str,
        date: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        Ok(vec![
            Segment::new(
                "BGN",
                &["00", &e.text("BGN-02", "RMA number", rma_id, 30)?, date],
            ),
            Segment::new("N9", &["CO", &e.text("N9-02", "order id", order_id, 30)?]),
        ])
    }

    fn bli(&self, e: &Elements<'_>, sku: &str, quantity: u32) -> Result<Segment, Box<DataProblem>> {
        Ok(Segment::new(
            "BLI",
            &[
                &self.sku_qualifier,
                &e.text("BLI-02", "SKU", sku, 48)?,
                &quantity.to_string(),
                "EA",
            ],
        ))
    }

    fn rma(
        &self,
        partner: &Partner,
        rma: &RmaAuthorization,
        today: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        let e = Elements::new(partner, &rma.rma_id);
        let mut segments = Self::head(&e, &rma.rma_id, &rma.order_id, today)?;
        if let Some(customer) = &rma.customer_name {
            segments.push(Segment::new(
                "N1",
                &["BY", &e.text("N1-02", "customer name", customer, 60)?],
            ));
        }
        for line in &rma.lines {
            segments.push(self.bli(&e, &line.sku, line.quantity)?);
            let reason = line
                .reason
                .as_deref()
                .map(|r| e.note(r, 80))
                .unwrap_or_default();
            segments.push(Segment::new("RDR", &["RA", "", "", &reason]));
        }
        Ok(segments)
    }

    fn receipt(
        &self,
        partner: &Partner,
        receipt: &ReturnReceipt,
        today: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        let e = Elements::new(partner, &receipt.rma_id);
        let date = receipt
            .received_date
            .as_deref()
            .and_then(x12_date)
            .unwrap_or_else(|| today.to_string());
        let mut segments = Self::head(&e, &receipt.rma_id, &receipt.order_id, &date)?;
        for line in &receipt.lines {
            let reason = match line.condition {
                ItemCondition::Resellable => "",
                ItemCondition::Damaged => "DA",
                ItemCondition::Other => "WG",
            };
            let parts = [
                ("CR", line.quantity_restocked),
                ("DI", line.quantity_damaged),
            ];
            let mut wrote = false;
            for (disposition, quantity) in parts {
                // A line of nothing still goes, as restocked 0, so it is not lost.
                if quantity > 0 || (disposition == "DI" && !wrote) {
                    segments.push(self.bli(&e, &line.sku, quantity)?);
                    segments.push(Segment::new("RDR", &[disposition, reason]));
                    wrote = true;
                }
            }
        }
        Ok(segments)
    }
}

/// Where a 180 reader looks for the order a return belongs to, in order, unless the route
/// names others (`order_references`): `N9*CO`, the purchase order's `PRF-01`, then `N9*PO`.
const ORDER_REFERENCES: [&str; 3] = ["N9*CO", "PRF", "N9*PO"];

/// The reader's `reader_options`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReaderOptions {
    /// Where the order number is, in order of preference: `PRF` (PRF-01) or `N9*<qualifier>`
    /// (N9-02), at the header or on a line.
    order_references: Option<Vec<String>>,
}

/// A place an order number may be: PRF-01, or N9-02 of an N9 with this qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OrderReference {
    PurchaseOrder,
    N9(String),
}

impl OrderReference {
    fn parse(text: &str) -> Option<OrderReference> {
        let text = text.trim().to_ascii_uppercase();
        if text == "PRF" {
            return Some(OrderReference::PurchaseOrder);
        }
        let qualifier = text.strip_prefix("N9*")?;
        (!qualifier.is_empty()
            && qualifier.len() <= 3
            && qualifier.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| OrderReference::N9(qualifier.to_string()))
    }

    /// The order number `segment` holds here, if it is such a segment.
    fn in_segment<'s>(&self, segment: &'s Segment) -> Option<&'s str> {
        let value = match self {
            OrderReference::PurchaseOrder if segment.id() == "PRF" => segment.element(1),
            OrderReference::N9(q) if segment.id() == "N9" && segment.element(1).trim() == q => {
                segment.element(2)
            }
            _ => return None,
        };
        Some(value.trim()).filter(|v| !v.is_empty())
    }

    fn name(&self) -> String {
        match self {
            OrderReference::PurchaseOrder => "PRF".into(),
            OrderReference::N9(q) => format!("N9*{q}"),
        }
    }
}

/// The `x12-180` reader, with a route's `reader_options` (`order_references`).
pub fn reader(options: &Options) -> Result<super::reader::X12Reader, Vec<FormatProblem>> {
    let options: ReaderOptions = parse_options(options, "reader_options")?;
    let given: Vec<String> = options
        .order_references
        .unwrap_or_else(|| ORDER_REFERENCES.iter().map(|r| r.to_string()).collect());
    let references: Option<Vec<OrderReference>> =
        given.iter().map(|r| OrderReference::parse(r)).collect();
    match references {
        Some(references) if !references.is_empty() => Ok(super::reader::X12Reader::mapped(
            SET,
            Arc::new(move |set| receipts(set, &references)),
        )),
        _ => Err(vec![FormatProblem {
            key: "reader_options.order_references".into(),
            message: "must list where the order number is, each \"PRF\" or \"N9*<qualifier>\", such as [\"N9*CO\", \"PRF\"]".into(),
        }]),
    }
}

/// The return receipt a 180 notification carries, its order number from the first of
/// `references` the set has.
fn receipts(set: &TransactionSet, references: &[OrderReference]) -> SetItems {
    let mut found = Findings::naming("RMA");
    let mut receipt = ReturnReceipt::default();
    let mut current: Option<(ReturnLine, u32)> = None;
    let mut saw_bgn = false;
    for segment in &set.segments {
        match segment.id() {
            "BGN" if !saw_bgn => {
                saw_bgn = true;
                receipt.rma_id = segment.element(2).trim().to_string();
                found.id = given(&receipt.rma_id);
                receipt.received_date = found.date(segment, "BGN-03", 3);
            }
            "BLI" => {
                let sku = segment.element(2).trim().to_string();
                let quantity = found.count(segment, "BLI-03", 3).unwrap_or_default();
                match current.as_mut() {
                    Some((line, pending)) if line.sku == sku => *pending += quantity,
                    _ => {
                        if let Some((line, _)) = current.take() {
                            receipt.lines.push(line);
                        }
                        let line = ReturnLine {
                            sku,
                            ..ReturnLine::default()
                        };
                        current = Some((line, quantity));
                    }
                }
            }
            "RDR" => {
                if let Some((line, pending)) = current.as_mut() {
                    let quantity = std::mem::take(pending);
                    match segment.element(1).trim() {
                        "DI" | "SD" => line.quantity_damaged += quantity,
                        _ => line.quantity_restocked += quantity,
                    }
                    let reason = segment.element(2).trim();
                    if DAMAGED.contains(&reason) {
                        line.condition = ItemCondition::Damaged;
                    } else if matches!(reason, "WG" | "NA") || segment.element(3).trim() == "UI" {
                        line.condition = ItemCondition::Other;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some((mut line, pending)) = current.take() {
        // A BLI without its RDR: the units are taken as restocked.
        line.quantity_restocked += pending;
        receipt.lines.push(line);
    }
    if !saw_bgn {
        found.whole(
            set.line,
            "BGN",
            format!("transaction set {} has no BGN segment.", set.control),
            "the warehouse must begin every 180 with BGN, carrying the RMA number.".into(),
        );
    }
    let order = references
        .iter()
        .find_map(|r| set.segments.iter().find_map(|s| r.in_segment(s)));
    match order {
        Some(order) => receipt.order_id = order.to_string(),
        None if found.problems.is_empty() => {
            let places: Vec<String> = references.iter().map(OrderReference::name).collect();
            found.whole(
                set.line,
                &places[0],
                format!(
                    "the return names no order: transaction set {} has no {}.",
                    set.control,
                    places.join(" or ")
                ),
                "ask the warehouse to send the order number in N9*CO (or PRF-01); if it is in another N9, name it in the route's reader_options.order_references.".into(),
            );
        }
        None => {}
    }
    if found.problems.is_empty() {
        found.checks(set.line, (returns::XML.check)(&mut receipt));
    }
    vec![found.item(Document::ReturnReceipt(receipt))]
}
