//! The order ledger: every order, hold, release, cancellation, shipment, RMA, return receipt and
//! warehouse acknowledgment a route delivers or records, by the order it concerns. An event
//! belongs to the file it came in, and counts as sent only once that file is delivered (its row
//! `delivered` or `done`): an order's record and its file's delivery are one step, whatever
//! crash comes between them.

use std::collections::HashMap;

use rusqlite::{CachedStatement, params};

use super::{Ledger, Result, State};

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

/// Whether an event in a file in `state` (as the ledger spells it) counts: the file is
/// delivered.
fn delivered(state: &str) -> bool {
    matches!(State::parse(state), State::Delivered | State::Done)
}

/// Whether a file in `state` (as the ledger spells it) is still on its way to being delivered.
fn on_its_way(state: &str) -> bool {
    matches!(
        State::parse(state),
        State::Claiming | State::Claimed | State::Staged | State::Delivering
    )
}

/// The statement in `slot`, prepared (from the connection's cache) when it is first needed and
/// kept for the batch: fetching it from the cache hashes its text, at every order.
fn held<'s, 'l>(
    slot: &'s mut Option<CachedStatement<'l>>,
    conn: &'l rusqlite::Connection,
    sql: &str,
) -> Result<&'s mut CachedStatement<'l>> {
    Ok(match slot {
        Some(statement) => statement,
        none => none.insert(conn.prepare_cached(sql)?),
    })
}

/// Events recorded in one write transaction of an [`OrderBatch`].
const BATCH: usize = 1000;

/// The sendings of an order to a destination, latest first. The hot queries have no `IN (…)`
/// lists: SQLite builds a table for such a list at every run, which cost each order's lookup
/// several microseconds. Which rows count is decided in Rust, by their file's state.
const SENDINGS: &str = "
    SELECT file_id, at_ms, content FROM order_events
    WHERE order_key = ?1 AND kind = 'order' AND destination = ?2
      AND (outcome = 'sent' OR outcome = 'resent')
    ORDER BY id DESC";

/// A file's name, delivered name and state.
const FILE_OF: &str = "SELECT name, output_name, state FROM files WHERE id = ?1";

/// The files of an order's events of a kind (`?2`) that were sent, with their state.
const EVENTS_OF_KIND: &str = "
    SELECT e.file_id, f.state FROM order_events e JOIN files f ON f.id = e.file_id
    WHERE e.order_key = ?1 AND e.kind = ?2 AND (e.outcome = 'sent' OR e.outcome = 'resent')";

