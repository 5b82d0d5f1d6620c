//! The ledger: an SQLite database in the state folder that records the journey of every file.
//!
//! Each step is committed right after it happens and before the next begins, so that after a
//! crash every file can resume from the step it reached (see `journey.rs`). The schema carries a
//! version (`PRAGMA user_version`) and is upgraded by the migrations below.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

/// Ledger failures: the database could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[error("the ledger database failed: {0}")]
pub struct LedgerError(#[from] rusqlite::Error);

/// Result of ledger operations.
pub type Result<T> = std::result::Result<T, LedgerError>;

/// Migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE files (
        id              INTEGER PRIMARY KEY,
        route           TEXT NOT NULL,
        name            TEXT NOT NULL,
        size            INTEGER NOT NULL,
        sha256          TEXT,
        state           TEXT NOT NULL,
        claimed_at      INTEGER NOT NULL,
        output_size     INTEGER,
        output_sha256   TEXT,
        output_name     TEXT,
        final_path      TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error      TEXT,
        report          TEXT,
        finished_at     INTEGER
    );
    CREATE INDEX files_by_route_state ON files(route, state);
    CREATE INDEX files_by_route_hash ON files(route, sha256);
    CREATE INDEX files_by_finish ON files(route, finished_at);
",
    "
    ALTER TABLE files ADD COLUMN rejected_path TEXT;
",
    "
    CREATE TABLE control_numbers (
        key         TEXT PRIMARY KEY,
        interchange INTEGER NOT NULL,
        grp         INTEGER NOT NULL
    );
",
    "
    CREATE TABLE sent_groups (
        partner         TEXT NOT NULL,
        grp             INTEGER NOT NULL,
        file_id         INTEGER NOT NULL,
        functional_id   TEXT NOT NULL,
        sets            INTEGER NOT NULL DEFAULT 0,
        due_ms          INTEGER,
        ack_status      TEXT,
        acknowledged_at INTEGER,
        ack_file        TEXT,
        PRIMARY KEY (partner, grp)
    );
    CREATE INDEX sent_groups_by_file ON sent_groups(file_id);
    CREATE TABLE sent_sets (
        partner    TEXT NOT NULL,
        grp        INTEGER NOT NULL,
        control    TEXT NOT NULL,
        set_id     TEXT NOT NULL,
        reference  TEXT,
        ack_status TEXT,
        ack_codes  TEXT,
        PRIMARY KEY (partner, grp, control)
    );
",
    "
    CREATE TABLE side_files (
        file_id INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        path    TEXT NOT NULL,
        done    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (file_id, kind)
    );
    CREATE TABLE reconciliations (
        file_id        INTEGER PRIMARY KEY,
        route          TEXT NOT NULL,
        at             INTEGER NOT NULL,
        cart_export    TEXT NOT NULL,
        compared       INTEGER NOT NULL,
        differences    INTEGER NOT NULL,
        cart_only      INTEGER NOT NULL,
        warehouse_only INTEGER NOT NULL
    );
",
];

/// Largest X12 interchange or group control number (nine digits); the next after it is 1.
pub const MAX_CONTROL_NUMBER: u64 = 999_999_999;

