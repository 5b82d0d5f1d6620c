//! The order ledger: every document a route writes or records is kept by the order it concerns
//! (`ledger::orders`), and an order the route sent before is not sent again by accident. As the
//! conversion goes, each order is judged before it is written (`on_repeat`):
//! - sent before unchanged to the same destination: left out (`skip`, the default), refused
//!   (`error`) or sent again (`send`);
//! - sent before with other content: refused, with a report of what changed, unless the route
//!   sends repeats or `retry --resend` asked for this file;
//! - still on its way in another file: this file waits for it (a transient fault);
//! - a cancellation sent before: left out (`skip`); a cancellation of an order never sent, or a
//!   hold of one already shipped: written, with a warning.
//!
//! Files to one destination are judged one at a time (a lock per destination), so two workers
//! cannot both send an order neither has seen. An event counts once its file is delivered, so a
//! crash anywhere leaves neither a sent order unrecorded nor a record of one never sent.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use super::{Ended, FileAt, Plugin, PluginError, Work};
use crate::config::{OnRepeat, OrdersConfig, RouteConfig};
use crate::format::{DataProblem, Transform, Verdict, WriteContext};
use crate::ledger::{EventKind, EventOutcome, OrderBatch, OrderEvent, PriorOrder};
use crate::model::{Document, HoldAction, Order, OrderStatus, StatusUpdate};

/// One lock per destination, shared by every route of the process that sends there.
static DESTINATION_LOCKS: LazyLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A route's order ledger.
pub struct OrderLedger {
    config: OrdersConfig,
    /// Where the route delivers (`endpoint:folder`); empty for a recording route.
    destination: String,
    /// Taken while a file of this destination is judged.
    turn: Arc<Mutex<()>>,
}

/// The order ledger of every route that writes or records documents.
pub fn build(route: &RouteConfig, transform: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    if transform.is_passthrough() {
        return Ok(Vec::new());
    }
    let destination = route
        .to
        .as_ref()
        .map(|to| format!("{}:{}", to.endpoint, to.dir))
        .unwrap_or_default();
    let turn = DESTINATION_LOCKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(destination.clone())
        .or_default()
        .clone();
    Ok(vec![Box::new(OrderLedger {
        config: route.orders.clone(),
        destination,
        turn,
    })])
}

impl OrderLedger {
    /// The order id as compared: trimmed, the agent's `order_id_prefix` taken off.
    fn key(&self, order_id: &str) -> String {
        order_key(order_id, self.config.id_prefix.as_deref())
    }
}

/// `order_id` as the ledger compares it: trimmed, `prefix` taken off.
pub fn order_key(order_id: &str, prefix: Option<&str>) -> String {
    let id = order_id.trim();
    prefix
        .and_then(|p| id.strip_prefix(p))
        .unwrap_or(id)
        .trim()
        .to_string()
}

impl Plugin for OrderLedger {
    fn begin<'a>(
        &'a self,
        file: &FileAt<'a>,
        _: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        let turn = self
            .turn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.ledger.forget_order_events(file.row.id)?;
        Ok(Some(Box::new(Judging {
            batch: file.ledger.order_batch(file.row.id, file.row.claimed_at_ms),
            plugin: self,
            route: file.route,
            file_name: &file.row.name,
            resend: None,
            judged: None,
            statuses: Vec::new(),
            sendings: HashMap::new(),
            _turn: turn,
        })))
    }
}

/// The order ledger's work on one file.
struct Judging<'a> {
    batch: OrderBatch<'a>,
    plugin: &'a OrderLedger,
    route: &'a str,
    file_name: &'a str,
    /// Whether `retry --resend` asked this file to send its changed orders; asked once.
    resend: Option<bool>,
    /// The event of the order just judged to be written, recorded once it is written.
    judged: Option<OrderEvent>,
    /// What a partner's 997 said of each order, recorded at the end.
    statuses: Vec<OrderEvent>,
    /// When and in what each earlier file was sent ([`sent_in`]), by file: an export that
    /// overlaps an earlier one leaves many orders out, all naming the same file.
    sendings: HashMap<i64, String>,
    _turn: MutexGuard<'a, ()>,
}

