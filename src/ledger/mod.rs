//! The ledger: an SQLite database in the state folder that records the journey of every file.
//!
//! Each step is committed right after it happens and before the next begins, so that after a
//! crash every file can resume from the step it reached (see `journey.rs`). The schema carries a
//! version (`PRAGMA user_version`) and is upgraded by the migrations of `schema.rs`. Besides the
//! files, it keeps what the per-file plug-ins record: X12 control numbers, sent groups and their
//! acknowledgments (`x12.rs`), side outputs and reconciliations (`side_outputs.rs`).

mod alerts;
mod orders;
mod pauses;
mod schema;
mod side_outputs;
mod x12;

pub use alerts::{ChannelStanding, OutboxEvent, Unanswered};
pub use orders::{
    EventKind, EventOutcome, HistoryEntry, LateOrder, OrderBatch, OrderEvent, PriorOrder,
};
pub use pauses::Pause;
pub use side_outputs::Reconciled;
pub use x12::{LateGroup, MAX_CONTROL_NUMBER, SentGroup, SentLog, SentSet};

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::alerts::Event;
use schema::MIGRATIONS;

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be opened, read or written.
    #[error("the ledger database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The ledger cannot be trusted (gone, emptied, damaged): the agent must not go on with it.
    #[error("{0}")]
    Unusable(String),
}

/// The ledger's file name in the state folder.
pub const LEDGER_FILE: &str = "ledger.sqlite3";

/// What a new ledger would forget, said in every message that offers to start one.
const NEW_LEDGER_RISK: &str = "a file delivered before may then be delivered again";

/// How much of the ledger [`check_before_use`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrutiny {
    /// Every page (SQLite's quick check) when the last process did not close the ledger (its
    /// write-ahead log is still there: a crash, a kill, a power cut), otherwise its header and
    /// schema: the quick check reads the whole file, a second or more for a large ledger, and
    /// damage found later still stops the work with an error.
    AfterUncleanStop,
    /// Every page, always (`cartferry check`).
    EveryPage,
}

/// Checks the ledger in `state_dir` before an agent works with it. An empty (0-byte) or damaged
/// ledger is refused, and so is a missing one when `evidence` says files were handled before
/// (an archive that holds files): each would silently start a ledger that forgot every delivery.
/// With `new_ledger`, a new ledger is started instead (an empty or damaged one is kept aside as
/// `ledger.sqlite3.<time>.bad`). `Ok(Some(note))` says what was done.
pub fn check_before_use(
    state_dir: &Path,
    new_ledger: bool,
    evidence: Option<String>,
    scrutiny: Scrutiny,
) -> std::result::Result<Option<String>, String> {
    let path = state_dir.join(LEDGER_FILE);
    let problem = match fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match evidence {
            Some(found) if !new_ledger => {
                return Err(format!(
                    "there is no ledger at {}, yet {found}: its ledger is gone (was it deleted, or the state folder moved?). Put it back, or start a new one with --new-ledger ({NEW_LEDGER_RISK})",
                    path.display()
                ));
            }
            _ => return Ok(None),
        },
        Err(e) => return Err(format!("cannot read the ledger {}: {e}", path.display())),
        Ok(meta) if meta.len() == 0 => {
            Some("is empty (0 bytes): what it recorded is lost".to_string())
        }
        Ok(_) => damage(&path, scrutiny),
    };
    let Some(problem) = problem else {
        return Ok(None);
    };
    if !new_ledger {
        return Err(format!(
            "the ledger {} {problem}. Restore it from a backup, or start a new one with --new-ledger ({NEW_LEDGER_RISK}; the old file is kept aside)",
            path.display()
        ));
    }
    let aside = state_dir.join(format!(
        "{LEDGER_FILE}.{}.bad",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ));
    fs::rename(&path, &aside).map_err(|e| format!("cannot move {} aside: {e}", path.display()))?;
    for companion in ["-wal", "-shm"] {
        let _ = fs::remove_file(state_dir.join(format!("{LEDGER_FILE}{companion}")));
    }
    Ok(Some(format!(
        "the ledger {problem}; it was moved to {} and a new one is started",
        aside.display()
    )))
}