/// Where a file is in its journey. The first six are steps; the last four are ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The row exists; the rename into the processing area may or may not have happened.
    Claiming,
    /// The source is in the processing area and hashed.
    Claimed,
    /// The output is complete in staging.
    Staged,
    /// The final name is chosen; the upload may or may not have happened.
    Delivering,
    /// The output is at the destination under its final name.
    Delivered,
    /// Delivered and archived.
    Done,
    /// Same content as an earlier delivery on this route; archived, not delivered.
    Duplicate,
    /// On its way to the error folder.
    Failing,
    /// In the error folder with its report.
    Failed,
    /// The claim found the source gone (taken by someone else); nothing to do.
    Abandoned,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Claiming => "claiming",
            State::Claimed => "claimed",
            State::Staged => "staged",
            State::Delivering => "delivering",
            State::Delivered => "delivered",
            State::Done => "done",
            State::Duplicate => "duplicate",
            State::Failing => "failing",
            State::Failed => "failed",
            State::Abandoned => "abandoned",
        }
    }

    /// True for the states that end a journey.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Done | State::Duplicate | State::Failed | State::Abandoned
        )
    }

    fn parse(s: &str) -> State {
        match s {
            "claiming" => State::Claiming,
            "claimed" => State::Claimed,
            "staged" => State::Staged,
            "delivering" => State::Delivering,
            "delivered" => State::Delivered,
            "done" => State::Done,
            "duplicate" => State::Duplicate,
            "failing" => State::Failing,
            "failed" => State::Failed,
            _ => State::Abandoned,
        }
    }
}

/// The states of files still on their journey.
const UNFINISHED: &str = "('claiming','claimed','staged','delivering','delivered','failing')";

/// One file's row.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// Ledger id.
    pub id: i64,
    /// Route name.
    pub route: String,
    /// Source file name.
    pub name: String,
    /// Source size in bytes.
    pub size: u64,
    /// Source content hash, once claimed.
    pub sha256: Option<String>,
    /// Journey step.
    pub state: State,
    /// When the file was claimed (milliseconds since the Unix epoch).
    pub claimed_at_ms: i64,
    /// Output size, once staged.
    pub output_size: Option<u64>,
    /// Output content hash, once staged.
    pub output_sha256: Option<String>,
    /// Delivered name, once chosen.
    pub output_name: Option<String>,
    /// Where the source ends (archive or error folder), once chosen.
    pub final_path: Option<String>,
    /// Attempts that met a transient fault.
    pub attempts: u32,
    /// When the next attempt is due (ms since epoch).
    pub next_attempt_at_ms: Option<i64>,
    /// The last fault or failure, one line, without customer data.
    pub last_error: Option<String>,
    /// The error report, for files on their way to the error folder.
    pub report: Option<String>,
    /// Where the documents a split left out go in the error folder, once chosen.
    pub rejected_path: Option<String>,
}

/// The latest failure of a route.
#[derive(Debug, Clone)]
pub struct LastFailure {
    /// Source file name.
    pub name: String,
    /// When it failed (ms since epoch).
    pub at_ms: i64,
    /// One-line reason.
    pub reason: String,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// Milliseconds since the Unix epoch for a time.
pub fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// An open ledger. One per thread; SQLite's WAL lets several work side by side.
pub struct Ledger {
    conn: Connection,
}

const COLUMNS: &str =
    "id, route, name, size, sha256, state, claimed_at, output_size, output_sha256,
    output_name, final_path, attempts, next_attempt_at, last_error, report, rejected_path";

fn row_to_file(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        route: r.get(1)?,
        name: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        sha256: r.get(4)?,
        state: State::parse(&r.get::<_, String>(5)?),
        claimed_at_ms: r.get(6)?,
        output_size: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        output_sha256: r.get(8)?,
        output_name: r.get(9)?,
        final_path: r.get(10)?,
        attempts: r.get(11)?,
        next_attempt_at_ms: r.get(12)?,
        last_error: r.get(13)?,
        report: r.get(14)?,
        rejected_path: r.get(15)?,
    })
}