impl Judging<'_> {
    fn push(&mut self, event: OrderEvent) -> io::Result<()> {
        self.batch.record(event).map_err(io::Error::other)
    }

    fn event(&self, key: String, document: &Document, kind: EventKind) -> OrderEvent {
        OrderEvent {
            key,
            order_id: document.id().to_string(),
            kind,
            outcome: EventOutcome::Sent,
            destination: self.plugin.destination.clone(),
            content: None,
            detail: None,
            due_ms: None,
        }
    }

    fn judge_order(&mut self, order: &Order, document: &Document) -> io::Result<Verdict> {
        let key = self.plugin.key(&order.order_id);
        let content = fingerprint(order);
        let mut event = self.event(key.clone(), document, EventKind::Order);
        event.due_ms = self
            .plugin
            .config
            .shipment_due
            .map(|d| d.as_millis() as i64);
        let prior = self
            .batch
            .prior_order(&key, &self.plugin.destination)
            .map_err(io::Error::other)?;
        let Some(prior) = prior else {
            event.content = Some(content);
            self.judged = Some(event);
            return Ok(Verdict::Write);
        };
        let same_file = prior.file_id == self.batch.file_id();
        if prior.in_flight && !same_file {
            return Err(io::Error::other(format!(
                "order {} is also in {}, which is not delivered yet; this file waits for it",
                order.order_id, prior.file_name
            )));
        }
        let unchanged = prior.content == content;
        let policy = self.plugin.config.on_repeat;
        let verdict = if same_file {
            if unchanged {
                Verdict::LeaveOut(format!("order {} is in the file twice", order.order_id))
            } else {
                Verdict::Refuse(twice_in_file(order, &prior.content, &content))
            }
        } else if unchanged {
            match policy {
                OnRepeat::Skip => {
                    let sent = self
                        .sendings
                        .entry(prior.file_id)
                        .or_insert_with(|| sent_in(&prior));
                    Verdict::LeaveOut(format!("already sent {sent}"))
                }
                OnRepeat::Error => Verdict::Refuse(sent_before(order, &prior)),
                OnRepeat::Send => Verdict::Write,
            }
        } else if policy == OnRepeat::Send || self.resend_requested()? {
            event.outcome = EventOutcome::Resent;
            Verdict::Write
        } else {
            Verdict::Refuse(changed(order, &prior, &content))
        };
        match &verdict {
            Verdict::Write | Verdict::WriteWarned(_) => {
                event.content = Some(content);
                self.judged = Some(event);
            }
            Verdict::LeaveOut(note) => {
                event.outcome = EventOutcome::LeftOut;
                event.detail = Some(note.clone());
                self.push(event)?;
            }
            Verdict::Refuse(problem) => {
                event.outcome = EventOutcome::Refused;
                event.detail = Some(problem.problem.clone());
                self.push(event)?;
            }
        }
        Ok(verdict)
    }

    fn resend_requested(&mut self) -> io::Result<bool> {
        if let Some(asked) = self.resend {
            return Ok(asked);
        }
        let asked = self
            .batch
            .resend_requested(self.route, self.file_name)
            .map_err(io::Error::other)?;
        self.resend = Some(asked);
        Ok(asked)
    }

    fn known(&mut self, key: &str, kind: EventKind) -> io::Result<bool> {
        self.batch.known(key, kind).map_err(io::Error::other)
    }
}

