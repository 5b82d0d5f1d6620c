//! `cartferry status`: what every route is doing, gathered once into a [`StatusReport`] and
//! printed for people or, with `--json`, for scripts.

use std::process::ExitCode;

use serde::Serialize;

use super::{CmdResult, error_files, local_minute, orders, repeated, say, shown};
use crate::config::Config;
use crate::endpoint;
use crate::ledger::{self, Ledger};
use crate::report;
use crate::route::Route;

/// Everything `status` says.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// The state folder, when it holds no ledger yet (nothing was recorded).
    pub no_ledger_in: Option<String>,
    /// Each route's files.
    pub routes: Vec<RouteStatus>,
    /// Entries of the routes' source folders that their patterns name but that they cannot take.
    pub not_taken: Vec<NotTaken>,
    /// Each reconciling route's last reconciliation.
    pub reconciliations: Vec<Reconciliation>,
    /// Each route's duplicates archived today, and the last one.
    pub duplicates_today: Vec<Duplicates>,
    /// Each route's last file delivered with warnings.
    pub last_warnings: Vec<FileNote>,
    /// SFTP endpoints paused after refusals.
    pub paused_endpoints: Vec<PausedEndpoint>,
    /// X12 groups sent whose 997 is overdue.
    pub late_groups: Vec<LateGroup>,
    /// Orders late for shipment, and shipments of orders never sent.
    pub shipping: orders::Shipping,
    /// Each alert channel: what waits, what was sent, its last failure.
    pub alerts: Vec<AlertChannel>,
}

/// An alert channel's standing.
#[derive(Debug, Serialize)]
pub struct AlertChannel {
    /// The channel (`[alerts.NAME]`).
    pub channel: String,
    /// Events waiting to be said (for a digest window, the hourly limit, or a failing channel).
    pub waiting: u64,
    /// Messages sent.
    pub sent: u64,
    /// Sends that failed.
    pub failed: u64,
    /// While its sends fail: the last failure.
    pub failing: Option<String>,
    /// When it is tried again (ms since the Unix epoch), while its sends fail.
    pub next_try_ms: Option<i64>,
}

/// One route's files.
#[derive(Debug, Serialize)]
pub struct RouteStatus {
    /// The route.
    pub route: String,
    /// Files in its inbox it will take, and files on their way.
    pub waiting: u64,
    /// Files in its error folder.
    pub in_error: u64,
    /// Files delivered since midnight.
    pub delivered_today: u64,
    /// Its last file that sent something to the error folder.
    pub last_error: Option<FileNote>,
}

/// A file and one line about it.
#[derive(Debug, Serialize)]
pub struct FileNote {
    /// The route.
    pub route: String,
    /// The file.
    pub file: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// What happened.
    pub reason: String,
}

/// An entry a route does not take.
#[derive(Debug, Serialize)]
pub struct NotTaken {
    /// The route.
    pub route: String,
    /// The entry's name (`�` for bytes that are not UTF-8).
    pub name: String,
    /// Why.
    pub why: String,
}

/// A route's last inventory reconciliation.
#[derive(Debug, Serialize)]
pub struct Reconciliation {
    /// The route.
    pub route: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// What it found, in a sentence.
    pub found: String,
}

/// A route's duplicates today.
#[derive(Debug, Serialize)]
pub struct Duplicates {
    /// The route.
    pub route: String,
    /// How many.
    pub count: u64,
    /// The last one.
    pub last: FileNote,
}

/// An SFTP endpoint paused after refusals.
#[derive(Debug, Serialize)]
pub struct PausedEndpoint {
    /// The endpoint.
    pub endpoint: String,
    /// Its server.
    pub server: String,
    /// When the pause ends (ms since the Unix epoch).
    pub until_ms: i64,
    /// Refusals in a row.
    pub refusals: u32,
    /// The last refusal.
    pub message: String,
}

/// An X12 group whose 997 is overdue.
#[derive(Debug, Serialize)]
pub struct LateGroup {
    /// The route that sent it.
    pub route: String,
    /// GS06.
    pub group: u64,
    /// GS01.
    pub functional_id: String,
    /// Transaction sets in it.
    pub sets: u64,
    /// The file it went in, as delivered.
    pub output_name: Option<String>,
    /// The source file.
    pub source_name: String,
    /// When it was sent (ms since the Unix epoch).
    pub sent_at_ms: i64,
    /// When its 997 was due (ms since the Unix epoch).
    pub due_at_ms: i64,
}