impl Ledger {
    /// Opens (creating and upgrading as needed) the ledger in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Ledger> {
        let conn = Connection::open(state_dir.join("ledger.sqlite3"))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // WAL + NORMAL: a commit survives a process crash; after a power loss the last commits may
        // be missing, which recovery tolerates because every step is checked against the files.
        // Switching to WAL needs the database to itself, so it is done only once, by the first opener.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut ledger = Ledger { conn };
        ledger.migrate()?;
        Ok(ledger)
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for sql in MIGRATIONS.iter().skip(version) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
        tx.commit()?;
        Ok(())
    }

    /// Reserves the next interchange and group control numbers of the sequence `key` (one per
    /// trading partner). The reservation is committed with a full flush before it is returned,
    /// so a number handed out is never handed out again, even after a power cut; numbers of a
    /// file that is then made again are skipped, not reused.
    pub fn reserve_control_numbers(&self, key: &str) -> Result<(u64, u64)> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let reserved = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO control_numbers (key, interchange, grp) VALUES (?1, 0, 0)",
                [key],
            )?;
            tx.execute(
                "UPDATE control_numbers SET interchange = interchange % ?2 + 1, grp = grp % ?2 + 1
                 WHERE key = ?1",
                rusqlite::params![key, MAX_CONTROL_NUMBER as i64],
            )?;
            let numbers: (i64, i64) = tx.query_row(
                "SELECT interchange, grp FROM control_numbers WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.commit()?;
            Ok((numbers.0 as u64, numbers.1 as u64))
        })();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        reserved
    }

    /// Records the intent to claim `name`; returns the new row's id.
    pub fn begin_claim(&self, route: &str, name: &str, size: u64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO files (route, name, size, state, claimed_at) VALUES (?1, ?2, ?3, 'claiming', ?4)",
            params![route, name, size as i64, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// One row, if it exists.
    pub fn find(&self, id: i64) -> Result<Option<FileRow>> {
        // Read several times per file: the parsed statement is kept.
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM files WHERE id = ?1"))?;
        Ok(stmt.query_row([id], row_to_file).optional()?)
    }

    /// One row, which must exist.
    pub fn get(&self, id: i64) -> Result<FileRow> {
        self.find(id)?
            .ok_or(LedgerError(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The source is in the processing area: its real size and hash.
    pub fn claimed(&self, id: i64, size: u64, sha256: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'claimed', size = ?2, sha256 = ?3 WHERE id = ?1",
            params![id, size as i64, sha256],
        )?;
        Ok(())
    }

    /// The claim found nothing to take.
    pub fn abandon(&self, id: i64) -> Result<()> {
        self.finish(id, State::Abandoned)
    }

    /// The output is complete in staging; its final name is still to be chosen (again).
    pub fn staged(&self, id: i64, size: u64, sha256: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'staged', output_size = ?2, output_sha256 = ?3 WHERE id = ?1",
            params![id, size as i64, sha256],
        )?;
        Ok(())
    }

    /// The output is complete in staging and its final name chosen; delivery begins.
    pub fn delivering(&self, id: i64, size: u64, sha256: &str, output_name: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'delivering', output_size = ?2, output_sha256 = ?3,
             output_name = ?4 WHERE id = ?1",
            params![id, size as i64, sha256, output_name],
        )?;
        Ok(())
    }

    /// The output is at its destination; the source will be archived at `archive_path`.
    pub fn delivered(&self, id: i64, archive_path: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'delivered', final_path = ?2 WHERE id = ?1",
            params![id, archive_path],
        )?;
        Ok(())
    }

    /// Records where the documents a split left out go, before they are written there.
    pub fn rejecting(&self, id: i64, rejected_path: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET rejected_path = ?2 WHERE id = ?1",
            params![id, rejected_path],
        )?;
        Ok(())
    }

    /// Records where the source will be archived, before it is moved there.
    pub fn archiving(&self, id: i64, final_path: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET final_path = ?2 WHERE id = ?1",
            params![id, final_path],
        )?;
        Ok(())
    }

    /// Ends the journey in `state` (done, duplicate, failed or abandoned).
    pub fn finish(&self, id: i64, state: State) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = ?2, finished_at = ?3, next_attempt_at = NULL WHERE id = ?1",
            params![id, state.as_str(), now_ms()],
        )?;
        Ok(())
    }

    /// Records the way to the error folder, before the file is moved there.
    pub fn failing(&self, id: i64, final_path: &str, reason: &str, report: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'failing', final_path = ?2, last_error = ?3, report = ?4 WHERE id = ?1",
            params![id, final_path, reason, report],
        )?;
        Ok(())
    }

    /// Records a transient fault and when to try again.
    pub fn retry_later(&self, id: i64, attempts: u32, next_at_ms: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
            params![id, attempts, next_at_ms, error],
        )?;
        Ok(())
    }

    /// Files of `route` still on their journey, oldest first.
    pub fn unfinished(&self, route: &str) -> Result<Vec<FileRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM files WHERE route = ?1 AND state IN {UNFINISHED} ORDER BY id"
        ))?;
        let rows = stmt.query_map([route], row_to_file)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When the earliest retry of an unfinished file of `route` is due (ms since epoch).
    pub fn next_attempt_at(&self, route: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            &format!(
                "SELECT MIN(next_attempt_at) FROM files WHERE route = ?1 AND state IN {UNFINISHED}"
            ),
            [route],
            |r| r.get(0),
        )?)
    }

    /// An earlier file of `route` with this content that was delivered, if any.
    pub fn delivered_with_hash(
        &self,
        route: &str,
        sha256: &str,
        except: i64,
    ) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM files WHERE route = ?1 AND sha256 = ?2 AND id <> ?3
                 AND state IN ('delivered', 'done') LIMIT 1",
                params![route, sha256, except],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Files of `route` delivered since `since_ms`.
    pub fn delivered_since(&self, route: &str, since_ms: i64) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM files WHERE route = ?1 AND state = 'done' AND finished_at >= ?2",
            params![route, since_ms],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The route's most recent failure.
    pub fn last_failure(&self, route: &str) -> Result<Option<LastFailure>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, finished_at, last_error FROM files
                 WHERE route = ?1 AND state = 'failed' ORDER BY finished_at DESC, id DESC LIMIT 1",
                [route],
                |r| {
                    Ok(LastFailure {
                        name: r.get(0)?,
                        at_ms: r.get(1)?,
                        reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }
}

/// A functional group cartferry sent, as the ledger recorded it when its file was staged.
#[derive(Debug, Clone)]
pub struct SentGroup {
    /// The route that sent it.
    pub route: String,
    /// The source file its documents came from.
    pub source_name: String,
    /// The name it was delivered under.
    pub output_name: Option<String>,
    /// GS01.
    pub functional_id: String,
    /// Transaction sets in it.
    pub sets: u64,
}

/// A sent group still without its 997 after the time its partner was given.
#[derive(Debug, Clone)]
pub struct LateGroup {
    /// The partner's control-number key (`x12:ZZ:US:ZZ:THEM`).
    pub partner: String,
    /// GS06.
    pub group: u64,
    /// What it was.
    pub sent: SentGroup,
    /// When its file was delivered (ms since epoch).
    pub sent_at_ms: i64,
    /// When its 997 was due (ms since epoch).
    pub due_at_ms: i64,
}

/// One transaction set of a group being recorded as sent.
#[derive(Debug, Clone)]
pub struct SentSet<'a> {
    /// The partner's control-number key.
    pub partner: &'a str,
    /// GS06.
    pub group: u64,
    /// GS01.
    pub functional_id: &'a str,
    /// ST01.
    pub set_id: &'a str,
    /// ST02.
    pub control: &'a str,
    /// The document it carries (order id …), when known.
    pub reference: Option<&'a str>,
}