impl Work for Judging<'_> {
    fn judge(&mut self, document: &Document) -> io::Result<Verdict> {
        self.judged = None;
        match document {
            Document::Order(order) => self.judge_order(order, document),
            Document::OrderHold(hold) => {
                let key = self.plugin.key(&hold.order_id);
                // A cancellation is final: sent once is enough (overlapping exports repeat
                // cancelled orders). Holds and releases may alternate, so each goes out.
                if hold.action == HoldAction::Cancel
                    && self.plugin.config.on_repeat == OnRepeat::Skip
                    && self.known(&key, EventKind::Cancel)?
                {
                    return Ok(Verdict::LeaveOut(format!(
                        "the cancellation of order {} was sent before",
                        hold.order_id
                    )));
                }
                let warning = match hold.action {
                    HoldAction::Cancel if !self.known(&key, EventKind::Order)? => Some(format!(
                        "cartferry has no record of sending order {} to the warehouse, so there may be nothing to cancel",
                        hold.order_id
                    )),
                    HoldAction::Hold if self.known(&key, EventKind::Shipment)? => Some(format!(
                        "order {} has shipped already (the warehouse confirmed it), so this hold may come too late",
                        hold.order_id
                    )),
                    _ => None,
                };
                Ok(match warning {
                    Some(problem) => Verdict::WriteWarned(DataProblem {
                        document_id: Some(hold.order_id.clone()),
                        problem,
                        fix: "check the order with `cartferry order ID` and with the warehouse."
                            .into(),
                        ..DataProblem::default()
                    }),
                    None => Verdict::Write,
                })
            }
            _ => Ok(Verdict::Write),
        }
    }

    fn left_out(&mut self, document: &Document, note: &str) -> io::Result<()> {
        // An order's event was recorded as it was judged.
        if let Document::OrderHold(hold) = document {
            let mut event =
                self.event(self.plugin.key(&hold.order_id), document, EventKind::Cancel);
            event.outcome = EventOutcome::LeftOut;
            event.detail = Some(note.to_string());
            self.push(event)?;
        }
        Ok(())
    }

    fn written(&mut self, document: &Document) -> io::Result<()> {
        if let Some(event) = self.judged.take() {
            return self.push(event);
        }
        let (kind, detail) = match document {
            Document::Order(_) => (EventKind::Order, None),
            Document::OrderHold(h) => (
                match h.action {
                    HoldAction::Hold => EventKind::Hold,
                    HoldAction::Release => EventKind::Release,
                    HoldAction::Cancel => EventKind::Cancel,
                },
                None,
            ),
            Document::ShipmentConfirmation(s) => {
                let tracking: Vec<&str> = s
                    .packages
                    .iter()
                    .map(|p| p.tracking_number.as_str())
                    .collect();
                (
                    EventKind::Shipment,
                    Some(format!("{} {}", s.carrier, tracking.join(", "))),
                )
            }
            Document::RmaAuthorization(r) => (EventKind::Rma, Some(format!("RMA {}", r.rma_id))),
            Document::ReturnReceipt(r) => {
                let restocked: u32 = r.lines.iter().map(|l| l.quantity_restocked).sum();
                let damaged: u32 = r.lines.iter().map(|l| l.quantity_damaged).sum();
                (
                    EventKind::Return,
                    Some(format!(
                        "RMA {}: {restocked} restocked, {damaged} damaged",
                        r.rma_id
                    )),
                )
            }
            Document::InventoryRecord(_) => return Ok(()),
        };
        let order_id = match document {
            Document::RmaAuthorization(r) => &r.order_id,
            Document::ReturnReceipt(r) => &r.order_id,
            other => other.id(),
        };
        let mut event = self.event(self.plugin.key(order_id), document, kind);
        event.order_id = order_id.to_string();
        event.detail = detail;
        self.push(event)
    }

    /// Kept until the recording is over: the recorder works in its own transactions meanwhile.
    fn status(&mut self, update: &StatusUpdate) -> io::Result<()> {
        let kind = match update.status {
            OrderStatus::AcceptedByWarehouse => EventKind::Accepted,
            OrderStatus::RejectedByWarehouse => EventKind::Rejected,
            _ => return Ok(()),
        };
        self.statuses.push(OrderEvent {
            key: self.plugin.key(&update.order_id),
            order_id: update.order_id.clone(),
            kind,
            outcome: EventOutcome::Sent,
            destination: String::new(),
            content: None,
            detail: (!update.detail.is_empty()).then(|| update.detail.clone()),
            due_ms: None,
        });
        Ok(())
    }

    fn finish(mut self: Box<Self>, _: &FileAt<'_>, _: &Ended<'_>) -> Result<(), PluginError> {
        for event in std::mem::take(&mut self.statuses) {
            self.batch.record(event)?;
        }
        self.batch.commit()?;
        crate::crash_point!("order_ledger.recorded");
        Ok(())
    }
}

