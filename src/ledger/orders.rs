//! The order ledger: every order, hold, release, cancellation, shipment, RMA, return receipt and
//! warehouse acknowledgment a route delivers or records, by the order it concerns. An event
//! belongs to the file it came in, and counts as sent only once that file is delivered (its row
//! `delivered` or `done`): an order's record and its file's delivery are one step, whatever
//! crash comes between them.

use rusqlite::{OptionalExtension, params};

use super::{Ledger, Result};

/// What an order event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The order itself.
    Order,
    /// A hold.
    Hold,
    /// A release of a hold.
    Release,
    /// A cancellation.
    Cancel,
    /// A shipment confirmation.
    Shipment,
    /// A return authorization (RMA).
    Rma,
    /// A return receipt.
    Return,
    /// The warehouse's 997 accepted the order.
    Accepted,
    /// The warehouse's 997 rejected the order.
    Rejected,
}

impl EventKind {
    /// The ledger's spelling, also what `order` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Order => "order",
            EventKind::Hold => "hold",
            EventKind::Release => "release",
            EventKind::Cancel => "cancel",
            EventKind::Shipment => "shipment",
            EventKind::Rma => "rma",
            EventKind::Return => "return",
            EventKind::Accepted => "accepted",
            EventKind::Rejected => "rejected",
        }
    }
}

/// What became of the document of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Written to the file's output (sent once the file is delivered), or recorded.
    Sent,
    /// Written again on purpose, though it was sent before with other content.
    Resent,
    /// Left out: sent before, unchanged.
    LeftOut,
    /// Refused: to the error folder with the file's other refused documents.
    Refused,
}

impl EventOutcome {
    /// The ledger's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Sent => "sent",
            EventOutcome::Resent => "resent",
            EventOutcome::LeftOut => "left_out",
            EventOutcome::Refused => "refused",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct OrderEvent {
    /// The order id as compared (the route's prefix taken off).
    pub key: String,
    /// The order id as written.
    pub order_id: String,
    /// What it is.
    pub kind: EventKind,
    /// What became of it.
    pub outcome: EventOutcome,
    /// Where it went (`endpoint:folder`); empty for what a route records.
    pub destination: String,
    /// The order's content as compared (`fingerprint`), orders only.
    pub content: Option<String>,
    /// What goes with it: carrier and tracking, why it was left out or refused.
    pub detail: Option<String>,
    /// How long the warehouse may take to ship it (orders of routes with `shipment_due`).
    pub due_ms: Option<i64>,
}

/// An order sent earlier (or on its way) to a destination, as the latest event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorOrder {
    /// The file it went in.
    pub file_id: i64,
    /// That file's name.
    pub file_name: String,
    /// The name it was delivered under, once chosen.
    pub output_name: Option<String>,
    /// When that file was taken.
    pub at_ms: i64,
    /// The content then (see `fingerprint`).
    pub content: String,
    /// Whether that file is still on its way (not yet delivered).
    pub in_flight: bool,
}

/// One line of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// When its file was taken (ms since the epoch).
    pub at_ms: i64,
    /// The order id as written there.
    pub order_id: String,
    /// What it was (`order`, `shipment` …).
    pub kind: String,
    /// What became of it (`sent`, `left_out` …).
    pub outcome: String,
    /// The route that took the file.
    pub route: String,
    /// The file it came in.
    pub file: String,
    /// Where that file's journey is (`done`, `failed` …).
    pub file_state: String,
    /// The name the file was delivered under.
    pub delivered_as: Option<String>,
    /// Where it went (`endpoint:folder`), when it was delivered.
    pub destination: String,
    /// Carrier and tracking, why it was left out or refused.
    pub detail: Option<String>,
    /// Where the file (or its refused part) went in the error folder.
    pub error_file: Option<String>,
}

/// An order sent to the warehouse with no shipment (or cancellation) since, past its due time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LateOrder {
    /// The order id as sent.
    pub order_id: String,
    /// When its file was taken (ms since the epoch).
    pub sent_at_ms: i64,
    /// How long it may take (ms).
    pub due_ms: i64,
    /// The file it came in, and the route.
    pub file: String,
    /// The route.
    pub route: String,
}

/// States of a file whose events count as sent.
const DELIVERED: &str = "('delivered','done')";

/// Events recorded in one write transaction of an [`OrderBatch`].
const BATCH: usize = 1000;

