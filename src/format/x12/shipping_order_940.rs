//! `x12-940`: orders (and cancellations) out as Warehouse Shipping Orders, version 004010.
//!
//! An order: `W05*N` with the order id, the ship-to `N1*ST`/`N2`/`N3`/`N4` and `PER` contact,
//! `N9*CO` (the cart's order number), `G62*04` (the order date), `NTE*WHI` (notes, 80
//! characters a segment), `W66` (payment `PP`, transport method, the service as routing and the
//! carrier's SCAC in W66-10), one `LX`/`W01`/`G69` per line, and `W76` (total units). A
//! cancellation is `W05*F` with the order id and the reason as `NTE`; a hold or release has no
//! 940 of its own and is reported (agree a variant with the warehouse first).
//!
//! Text that holds one of the partner's separators, or is longer than its element allows, is a
//! problem of its document, never cut or escaped silently (descriptions and notes excepted: they
//! are informational, so they are shortened to fit).

use std::sync::Arc;

use super::syntax::Segment;
use super::writer::{
    Coding, Elements, Partner, SetBuilder, ShippingOptions, X12Writer, is_scac, wrong_kind,
    x12_date,
};
use crate::format::{DataProblem, FormatProblem, Options};
use crate::model::{Document, DocumentKind, HoldAction, Order, OrderHold};

/// ST01 and GS01.
const SET: (&str, &str) = ("940", "OW");

/// The 940 writer, with a route's `writer_options` (`partner`, `sku_qualifier`,
/// `transport_method`).
pub fn writer(options: &Options) -> Result<X12Writer, Vec<FormatProblem>> {
    let (partner, coding) = ShippingOptions::parse(options)?;
    Ok(X12Writer::new(
        partner,
        &[DocumentKind::Order, DocumentKind::OrderHold],
        Arc::new(Builder(coding)),
    ))
}

/// Builds 940 transaction sets.
struct Builder(Coding);

impl SetBuilder for Builder {
    fn ids(&self) -> (&'static str, &'static str) {
        SET
    }

    fn build(
        &self,
        partner: &Partner,
        document: &Document,
        _date: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        match document {
            Document::Order(order) => self.order(partner, order),
            Document::OrderHold(hold) => cancellation(partner, hold),
            other => Err(wrong_kind(other, "940", "orders and cancellations")),
        }
    }
}

