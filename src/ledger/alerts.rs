//! The alerts' outbox. An event is written in the transaction of the step that caused it (a file
//! reaching the error folder, a server's refusal) or, for what is found by looking (late orders,
//! long retries), once under its key. Each channel keeps its place in the events; those it has
//! to say wait in `alert_due` until a message carrying them is sent, so that a restart neither
//! loses nor repeats one.

use rusqlite::{OptionalExtension, params};

use super::{FileRow, Ledger, Result, State, now_ms};
use crate::alerts::{Event, Kind};

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its id, in the order events happened.
    pub id: i64,
    /// When it happened (ms since the epoch).
    pub at_ms: i64,
    /// What happened.
    pub event: Event,
}

/// A channel's standing, as the ledger keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStanding {
    /// Events it has still to say.
    pub waiting: u64,
    /// Failed sends in a row.
    pub failures: u32,
    /// When it is tried again after a failure (ms since the epoch).
    pub next_try_ms: Option<i64>,
    /// The last failure, one line.
    pub last_error: Option<String>,
    /// Messages sent.
    pub sent: u64,
    /// Sends that failed.
    pub failed: u64,
}

/// What an event that may be answered by an all-clear was about, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    /// The event's kind.
    pub kind: Kind,
    /// Its subject (route, server, `ledger`).
    pub subject: String,
    /// Its id.
    pub id: i64,
    /// When it happened (ms since the epoch).
    pub at_ms: i64,
    /// What it said.
    pub event: Event,
}

/// The kinds an all-clear answers.
const ANSWERED_BY_ALL_CLEAR: &str =
    "('file_failed','retrying','endpoint_refused','ledger_unwritable','all_clear')";

fn insert(conn: &rusqlite::Connection, key: Option<&str>, event: &Event) -> Result<bool> {
    let body = serde_json::to_string(event).expect("an event is plain data");
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO alert_events (kind, subject, key, body, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            event.kind().as_str(),
            event.subject(),
            key,
            body,
            now_ms()
        ])?;
    Ok(inserted == 1)
}

/// The event in `body`; `None` for one this version cannot read (written by a newer one, before
/// a downgrade), which is passed over.
fn parse(body: &str) -> Option<Event> {
    serde_json::from_str(body).ok()
}

impl Ledger {
    /// Puts `event` in the outbox (in the caller's transaction, when there is one).
    pub fn alert(&self, event: &Event) -> Result<()> {
        insert(&self.conn, None, event).map(|_| ())
    }

    /// Puts `event` in the outbox unless an event with `key` is there already; says whether it
    /// was put.
    pub fn alert_once(&self, key: &str, event: &Event) -> Result<bool> {
        insert(&self.conn, Some(key), event)
    }

    /// Ends the journey of file `id` in the error folder and puts `event` in the outbox, in one
    /// transaction: the alert is said exactly when the file is there.
    pub fn finish_failed(&self, id: i64, event: &Event) -> Result<()> {
        self.atomically(|| {
            self.finish(id, State::Failed)?;
            self.alert(event)
        })
    }

