//! A file's journey, the exactly-once protocol of DESIGN.md: claim → stage (the route's plug-ins
//! watching the conversion) → deliver → side outputs → archive, with the error folder as the other
//! end. What a route does besides reader → writer is its plug-ins' business (`plugins/`); the
//! journey calls them in a loop and names none of them.
//!
//! Every step is recorded in the ledger *before* its effect when the effect needs a name that must
//! be the same on a redo (the processing name, the delivered name, the archive path), and *after*
//! its effect otherwise. Recovery therefore always knows where to look, and each step checks the
//! files themselves before acting, so a redo after a crash finds its own earlier work instead of
//! doing it twice.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use tracing::{info, warn};

use crate::alerts::Event;
use crate::config::OnConflict;
use crate::endpoint::{self, BeforeRename, EndpointError, Entry, Put, PutOptions};
use crate::format::{self, ControlNumbers, ConvertError, Transform, WriteContext};
use crate::fsutil::{self, BUFFER_SIZE, Hashed, HashingWriter};
use crate::ledger::{FileRow, Ledger, LedgerError, State, now_ms};
use crate::naming::{MAX_NAME_BYTES, NameContext, with_counter};
use crate::platform;
use crate::plugins::{Ended, FileAt, PluginError, Works, side_files};
use crate::report::{self, Failure, ReportContext};
use crate::route::{Destination, Route};

pub use crate::outcome::Outcome;

/// Most data problems listed in one report.
const MAX_PROBLEMS: usize = 50;

/// Most `-N` suffixes tried for a free delivered name.
const MAX_UNIQUE_SUFFIX: u32 = 10_000;

/// Most steps one call of `advance` takes before the file waits for its next attempt.
const MAX_STEPS: u32 = 64;

/// Why a step could not complete.
enum StepError {
    /// The file itself is wrong (or its destination refuses it for good): to the error folder.
    Permanent(Failure),
    /// Worth trying again later.
    Transient(String),
    /// Its endpoint waits (after a refused login): the file waits too, without using up an
    /// attempt, since it is not the file's fault.
    Waiting {
        /// Why, one line.
        reason: String,
        /// How long.
        wait: Duration,
    },
    /// The ledger failed; the journey stops here and resumes on restart.
    Ledger(LedgerError),
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        StepError::Ledger(e)
    }
}

impl From<PluginError> for StepError {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::Ledger(e) => StepError::Ledger(e),
            PluginError::Io { .. } => StepError::Transient(e.to_string()),
        }
    }
}

impl From<EndpointError> for StepError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Paused { wait, .. } => StepError::Waiting {
                reason: e.to_string(),
                wait,
            },
            e => StepError::Transient(e.to_string()),
        }
    }
}

fn transient(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> StepError {
    let text = format!("could not {what} {}", path.display());
    move |e| StepError::Transient(format!("{text}: {e}"))
}

/// Where `route` delivers; routes that deliver nothing never reach the delivery steps.
fn destination(route: &Route) -> Result<&Destination, StepError> {
    route.destination.as_ref().ok_or_else(|| {
        StepError::Permanent(Failure::other(
            "this route delivers nothing, yet the file reached delivery.".into(),
            "Report this to the cartferry developers with the file.".into(),
        ))
    })
}

fn local_time(ms: i64) -> DateTime<Local> {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&Local)
}

/// Claims a stable file and takes it through its journey. Logs one line with the outcome.
pub fn take(route: &Route, ledger: &Ledger, entry: &Entry) -> Result<Outcome, LedgerError> {
    let started = Instant::now();
    crate::metrics::taken(route.name());
    let id = ledger.begin_claim(route.name(), &entry.name, entry.size)?;
    crate::crash_point!("claim.begun");
    let row = ledger.get(id)?;
    let outcome = match claim(route, ledger, &row) {
        Ok(true) => advance(route, ledger, id)?,
        Ok(false) => {
            ledger.abandon(id)?;
            Outcome::Vanished
        }
        Err(e) => settle(route, ledger, id, e)?,
    };
    outcome.log(route.name(), &entry.name, started.elapsed());
    crate::metrics::ended(route.name(), &outcome, started.elapsed());
    Ok(outcome)
}