/// The record of a staged file's sent groups, in one transaction: replaces what an earlier
/// staging of the same file recorded, and counts for nothing until [`SentLog::commit`].
pub struct SentLog<'l> {
    tx: rusqlite::Transaction<'l>,
    file_id: i64,
    due_ms: Option<i64>,
    /// The group of the last set recorded.
    group: Option<(String, u64)>,
}

impl SentLog<'_> {
    /// Records one set (and its group, the first time).
    pub fn set(&mut self, set: &SentSet<'_>) -> Result<()> {
        if self
            .group
            .as_ref()
            .is_none_or(|(p, g)| p != set.partner || *g != set.group)
        {
            // A group number seen again (after nine digits wrapped) is a new group.
            self.tx.execute(
                "DELETE FROM sent_sets WHERE partner = ?1 AND grp = ?2",
                params![set.partner, set.group as i64],
            )?;
            self.tx.execute(
                "INSERT OR REPLACE INTO sent_groups (partner, grp, file_id, functional_id, due_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    set.partner,
                    set.group as i64,
                    self.file_id,
                    set.functional_id,
                    self.due_ms
                ],
            )?;
            self.group = Some((set.partner.to_string(), set.group));
        }
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO sent_sets (partner, grp, control, set_id, reference)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                set.partner,
                set.group as i64,
                set.control,
                set.set_id,
                set.reference
            ])?;
        Ok(())
    }

    /// Counts each group's sets and commits the record.
    pub fn commit(self) -> Result<()> {
        self.tx.execute(
            "UPDATE sent_groups SET sets = (SELECT COUNT(*) FROM sent_sets s
             WHERE s.partner = sent_groups.partner AND s.grp = sent_groups.grp)
             WHERE file_id = ?1",
            [self.file_id],
        )?;
        Ok(self.tx.commit()?)
    }
}