/// The order-level fields of a fingerprint, in order, as reports name them.
const ORDER_FIELDS: [&str; 15] = [
    "shipping method",
    "carrier",
    "service",
    "ship-to first name",
    "ship-to last name",
    "ship-to company",
    "ship-to address line 1",
    "ship-to address line 2",
    "ship-to city",
    "ship-to state",
    "ship-to postal code",
    "ship-to country",
    "ship-to email",
    "ship-to phone",
    "notes",
];

/// The fields of each line of a fingerprint, after the order-level ones.
const LINE_FIELDS: [&str; 4] = ["line number", "SKU", "quantity", "unit price"];

/// Separates a fingerprint's values (ASCII's unit separator, which no cart writes).
const SEPARATOR: char = '\u{1f}';

/// What of an order is compared with what was sent before: what the warehouse ships (method,
/// address, lines), not what it does not (dates, descriptions). The values of
/// [`ORDER_FIELDS`], then [`LINE_FIELDS`] of each line, joined by [`SEPARATOR`].
pub fn fingerprint(order: &Order) -> String {
    fn optional(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    let a = &order.ship_to;
    let fields: [&str; 15] = [
        &order.shipping_method,
        optional(&order.carrier),
        optional(&order.service),
        &a.first_name,
        &a.last_name,
        optional(&a.company),
        &a.address1,
        optional(&a.address2),
        &a.city,
        optional(&a.state),
        &a.postal_code,
        &a.country,
        optional(&a.email),
        optional(&a.phone),
        optional(&order.notes),
    ];
    let mut text = String::with_capacity(256);
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            text.push(SEPARATOR);
        }
        text.push_str(value);
    }
    let (mut number, mut quantity) = (itoa::Buffer::new(), itoa::Buffer::new());
    for line in &order.lines {
        for value in [
            number.format(line.line_number),
            &line.sku,
            quantity.format(line.quantity),
            optional(&line.unit_price),
        ] {
            text.push(SEPARATOR);
            text.push_str(value);
        }
    }
    text
}

/// A fingerprint's values with their labels (`line 2 quantity`).
fn labelled(fingerprint: &str) -> Vec<(String, &str)> {
    fingerprint
        .split(SEPARATOR)
        .enumerate()
        .map(|(i, value)| {
            let label = match i.checked_sub(ORDER_FIELDS.len()) {
                None => ORDER_FIELDS[i].to_string(),
                Some(j) => format!(
                    "line {} {}",
                    j / LINE_FIELDS.len() + 1,
                    LINE_FIELDS[j % LINE_FIELDS.len()]
                ),
            };
            (label, value)
        })
        .collect()
}

/// The fields whose values differ between two fingerprints: (label, before, now); a line only
/// one of them has is compared with nothing.
fn differences(before: &str, now: &str) -> Vec<(String, String, String)> {
    let (before, now) = (labelled(before), labelled(now));
    let longest = before.len().max(now.len());
    (0..longest)
        .filter_map(|i| {
            let b = before.get(i).map_or("", |(_, v)| *v);
            let n = now.get(i).map_or("", |(_, v)| *v);
            let label = now.get(i).or(before.get(i)).map(|(l, _)| l.clone())?;
            (b != n).then(|| (label, b.to_string(), n.to_string()))
        })
        .collect()
}

