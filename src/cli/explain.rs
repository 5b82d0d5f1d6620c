//! `cartferry explain PATH`: where a file stands and why, from the routes' inboxes and the
//! ledger: not matched by any route, hidden or temporary by name, not a plain file, waiting for
//! its done-marker or to be unchanged, on its way (and at which step), delivered, archived, a
//! duplicate, in an error folder, or never seen.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use super::{CmdResult, local_minute, repeated, say, shown};
use crate::config::Config;
use crate::endpoint::{self, Endpoints};
use crate::ledger::{DuplicateNote, FileRow, Ledger, State};
use crate::naming::is_hidden_or_temporary;
use crate::report;
use crate::route::Route;

/// Journeys of files of one name `explain` tells, latest first.
const JOURNEYS: usize = 5;

/// `cartferry explain PATH`; exits 1 when nothing is known of the file.
pub fn explain(config: &Config, path: &Path) -> CmdResult {
    // A name that is not UTF-8 is compared as listings give it (`�` for its other bytes).
    let name = path
        .file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
    let name = name.as_ref();
    let absolute = std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    let endpoints = endpoint::open_all(config);
    let mut said = inboxes(config, &endpoints, name)?;
    if let Some(ledger) =
        Ledger::open_existing(&config.agent.state_dir).map_err(|e| e.to_string())?
    {
        let journeys = ledger
            .files_named(name, &absolute, JOURNEYS)
            .map_err(|e| e.to_string())?;
        for (row, finished) in &journeys {
            say!("{}", journey(&ledger, row, *finished));
        }
        said += journeys.len();
    }
    if said > 0 {
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{}: never seen: no route's inbox holds it, and the ledger has no record of it. The routes take:",
        shown(name)
    );
    for rc in &config.routes {
        say!(
            "  {}: {} from {}:{}",
            rc.name,
            rc.from.pattern,
            rc.from.endpoint,
            rc.from.dir
        );
    }
    Ok(ExitCode::FAILURE)
}

/// Says what each route whose inbox holds `name` makes of it; how many did.
fn inboxes(config: &Config, endpoints: &Endpoints, name: &str) -> Result<usize, String> {
    let mut said = 0;
    for rc in &config.routes {
        let route = Route::new(config, rc, endpoints)?;
        // A listing, not a stat: it also has what is not a plain file, and names not in UTF-8.
        let Ok(listing) = route.source.list(&rc.from.dir) else {
            continue;
        };
        let why = if let Some(file) = listing.files.iter().find(|f| f.name == name) {
            if is_hidden_or_temporary(name) {
                "not taken: its name is hidden or temporary (it starts with '.', or ends with .tmp, .part, .filepart or .writing, as files being written are named); rename it once it is complete".to_string()
            } else if !route.wants(name) {
                format!(
                    "not taken: the route takes only names matching {}",
                    rc.from.pattern
                )
            } else if let Some(marker) = rc
                .from
                .done_marker
                .as_ref()
                .map(|m| m.marker_for(name))
                .filter(|m| !listing.files.iter().any(|f| &f.name == m))
            {
                format!("waiting for its done-marker {}", shown(&marker))
            } else {
                let since = file
                    .mtime
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|d| format!(", unchanged since {}", local_minute(d.as_millis() as i64)))
                    .unwrap_or_default();
                format!(
                    "waiting to be taken ({} bytes{since}): the agent takes a file once it is unchanged for {}; `cartferry status` says whether it is at work",
                    file.size,
                    humantime::format_duration(rc.from.stable_for)
                )
            }
        } else if let Some(entry) = listing.unfit.iter().find(|u| u.name == name) {
            format!("not taken: {}", entry.why)
        } else {
            continue;
        };
        say!(
            "{}: in the inbox of route {} ({}): {why}",
            shown(name),
            rc.name,
            route.inbox()
        );
        said += 1;
    }
    Ok(said)
}

/// One journey of a file, in a sentence.
fn journey(ledger: &Ledger, row: &FileRow, finished: Option<i64>) -> String {
    let taken = format!(
        "{}: taken by route {} {}",
        shown(&row.name),
        row.route,
        local_minute(row.claimed_at_ms)
    );
    let ended = finished.map(local_minute).unwrap_or_default();
    let at = |path: &Option<String>| shown(path.as_deref().unwrap_or("-")).into_owned();
    let output = shown(row.output_name.as_deref().unwrap_or("-")).into_owned();
    match row.state {
        State::Claiming | State::Claimed | State::Staged | State::Delivering => {
            let step = match row.state {
                State::Claiming => "being claimed (moved into the processing folder)",
                State::Claimed => "claimed: in the processing folder, to be converted",
                State::Staged => "converted, waiting to be delivered",
                _ => "being delivered",
            };
            let retry = match (row.next_attempt_at_ms, &row.last_error) {
                (Some(at), Some(error)) => format!(
                    "; attempt {} failed ({}), the next is due {}",
                    row.attempts,
                    shown(error),
                    local_minute(at)
                ),
                _ => String::new(),
            };
            format!("{taken}; on its way, {step}{retry}")
        }
        State::Delivered => format!("{taken}; delivered as {output}, being archived"),
        State::Done => format!(
            "{taken}; delivered as {output}, and archived {ended} at {}",
            at(&row.final_path)
        ),
        State::Duplicate => {
            let earlier = row
                .sha256
                .as_deref()
                .and_then(|sha| ledger.delivered_with_hash(&row.route, sha, row.id).ok()?)
                .and_then(|id| ledger.get(id).ok());
            let what = repeated(&DuplicateNote {
                name: row.name.clone(),
                at_ms: finished.unwrap_or_default(),
                archived: row.final_path.clone(),
                same_as: earlier.map(|e| (e.name, e.claimed_at_ms)),
            });
            format!(
                "{taken}; not delivered: {what}; archived {ended} at {}",
                at(&row.final_path)
            )
        }
        State::Failing | State::Failed => {
            let reason = row
                .report
                .as_deref()
                .and_then(report::reason_of)
                .or(row.last_error.as_deref())
                .unwrap_or("see its report");
            format!(
                "{taken}; in the error folder at {} since {ended}: {}; once fixed, `cartferry retry {} {}`",
                at(&row.final_path),
                shown(reason),
                row.route,
                shown(&row.name)
            )
        }
        State::Abandoned => {
            format!("{taken}; gone from the inbox before it was claimed (taken by something else)")
        }
    }
}