/// The write-ahead log of the ledger at `path`, where a commit lies until a checkpoint (and
/// which SQLite removes when the last connection closes cleanly).
fn write_ahead_log_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// What is wrong with the ledger at `path`, if anything: SQLite's quick check finds it, or
/// (when `scrutiny` allows) a read of the schema.
fn damage(path: &Path, scrutiny: Scrutiny) -> Option<String> {
    let unclean = fs::metadata(write_ahead_log_of(path)).is_ok_and(|m| m.len() > 0);
    let check = if unclean || scrutiny == Scrutiny::EveryPage {
        "PRAGMA quick_check"
    } else {
        "SELECT 'ok' FROM (SELECT count(*) FROM sqlite_master)"
    };
    let checked = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row(check, [], |r| r.get::<_, String>(0)));
    match checked {
        Ok(answer) if answer == "ok" => None,
        Ok(answer) => Some(format!("is damaged ({answer})")),
        Err(e) => Some(format!("is damaged or not a ledger ({e})")),
    }
}

/// Result of ledger operations.
pub type Result<T> = std::result::Result<T, LedgerError>;

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
pub struct FileNote {
    /// Source file name.
    pub name: String,
    /// When it happened (ms since epoch).
    pub at_ms: i64,
    /// One line: why it failed, or what it was sent without.
    pub reason: String,
}

/// A file archived without delivery: its content was delivered before, or (on a route with an
/// order ledger) every document in it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateNote {
    /// Source file name.
    pub name: String,
    /// When it was archived (ms since epoch).
    pub at_ms: i64,
    /// Where it was archived.
    pub archived: Option<String>,
    /// The earlier file of the route delivered with the same content, and when it was taken.
    pub same_as: Option<(String, i64)>,
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
    /// The file, and its identity (device, inode) when opened: a ledger deleted or replaced
    /// under a running agent is noticed (see [`Ledger::verify_still_there`]).
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