    /// Makes `channel` known: a channel new to this ledger starts after the events already in
    /// the outbox (it is not sent the history).
    pub fn open_alert_channel(&self, channel: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO alert_channels (name, cursor)
             VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM alert_events))",
            [channel],
        )?;
        Ok(())
    }

    /// Moves the events new to `channel` into what it has to say when `wants` them, and its
    /// place past them, in one transaction.
    pub fn take_new_alerts(&self, channel: &str, wants: impl Fn(&Event) -> bool) -> Result<()> {
        // Looked at first without the write lock: most rounds find nothing new.
        let nothing_new: bool = self.conn.query_row(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM alert_events) <= cursor
             FROM alert_channels WHERE name = ?1",
            [channel],
            |r| r.get(0),
        )?;
        if nothing_new {
            return Ok(());
        }
        self.atomically(|| {
            let cursor: i64 = self.conn.query_row(
                "SELECT cursor FROM alert_channels WHERE name = ?1",
                [channel],
                |r| r.get(0),
            )?;
            let mut statement = self.conn.prepare_cached(
                "SELECT id, body FROM alert_events WHERE id > ?1 ORDER BY id LIMIT 10000",
            )?;
            let new: Vec<(i64, String)> = statement
                .query_map([cursor], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let Some(&(last, _)) = new.last() else {
                return Ok(());
            };
            for (id, body) in &new {
                if parse(body).is_some_and(|e| wants(&e)) {
                    self.conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO alert_due (channel, event_id) VALUES (?1, ?2)",
                        )?
                        .execute(params![channel, id])?;
                }
            }
            self.conn.execute(
                "UPDATE alert_channels SET cursor = ?2 WHERE name = ?1",
                params![channel, last],
            )?;
            Ok(())
        })
    }

    /// The events `channel` has still to say, oldest first.
    pub fn due_alerts(&self, channel: &str) -> Result<Vec<OutboxEvent>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT e.id, e.at_ms, e.body FROM alert_due d JOIN alert_events e ON e.id = d.event_id
             WHERE d.channel = ?1 ORDER BY e.id",
        )?;
        let rows = statement.query_map([channel], |r| {
            let (id, at_ms) = (r.get(0)?, r.get(1)?);
            Ok(parse(&r.get::<_, String>(2)?).map(|event| OutboxEvent { id, at_ms, event }))
        })?;
        let rows: Vec<Option<OutboxEvent>> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// When `channel` last sent a message of `kind` about `subject`.
    pub fn last_alert_message(
        &self,
        channel: &str,
        kind: Kind,
        subject: &str,
    ) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(sent_at_ms) FROM alert_messages WHERE channel = ?1 AND kind = ?2 AND subject = ?3",
            params![channel, kind.as_str(), subject],
            |r| r.get(0),
        )?)
    }

    /// Messages `channel` sent since `since_ms`.
    pub fn alert_messages_since(&self, channel: &str, since_ms: i64) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM alert_messages WHERE channel = ?1 AND sent_at_ms >= ?2",
            params![channel, since_ms],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Records that `channel` sent one message of `kind` about `subject` carrying the events
    /// `ids`: they are no longer due, and the channel's faults are over.
    pub fn alert_sent(&self, channel: &str, kind: Kind, subject: &str, ids: &[i64]) -> Result<()> {
        self.atomically(|| {
            self.conn.execute(
                "INSERT INTO alert_messages (channel, kind, subject, events, first_event, sent_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    channel,
                    kind.as_str(),
                    subject,
                    ids.len() as i64,
                    ids.first().copied().unwrap_or_default(),
                    now_ms()
                ],
            )?;
            for id in ids {
                self.conn
                    .prepare_cached("DELETE FROM alert_due WHERE channel = ?1 AND event_id = ?2")?
                    .execute(params![channel, id])?;
            }
            self.conn.execute(
                "UPDATE alert_channels SET sent = sent + 1, failures = 0, next_try_ms = NULL
                 WHERE name = ?1",
                [channel],
            )?;
            Ok(())
        })
    }

    /// Records that a send of `channel` failed with `error` and when to try again; returns the
    /// failures in a row so far.
    pub fn alert_send_failed(&self, channel: &str, error: &str, next_try_ms: i64) -> Result<u32> {
        Ok(self.conn.query_row(
            "UPDATE alert_channels SET failures = failures + 1, failed = failed + 1,
                 next_try_ms = ?2, last_error = ?3
             WHERE name = ?1 RETURNING failures",
            params![channel, next_try_ms, error],
            |r| r.get(0),
        )?)
    }

    /// How `channel` stands, when this ledger knows it.
    pub fn alert_channel(&self, channel: &str) -> Result<Option<ChannelStanding>> {
        Ok(self
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM alert_due WHERE channel = ?1),
                        failures, next_try_ms, last_error, sent, failed
                 FROM alert_channels WHERE name = ?1",
                [channel],
                |r| {
                    Ok(ChannelStanding {
                        waiting: r.get::<_, i64>(0)? as u64,
                        failures: r.get(1)?,
                        next_try_ms: r.get(2)?,
                        last_error: r.get(3)?,
                        sent: r.get::<_, i64>(4)? as u64,
                        failed: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// Per subject, the latest failure an all-clear would answer, when no all-clear came since.
    pub fn unanswered_failures(&self) -> Result<Vec<Unanswered>> {
        // SQLite takes a bare column of an aggregate query from the row MAX() chose.
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT subject, MAX(id), kind, at_ms, body FROM alert_events
             WHERE kind IN {ANSWERED_BY_ALL_CLEAR} GROUP BY subject"
        ))?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut unanswered = Vec::new();
        for row in rows {
            let (subject, id, at_ms, body) = row?;
            let Some(event) = parse(&body) else { continue };
            let kind = event.kind();
            if kind != Kind::AllClear {
                unanswered.push(Unanswered {
                    kind,
                    subject,
                    id,
                    at_ms,
                    event,
                });
            }
        }
        Ok(unanswered)
    }

    /// Files still on their way that have failed at least once and were taken before
    /// `before_ms`.
    pub fn retrying_since(&self, before_ms: i64) -> Result<Vec<FileRow>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {} FROM files WHERE state IN {} AND attempts > 0 AND claimed_at <= ?1 ORDER BY id",
            super::COLUMNS,
            super::UNFINISHED
        ))?;
        let rows = statement.query_map([before_ms], super::row_to_file)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(file: &str) -> Event {
        Event::FileFailed {
            route: "orders".into(),
            file: file.into(),
            reason: "line 2: no order id".into(),
            report: format!("/errors/{file}.error.txt"),
        }
    }

    #[test]
    fn a_channel_gets_the_events_after_its_start_once_and_keeps_them_until_sent() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        ledger.alert(&failed("before.csv")).unwrap();
        ledger.open_alert_channel("ops").unwrap();
        ledger.alert(&failed("a.csv")).unwrap();
        ledger.alert(&failed("b.csv")).unwrap();
        ledger
            .take_new_alerts("ops", |e| e != &failed("b.csv"))
            .unwrap();
        ledger.take_new_alerts("ops", |_| true).unwrap();
        let due = ledger.due_alerts("ops").unwrap();
        assert_eq!(
            due.iter().map(|e| &e.event).collect::<Vec<_>>(),
            [&failed("a.csv")]
        );
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.due_alerts("ops").unwrap(), due);
        ledger
            .alert_sent("ops", Kind::FileFailed, "orders", &[due[0].id])
            .unwrap();
        assert!(ledger.due_alerts("ops").unwrap().is_empty());
        let standing = ledger.alert_channel("ops").unwrap().unwrap();
        assert_eq!((standing.sent, standing.waiting), (1, 0));
    }

    #[test]
    fn an_event_with_a_key_goes_in_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        assert!(ledger.alert_once("late:1", &failed("a.csv")).unwrap());
        assert!(!ledger.alert_once("late:1", &failed("a.csv")).unwrap());
    }

    #[test]
    fn an_all_clear_answers_the_failures_of_its_subject_only() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        ledger.alert(&failed("a.csv")).unwrap();
        ledger
            .alert(&Event::EndpointRefused {
                endpoint: "u@h:22".into(),
                message: "no".into(),
            })
            .unwrap();
        ledger
            .alert(&Event::AllClear {
                subject: "orders".into(),
                after: "a.csv".into(),
                of_route: true,
            })
            .unwrap();
        let open = ledger.unanswered_failures().unwrap();
        assert_eq!(
            open.iter().map(|u| u.subject.as_str()).collect::<Vec<_>>(),
            ["u@h:22"]
        );
    }
}