/// What reconciling a warehouse's inventory with the cart's stock export found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The cart's export it was compared with.
    pub cart_export: String,
    /// SKUs on either side.
    pub compared: u64,
    /// SKUs on both sides whose quantities differ beyond the threshold.
    pub differences: u64,
    /// SKUs only in the cart's export.
    pub cart_only: u64,
    /// SKUs only in the warehouse's inventory.
    pub warehouse_only: u64,
}

impl std::fmt::Display for Reconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} SKUs compared with {}: {} differ, {} only in the cart, {} only at the warehouse",
            self.compared, self.cart_export, self.differences, self.cart_only, self.warehouse_only
        )
    }
}

impl Ledger {
    /// Runs `work` in one transaction: its writes are committed together (far faster than one
    /// by one), or not at all when it fails.
    pub fn atomically<T, E: From<LedgerError>>(
        &self,
        work: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(LedgerError::from)?;
        let value = work()?;
        tx.commit().map_err(LedgerError::from)?;
        Ok(value)
    }

    /// Starts recording the groups of file `file_id`'s staged output, forgetting any recorded
    /// for an earlier staging; `due` is how long the partner may take to acknowledge them.
    pub fn record_sent(&self, file_id: i64, due: Option<Duration>) -> Result<SentLog<'_>> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM sent_sets WHERE EXISTS (SELECT 1 FROM sent_groups g
             WHERE g.file_id = ?1 AND g.partner = sent_sets.partner AND g.grp = sent_sets.grp)",
            [file_id],
        )?;
        tx.execute("DELETE FROM sent_groups WHERE file_id = ?1", [file_id])?;
        Ok(SentLog {
            tx,
            file_id,
            due_ms: due.map(|d| d.as_millis() as i64),
            group: None,
        })
    }

    /// The group `group` staged for `partner`. Its delivery may not be recorded yet: a partner
    /// can read a file and answer before the delivery's record is committed.
    pub fn sent_group(&self, partner: &str, group: u64) -> Result<Option<SentGroup>> {
        Ok(self
            .conn
            .query_row(
                "SELECT f.route, f.name, f.output_name, g.functional_id, g.sets
                 FROM sent_groups g JOIN files f ON f.id = g.file_id
                 WHERE g.partner = ?1 AND g.grp = ?2",
                params![partner, group as i64],
                |r| {
                    Ok(SentGroup {
                        route: r.get(0)?,
                        source_name: r.get(1)?,
                        output_name: r.get(2)?,
                        functional_id: r.get(3)?,
                        sets: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// Records what a 997 (file `ack_file`) says of a sent group: AK9-01 `status`.
    pub fn acknowledge_group(
        &self,
        partner: &str,
        group: u64,
        status: &str,
        ack_file: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE sent_groups SET ack_status = ?3, acknowledged_at = ?4, ack_file = ?5
             WHERE partner = ?1 AND grp = ?2",
            params![partner, group as i64, status, now_ms(), ack_file],
        )?;
        Ok(())
    }

    /// Records what a 997 says of one sent set (AK5-01 `status` and its `codes`); returns the
    /// set's ST01 and the reference of the document it carried, or `None` when the group sent
    /// no such set.
    pub fn acknowledge_set(
        &self,
        partner: &str,
        group: u64,
        control: &str,
        status: &str,
        codes: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE sent_sets SET ack_status = ?4, ack_codes = ?5
                 WHERE partner = ?1 AND grp = ?2 AND control = ?3
                 RETURNING set_id, reference",
            )?
            .query_row(
                params![partner, group as i64, control, status, codes],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Delivered groups whose 997 has not come although it was due before `now_ms`, oldest first.
    pub fn late_groups(&self, now_ms: i64) -> Result<Vec<LateGroup>> {
        let mut stmt = self.conn.prepare(
            "SELECT g.partner, g.grp, f.route, f.name, f.output_name, g.functional_id, g.sets,
                    COALESCE(f.finished_at, f.claimed_at) AS sent_at, g.due_ms
             FROM sent_groups g JOIN files f ON f.id = g.file_id
             WHERE g.ack_status IS NULL AND g.due_ms IS NOT NULL
               AND f.state IN ('delivered', 'done')
               AND COALESCE(f.finished_at, f.claimed_at) + g.due_ms <= ?1
             ORDER BY sent_at, g.grp",
        )?;
        let rows = stmt.query_map([now_ms], |r| {
            let sent_at_ms: i64 = r.get(7)?;
            Ok(LateGroup {
                partner: r.get(0)?,
                group: r.get::<_, i64>(1)? as u64,
                sent: SentGroup {
                    route: r.get(2)?,
                    source_name: r.get(3)?,
                    output_name: r.get(4)?,
                    functional_id: r.get(5)?,
                    sets: r.get::<_, i64>(6)? as u64,
                },
                sent_at_ms,
                due_at_ms: sent_at_ms + r.get::<_, i64>(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The side file `kind` (`status`, `discrepancies`) of file `file_id`: its path, and whether
    /// it is written.
    pub fn side_file(&self, file_id: i64, kind: &str) -> Result<Option<(String, bool)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT path, done FROM side_files WHERE file_id = ?1 AND kind = ?2",
                params![file_id, kind],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records the path of file `file_id`'s side file `kind`, before it is written.
    pub fn writing_side_file(&self, file_id: i64, kind: &str, path: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO side_files (file_id, kind, path, done) VALUES (?1, ?2, ?3, 0)",
            params![file_id, kind, path],
        )?;
        Ok(())
    }

    /// File `file_id`'s side file `kind` is written (or there was nothing to write).
    pub fn wrote_side_file(&self, file_id: i64, kind: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE side_files SET done = 1 WHERE file_id = ?1 AND kind = ?2",
            params![file_id, kind],
        )?;
        Ok(())
    }

    /// Records what reconciling file `file_id` of `route` found.
    pub fn reconciled(&self, file_id: i64, route: &str, found: &Reconciled) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO reconciliations
             (file_id, route, at, cart_export, compared, differences, cart_only, warehouse_only)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                file_id,
                route,
                now_ms(),
                found.cart_export,
                found.compared as i64,
                found.differences as i64,
                found.cart_only as i64,
                found.warehouse_only as i64
            ],
        )?;
        Ok(())
    }

    /// What the latest delivered file of `route` found when reconciled, and when.
    pub fn last_reconciliation(&self, route: &str) -> Result<Option<(i64, Reconciled)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT r.at, r.cart_export, r.compared, r.differences, r.cart_only, r.warehouse_only
                 FROM reconciliations r JOIN files f ON f.id = r.file_id
                 WHERE r.route = ?1 AND f.state IN ('delivered', 'done')
                 ORDER BY r.file_id DESC LIMIT 1",
                [route],
                |r| {
                    Ok((
                        r.get(0)?,
                        Reconciled {
                            cart_export: r.get(1)?,
                            compared: r.get::<_, i64>(2)? as u64,
                            differences: r.get::<_, i64>(3)? as u64,
                            cart_only: r.get::<_, i64>(4)? as u64,
                            warehouse_only: r.get::<_, i64>(5)? as u64,
                        },
                    ))
                },
            )
            .optional()?)
    }

    /// Calls `each` with every set of a sent group: (ST02, ST01, reference), in control-number
    /// order.
    pub fn each_set_of_group<E: From<LedgerError>>(
        &self,
        partner: &str,
        group: u64,
        mut each: impl FnMut(&str, &str, Option<String>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT control, set_id, reference FROM sent_sets WHERE partner = ?1 AND grp = ?2
                 ORDER BY LENGTH(control), control",
            )
            .map_err(LedgerError::from)?;
        let mut rows = stmt
            .query(params![partner, group as i64])
            .map_err(LedgerError::from)?;
        while let Some(row) = rows.next().map_err(LedgerError::from)? {
            let control: String = row.get(0).map_err(LedgerError::from)?;
            let set_id: String = row.get(1).map_err(LedgerError::from)?;
            each(&control, &set_id, row.get(2).map_err(LedgerError::from)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_numbers_go_up_per_partner_survive_reopen_and_wrap_after_nine_digits() {
        let dir = tempfile::tempdir().unwrap();
        {
            let l = Ledger::open(dir.path()).unwrap();
            assert_eq!(l.reserve_control_numbers("a").unwrap(), (1, 1));
            assert_eq!(l.reserve_control_numbers("a").unwrap(), (2, 2));
            assert_eq!(l.reserve_control_numbers("b").unwrap(), (1, 1));
        }
        let l = Ledger::open(dir.path()).unwrap();
        assert_eq!(l.reserve_control_numbers("a").unwrap(), (3, 3));
        l.conn
            .execute(
                "UPDATE control_numbers SET interchange = ?1 WHERE key = 'a'",
                [MAX_CONTROL_NUMBER as i64],
            )
            .unwrap();
        assert_eq!(l.reserve_control_numbers("a").unwrap(), (1, 4));
    }

    #[test]
    fn journey_states_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let l = Ledger::open(dir.path()).unwrap();
            let id = l.begin_claim("orders", "a.csv", 10).unwrap();
            l.claimed(id, 10, "abc").unwrap();
            l.staged(id, 12, "def").unwrap();
            id
        };
        let l = Ledger::open(dir.path()).unwrap();
        let rows = l.unfinished("orders").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, State::Staged);
        assert_eq!(rows[0].output_sha256.as_deref(), Some("def"));
        l.delivering(id, 12, "def", "a.out").unwrap();
        l.delivered(id, "/archive/a.csv").unwrap();
        assert_eq!(
            l.delivered_with_hash("orders", "abc", id + 1).unwrap(),
            Some(id)
        );
        assert_eq!(l.delivered_with_hash("orders", "abc", id).unwrap(), None);
        l.finish(id, State::Done).unwrap();
        assert!(l.unfinished("orders").unwrap().is_empty());
        assert_eq!(l.delivered_since("orders", 0).unwrap(), 1);
    }

    #[test]
    fn failures_do_not_count_as_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        let id = l.begin_claim("r", "x", 1).unwrap();
        l.claimed(id, 1, "h").unwrap();
        l.failing(id, "/e/x", "line 2: bad", "report").unwrap();
        l.finish(id, State::Failed).unwrap();
        assert_eq!(l.delivered_with_hash("r", "h", 0).unwrap(), None);
        assert_eq!(l.last_failure("r").unwrap().unwrap().reason, "line 2: bad");
    }
}