/// The device and inode of `path`, where the platform has them.
#[cfg(unix)]
fn identity_of(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Files have no inode on this platform: only their presence is checked.
#[cfg(not(unix))]
fn identity_of(path: &Path) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|_| (0, 0))
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
        let path = state_dir.join(LEDGER_FILE);
        let conn = Connection::open(&path)?;
        // The ledger keeps report texts that quote customer data: its owner's eyes only (SQLite
        // gives its -wal and -shm files the same permissions).
        let companions = ["ledger.sqlite3-wal", "ledger.sqlite3-shm"].map(|n| state_dir.join(n));
        std::iter::once(&path)
            .chain(companions.iter().filter(|p| p.exists()))
            .try_for_each(|p| crate::platform::owner_only(p))
            .map_err(|e| {
                LedgerError::Unusable(format!("cannot make {} private: {e}", path.display()))
            })?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // WAL + NORMAL: a commit survives a process crash; after a power loss the commits since
        // the last flush may be missing, which recovery tolerates because every step is checked
        // against the files (and a delivery is recorded durably before it is made).
        // Switching to WAL needs the database to itself, so it is done only once, by the first opener.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let identity = identity_of(&path);
        let mut ledger = Ledger {
            conn,
            path,
            identity,
        };
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

    /// The ledger in `state_dir` when there is one: for readers (`status`, an endpoint looking
    /// for a pause), which must never create a ledger where one is missing (a ledger that went
    /// missing must be noticed by the next agent, not replaced).
    pub fn open_existing(state_dir: &Path) -> Result<Option<Ledger>> {
        if !state_dir.join(LEDGER_FILE).exists() {
            return Ok(None);
        }
        Ledger::open(state_dir).map(Some)
    }

    /// Fails with [`LedgerError::Unusable`] when the ledger file this connection works on is no
    /// longer the one in the state folder (deleted, moved, replaced): what is written then would
    /// be lost, and a restart would forget every delivery.
    pub fn verify_still_there(&self) -> Result<()> {
        if identity_of(&self.path) == self.identity {
            return Ok(());
        }
        Err(LedgerError::Unusable(format!(
            "the ledger {} was deleted, moved or replaced while cartferry was running (was the state folder removed?); cartferry stops so that nothing is delivered twice. Put the ledger back and start again, or start with --new-ledger ({NEW_LEDGER_RISK})",
            self.path.display()
        )))
    }

    /// Fails when the ledger cannot be written (a read-only file or file system, a full disk):
    /// writes one row. Taking the write lock alone is not enough: in WAL mode it writes nothing,
    /// and succeeds on a ledger whose files refuse writes. Another writer holding the lock is no
    /// failure.
    pub fn writable(&self) -> Result<()> {
        let probe = self.conn.execute(
            "INSERT OR REPLACE INTO write_probe (id, at_ms) VALUES (1, ?1)",
            [now_ms()],
        );
        match probe.map(|_| ()) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(())
            }
            done => Ok(done?),
        }
    }

    /// The ledger's write-ahead log, where a commit lies until a checkpoint.
    fn write_ahead_log(&self) -> PathBuf {
        write_ahead_log_of(&self.path)
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), waiting out other
    /// writers with the busy timeout. A deferred one that reads and then writes cannot wait: when
    /// another connection committed since its read, SQLite refuses the write at once ("database is
    /// locked"), which the route workers, each with its own connection, met under load.
    fn write_transaction(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
    }

    /// Runs `work` as one transaction committed with a full flush (`synchronous = FULL`). The
    /// ledger's other commits reach the disk only at checkpoints, and a power cut may take every
    /// one since; this one, and all before it, survive. For the commit before a step that cannot
    /// be taken back: a delivery, a control number handed out.
    fn durably<T>(&self, work: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let done = (|| {
            let tx = self.write_transaction()?;
            let out = work(&tx)?;
            tx.commit()?;
            crate::fsutil::flushed_at(&self.write_ahead_log());
            Ok(out)
        })();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        done
    }

    /// Runs `work` in one transaction: its writes are committed together (far faster than one
    /// by one), or not at all when it fails.
    pub fn atomically<T, E: From<LedgerError>>(
        &self,
        work: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.write_transaction().map_err(LedgerError::from)?;
        let value = work()?;
        tx.commit().map_err(LedgerError::from)?;
        Ok(value)
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

    /// The files named `name` (of any route), and those that ended at `path` (archived or in an
    /// error folder), latest first, at most `limit`; each with when its journey ended.
    pub fn files_named(
        &self,
        name: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<(FileRow, Option<i64>)>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS}, finished_at FROM files
             WHERE name = ?1 OR final_path = ?2 OR rejected_path = ?2
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = statement.query_map(params![name, path, limit as i64], |r| {
            Ok((row_to_file(r)?, r.get(16)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One row, which must exist.
    pub fn get(&self, id: i64) -> Result<FileRow> {
        self.find(id)?
            .ok_or(LedgerError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The source is in the processing area: its real size, and its hash unless it is to be
    /// hashed as it is delivered (see [`Ledger::hashed`]).
    pub fn claimed(&self, id: i64, size: u64, sha256: Option<&str>) -> Result<()> {
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

    /// The output is complete in staging and its final name chosen; delivery begins. Without a
    /// hash, the output is the source, hashed as it is delivered.
    pub fn delivering(
        &self,
        id: i64,
        size: u64,
        sha256: Option<&str>,
        output_name: &str,
    ) -> Result<()> {
        self.durably(|tx| {
            tx.execute(
                "UPDATE files SET state = 'delivering', output_size = ?2, output_sha256 = ?3,
                 output_name = ?4 WHERE id = ?1",
                params![id, size as i64, sha256, output_name],
            )?;
            Ok(())
        })
    }

    /// The source, delivered as it is, was hashed as it was sent, and is whole at the destination
    /// under its temporary name: its size and hash, recorded durably before the rename that
    /// delivers it. A row delivering without a hash has therefore never been delivered.
    pub fn hashed(&self, id: i64, size: u64, sha256: &str) -> Result<()> {
        self.durably(|tx| {
            tx.execute(
                "UPDATE files SET size = ?2, sha256 = ?3, output_size = ?2, output_sha256 = ?3
                 WHERE id = ?1",
                params![id, size as i64, sha256],
            )?;
            Ok(())
        })
    }

    /// The output is at its destination; the source will be archived at `archive_path`.
    /// With `alert` (documents of the file went to the error folder), the alert is put in the
    /// outbox in the same transaction.
    pub fn delivered(&self, id: i64, archive_path: &str, alert: Option<&Event>) -> Result<()> {
        self.atomically(|| {
            self.conn.execute(
                "UPDATE files SET state = 'delivered', final_path = ?2 WHERE id = ?1",
                params![id, archive_path],
            )?;
            alert.map_or(Ok(()), |event| self.alert(event))
        })
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

    /// When to look at an unfinished file again, keeping its attempts and last error (a file on
    /// its way to the error folder whose leftovers elsewhere could not be removed yet).
    pub fn look_again_at(&self, id: i64, next_at_ms: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET next_attempt_at = ?2 WHERE id = ?1",
            params![id, next_at_ms],
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

    /// When `route` last delivered a file (ms since the epoch).
    pub fn last_delivery_at(&self, route: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(finished_at) FROM files WHERE route = ?1 AND state = 'done'",
            [route],
            |r| r.get(0),
        )?)
    }

    /// Files of `route` delivered since `since_ms`.
    pub fn delivered_since(&self, route: &str, since_ms: i64) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM files WHERE route = ?1 AND state = 'done' AND finished_at >= ?2",
            params![route, since_ms],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Records what a file's documents are sent without: `summary` is one line for people that
    /// quotes no value from the file.
    pub fn warned(&self, id: i64, summary: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET warnings = ?2 WHERE id = ?1",
            params![id, summary],
        )?;
        Ok(())
    }

    /// The route's most recent file whose documents were sent without some values.
    pub fn last_warning(&self, route: &str) -> Result<Option<FileNote>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, claimed_at, warnings FROM files
                 WHERE route = ?1 AND warnings IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [route],
                |r| {
                    Ok(FileNote {
                        name: r.get(0)?,
                        at_ms: r.get(1)?,
                        reason: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The route's files archived without delivery ([`DuplicateNote`]) since `since_ms`: how many,
    /// and the latest `limit`, latest first.
    pub fn duplicates_since(
        &self,
        route: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<(u64, Vec<DuplicateNote>)> {
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM files
             WHERE route = ?1 AND state = 'duplicate' AND finished_at >= ?2",
            params![route, since_ms],
            |r| r.get(0),
        )?;
        let mut statement = self.conn.prepare_cached(
            "SELECT f.name, f.finished_at, f.final_path, e.name, e.claimed_at
             FROM files f LEFT JOIN files e ON e.id = (
                 SELECT id FROM files WHERE route = f.route AND sha256 = f.sha256 AND id < f.id
                   AND (state = 'delivered' OR state = 'done')
                 ORDER BY id DESC LIMIT 1)
             WHERE f.route = ?1 AND f.state = 'duplicate' AND f.finished_at >= ?2
             ORDER BY f.finished_at DESC, f.id DESC LIMIT ?3",
        )?;
        let latest = statement
            .query_map(params![route, since_ms, limit as i64], |r| {
                let earlier: Option<String> = r.get(3)?;
                Ok(DuplicateNote {
                    name: r.get(0)?,
                    at_ms: r.get(1)?,
                    archived: r.get(2)?,
                    same_as: match earlier {
                        Some(name) => Some((name, r.get(4)?)),
                        None => None,
                    },
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok((count as u64, latest))
    }

    /// The route's most recent file that sent something to the error folder: a failed file, or
    /// one delivered without its documents with problems.
    pub fn last_failure(&self, route: &str) -> Result<Option<FileNote>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, finished_at,
                        CASE WHEN state = 'failed' THEN last_error
                             ELSE 'delivered without its documents with problems, which went to the error folder'
                        END
                 FROM files
                 WHERE route = ?1
                   AND (state = 'failed' OR (state = 'done' AND rejected_path IS NOT NULL))
                 ORDER BY finished_at DESC, id DESC LIMIT 1",
                [route],
                |r| {
                    Ok(FileNote {
                        name: r.get(0)?,
                        at_ms: r.get(1)?,
                        reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    })
                },
            )
            .optional()?)
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
            l.claimed(id, 10, Some("abc")).unwrap();
            l.staged(id, 12, "def").unwrap();
            id
        };
        let l = Ledger::open(dir.path()).unwrap();
        let rows = l.unfinished("orders").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, State::Staged);
        assert_eq!(rows[0].output_sha256.as_deref(), Some("def"));
        l.delivering(id, 12, Some("def"), "a.out").unwrap();
        l.delivered(id, "/archive/a.csv", None).unwrap();
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
        l.claimed(id, 1, Some("h")).unwrap();
        l.failing(id, "/e/x", "line 2: bad", "report").unwrap();
        l.finish(id, State::Failed).unwrap();
        assert_eq!(l.delivered_with_hash("r", "h", 0).unwrap(), None);
        assert_eq!(l.last_failure("r").unwrap().unwrap().reason, "line 2: bad");
    }
}
