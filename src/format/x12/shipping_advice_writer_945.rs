//! `x12-945` as a writer: shipment confirmations as Warehouse Shipping Advice, the inverse of
//! the reader in `shipping_advice_945.rs` (for a warehouse's side, tests and replays).
//!
//! Per shipment: `W06*F` (order id, ship date, shipment id), `N1*SF` (the sender), `W27` (the
//! transport method, the carrier's SCAC or, when the carrier is no SCAC, its name with the service
//! as routing), one `LX` holding a `MAN*CP` per tracking number and a `W12` per line (`CC`
//! complete or `PR` partial, ordered, shipped, difference), then `W03` (total units).

use std::sync::Arc;

use super::syntax::Segment;
use super::writer::{Coding, Partner, SetBuilder, ShippingOptions, X12Writer};
use crate::format::{DataProblem, FormatProblem, Options};
use crate::model::{Document, DocumentKind, ShipmentConfirmation};

/// The 945 writer, with a route's `writer_options` (`partner`, `sku_qualifier`,
/// `transport_method`).
pub fn writer(options: &Options) -> Result<X12Writer, Vec<FormatProblem>> {
    let (partner, coding) = ShippingOptions::parse(options)?;
    Ok(X12Writer::new(
        partner,
        &[DocumentKind::ShipmentConfirmation],
        Arc::new(Builder(coding)),
    ))
}

/// Builds 945 transaction sets.
struct Builder(Coding);

impl SetBuilder for Builder {
    fn ids(&self) -> (&'static str, &'static str) {
        ("945", "SW")
    }

    fn build(
        &self,
        partner: &Partner,
        document: &Document,
        _date: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        let Document::ShipmentConfirmation(shipment) = document else {
            return Err(super::writer::wrong_kind(
                document,
                "945",
                "shipment confirmations",
            ));
        };
        self.shipment(partner, shipment)
    }
}

impl Builder {
    fn shipment(
        &self,
        partner: &Partner,
        s: &ShipmentConfirmation,
    ) -> Result<Vec<Segment>, Box<DataProblem>> {
        let e = super::writer::Elements::new(partner, &s.order_id);
        let date = s
            .ship_date
            .as_deref()
            .and_then(super::writer::x12_date)
            .unwrap_or_default();
        let shipment_id = match &s.shipment_id {
            Some(id) => e.text("W06-04", "shipment id", id, 30)?,
            None => String::new(),
        };
        let sender = partner.application_sender();
        let mut segments = vec![
            Segment::new(
                "W06",
                &[
                    "F",
                    &e.text("W06-02", "order id", &s.order_id, 22)?,
                    &date,
                    &shipment_id,
                ],
            ),
            Segment::new("N1", &["SF", &e.text("N1-02", "sender", sender, 60)?]),
        ];
        let carrier = s.carrier.trim();
        let service = s.service.as_deref().unwrap_or_default().trim();
        let w27 = if super::writer::is_scac(carrier) {
            vec![
                self.0.transport_method.clone(),
                carrier.to_string(),
                e.note(service, 35),
            ]
        } else {
            let routing = format!("{carrier} {service}");
            vec![
                self.0.transport_method.clone(),
                String::new(),
                e.note(routing.trim(), 35),
            ]
        };
        let w27: Vec<&str> = w27.iter().map(String::as_str).collect();
        segments.push(Segment::new("W27", &w27));
        segments.push(Segment::new("LX", &["1"]));
        for package in &s.packages {
            segments.push(Segment::new(
                "MAN",
                &[
                    "CP",
                    &e.text("MAN-02", "tracking number", &package.tracking_number, 48)?,
                ],
            ));
        }
        let mut total: u64 = 0;
        for line in &s.lines {
            total += u64::from(line.quantity_shipped);
            let (status, ordered, difference) = match line.quantity_ordered {
                Some(ordered) => (
                    if ordered > line.quantity_shipped {
                        "PR"
                    } else {
                        "CC"
                    },
                    ordered.to_string(),
                    i64::from(ordered)
                        .saturating_sub(i64::from(line.quantity_shipped))
                        .to_string(),
                ),
                None => ("CC", String::new(), String::new()),
            };
            segments.push(Segment::new(
                "W12",
                &[
                    status,
                    &ordered,
                    &line.quantity_shipped.to_string(),
                    &difference,
                    "EA",
                    "",
                    &self.0.sku_qualifier,
                    &e.text("W12-08", "SKU", &line.sku, 48)?,
                ],
            ));
        }
        segments.push(Segment::new("W03", &[&total.to_string()]));
        Ok(segments)
    }
}