/// The latest sending of an order to a destination that counts: in a delivered file, in a file
/// still on its way, or in the file at hand (`?3`).
const PRIOR_ORDER: &str = "
    SELECT e.file_id, f.name, f.output_name, e.at_ms, e.content,
           f.state IN ('claiming','claimed','staged','delivering')
    FROM order_events e JOIN files f ON f.id = e.file_id
    WHERE e.order_key = ?1 AND e.kind = 'order' AND e.destination = ?2
      AND e.outcome IN ('sent', 'resent')
      AND (e.file_id = ?3
           OR f.state IN ('delivered','done','claiming','claimed','staged','delivering'))
    ORDER BY e.id DESC LIMIT 1";

/// Whether an event of a kind (`?2`) for an order counts: in a delivered file or the file at
/// hand (`?3`).
const KNOWN: &str = "
    SELECT EXISTS (SELECT 1 FROM order_events e JOIN files f ON f.id = e.file_id
    WHERE e.order_key = ?1 AND e.kind = ?2 AND e.outcome IN ('sent', 'resent')
      AND (e.file_id = ?3 OR f.state IN ('delivered','done')))";

/// The order ledger's work on one file: its lookups and records run in write transactions of
/// up to [`BATCH`] events, so that none pays for a lock of its own (a file of 100,000 orders
/// feels it). Dropped uncommitted (the conversion stopped on a fault), the open transaction is
/// rolled back; the file is staged again later, its events with it.
pub struct OrderBatch<'l> {
    ledger: &'l Ledger,
    file_id: i64,
    at_ms: i64,
    open: bool,
    recorded: usize,
}