/// `cartferry status [--json]`.
pub fn status(config: &Config, json: bool) -> CmdResult {
    let report = gather(config)?;
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        say!("{text}");
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn gather(config: &Config) -> Result<StatusReport, String> {
    let err = |e: ledger::LedgerError| e.to_string();
    // Status only reads: where there is no ledger (before the first run, or one gone missing,
    // which the next agent must notice), it shows an empty one instead of creating one there.
    let empty;
    let (ledger, no_ledger_in) =
        match Ledger::open_existing(&config.agent.state_dir).map_err(err)? {
            Some(ledger) => (ledger, None),
            None => {
                empty = tempfile::tempdir()
                    .map_err(|e| format!("cannot make a scratch folder: {e}"))?;
                (
                    Ledger::open(empty.path()).map_err(err)?,
                    Some(config.agent.state_dir.display().to_string()),
                )
            }
        };
    let midnight = chrono::Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map_or(0, |t| t.timestamp_millis());
    let endpoints = endpoint::open_all(config);
    let mut report = StatusReport {
        no_ledger_in,
        routes: Vec::new(),
        not_taken: Vec::new(),
        reconciliations: Vec::new(),
        duplicates_today: Vec::new(),
        last_warnings: Vec::new(),
        paused_endpoints: Vec::new(),
        late_groups: Vec::new(),
        shipping: orders::shipping(&ledger, orders::LATE_IN_STATUS)?,
        alerts: Vec::new(),
    };
    for channel in &config.alerts {
        let standing = ledger
            .alert_channel(&channel.name)
            .map_err(err)?
            .unwrap_or_default();
        let failing = standing.failures > 0;
        report.alerts.push(AlertChannel {
            channel: channel.name.clone(),
            waiting: standing.waiting,
            sent: standing.sent,
            failed: standing.failed,
            failing: standing.last_error.filter(|_| failing),
            next_try_ms: standing.next_try_ms.filter(|_| failing),
        });
    }
    for rc in &config.routes {
        let route = Route::new(config, rc, &endpoints)?;
        let listing = route.source.list(&rc.from.dir).unwrap_or_default();
        let listed = listing
            .files
            .iter()
            .filter(|e| route.wants(&e.name))
            .count();
        report.not_taken.extend(
            listing
                .unfit
                .into_iter()
                .filter(|u| route.wants(&u.name))
                .map(|u| NotTaken {
                    route: rc.name.clone(),
                    name: u.name,
                    why: u.why.to_string(),
                }),
        );
        let note = |f: ledger::FileNote| FileNote {
            route: rc.name.clone(),
            file: f.name,
            at_ms: f.at_ms,
            reason: f.reason,
        };
        report.routes.push(RouteStatus {
            route: rc.name.clone(),
            waiting: (listed + ledger.unfinished(&rc.name).map_err(err)?.len()) as u64,
            in_error: error_files(&rc.errors).len() as u64,
            delivered_today: ledger.delivered_since(&rc.name, midnight).map_err(err)?,
            last_error: ledger.last_failure(&rc.name).map_err(err)?.map(note),
        });
        if rc.reconcile.is_some()
            && let Some((at_ms, found)) = ledger.last_reconciliation(&rc.name).map_err(err)?
        {
            report.reconciliations.push(Reconciliation {
                route: rc.name.clone(),
                at_ms,
                found: found.to_string(),
            });
        }
        let (count, latest) = ledger
            .duplicates_since(&rc.name, midnight, 1)
            .map_err(err)?;
        if let Some(last) = latest.first() {
            report.duplicates_today.push(Duplicates {
                route: rc.name.clone(),
                count,
                last: FileNote {
                    route: rc.name.clone(),
                    file: last.name.clone(),
                    at_ms: last.at_ms,
                    reason: repeated(last),
                },
            });
        }
        if let Some(warned) = ledger.last_warning(&rc.name).map_err(err)? {
            report.last_warnings.push(note(warned));
        }
    }
    for (name, endpoint) in &config.endpoints {
        let crate::config::EndpointConfig::Sftp(s) = endpoint else {
            continue;
        };
        let server = s.server();
        let pause = ledger.endpoint_pause(&server).map_err(err)?;
        if let Some(pause) = pause.filter(|p| p.until_ms > ledger::now_ms()) {
            report.paused_endpoints.push(PausedEndpoint {
                endpoint: name.clone(),
                server,
                until_ms: pause.until_ms,
                refusals: pause.refusals,
                message: pause.message,
            });
        }
    }
    for group in ledger.late_groups(ledger::now_ms()).map_err(err)? {
        let sent = group.sent;
        report.late_groups.push(LateGroup {
            route: sent.route,
            group: group.group,
            functional_id: sent.functional_id,
            sets: sent.sets,
            output_name: sent.output_name,
            source_name: sent.source_name,
            sent_at_ms: group.sent_at_ms,
            due_at_ms: group.due_at_ms,
        });
    }
    Ok(report)
}

/// The report, for people.
fn print(report: &StatusReport) {
    if let Some(folder) = &report.no_ledger_in {
        say!(
            "no ledger in {folder} yet: nothing was recorded there (if an agent ran before, `cartferry check` says more)\n"
        );
    }
    say!(
        "{:<20} {:>8} {:>9} {:>16}  last error",
        "route",
        "waiting",
        "in error",
        "delivered today"
    );
    for r in &report.routes {
        let last = r
            .last_error
            .as_ref()
            .map(|f| {
                format!(
                    "{} {}: {}",
                    local_minute(f.at_ms),
                    shown(&f.file),
                    shown(&f.reason)
                )
            })
            .unwrap_or_else(|| "-".into());
        say!(
            "{:<20} {:>8} {:>9} {:>16}  {last}",
            r.route,
            r.waiting,
            r.in_error,
            r.delivered_today
        );
    }
    if !report.not_taken.is_empty() {
        say!("\nin the source folders, not taken:");
        for entry in &report.not_taken {
            say!("  {}: {}: {}", entry.route, shown(&entry.name), entry.why);
        }
    }
    for r in &report.reconciliations {
        say!(
            "\ninventory of route {} reconciled {}: {}",
            r.route,
            local_minute(r.at_ms),
            r.found
        );
    }
    for d in &report.duplicates_today {
        say!(
            "\nroute {}: {} today, archived without delivery (`errors --duplicates`); the last, {} at {}: {}",
            d.route,
            report::counted(d.count, "duplicate", "duplicates"),
            shown(&d.last.file),
            local_minute(d.last.at_ms),
            d.last.reason
        );
    }
    for note in &report.last_warnings {
        say!(
            "\nlast file of route {} with warnings: {} {}: {}",
            note.route,
            local_minute(note.at_ms),
            shown(&note.file),
            shown(&note.reason)
        );
    }
    for p in &report.paused_endpoints {
        say!(
            "\nendpoint {} ({}) is paused until {} after {}; its routes' files wait: {}",
            p.endpoint,
            p.server,
            local_minute(p.until_ms),
            report::counted(u64::from(p.refusals), "refusal", "refusals"),
            shown(&p.message)
        );
    }
    if !report.late_groups.is_empty() {
        say!(
            "\n{} sent without the partner's 997 in the agreed time:",
            report::counted(report.late_groups.len() as u64, "X12 group", "X12 groups")
        );
        for g in &report.late_groups {
            say!(
                "  route {}: group {} ({} {} {}) in {} from {}, sent {}, 997 due {}",
                g.route,
                g.group,
                g.sets,
                g.functional_id,
                if g.sets == 1 { "set" } else { "sets" },
                shown(g.output_name.as_deref().unwrap_or("?")),
                shown(&g.source_name),
                local_minute(g.sent_at_ms),
                local_minute(g.due_at_ms)
            );
        }
        say!(
            "  Ask the partner whether they received these files; their 997s go to the route reading x12-997."
        );
    }
    for a in &report.alerts {
        let mut line = format!(
            "\nalerts {}: {} waiting, {} sent",
            a.channel,
            a.waiting,
            report::counted(a.sent, "message", "messages")
        );
        if let Some(why) = &a.failing {
            line.push_str(&format!(
                "; last try failed ({}), next try {}: {}",
                report::counted(a.failed, "failure", "failures"),
                a.next_try_ms.map_or("soon".into(), local_minute),
                shown(why)
            ));
        }
        say!("{line}");
    }
    orders::print_shipping(&report.shipping);
}