const INSERT_EVENT: &str = "
    INSERT INTO order_events (order_key, order_id, kind, outcome, file_id, destination,
                              content, detail, due_ms, at_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// Inserts event `e` of file `file_id`, taken at `at_ms`.
fn insert_event(
    insert: &mut rusqlite::Statement<'_>,
    e: &OrderEvent,
    file_id: i64,
    at_ms: i64,
) -> rusqlite::Result<()> {
    insert.execute(params![
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
    Ok(())
}

/// The order ledger's work on one file: its lookups and records run in write transactions of
/// up to [`BATCH`] events, so that none pays for a lock of its own (a file of 100,000 orders
/// feels it). The file's first event marks the file (`files.order_events_from`), in the same
/// transaction, so that a file staged again finds the events of its earlier attempt (and
/// forgets them). Dropped uncommitted (the conversion stopped on a fault), the open transaction
/// is rolled back; the file is staged again later, its events with it.
pub struct OrderBatch<'l> {
    ledger: &'l Ledger,
    file_id: i64,
    at_ms: i64,
    /// Whether this batch began the write transaction open on the ledger's connection.
    open: bool,
    recorded: usize,
    insert: Option<CachedStatement<'l>>,
    sendings: Option<CachedStatement<'l>>,
    file_of: Option<CachedStatement<'l>>,
    /// The name and delivered name of the delivered files met, which stay delivered: an export
    /// that overlaps an earlier one meets the same file for every order they share.
    delivered_files: HashMap<i64, (String, Option<String>)>,
}

/// A file an earlier sending was in, as [`OrderBatch::file`] finds it.
struct SentFile {
    name: String,
    output_name: Option<String>,
    delivered: bool,
    on_its_way: bool,
}

impl<'l> OrderBatch<'l> {
    /// The connection inside a transaction: the batch's own, begun here when none is open, or
    /// one its caller holds (whose commit then takes the batch's records with it).
    fn conn(&mut self) -> Result<&'l rusqlite::Connection> {
        let conn = &self.ledger.conn;
        if !self.open && conn.is_autocommit() {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open = true;
        }
        Ok(conn)
    }

    /// Records `event` of the file.
    pub fn record(&mut self, event: OrderEvent) -> Result<()> {
        let conn = self.conn()?;
        let insert = held(&mut self.insert, conn, INSERT_EVENT)?;
        insert_event(insert, &event, self.file_id, self.at_ms)?;
        if self.recorded == 0 {
            conn.execute(
                "UPDATE files SET order_events_from = ?2
                 WHERE id = ?1 AND order_events_from IS NULL",
                params![self.file_id, conn.last_insert_rowid()],
            )?;
        }
        self.recorded += 1;
        if self.open && self.recorded.is_multiple_of(BATCH) {
            self.commit()?;
        }
        Ok(())
    }

    /// The latest sending of order `key` to `destination` that counts: in a delivered file, in
    /// a file on its way, or earlier in this file (which is then `in_flight`).
    pub fn prior_order(&mut self, key: &str, destination: &str) -> Result<Option<PriorOrder>> {
        let conn = self.conn()?;
        let sendings = held(&mut self.sendings, conn, SENDINGS)?;
        let found: Vec<(i64, i64, Option<String>)> = sendings
            .query_map(params![key, destination], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (file_id, at_ms, content) in found {
            let file = self.file(file_id)?;
            if file_id == self.file_id || file.on_its_way || file.delivered {
                return Ok(Some(PriorOrder {
                    file_id,
                    file_name: file.name,
                    output_name: file.output_name,
                    at_ms,
                    content: content.unwrap_or_default(),
                    in_flight: file.on_its_way,
                }));
            }
        }
        Ok(None)
    }

    /// File `file_id`'s name, delivered name and state.
    fn file(&mut self, file_id: i64) -> Result<SentFile> {
        if let Some((name, output_name)) = self.delivered_files.get(&file_id) {
            return Ok(SentFile {
                name: name.clone(),
                output_name: output_name.clone(),
                delivered: true,
                on_its_way: false,
            });
        }
        let conn = self.conn()?;
        let file_of = held(&mut self.file_of, conn, FILE_OF)?;
        let (name, output_name, state): (String, Option<String>, String) =
            file_of.query_row([file_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let file = SentFile {
            delivered: delivered(&state),
            on_its_way: on_its_way(&state),
            name,
            output_name,
        };
        if file.delivered {
            self.delivered_files
                .insert(file_id, (file.name.clone(), file.output_name.clone()));
        }
        Ok(file)
    }

    /// Whether an event of `kind` for order `key` counts: its file delivered (or recorded), or
    /// earlier in this file.
    pub fn known(&mut self, key: &str, kind: EventKind) -> Result<bool> {
        let mut statement = self.conn()?.prepare_cached(EVENTS_OF_KIND)?;
        let mut rows = statement.query(params![key, kind.as_str()])?;
        while let Some(r) = rows.next()? {
            if r.get::<_, i64>(0)? == self.file_id || delivered(&r.get::<_, String>(1)?) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the file is to send its changed orders anyway: a resend was asked for a file of
    /// `route` named `name`, and is now this file's. Asked only when a changed order is met.
    pub fn resend_requested(&mut self, route: &str, name: &str) -> Result<bool> {
        let file_id = self.file_id;
        let conn = self.conn()?;
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

    /// Commits what was recorded so far (in the batch's own transaction: a caller's is the
    /// caller's to commit).
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
    /// Forgets the events of file `file_id` (staged again after a crash): those from the id its
    /// first event marked. A file staged for the first time has none: a read, not a write
    /// transaction per file.
    pub fn forget_order_events(&self, file_id: i64) -> Result<()> {
        let from: Option<i64> = self.conn.query_row(
            "SELECT order_events_from FROM files WHERE id = ?1",
            [file_id],
            |r| r.get(0),
        )?;
        if let Some(from) = from {
            // A crash between the two leaves the mark, which still covers the file's next
            // events: their ids are higher.
            self.conn.execute(
                "DELETE FROM order_events WHERE id >= ?2 AND file_id = ?1",
                params![file_id, from],
            )?;
            self.conn.execute(
                "UPDATE files SET order_events_from = NULL WHERE id = ?1",
                [file_id],
            )?;
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
            insert: None,
            sendings: None,
            file_of: None,
            delivered_files: HashMap::new(),
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
            let delivered = delivered(&state);
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
             FROM orders_awaiting a
               JOIN order_events e ON e.id = a.event_id
               JOIN files f ON f.id = e.file_id
             WHERE a.late_at_ms < ?1 AND f.state IN {DELIVERED}
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

#[cfg(test)]
mod tests {
    use super::super::schema::MIGRATIONS;
    use super::*;

    fn event(key: &str) -> OrderEvent {
        OrderEvent {
            key: key.into(),
            order_id: key.into(),
            kind: EventKind::Order,
            outcome: EventOutcome::Sent,
            destination: "here:out".into(),
            content: Some("c".into()),
            detail: None,
            due_ms: None,
        }
    }

    fn events_of(ledger: &Ledger, file_id: i64) -> Vec<String> {
        let mut statement = ledger
            .conn
            .prepare("SELECT order_key FROM order_events WHERE file_id = ?1 ORDER BY id")
            .unwrap();
        statement
            .query_map([file_id], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_file_staged_again_forgets_its_own_events_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        let a = ledger.begin_claim("orders", "a.csv", 1).unwrap();
        let b = ledger.begin_claim("orders", "b.csv", 1).unwrap();
        // Two files' events interleave (two routes at work at once).
        for (file, key) in [(a, "1"), (b, "2"), (a, "3"), (b, "4")] {
            let mut batch = ledger.order_batch(file, 0);
            batch.record(event(key)).unwrap();
            batch.commit().unwrap();
        }
        ledger.forget_order_events(a).unwrap();
        assert_eq!(events_of(&ledger, a), Vec::<String>::new());
        assert_eq!(events_of(&ledger, b), ["2", "4"]);
        // Staged once more, the file is marked again by its new first event.
        let mut batch = ledger.order_batch(a, 0);
        batch.record(event("5")).unwrap();
        batch.commit().unwrap();
        drop(batch);
        ledger.forget_order_events(a).unwrap();
        assert_eq!(events_of(&ledger, a), Vec::<String>::new());
        assert_eq!(events_of(&ledger, b), ["2", "4"]);
    }

    /// A folder with a ledger of schema version `version` (its first migrations only), holding
    /// the rows `rows` (SQL) inserts.
    fn ledger_at_version(version: usize, rows: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join(super::super::LEDGER_FILE)).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        conn.execute_batch(rows).unwrap();
        dir
    }

    /// An order of `key` due `due_ms` after its file was taken at 0, or a shipment of it.
    fn due(key: &str, kind: EventKind, due_ms: Option<i64>) -> OrderEvent {
        OrderEvent {
            kind,
            due_ms,
            ..event(key)
        }
    }

    /// Records `events` as file `name`'s, taken at 0; delivered (with its archive) when
    /// `deliver`.
    fn file_with(ledger: &Ledger, name: &str, events: &[OrderEvent], deliver: bool) -> i64 {
        let id = ledger.begin_claim("orders", name, 1).unwrap();
        let mut batch = ledger.order_batch(id, 0);
        for e in events {
            batch.record(e.clone()).unwrap();
        }
        batch.commit().unwrap();
        drop(batch);
        if deliver {
            ledger.delivered(id, "archive", None).unwrap();
        }
        id
    }

    fn late_keys(ledger: &Ledger, now_ms: i64) -> Vec<String> {
        let (count, late) = ledger.late_orders(now_ms, 100).unwrap();
        assert_eq!(count as usize, late.len());
        late.into_iter().map(|o| o.order_id).collect()
    }

    #[test]
    fn an_order_is_late_until_a_shipment_or_cancellation_of_it_is_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        let orders: Vec<OrderEvent> = ["1", "2", "3", "4"]
            .iter()
            .map(|k| due(k, EventKind::Order, Some(1000)))
            .chain([due("5", EventKind::Order, None)])
            .collect();
        file_with(&ledger, "orders.csv", &orders, true);
        assert_eq!(
            late_keys(&ledger, 1000),
            Vec::<String>::new(),
            "not yet due"
        );
        assert_eq!(late_keys(&ledger, 1001), ["1", "2", "3", "4"]);
        // A shipment counts once its file is delivered; a cancellation too.
        let shipped = file_with(
            &ledger,
            "shipments.csv",
            &[
                due("1", EventKind::Shipment, None),
                due("2", EventKind::Cancel, None),
            ],
            false,
        );
        assert_eq!(late_keys(&ledger, 1001), ["1", "2", "3", "4"]);
        ledger.delivered(shipped, "archive", None).unwrap();
        assert_eq!(late_keys(&ledger, 1001), ["3", "4"]);
        // A shipment delivered before its order was sent (again) still answers it.
        file_with(
            &ledger,
            "early.csv",
            &[due("6", EventKind::Shipment, None)],
            true,
        );
        file_with(
            &ledger,
            "late.csv",
            &[due("6", EventKind::Order, Some(1000))],
            true,
        );
        assert_eq!(late_keys(&ledger, 1001), ["3", "4"]);
        // An order whose file is not delivered is not late; forgotten, it is gone.
        let pending = file_with(
            &ledger,
            "pending.csv",
            &[due("7", EventKind::Order, Some(1))],
            false,
        );
        assert_eq!(late_keys(&ledger, 1001), ["3", "4"]);
        ledger.forget_order_events(pending).unwrap();
        let awaiting: i64 = ledger
            .conn
            .query_row("SELECT count(*) FROM orders_awaiting", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            awaiting, 3,
            "orders 3, 4 and 6 (checked against its history when read)"
        );
    }

    #[test]
    fn a_ledger_from_before_the_awaiting_orders_learns_which_may_be_late() {
        let dir = ledger_at_version(
            9,
            "INSERT INTO files (id, route, name, size, state, claimed_at)
                 VALUES (1, 'orders', 'a.csv', 1, 'done', 0),
                        (2, 'orders', 'b.csv', 1, 'done', 0),
                        (3, 'orders', 'c.csv', 1, 'failed', 0);
                 INSERT INTO order_events (id, order_key, order_id, kind, outcome, file_id,
                                           destination, due_ms, at_ms)
                 VALUES (1, '1', '1', 'order', 'sent', 1, 'here:out', 10, 0),
                        (2, '2', '2', 'order', 'sent', 1, 'here:out', 10, 0),
                        (3, '3', '3', 'order', 'sent', 1, 'here:out', NULL, 0),
                        (4, '1', '1', 'shipment', 'sent', 2, '', NULL, 5),
                        (5, '2', '2', 'shipment', 'sent', 3, '', NULL, 5);",
        );
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(late_keys(&ledger, 11), ["2"], "order 2's shipment failed");
    }

    #[test]
    fn a_ledger_from_before_the_mark_learns_where_each_files_events_start() {
        let dir = ledger_at_version(
            8,
            "INSERT INTO files (id, route, name, size, state, claimed_at)
                 VALUES (1, 'orders', 'a.csv', 1, 'claimed', 0),
                        (2, 'orders', 'b.csv', 1, 'done', 0);
                 INSERT INTO order_events (id, order_key, order_id, kind, outcome, file_id,
                                           destination, at_ms)
                 VALUES (7, '1', '1', 'order', 'sent', 1, 'here:out', 0),
                        (8, '2', '2', 'order', 'sent', 2, 'here:out', 0),
                        (9, '3', '3', 'order', 'sent', 1, 'here:out', 0);",
        );
        let ledger = Ledger::open(dir.path()).unwrap();
        ledger.forget_order_events(1).unwrap();
        assert_eq!(events_of(&ledger, 1), Vec::<String>::new());
        assert_eq!(events_of(&ledger, 2), ["2"]);
    }
}