impl OrderBatch<'_> {
    /// The connection inside a transaction: the batch's own, begun here when none is open, or
    /// one its caller holds (whose commit then takes the batch's records with it).
    fn open(&mut self) -> Result<&rusqlite::Connection> {
        if !self.open && self.ledger.conn.is_autocommit() {
            self.ledger.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open = true;
        }
        Ok(&self.ledger.conn)
    }

    /// Records `event` of the file.
    pub fn record(&mut self, e: &OrderEvent) -> Result<()> {
        let (file_id, at_ms) = (self.file_id, self.at_ms);
        self.open()?
            .prepare_cached(
                "INSERT INTO order_events (order_key, order_id, kind, outcome, file_id,
                 destination, content, detail, due_ms, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                e.key,
                e.order_id,
                e.kind.as_str(),
                e.outcome.as_str(),
                file_id,
                e.destination,
                e.content,
                e.detail,
                e.due_ms,
                at_ms
            ])?;
        self.recorded += 1;
        if self.open && self.recorded.is_multiple_of(BATCH) {
            self.commit()?;
        }
        Ok(())
    }

    /// The latest sending of order `key` to `destination` that counts: in a delivered file, in
    /// a file on its way, or earlier in this file (which is then `in_flight`).
    pub fn prior_order(&mut self, key: &str, destination: &str) -> Result<Option<PriorOrder>> {
        let file_id = self.file_id;
        Ok(self
            .open()?
            .prepare_cached(PRIOR_ORDER)?
            .query_row(params![key, destination, file_id], |r| {
                Ok(PriorOrder {
                    file_id: r.get(0)?,
                    file_name: r.get(1)?,
                    output_name: r.get(2)?,
                    at_ms: r.get(3)?,
                    content: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    in_flight: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// Whether an event of `kind` for order `key` counts: its file delivered (or recorded), or
    /// earlier in this file.
    pub fn known(&mut self, key: &str, kind: EventKind) -> Result<bool> {
        let file_id = self.file_id;
        Ok(self
            .open()?
            .prepare_cached(KNOWN)?
            .query_row(params![key, kind.as_str(), file_id], |r| r.get(0))?)
    }

    /// Whether the file is to send its changed orders anyway: a resend was asked for a file of
    /// `route` named `name`, and is now this file's. Asked only when a changed order is met.
    pub fn resend_requested(&mut self, route: &str, name: &str) -> Result<bool> {
        let file_id = self.file_id;
        let conn = self.open()?;
        conn.execute(
            "UPDATE resend_requests SET file_id = ?3
             WHERE route = ?1 AND name = ?2 AND file_id IS NULL",
            params![route, name, file_id],
        )?;
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM resend_requests WHERE file_id = ?1)",
            [file_id],
            |r| r.get(0),
        )?)
    }

    /// The file's ledger id.
    pub fn file_id(&self) -> i64 {
        self.file_id
    }

    /// Commits what was recorded so far.
    pub fn commit(&mut self) -> Result<()> {
        if self.open {
            self.open = false;
            self.ledger.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

impl Drop for OrderBatch<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.ledger.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Ledger {
    /// Forgets the events of file `file_id` (staged again after a crash). A file staged for the
    /// first time has none: that is a read, not a write transaction per file.
    pub fn forget_order_events(&self, file_id: i64) -> Result<()> {
        let any: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM order_events WHERE file_id = ?1)",
            [file_id],
            |r| r.get(0),
        )?;
        if any {
            self.conn
                .execute("DELETE FROM order_events WHERE file_id = ?1", [file_id])?;
        }
        Ok(())
    }

    /// The order ledger's work on file `file_id`, taken at `at_ms` (see [`OrderBatch`]).
    pub fn order_batch(&self, file_id: i64, at_ms: i64) -> OrderBatch<'_> {
        OrderBatch {
            ledger: self,
            file_id,
            at_ms,
            open: false,
            recorded: 0,
        }
    }

    /// Every event of order `key`, in the order they happened.
    pub fn order_history(&self, key: &str) -> Result<Vec<HistoryEntry>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT e.at_ms, e.order_id, e.kind, e.outcome, f.route, f.name, f.state,
                    f.output_name, e.destination, e.detail,
                    CASE WHEN e.outcome = 'refused' THEN COALESCE(f.rejected_path, f.final_path)
                         WHEN f.state = 'failed' THEN f.final_path END
             FROM order_events e JOIN files f ON f.id = e.file_id
             WHERE e.order_key = ?1
             ORDER BY e.at_ms, e.id",
        )?;
        let rows = statement.query_map([key], |r| {
            let state: String = r.get(6)?;
            let delivered = state == "done" || state == "delivered";
            Ok(HistoryEntry {
                at_ms: r.get(0)?,
                order_id: r.get(1)?,
                kind: r.get(2)?,
                outcome: r.get(3)?,
                route: r.get(4)?,
                file: r.get(5)?,
                file_state: state,
                delivered_as: r.get::<_, Option<String>>(7)?.filter(|_| delivered),
                destination: r.get(8)?,
                detail: r.get(9)?,
                error_file: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Orders sent (their file delivered) more than their due time before `now_ms` with no
    /// shipment or cancellation delivered since: how many, and the oldest `limit`.
    pub fn late_orders(&self, now_ms: i64, limit: usize) -> Result<(u64, Vec<LateOrder>)> {
        let sql = format!(
            "SELECT e.order_id, e.at_ms, e.due_ms, f.name, f.route
             FROM order_events e JOIN files f ON f.id = e.file_id
             WHERE e.kind = 'order' AND e.outcome IN ('sent', 'resent')
               AND e.due_ms IS NOT NULL AND e.at_ms + e.due_ms < ?1
               AND f.state IN {DELIVERED}
               AND NOT EXISTS (
                 SELECT 1 FROM order_events s JOIN files sf ON sf.id = s.file_id
                 WHERE s.order_key = e.order_key AND s.kind IN ('shipment', 'cancel')
                   AND s.outcome IN ('sent', 'resent') AND sf.state IN {DELIVERED})
             ORDER BY e.at_ms, e.id"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query([now_ms])?;
        let mut count = 0;
        let mut oldest = Vec::new();
        while let Some(r) = rows.next()? {
            count += 1;
            if oldest.len() < limit {
                oldest.push(LateOrder {
                    order_id: r.get(0)?,
                    sent_at_ms: r.get(1)?,
                    due_ms: r.get(2)?,
                    file: r.get(3)?,
                    route: r.get(4)?,
                });
            }
        }
        Ok((count, oldest))
    }

    /// Shipments delivered for orders the ledger never saw sent: how many, and the first
    /// `limit` (order id, file).
    pub fn shipments_of_unknown_orders(
        &self,
        limit: usize,
    ) -> Result<(u64, Vec<(String, String)>)> {
        let sql = format!(
            "SELECT s.order_id, f.name
             FROM order_events s JOIN files f ON f.id = s.file_id
             WHERE s.kind = 'shipment' AND f.state IN {DELIVERED}
               AND NOT EXISTS (
                 SELECT 1 FROM order_events e WHERE e.order_key = s.order_key AND e.kind = 'order'
                   AND e.outcome IN ('sent', 'resent'))
             ORDER BY s.at_ms, s.id"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query([])?;
        let mut count = 0;
        let mut first = Vec::new();
        while let Some(r) = rows.next()? {
            count += 1;
            if first.len() < limit {
                first.push((r.get(0)?, r.get(1)?));
            }
        }
        Ok((count, first))
    }

    /// Asks that the next file named `name` taken by `route` send its changed orders anyway.
    pub fn request_resend(&self, route: &str, name: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO resend_requests (route, name, requested_at) VALUES (?1, ?2, ?3)",
            params![route, name, super::now_ms()],
        )?;
        Ok(())
    }
}