/// When and in what an earlier sending went: `on 2026-11-30 10:01 in batch-1.csv (delivered
/// as batch-1.940)`.
fn sent_in(prior: &PriorOrder) -> String {
    let when = chrono::DateTime::from_timestamp_millis(prior.at_ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    match &prior.output_name {
        Some(out) if *out != prior.file_name => {
            format!("on {when} in {} (delivered as {out})", prior.file_name)
        }
        _ => format!("on {when} in {}", prior.file_name),
    }
}

/// The fields an order changed, for a report: labels in `field` and `problem`, values only in
/// `value` (customer data: reports show it, logs never).
fn change_problem(
    order: &Order,
    before: &str,
    now: &str,
    what: String,
    fix: String,
) -> DataProblem {
    let changes = differences(before, now);
    let labels: Vec<&str> = changes.iter().map(|(l, _, _)| l.as_str()).collect();
    let values: Vec<String> = changes
        .iter()
        .map(|(l, b, n)| format!("{l}: sent \"{b}\", now \"{n}\""))
        .collect();
    DataProblem {
        field: labels.first().map(|l| l.to_string()),
        document_id: Some(order.order_id.clone()),
        value: Some(values.join("; ")),
        problem: format!("{what}; this file changes its {}.", labels.join(", ")),
        fix,
        ..DataProblem::default()
    }
}

/// The problem of an order sent before with other content.
fn changed(order: &Order, prior: &PriorOrder, now: &str) -> DataProblem {
    change_problem(
        order,
        &prior.content,
        now,
        format!("order {} was sent to the warehouse {}", order.order_id, sent_in(prior)),
        "an order the warehouse has is not changed by sending it again: ask the warehouse to change it, or send a cancellation and then the order under a new id; to send it anyway, run `cartferry retry --resend ROUTE FILE` on this file.".into(),
    )
}

/// The problem of an order twice in one file with different content.
fn twice_in_file(order: &Order, first: &str, now: &str) -> DataProblem {
    change_problem(
        order,
        first,
        now,
        format!(
            "order {} is in this file twice, with different content",
            order.order_id
        ),
        "keep one of the two in the file, then retry it.".into(),
    )
}

/// The problem of an order sent before, on a route that refuses every repeat.
fn sent_before(order: &Order, prior: &PriorOrder) -> DataProblem {
    DataProblem {
        document_id: Some(order.order_id.clone()),
        problem: format!(
            "order {} was sent to the warehouse {}, and this route refuses orders sent before (on_repeat = \"error\").",
            order.order_id,
            sent_in(prior)
        ),
        fix: "leave it out of the file, or set on_repeat = \"skip\" on the route to leave such orders out by themselves.".into(),
        ..DataProblem::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_taken_off_only_when_the_route_names_one() {
        assert_eq!(order_key(" #1001 ", Some("#")), "1001");
        assert_eq!(order_key("1001", Some("#")), "1001");
        assert_eq!(order_key("#1001", None), "#1001");
    }

    #[test]
    fn differences_name_each_changed_field_with_both_values() {
        let mut order = Order {
            order_id: "1120".into(),
            shipping_method: "Ground".into(),
            lines: vec![crate::model::OrderLine {
                line_number: 1,
                sku: "MUG".into(),
                quantity: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let before = fingerprint(&order);
        order.lines[0].quantity = 3;
        order.ship_to.city = "Springfield".into();
        let found = differences(&before, &fingerprint(&order));
        assert_eq!(
            found,
            vec![
                (
                    "ship-to city".to_string(),
                    String::new(),
                    "Springfield".to_string()
                ),
                (
                    "line 1 quantity".to_string(),
                    "2".to_string(),
                    "3".to_string()
                ),
            ]
        );
    }
}