impl Builder {
    fn order(&self, partner: &Partner, order: &Order) -> Result<Vec<Segment>, Box<DataProblem>> {
        let e = Elements::new(partner, &order.order_id);
        let a = &order.ship_to;
        let id = e.text("W05-02", "order id", &order.order_id, 22)?;
        let name = format!("{} {}", a.first_name.trim(), a.last_name.trim());
        let name = e.text("N1-02", "ship-to name", name.trim(), 60)?;
        let mut segments = vec![
            Segment::new("W05", &["N", &id]),
            Segment::new("N1", &["ST", &name]),
        ];
        if let Some(company) = &a.company {
            segments.push(Segment::new(
                "N2",
                &[&e.text("N2-01", "company", company, 60)?],
            ));
        }
        let address2 = match &a.address2 {
            Some(line) => e.text("N3-02", "address line 2", line, 55)?,
            None => String::new(),
        };
        segments.push(Segment::new(
            "N3",
            &[
                &e.text("N3-01", "address line 1", &a.address1, 55)?,
                &address2,
            ],
        ));
        let state = match &a.state {
            Some(state) => e.text("N4-02", "state", state, 2)?,
            None => String::new(),
        };
        segments.push(Segment::new(
            "N4",
            &[
                &e.text("N4-01", "city", &a.city, 30)?,
                &state,
                &e.text("N4-03", "postal code", &a.postal_code, 15)?,
                &e.text("N4-04", "country", &a.country, 3)?,
            ],
        ));
        let mut contact = vec!["IC".to_string(), name.clone()];
        if let Some(phone) = &a.phone {
            contact.extend(["TE".into(), e.text("PER-04", "phone", phone, 80)?]);
        }
        if let Some(email) = &a.email {
            contact.extend(["EM".into(), e.text("PER-06", "email", email, 80)?]);
        }
        if contact.len() > 2 {
            let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
            segments.push(Segment::new("PER", &contact));
        }
        segments.push(Segment::new(
            "N9",
            &["CO", &e.text("N9-02", "order id", &order.order_id, 30)?],
        ));
        if let Some(date) = order.order_date.as_deref().and_then(x12_date) {
            segments.push(Segment::new("G62", &["04", &date]));
        }
        if let Some(notes) = &order.notes {
            notes_segments(&e, notes, &mut segments);
        }
        let carrier = order.carrier.as_deref().map(str::trim).unwrap_or_default();
        let scac = is_scac(carrier);
        // W66-05 is free text: the service, after the carrier when the carrier is no SCAC.
        let service = order.service.as_deref().unwrap_or_default().trim();
        let routing = match (scac || carrier.is_empty(), service.is_empty()) {
            (true, false) => service.to_string(),
            (true, true) => order.shipping_method.clone(),
            (false, _) => format!("{carrier} {service}"),
        };
        let routing = e.note(&routing, 35);
        segments.push(Segment::new(
            "W66",
            &[
                "PP",
                &self.0.transport_method,
                "",
                "",
                &routing,
                "",
                "",
                "",
                "",
                if scac { carrier } else { "" },
            ],
        ));
        let mut total: u64 = 0;
        for line in &order.lines {
            total += u64::from(line.quantity);
            segments.push(Segment::new("LX", &[&line.line_number.to_string()]));
            segments.push(Segment::new(
                "W01",
                &[
                    &line.quantity.to_string(),
                    "EA",
                    "",
                    &self.0.sku_qualifier,
                    &e.text("W01-05", "SKU", &line.sku, 48)?,
                ],
            ));
            if let Some(description) = &line.description {
                segments.push(Segment::new("G69", &[&e.note(description, 45)]));
            }
        }
        segments.push(Segment::new("W76", &[&total.to_string()]));
        Ok(segments)
    }
}

/// Notes as `NTE*WHI` segments of at most 80 characters, broken between words (a reader joins
/// them with spaces again).
fn notes_segments(e: &Elements<'_>, notes: &str, segments: &mut Vec<Segment>) {
    let text = e.note(notes, usize::MAX);
    let mut line = String::new();
    let mut flush = |line: &mut String| {
        if !line.is_empty() {
            segments.push(Segment::new("NTE", &["WHI", line]));
            line.clear();
        }
    };
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > 80 {
            flush(&mut line);
            let head: String = word.drain(..80).collect();
            line.push_str(&head);
            flush(&mut line);
        }
        let word: String = word.into_iter().collect();
        if line.chars().count() + word.chars().count() + 1 > 80 {
            flush(&mut line);
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    flush(&mut line);
}

/// A cancellation as `W05*F`; holds and releases have no standard 940.
fn cancellation(partner: &Partner, hold: &OrderHold) -> Result<Vec<Segment>, Box<DataProblem>> {
    let e = Elements::new(partner, &hold.order_id);
    if hold.action != HoldAction::Cancel {
        return Err(Box::new(DataProblem {
            document_id: Some(hold.order_id.clone()),
            problem: "a hold or release has no standard 940; only cancellations (W05*F) are sent."
                .into(),
            fix:
                "agree with the warehouse how they take holds, and send this one by hand meanwhile."
                    .into(),
            ..DataProblem::default()
        }));
    }
    let mut segments = vec![
        Segment::new(
            "W05",
            &["F", &e.text("W05-02", "order id", &hold.order_id, 22)?],
        ),
        Segment::new(
            "N9",
            &["CO", &e.text("N9-02", "order id", &hold.order_id, 30)?],
        ),
    ];
    if let Some(reason) = &hold.reason {
        notes_segments(&e, reason, &mut segments);
    }
    Ok(segments)
}