/// Continues an unfinished file from the step it reached. Logs one line with the outcome.
pub fn resume(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<Outcome, LedgerError> {
    let started = Instant::now();
    let outcome = if row.state == State::Claiming {
        match recover_claim(route, ledger, row) {
            Ok(true) => advance(route, ledger, row.id)?,
            Ok(false) => {
                // Staged before a power cut undid the claim (and took its record): not needed.
                for staged in route.staging_files_of(row.id) {
                    if let Err(e) = fsutil::remove_if_present(&staged) {
                        warn!(route = route.name(), file = row.name.as_str(), error = %e, "could not remove a staged file of an abandoned claim");
                    }
                }
                ledger.abandon(row.id)?;
                Outcome::Vanished
            }
            Err(e) => settle(route, ledger, row.id, e)?,
        }
    } else if row.state == State::Delivering && !route.transform.is_passthrough() {
        // A power cut may have lost staged bytes that were never flushed: stage them again,
        // unless the delivery already happened.
        match staged_output_intact(route, row) {
            Ok(false) if !holds_delivery(route, row) => {
                ledger.claimed(row.id, row.size, row.sha256.as_deref())?;
                advance(route, ledger, row.id)?
            }
            Ok(_) => advance(route, ledger, row.id)?,
            Err(e) => settle(route, ledger, row.id, e)?,
        }
    } else {
        advance(route, ledger, row.id)?
    };
    outcome.log(route.name(), &row.name, started.elapsed());
    crate::metrics::ended(route.name(), &outcome, started.elapsed());
    Ok(outcome)
}

/// True when the destination already holds this row's delivery under its chosen name.
fn holds_delivery(route: &Route, row: &FileRow) -> bool {
    matches!(
        (&row.output_name, row.output_size, &row.output_sha256),
        (Some(name), Some(size), Some(sha)) if holds_output(route, name, size, sha).unwrap_or(false)
    )
}

/// Takes the source into the processing area: a rename for a local source, a download for a
/// remote one. `Ok(false)`: the source is gone (or changed while downloading).
fn claim(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<bool, StepError> {
    if let Err(problem) = route.verify_processing_dir() {
        // The file stays where it is; the route's next pass says why it takes nothing.
        warn!(
            route = route.name(),
            file = row.name.as_str(),
            problem = problem.as_str(),
            "not claimed"
        );
        return Ok(false);
    }
    let Some(source_dir) = &route.source_dir else {
        return download(route, ledger, row);
    };
    let source = source_dir.join(&row.name);
    let processing = route.processing_path(row);
    match fs::rename(&source, &processing) {
        Ok(()) => fsutil::renamed(&source, &processing),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(transient("claim", &source)(e)),
    }
    crate::crash_point!("claim.renamed");
    finish_claim(route, ledger, row, None)
}

/// A claim the disk did not keep. A power cut can undo the rename into the processing area (its
/// folder is not flushed), putting the file back in the inbox while the ledger says it was
/// claimed; or take the ledger's record of a move to the error folder (the ledger's last commit
/// is not flushed) after the move itself was. The same file (same hash) is taken back from
/// there, its report with it (from the error folder only with `from_errors`: a file on its way
/// there is not taken back); another file of that name is left alone.
fn reclaim_if_returned(route: &Route, row: &FileRow, from_errors: bool) -> Result<(), String> {
    let processing = route.processing_path(row);
    let Some(source_dir) = &route.source_dir else {
        return Ok(());
    };
    if fs::symlink_metadata(&processing).is_ok() {
        return Ok(());
    }
    let places = [
        ("inbox", source_dir),
        ("error folder", &route.config.errors),
    ];
    for (place, dir) in places.into_iter().take(if from_errors { 2 } else { 1 }) {
        let found = dir.join(&row.name);
        let Ok(Ok(file)) = platform::open_regular(&found) else {
            continue;
        };
        let (_, sha) = fsutil::sha256_of(file)
            .map_err(|e| format!("could not read {}: {e}", found.display()))?;
        if Some(sha.as_str()) != row.sha256.as_deref() {
            continue;
        }
        fs::rename(&found, &processing)
            .map_err(|e| format!("could not claim {} again: {e}", found.display()))?;
        fsutil::renamed(&found, &processing);
        fsutil::remove_if_present(&report::report_path(&found))
            .map_err(|e| format!("could not remove the report of {}: {e}", found.display()))?;
        info!(
            route = route.name(),
            file = row.name.as_str(),
            place,
            "a claimed file was found back where a power cut left it; taken again"
        );
        return Ok(());
    }
    Ok(())
}

/// Downloads a remote source into the processing area, whole: the copy must have the size the
/// listing showed and the server still shows, or the file is left for a later pass.
fn download(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<bool, StepError> {
    let dir = &route.config.from.dir;
    let path = route.processing_path(row);
    let remote = match route.source.open_read(dir, &row.name) {
        Err(e) if e.is_not_found() => return Ok(false),
        other => other?,
    };
    let local = File::create(&path).map_err(transient("write", &path))?;
    let (copied, sha) = fsutil::copy_pipelined(remote, local, fsutil::NETWORK_BUFFER_SIZE)
        .map_err(|e| StepError::Transient(format!("download of {} failed: {e}", row.name)))?;
    let now = route.source.stat(dir, &row.name)?;
    if copied != row.size || now.map(|e| e.size) != Some(copied) {
        fsutil::remove_if_present(&path).map_err(transient("remove", &path))?;
        return Ok(false);
    }
    crate::crash_point!("download.fetched");
    finish_claim(route, ledger, row, Some(sha))
}

/// Completes a claim cut short by a crash. A local rename may or may not have happened; a
/// download cut short cannot be trusted, so a remote source is downloaded again.
fn recover_claim(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<bool, StepError> {
    match route.source_dir {
        Some(_) => finish_claim(route, ledger, row, None),
        None => download(route, ledger, row),
    }
}

/// Removes the done-marker and records the claimed file as claimed, with its hash: `downloaded`
/// (hashed as it was downloaded), or read now, unless the file is to be delivered as it is and
/// is therefore hashed as it is sent (`Ledger::hashed`). `Ok(false)`: the file is not in the
/// processing area.
fn finish_claim(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    downloaded: Option<String>,
) -> Result<bool, StepError> {
    let path = route.processing_path(row);
    let file = match platform::open_regular(&path) {
        Ok(Ok(f)) => f,
        Ok(Err(what)) => {
            return Err(StepError::Permanent(Failure::other(
                format!("{} is {what}, not a regular file; nothing was read from it.", row.name),
                "cartferry takes only regular files: put the file itself (not a link to it) into the inbox. If you did not put this there, find out who did.".into(),
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(transient("read", &path)(e)),
    };
    // The marker goes once its file is claimed, so that a later file of the same name is not
    // taken early on the strength of an old marker.
    if let Some(marker) = &route.config.from.done_marker {
        route
            .source
            .delete(&route.config.from.dir, &marker.marker_for(&row.name))?;
    }
    let (size, sha) = match downloaded {
        Some(sha) => (row.size, Some(sha)),
        None if hashed_as_sent(route) => {
            let size = file.metadata().map_err(transient("read", &path))?.len();
            (size, None)
        }
        None => {
            let (size, sha) = fsutil::sha256_of(file).map_err(transient("read", &path))?;
            (size, Some(sha))
        }
    };
    ledger.claimed(row.id, size, sha.as_deref())?;
    crate::crash_point!("claim.recorded");
    Ok(true)
}

/// Whether the route's claimed files are hashed as they are sent rather than when claimed: those
/// delivered as they are, whose bytes the delivery reads anyway.
fn hashed_as_sent(route: &Route) -> bool {
    route.transform.is_passthrough() && route.destination.is_some()
}

/// The hash of the claimed source, read now; `None` when what lies there is not a regular file
/// (which is never opened: a pipe would block the read).
fn hash_of_claimed(route: &Route, row: &FileRow) -> std::io::Result<Option<String>> {
    match platform::open_regular(&route.processing_path(row))? {
        Ok(file) => Ok(Some(fsutil::sha256_of(file)?.1)),
        Err(_) => Ok(None),
    }
}

/// Runs the steps after the claim until the journey ends or must wait.
fn advance(route: &Route, ledger: &Ledger, id: i64) -> Result<Outcome, LedgerError> {
    for _ in 0..MAX_STEPS {
        let row = ledger.get(id)?;
        let step = match row.state {
            State::Claimed => stage(route, ledger, &row),
            State::Staged => name_and_deliver(
                route,
                ledger,
                &row,
                row.output_size.unwrap_or_default(),
                row.output_sha256.as_deref(),
            ),
            State::Delivering => deliver(route, ledger, &row),
            State::Delivered => publish_side_outputs(route, ledger, &row)
                .and_then(|()| archive(route, ledger, &row, State::Done))
                .map(|()| {
                    Some(Outcome::Delivered {
                        output_name: row.output_name.clone().unwrap_or_default(),
                        bytes: row.output_size.unwrap_or_default(),
                        rejected_part: row.rejected_path.clone(),
                    })
                }),
            State::Failing => {
                let pending = finish_failure(route, ledger, &row)?;
                let reason = row.last_error.clone().unwrap_or_default();
                return failed_or_pending(route, ledger, &row, pending, reason);
            }
            State::Done => {
                return Ok(Outcome::Delivered {
                    output_name: row.output_name.unwrap_or_default(),
                    bytes: row.output_size.unwrap_or_default(),
                    rejected_part: row.rejected_path,
                });
            }
            State::Duplicate => return Ok(Outcome::Duplicate),
            State::Failed => {
                return Ok(Outcome::Failed {
                    reason: row.last_error.unwrap_or_default(),
                });
            }
            State::Abandoned | State::Claiming => return Ok(Outcome::Vanished),
        };
        match step {
            Ok(Some(outcome)) => return Ok(outcome),
            Ok(None) => {}
            Err(e) => return settle(route, ledger, id, e),
        }
    }
    // A journey takes a handful of steps; one that keeps going round (a destination that
    // refuses every name it offers, say) waits for its next attempt instead of spinning.
    let stuck = format!("the journey made no progress in {MAX_STEPS} steps");
    settle(route, ledger, id, StepError::Transient(stuck))
}

/// Turns a step's error into the file's next state: a retry later, or the error folder.
fn settle(
    route: &Route,
    ledger: &Ledger,
    id: i64,
    error: StepError,
) -> Result<Outcome, LedgerError> {
    let failure = match error {
        StepError::Ledger(e) => return Err(e),
        StepError::Permanent(failure) => failure,
        StepError::Waiting { reason, wait } => {
            // Looked at again as a retry would be (the endpoint answers from memory while it
            // waits), but no attempt is counted.
            let row = ledger.get(id)?;
            let policy = &route.config.retry;
            let delay = backoff(row.attempts + 1, policy.initial_backoff, policy.max_backoff);
            let at = now_ms() + delay.min(wait).as_millis() as i64;
            ledger.retry_later(id, row.attempts, at, &reason)?;
            return Ok(Outcome::RetryLater { reason });
        }
        StepError::Transient(reason) => {
            let row = ledger.get(id)?;
            let attempts = row.attempts + 1;
            let policy = &route.config.retry;
            // Once delivered, a file is never sent to the error folder: what is left (archiving,
            // removing a remote source) is retried until it succeeds.
            if attempts < policy.max_attempts || row.state == State::Delivered {
                let delay = backoff(attempts, policy.initial_backoff, policy.max_backoff);
                ledger.retry_later(id, attempts, now_ms() + delay.as_millis() as i64, &reason)?;
                return Ok(Outcome::RetryLater { reason });
            }
            Failure::other(
                format!(
                    "gave up after {}: {reason}",
                    report::counted(attempts, "attempt", "attempts")
                ),
                "Check that the destination is reachable and writable (see the reason above); the file itself may be fine.".into(),
            )
        }
    };
    fail(route, ledger, &ledger.get(id)?, failure)
}

/// Exponential backoff with ±20 % jitter, so that many agents do not retry in step.
pub(crate) fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let base = initial.saturating_mul(factor).min(max);
    base.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// Claimed → Delivering (or Duplicate): skip known content, else write the output into staging
/// (the route's plug-ins watching) and choose its name. Content not hashed yet is checked as it
/// is delivered (`deliver`).
fn stage(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<Option<Outcome>, StepError> {
    let sha = row.sha256.as_deref();
    if let Some(sha) = sha
        && route.config.dedupe
        && ledger
            .delivered_with_hash(route.name(), sha, row.id)?
            .is_some()
    {
        archive(route, ledger, row, State::Duplicate)?;
        return Ok(Some(Outcome::Duplicate));
    }
    let conversion = match &route.transform {
        Transform::Passthrough => {
            return name_and_deliver(route, ledger, row, row.size, sha);
        }
        Transform::Record => return record(route, ledger, row),
        Transform::Convert(conversion) => conversion,
    };
    let input_path = route.processing_path(row);
    // Only a claimed file that is not there is looked for where a power cut may have left it.
    let input = match File::open(&input_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            reclaim_if_returned(route, row, true).map_err(StepError::Transient)?;
            File::open(&input_path)
        }
        opened => opened,
    }
    .map_err(transient("read", &input_path))?;
    let output_path = route.staged_path(row);
    platform::create_private_dir(&route.staging_dir)
        .map_err(transient("create", &route.staging_dir))?;
    let output = File::create(&output_path).map_err(transient("write", &output_path))?;
    // Small files get small buffers: most order files are a few kilobytes.
    let buffer = (row.size as usize + 1).clamp(8 * 1024, BUFFER_SIZE);
    let mut hashing = HashingWriter::new(BufWriter::with_capacity(buffer, output));
    let context = WriteContext {
        control_numbers: match conversion.writer.control_key() {
            Some(key) => {
                let (interchange, group) = ledger.reserve_control_numbers(&key)?;
                crate::crash_point!("stage.numbers_reserved");
                Some(ControlNumbers { interchange, group })
            }
            None => None,
        },
        ..WriteContext::now()
    };
    route.with_file(ledger, row, |file| {
        let mut works = Works::begin(&route.plugins, file, &context)?;
        let result = format::convert_tapped(
            conversion,
            &context,
            Box::new(BufReader::with_capacity(buffer, input)),
            Some(row.size),
            Box::new(&mut hashing),
            MAX_PROBLEMS,
            works.tap(),
        );
        let converted = match result {
            Ok(converted) => converted,
            Err(ConvertError::Data { problems, total }) => {
                works.finish(file, &Ended::Refused)?;
                return Err(StepError::Permanent(Failure::data(problems, total)));
            }
            Err(ConvertError::Io(e)) => return Err(transient("convert", &input_path)(e)),
        };
        if let Some(first) = converted.warnings.first() {
            let summary = format!(
                "sent with {}, the first: {}",
                report::counted(converted.warnings_total as u64, "warning", "warnings"),
                first.summary()
            );
            warn!(route = route.name(), file = row.name.as_str(), warnings = converted.warnings_total, first = first.summary().as_str(), "file read with warnings: its documents are sent, but look at them (values that could not be read, cancellations of orders never sent …)");
            ledger.warned(row.id, &summary)?;
        }
        if converted.written == 0 && converted.left_out > 0 {
            return nothing_new(route, ledger, row, file, works, conversion, converted);
        }
        if let Some(first) = &converted.first_left_out {
            info!(
                route = route.name(),
                file = row.name.as_str(),
                left_out = converted.left_out,
                first = first.as_str(),
                "documents delivered before left out of the file"
            );
        }
        let (writer, size, out_sha) = hashing.finish();
        // Not flushed to disk here: delivery flushes the same bytes before the final rename, and
        // a resumed delivery re-checks the staged file's hash (see `staged_output_intact`).
        writer
            .into_inner()
            .map_err(|e| transient("write", &output_path)(e.into_error()))?;
        let ended = Ended::Converted {
            output: &output_path,
        };
        works.finish(file, &ended)?;
        crate::crash_point!("stage.converted");
        if let Some(rejected) = converted.rejected {
            place_rejected(route, ledger, row, conversion, rejected, converted.written)?;
            crate::crash_point!("stage.rejected_placed");
        }
        name_and_deliver(route, ledger, row, size, Some(&out_sha))
    })
}

/// A file whose every good document was delivered before: nothing to deliver. Its refused
/// documents (if any) go to the error folder, and the source is archived.
fn nothing_new(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    file: &FileAt<'_>,
    works: Works<'_>,
    conversion: &format::Conversion,
    converted: format::Converted,
) -> Result<Option<Outcome>, StepError> {
    works.finish(file, &Ended::Refused)?;
    let rejected_part = match converted.rejected {
        Some(rejected) => {
            let placed = place_rejected(route, ledger, row, conversion, rejected, 0)?;
            crate::crash_point!("stage.rejected_placed");
            Some(placed.to_string_lossy().into_owned())
        }
        None => None,
    };
    archive(route, ledger, row, State::Duplicate)?;
    Ok(Some(Outcome::AlreadySent {
        left_out: converted.left_out,
        rejected_part,
    }))
}

/// Writes the side outputs the route's plug-ins staged for a delivered `row` into their folders.
fn publish_side_outputs(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<(), StepError> {
    for output in route.side_outputs(ledger, row) {
        if let Some(path) = side_files::publish(ledger, row.id, &output)? {
            info!(route = route.name(), file = row.name.as_str(), kind = output.kind.as_str(), output = %path.display(), "side output written");
            crate::crash_point!("side_output.published");
        }
    }
    Ok(())
}

/// For a route that delivers nothing: records what the claimed file says (the route's plug-ins
/// told what it says of each order) and writes their side outputs, then archives it, or
/// sends it to the error folder when what it says is bad news the operator must act on.
fn record(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<Option<Outcome>, StepError> {
    let recorder = route.recorder.as_deref().ok_or_else(|| {
        StepError::Permanent(Failure::other(
            "this route neither delivers nor records.".into(),
            "Report this to the cartferry developers with the config.".into(),
        ))
    })?;
    platform::create_private_dir(&route.staging_dir)
        .map_err(transient("create", &route.staging_dir))?;
    let recorded = route.with_file(ledger, row, |file| {
        let mut works = Works::begin(&route.plugins, file, &WriteContext::now())?;
        let recorded = recorder.record(file, &mut works, MAX_PROBLEMS)?;
        works.finish(file, &Ended::Recorded)?;
        crate::crash_point!("record.recorded");
        Ok::<_, StepError>(recorded)
    })?;
    publish_side_outputs(route, ledger, row)?;
    if let Some(failure) = recorded.failure {
        return Err(StepError::Permanent(failure));
    }
    archive(route, ledger, row, State::Done)?;
    Ok(Some(Outcome::Recorded {
        records: recorded.records,
    }))
}

/// Writes the documents a split left out into the error folder, as rows of the source under its
/// header, with their report; returns where the rows went. The path is recorded first, so a
/// redo rewrites the same two files instead of adding a second copy.
fn place_rejected(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    conversion: &format::Conversion,
    rejected: format::Rejected,
    delivered: u64,
) -> Result<PathBuf, StepError> {
    let target = match &row.rejected_path {
        Some(path) => PathBuf::from(path),
        None => {
            let target =
                fsutil::free_path(&route.config.errors, &row.name, Some(report::report_path));
            ledger.rejecting(row.id, &target.to_string_lossy())?;
            target
        }
    };
    let source_path = route.processing_path(row);
    let source = File::open(&source_path).map_err(transient("read", &source_path))?;
    let mut rows = Vec::new();
    let starts = conversion
        .reader
        .copy_rows(
            Box::new(BufReader::new(source)),
            rejected.header,
            &rejected.spans,
            &mut rows,
        )
        .map_err(transient("copy rejected rows of", &source_path))?;
    let problems = rejected
        .problems
        .into_iter()
        .map(|mut p| {
            p.line = p.line.map(|line| renumber(line, &rejected.spans, &starts));
            p
        })
        .collect();
    let failure = Failure::split(problems, rejected.total, rejected.spans.len(), delivered);
    let report = report::render(&report_context(route, row, &target), &failure);
    let report_path = report::report_path(&target);
    fsutil::write_whole(&report_path, report.as_bytes())
        .and_then(|()| fsutil::write_whole(&target, &rows))
        .and_then(|()| platform::sync_dir(&route.config.errors))
        .map_err(transient("write", &target))?;
    Ok(target)
}

/// The line in the rejected-rows file of `line` in the source, given the spans copied there and
/// the line each starts on.
fn renumber(line: u64, spans: &[format::Span], starts: &[u64]) -> u64 {
    let i = spans.partition_point(|s| s.line <= line);
    match i.checked_sub(1) {
        Some(i) => starts[i] + (line - spans[i].line),
        None => line,
    }
}

/// On resume, true when the staged output still has the hash the ledger recorded; after a power
/// cut it may not, and is then made again.
fn staged_output_intact(route: &Route, row: &FileRow) -> Result<bool, StepError> {
    let path = route.staged_path(row);
    match File::open(&path) {
        Ok(f) => {
            let (_, sha) = fsutil::sha256_of(f).map_err(transient("read", &path))?;
            Ok(Some(sha) == row.output_sha256)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(transient("read", &path)(e)),
    }
}

/// Staged → Delivering: fixes the delivered name and records it with the output's size and hash
/// (none for a source hashed as it is sent).
fn name_and_deliver(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    size: u64,
    sha: Option<&str>,
) -> Result<Option<Outcome>, StepError> {
    match choose_name(route, row, size, sha)? {
        Naming::Chosen(name) => {
            ledger.delivering(row.id, size, sha, &name)?;
            crate::crash_point!("deliver.named");
        }
        // Back to claimed with its hash, to be checked as a duplicate first (`stage`).
        Naming::Hashed(sha) => ledger.claimed(row.id, size, Some(&sha))?,
    }
    Ok(None)
}

/// What choosing a delivered name found.
enum Naming {
    /// The name to deliver under.
    Chosen(String),
    /// The name is taken and the output was not hashed yet: now it is (this hash), and whether
    /// it was delivered before is asked before a name is chosen.
    Hashed(String),
}

/// True when `dir/name` on the destination holds exactly the output of `size` bytes and hash `sha`.
fn holds_output(route: &Route, name: &str, size: u64, sha: &str) -> Result<bool, StepError> {
    let destination = destination(route)?;
    let dest = &destination.endpoint;
    let dir = &destination.config.dir;
    let Some(entry) = dest.stat(dir, name)? else {
        return Ok(false);
    };
    if entry.size != size {
        return Ok(false);
    }
    let (_, found) = fsutil::sha256_of(dest.open_read(dir, name)?).map_err(|e| {
        StepError::Transient(format!("could not read {name} at the destination: {e}"))
    })?;
    Ok(found == sha)
}

/// The delivered name for this row's output (`size` bytes, hash `sha`), honouring the route's
/// conflict rule. A taken name is someone else's (a redo of a delivery keeps the name recorded
/// before it, see `deliver`), unless a power cut took the ledger's record of the name after the
/// delivery: a name holding exactly this output, written since this file was taken, is its own.
fn choose_name(
    route: &Route,
    row: &FileRow,
    size: u64,
    sha: Option<&str>,
) -> Result<Naming, StepError> {
    let destination = destination(route)?;
    let to = &destination.config;
    let wanted = to.name.render(&NameContext {
        source_name: &row.name,
        route: route.name(),
        claimed_at: local_time(row.claimed_at_ms),
        id: row.id,
    });
    if wanted.trim_matches('.').is_empty() {
        return Err(StepError::Permanent(Failure::other(
            format!("the route's to.name makes the name \"{wanted}\" of this file, which no file can have."),
            "Change to.name so that it always gives a name, with {stem} or {name} (\"{ext}\" is empty for a file without an extension), then retry this file.".into(),
        )));
    }
    if wanted.len() > MAX_NAME_BYTES {
        return Err(StepError::Permanent(Failure::other(
            format!(
                "the route's to.name makes a name of {} bytes for this file, longer than a file name may be ({MAX_NAME_BYTES} bytes).",
                wanted.len()
            ),
            "Make to.name shorter (or the file's name), then retry this file.".into(),
        )));
    }
    let mut candidate = wanted.clone();
    for n in 2..=MAX_UNIQUE_SUFFIX + 1 {
        let taken = destination.endpoint.occupied(&to.dir, &candidate)?;
        if !taken || to.on_conflict == OnConflict::Overwrite {
            return Ok(Naming::Chosen(candidate));
        }
        let Some(sha) = sha else {
            let path = route.processing_path(row);
            let sha = hash_of_claimed(route, row)
                .map_err(transient("read", &path))?
                .ok_or_else(|| {
                    StepError::Transient(format!("{} is not a regular file", path.display()))
                })?;
            return Ok(Naming::Hashed(sha));
        };
        if own_delivery(route, row, &candidate, size, sha)? {
            return Ok(Naming::Chosen(candidate));
        }
        if to.on_conflict == OnConflict::Fail {
            return Err(StepError::Permanent(Failure::other(
                format!("a file named {candidate} is already at the destination."),
                format!(
                    "Nothing was overwritten. Once the other side has taken {candidate} from {} (or you have moved it away), retry this file; or set on_conflict = \"unique\" on this route.",
                    destination.endpoint.describe()
                ),
            )));
        }
        candidate = with_counter(&wanted, n);
    }
    Err(StepError::Transient(format!(
        "no free name like {wanted} at the destination after {MAX_UNIQUE_SUFFIX} tries"
    )))
}

/// Whether `name` at the destination is this row's own delivery, whose record a power cut took:
/// written since the file was taken, and holding exactly its output.
fn own_delivery(
    route: &Route,
    row: &FileRow,
    name: &str,
    size: u64,
    sha: &str,
) -> Result<bool, StepError> {
    let destination = destination(route)?;
    // Strictly since: an earlier delivery of the same bytes is another file's, whatever its name
    // (an SFTP server's whole-second time may miss our own in the same second; the name is then
    // refused as taken, which is safe).
    let written_since_taken = destination
        .endpoint
        .stat(&destination.config.dir, name)?
        .and_then(|entry| entry.mtime)
        .is_some_and(|mtime| crate::ledger::to_ms(mtime) >= row.claimed_at_ms);
    Ok(written_since_taken && holds_output(route, name, size, sha)?)
}

/// Delivering → Delivered: temp name, flush, size check, rename; a redo finds its own delivery.
/// A source not hashed yet is hashed as it is sent, and before the rename either its hash is
/// recorded (`Ledger::hashed`) or, when the route delivered the same content before, the
/// delivery withdrawn (the file then ends as a duplicate).
fn deliver(route: &Route, ledger: &Ledger, row: &FileRow) -> Result<Option<Outcome>, StepError> {
    let destination = destination(route)?;
    let to = &destination.config;
    let name = row.output_name.as_deref().unwrap_or_default();
    let replace = to.on_conflict == OnConflict::Overwrite;
    let staged = route.staged_path(row);
    if route.transform.is_passthrough() && row.sha256.is_some() && !staged.exists() {
        // A power cut may have undone the claim's rename since the source was hashed.
        reclaim_if_returned(route, row, true).map_err(StepError::Transient)?;
    }
    let mut recognised = match row.output_sha256.as_deref() {
        // A put that may replace must first know whether the name holds this delivery already (a
        // redo after a crash), or it would deliver it twice; so must a redo whose put took its
        // staged output (a local put moves a disposable output into place). Otherwise the put is
        // refused when the name is taken, and only then asks: a round trip saved on every file.
        Some(sha) => {
            let size = row.output_size.unwrap_or_default();
            (replace || !staged.exists()) && holds_output(route, name, size, sha)?
        }
        // Not hashed: never delivered, since the hash is recorded before the rename.
        None if staged.exists() => false,
        None => return gone_before_delivery(route, ledger, row),
    };
    if !recognised {
        let options = PutOptions {
            replace,
            // Staged outputs are deleted right after delivery; a passthrough source is archived.
            source_disposable: !route.transform.is_passthrough(),
            attempt: row.attempts,
        };
        let mut checked = None;
        let mut check = |hashed: &Hashed| {
            let verdict = check_hashed(route, ledger, row, hashed);
            let new = matches!(verdict, Ok(Checked::New));
            checked = Some(verdict);
            new
        };
        let before_rename = row
            .output_sha256
            .is_none()
            .then_some(&mut check as BeforeRename<'_>);
        let put = destination
            .endpoint
            .put(&to.dir, name, &staged, options, before_rename);
        if let Some(Checked::Delivered((size, sha))) = checked.transpose()? {
            // The same content went before: back to claimed, now with its hash, to end there as
            // a duplicate. This attempt's temporary file is gone; earlier ones go now.
            put?;
            remove_temporary_files(route, name, row.attempts)?;
            ledger.claimed(row.id, size, Some(&sha))?;
            return Ok(None);
        }
        match put {
            Ok(Put::Delivered(_)) => {
                crate::crash_point!("deliver.put");
            }
            Ok(Put::Withdrawn) => {
                return Err(StepError::Transient(format!(
                    "the delivery of {name} was withdrawn before its rename for no reason given"
                )));
            }
            Err(EndpointError::AlreadyExists { path }) => {
                // The size and hash as the put found them, for a source hashed as it was sent.
                let row = ledger.get(row.id)?;
                let size = row.output_size.unwrap_or_default();
                let Some(sha) = row.output_sha256.as_deref() else {
                    return Err(StepError::Transient(format!(
                        "{path} already exists, and the put ended before its bytes were hashed"
                    )));
                };
                if !holds_output(route, name, size, sha)? {
                    // Someone took the name since it was chosen: choose again.
                    ledger.staged(row.id, size, sha)?;
                    return Ok(None);
                }
                recognised = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Earlier attempts that failed may have left their temporary files beside the delivery (a
    // crash inside a put is redone under the same attempt, whose file the redo renamed). A
    // delivery recognised on a redo may have this attempt's too: a crash between the link to
    // the final name and the removal of the temporary one (`platform::rename_no_replace`).
    remove_temporary_files(route, name, row.attempts + u32::from(recognised))?;
    let alert = row
        .rejected_path
        .as_ref()
        .map(|rejected| Event::DocumentsRejected {
            route: route.name().to_string(),
            file: row.name.clone(),
            rejected: rejected.clone(),
        });
    ledger.delivered(
        row.id,
        &archive_path(route, row).to_string_lossy(),
        alert.as_ref(),
    )?;
    crate::crash_point!("deliver.recorded");
    Ok(None)
}

/// What the check before the rename of a source hashed as it is sent found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Checked {
    /// Content the route has not delivered: its hash is recorded, and the delivery goes on.
    New,
    /// Content the route delivered before (with `dedupe`), of this length and hash: the delivery
    /// is withdrawn.
    Delivered(Hashed),
}

/// Checks the hash of a source sent as it is, before its rename: content delivered before is
/// withdrawn; new content has its hash recorded, durably, so that a delivery is never made
/// without the ledger knowing its hash.
fn check_hashed(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    hashed: &Hashed,
) -> Result<Checked, StepError> {
    let (size, sha) = hashed;
    if route.config.dedupe
        && ledger
            .delivered_with_hash(route.name(), sha, row.id)?
            .is_some()
    {
        return Ok(Checked::Delivered(hashed.clone()));
    }
    ledger.hashed(row.id, *size, sha)?;
    crate::crash_point!("deliver.hashed");
    Ok(Checked::New)
}

/// Removes the temporary files of the first `attempts` attempts at delivering as `name`.
fn remove_temporary_files(route: &Route, name: &str, attempts: u32) -> Result<(), StepError> {
    let destination = destination(route)?;
    for attempt in 0..attempts {
        destination
            .endpoint
            .delete(&destination.config.dir, &endpoint::part_name(name, attempt))?;
    }
    Ok(())
}

/// A source to be hashed as it is sent that is no longer in the processing area was never
/// delivered (its hash would be recorded), so its journey ends here. A power cut that undid its
/// claim put it back in the inbox, where the next pass takes it afresh.
fn gone_before_delivery(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
) -> Result<Option<Outcome>, StepError> {
    let back = route
        .source_dir
        .as_ref()
        .is_some_and(|dir| dir.join(&row.name).is_file());
    if back {
        info!(
            route = route.name(),
            file = row.name.as_str(),
            "a claimed file is back in the inbox (a power cut undid its claim) and was never delivered; it is taken afresh"
        );
    } else {
        warn!(
            route = route.name(),
            file = row.name.as_str(),
            "a claimed file is gone from the processing area before it was delivered (someone moved or deleted it): nothing of it was delivered"
        );
    }
    ledger.abandon(row.id)?;
    Ok(Some(Outcome::Vanished))
}

/// A free name for the source in today's archive folder.
fn archive_path(route: &Route, row: &FileRow) -> PathBuf {
    let day = Local::now().format("%Y/%m/%d").to_string();
    fsutil::free_path(&route.config.archive.join(day), &row.name, None)
}

/// Moves the source to its dated archive folder and ends the journey in `end`.
fn archive(route: &Route, ledger: &Ledger, row: &FileRow, end: State) -> Result<(), StepError> {
    let processing = route.processing_path(row);
    let target = match &row.final_path {
        Some(p) => PathBuf::from(p),
        None => {
            let target = archive_path(route, row);
            ledger.archiving(row.id, &target.to_string_lossy())?;
            target
        }
    };
    // A power cut may have undone the claim's rename: the source is back in the inbox.
    if fs::symlink_metadata(&processing).is_err() {
        reclaim_if_returned(route, row, false).map_err(StepError::Transient)?;
    }
    // Not flushed: if a power cut undoes this move, recovery finds the file in the processing
    // area with its journey ended and moves it again (`RouteWorker::recover`).
    if let Ok(now) = fs::symlink_metadata(&processing) {
        if route.source_dir.is_some() {
            warn_if_changed(route, row, &now);
        }
        fsutil::move_file(&processing, &target).map_err(transient("archive", &processing))?;
        crate::crash_point!("archive.moved");
    }
    if !route.transform.is_passthrough() {
        for staged in route.staged_paths(ledger, row) {
            fsutil::remove_if_present(&staged).map_err(transient("remove", &staged))?;
        }
    }
    if route.source_dir.is_none() {
        remove_remote_source(route, row)?;
        crate::crash_point!("remote_source.removed");
    }
    ledger.finish(row.id, end)?;
    Ok(())
}

/// Says so when a claimed local file changed after it was taken (a writer still writing through
/// a handle it kept): what is archived is then not what was delivered.
fn warn_if_changed(route: &Route, row: &FileRow, now: &fs::Metadata) {
    let modified_ms = now.modified().ok().map_or(0, crate::ledger::to_ms);
    if now.len() != row.size || modified_ms > row.claimed_at_ms {
        warn!(
            route = route.name(),
            file = row.name.as_str(),
            taken_bytes = row.size,
            archived_bytes = now.len(),
            "the file changed after it was taken: the archived copy is not what was delivered; whatever wrote it was still writing"
        );
    }
}

/// After a remote source is delivered and archived here: deletes it on the server, or moves it to
/// the route's remote archive folder. Until this succeeds the row stays unfinished, so the file
/// is never taken again; a redo finds the work done (the source already gone).
fn remove_remote_source(route: &Route, row: &FileRow) -> Result<(), StepError> {
    let from = &route.config.from;
    let Some(archive_dir) = &from.remote_archive else {
        return Ok(route.source.delete(&from.dir, &row.name)?);
    };
    if route.source.stat(&from.dir, &row.name)?.is_none() {
        return Ok(());
    }
    for n in 1..=MAX_UNIQUE_SUFFIX {
        let name = if n == 1 {
            row.name.clone()
        } else {
            with_counter(&row.name, n)
        };
        match route
            .source
            .rename(&from.dir, &row.name, archive_dir, &name)
        {
            Err(EndpointError::AlreadyExists { .. }) => continue,
            other => return Ok(other?),
        }
    }
    Err(StepError::Transient(format!(
        "no free name for {} in the remote archive folder",
        row.name
    )))
}

/// Starts the way to the error folder: records the path and report, then completes it.
fn fail(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    failure: Failure,
) -> Result<Outcome, LedgerError> {
    let target = match &row.rejected_path {
        // The part split off earlier lies in the error folder under the file's name: the whole
        // file takes its place, rather than a second name beside it.
        Some(part) => PathBuf::from(part),
        None => fsutil::free_path(&route.config.errors, &row.name, Some(report::report_path)),
    };
    // A source hashed as it is sent may fail before it was: the report names it by its hash all
    // the same.
    let hashed_now = match row.sha256 {
        Some(_) => None,
        None => hash_of_claimed(route, row).ok().flatten(),
    };
    let mut context = report_context(route, row, &target);
    if let Some(sha) = &hashed_now {
        context.sha256 = sha;
    }
    let text = report::render(&context, &failure);
    ledger.failing(row.id, &target.to_string_lossy(), &failure.reason, &text)?;
    crate::crash_point!("error_folder.recorded");
    let row = ledger.get(row.id)?;
    let pending = finish_failure(route, ledger, &row)?;
    failed_or_pending(route, ledger, &row, pending, failure.reason)
}

/// What a report says about the file and where it lies.
fn report_context<'a>(
    route: &'a Route,
    row: &'a FileRow,
    error_path: &'a Path,
) -> ReportContext<'a> {
    ReportContext {
        route: route.name(),
        file: &row.name,
        received: local_time(row.claimed_at_ms)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        sha256: row.sha256.as_deref().unwrap_or("unknown"),
        error_path,
        inbox: route.inbox(),
        config_path: &route.config_path,
        reader: &route.config.reader,
    }
}

/// Failing → Failed: writes the report, moves the file, clears staging and any temporary upload.
/// A fault here leaves the row in Failing, to be completed on the next pass or restart, and is
/// returned (`Some`) so that nobody is told the file is in the error folder while it is not.
fn finish_failure(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
) -> Result<Option<String>, LedgerError> {
    let target = PathBuf::from(row.final_path.as_deref().unwrap_or_default());
    let report_path = report::report_path(&target);
    let processing = route.processing_path(row);
    if let Err(e) = reclaim_if_returned(route, row, false) {
        return Ok(Some(format!(
            "could not take the file back from the inbox yet: {e}"
        )));
    }
    let result = (|| -> std::io::Result<()> {
        fsutil::write_whole(
            &report_path,
            row.report.as_deref().unwrap_or_default().as_bytes(),
        )?;
        if fs::symlink_metadata(&processing).is_ok() {
            fsutil::move_file(&processing, &target)?;
            platform::sync_dir(&route.config.errors)?;
            crate::crash_point!("error_folder.moved");
        }
        if !route.transform.is_passthrough() {
            for staged in route.staged_paths(ledger, row) {
                fsutil::remove_if_present(&staged)?;
            }
        }
        // The whole file is in the error folder now: a part split from it earlier would repeat it
        // (unless the whole took the part's place, as `fail` arranges).
        if let Some(part) = row
            .rejected_path
            .as_deref()
            .filter(|p| Path::new(p) != target)
        {
            fsutil::remove_if_present(&report::report_path(Path::new(part)))?;
            fsutil::remove_if_present(Path::new(part))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        return Ok(Some(format!(
            "could not move the file to the error folder yet: {e}"
        )));
    }
    // A downloaded source now lies in the error folder: the server's copy goes (deleted, or
    // moved to the remote archive), or it would be taken and fail again on every pass. A source
    // never downloaded stays where it is.
    if route.source_dir.is_none() && target.is_file() {
        match remove_remote_source(route, row) {
            Ok(()) => {}
            Err(StepError::Ledger(e)) => return Err(e),
            Err(
                StepError::Transient(e)
                | StepError::Waiting { reason: e, .. }
                | StepError::Permanent(Failure { reason: e, .. }),
            ) => {
                return Ok(Some(format!(
                    "the file is in the error folder, but could not be removed from the server yet: {e}"
                )));
            }
        }
    }
    // Every attempt's temporary file at the destination goes too; until it has, the file stays
    // on its way (a server down now is asked again on the next pass).
    if let (Some(name), Some(destination)) = (&row.output_name, &route.destination) {
        for attempt in 0..=row.attempts {
            let part = endpoint::part_name(name, attempt);
            if let Err(e) = destination.endpoint.delete(&destination.config.dir, &part) {
                return Ok(Some(format!(
                    "the file is in the error folder, but its temporary file {part} at the destination could not be removed yet: {e}"
                )));
            }
        }
    }
    let alert = Event::FileFailed {
        route: route.name().to_string(),
        file: row.name.clone(),
        reason: row.last_error.clone().unwrap_or_default(),
        report: report_path.to_string_lossy().into_owned(),
    };
    ledger.finish_failed(row.id, &alert)?;
    Ok(None)
}

/// The outcome of a file on its way to the error folder: there, or still on its way, and then
/// looked at again after the delay its next attempt would have had (not only at the next poll).
fn failed_or_pending(
    route: &Route,
    ledger: &Ledger,
    row: &FileRow,
    pending: Option<String>,
    reason: String,
) -> Result<Outcome, LedgerError> {
    let Some(why) = pending else {
        return Ok(Outcome::Failed { reason });
    };
    let policy = &route.config.retry;
    let delay = backoff(row.attempts + 1, policy.initial_backoff, policy.max_backoff);
    ledger.look_again_at(row.id, now_ms() + delay.as_millis() as i64)?;
    Ok(Outcome::RetryLater { reason: why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let d = |n| backoff(n, Duration::from_secs(10), Duration::from_secs(60));
        assert!(d(1) >= Duration::from_secs(8) && d(1) <= Duration::from_secs(12));
        assert!(d(2) >= Duration::from_secs(16) && d(2) <= Duration::from_secs(24));
        assert!(d(10) <= Duration::from_secs(72));
    }
}
