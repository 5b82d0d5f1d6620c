//! The agent: one worker per route that lists its source, waits for files to be complete, and
//! sends each through its journey. `run` drives the workers from folder events (notify)
//! with a periodic rescan as the fallback; `once` makes a single pass and returns.

pub mod priority;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::endpoint::{Endpoints, Entry, Unfit};
use crate::fsutil;
use crate::journey::{self, Outcome};
use crate::ledger::{FileRow, Ledger, LedgerError, State, now_ms};
use crate::route::{Route, parse_processing_name};
use priority::PriorityGate;

/// The least time between the starts of two passes of a route that folder events woke one
/// after another (a file being written). An event after any other wake starts a pass at once.
const EVENT_GAP: Duration = Duration::from_millis(10);

/// How often archive retention is applied.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// What the agent did, for `once`'s exit code and summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Files delivered.
    pub delivered: u64,
    /// Files archived as duplicates, or with every document delivered before.
    pub duplicates: u64,
    /// Files moved to an error folder.
    pub failed: u64,
    /// Files delivered (or archived) without some documents, which went to an error folder.
    pub split: u64,
    /// Files waiting for a retry after a transient fault.
    pub retrying: u64,
    /// Files of partners' acknowledgments recorded.
    pub recorded: u64,
    /// Routes that took no files because their processing folder is not fit.
    pub refused_routes: u64,
}

impl Summary {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Delivered { rejected_part, .. } => {
                self.delivered += 1;
                self.split += u64::from(rejected_part.is_some());
            }
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::AlreadySent { rejected_part, .. } => {
                self.duplicates += 1;
                self.split += u64::from(rejected_part.is_some());
            }
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::RetryLater { .. } => self.retrying += 1,
            Outcome::Recorded { .. } => self.recorded += 1,
            Outcome::Vanished => {}
        }
    }

    fn add(&mut self, other: Summary) {
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.failed += other.failed;
        self.split += other.split;
        self.retrying += other.retrying;
        self.recorded += other.recorded;
        self.refused_routes += other.refused_routes;
    }
}

/// What the stability check remembers of a file between listings.
struct Observation {
    size: u64,
    mtime: Option<SystemTime>,
    /// When cartferry first saw the current size and mtime (not the file's own mtime: it lies).
    unchanged_since: Instant,
}

/// Decides when a listed file is complete: unchanged for `stable_for` since cartferry saw it
/// change, or (on marker routes) its done-marker exists.
#[derive(Default)]
struct StabilityTracker {
    seen: HashMap<String, Observation>,
}

impl StabilityTracker {
    /// Takes a listing; returns the files ready to take (oldest first) and when to look again for
    /// the ones still settling.
    fn observe(
        &mut self,
        route: &Route,
        listing: Vec<Entry>,
        now: Instant,
    ) -> (Vec<Entry>, Option<Instant>) {
        let marker = route.config.from.done_marker.as_ref();
        let stable_for = route.config.from.stable_for;
        let names: std::collections::HashSet<&str> =
            listing.iter().map(|e| e.name.as_str()).collect();
        let mut ready = Vec::new();
        let mut next = None::<Instant>;
        let mut still_there = HashMap::with_capacity(listing.len());
        for entry in &listing {
            if !route.wants(&entry.name) {
                continue;
            }
            if let Some(m) = marker {
                if names.contains(m.marker_for(&entry.name).as_str()) {
                    ready.push((now, entry.clone()));
                }
                continue;
            }
            let since = match self.seen.remove(&entry.name) {
                Some(o) if o.size == entry.size && o.mtime == entry.mtime => o.unchanged_since,
                _ => now,
            };
            let due = since + stable_for;
            if now >= due && since < now {
                ready.push((since, entry.clone()));
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
            still_there.insert(
                entry.name.clone(),
                Observation {
                    size: entry.size,
                    mtime: entry.mtime,
                    unchanged_since: since,
                },
            );
        }
        self.seen = still_there;
        ready.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
        (ready.into_iter().map(|(_, e)| e).collect(), next)
    }

    fn forget(&mut self, name: &str) {
        self.seen.remove(name);
    }
}

/// One route's worker: its ledger connections and stability memory. Runs on a blocking thread,
/// plus `workers - 1` helper threads while a pass takes files.
pub struct RouteWorker {
    route: Arc<Route>,
    /// The turns of the priority routes, and this route's index among them when it is one.
    gate: Option<(Arc<PriorityGate>, Option<usize>)>,
    ledger: Ledger,
    /// One connection per helper thread.
    helpers: Vec<Ledger>,
    tracker: StabilityTracker,
    last_retention: Option<Instant>,
    listing_failed: bool,
    /// Why the route takes no files, while its processing folder is not fit.
    refused: Option<String>,
    /// The entries of the source folder the route would take by their names but cannot, each
    /// said once (a warning) while it is there.
    told: HashSet<Unfit>,
}

impl RouteWorker {
    /// A worker for `route` with its own ledger connections; `gate` gives priority routes their
    /// turns (with this route's index among them, when it is one).
    pub fn new(
        route: Arc<Route>,
        state_dir: &Path,
        gate: Option<(Arc<PriorityGate>, Option<usize>)>,
    ) -> Result<RouteWorker, LedgerError> {
        let helpers = (1..route.config.workers)
            .map(|_| Ledger::open(state_dir))
            .collect::<Result<_, _>>()?;
        Ok(RouteWorker {
            route,
            gate,
            ledger: Ledger::open(state_dir)?,
            helpers,
            tracker: StabilityTracker::default(),
            last_retention: None,
            listing_failed: false,
            told: HashSet::new(),
            refused: None,
        })
    }

    /// After a start: puts back processing-area files the ledger does not know (their claim was
    /// lost with the last commits before a power cut), then resumes every unfinished file.
    pub fn recover(&mut self, stop: &AtomicBool) -> Result<Summary, LedgerError> {
        let mut summary = Summary::default();
        if !self.processing_ready() {
            summary.refused_routes += 1;
            return Ok(summary);
        }
        self.return_orphans()?;
        let unfinished = self.ledger.unfinished(self.route.name())?;
        self.remove_orphan_staging(&unfinished);
        for row in unfinished {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            summary.count(&journey::resume(&self.route, &self.ledger, &row)?);
        }
        Ok(summary)
    }

    /// Whether the route's processing folder is fit to claim into. Says so at error level when
    /// it stops being fit (the route then takes nothing), and again when it is fit once more
    /// (files a power cut left there are then returned).
    fn processing_ready(&mut self) -> bool {
        match self.route.verify_processing_dir() {
            Ok(()) => {
                if self.refused.take().is_some() {
                    info!(
                        route = self.route.name(),
                        "processing folder fit again; the route takes files again"
                    );
                    if let Err(e) = self.return_orphans() {
                        warn!(route = self.route.name(), error = %e, "could not look through the processing folder");
                    }
                }
                true
            }
            Err(problem) => {
                if self.refused.as_deref() != Some(problem.as_str()) {
                    error!(
                        route = self.route.name(),
                        problem = problem.as_str(),
                        "the route takes no files until its processing folder is fixed"
                    );
                    self.refused = Some(problem);
                }
                false
            }
        }
    }

    /// Removes staged files none of the route's `unfinished` files owns: a power cut took the
    /// ledger's record of the file they were staged for (its id may since belong to another
    /// route's file), and nothing else would ever remove them.
    fn remove_orphan_staging(&self, unfinished: &[FileRow]) {
        let Ok(items) = std::fs::read_dir(&self.route.staging_dir) else {
            return;
        };
        let owners: std::collections::HashSet<i64> = unfinished.iter().map(|row| row.id).collect();
        for item in items.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let id = name.split('.').next().and_then(|id| id.parse::<i64>().ok());
            if id.is_some_and(|id| !owners.contains(&id)) {
                match fsutil::remove_if_present(&item.path()) {
                    Ok(()) => info!(
                        route = self.route.name(),
                        staged = name.as_str(),
                        "removed a staged file whose journey the ledger does not know"
                    ),
                    Err(e) => {
                        warn!(route = self.route.name(), staged = name.as_str(), error = %e, "could not remove a staged file whose journey the ledger does not know")
                    }
                }
            }
        }
    }

    fn return_orphans(&self) -> Result<(), LedgerError> {
        let dir = self.route.processing_dir();
        let Ok(items) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for item in items.flatten() {
            let file_name = item.file_name().to_string_lossy().into_owned();
            let Some((id, name)) = parse_processing_name(&file_name) else {
                continue;
            };
            let row = self
                .ledger
                .find(id)?
                .filter(|r| r.route == self.route.name());
            // An ended journey whose last move was lost (the archive move is not flushed, to save
            // a disk flush per file): finish that move. A claim the ledger does not know: put a
            // local file back to be taken again; drop a download (its source is still remote).
            let (target, what) = match (row, &self.route.source_dir) {
                (Some(r), _) if !r.state.is_terminal() => continue,
                (Some(r), _) if r.final_path.is_some() && r.state != State::Abandoned => (
                    PathBuf::from(r.final_path.unwrap_or_default()),
                    "moved a finished file left in the processing area to its archive or error folder",
                ),
                (_, Some(source_dir)) => (
                    fsutil::free_path(source_dir, name, None),
                    "returned a claimed file the ledger did not know to the source folder",
                ),
                (_, None) => {
                    if let Err(e) = fsutil::remove_if_present(&item.path()) {
                        warn!(route = self.route.name(), file = name, error = %e, "could not remove an unknown download");
                    }
                    continue;
                }
            };
            match fsutil::move_file(&item.path(), &target) {
                Ok(()) => info!(route = self.route.name(), file = name, "{what}"),
                Err(e) => {
                    warn!(route = self.route.name(), file = name, error = %e, "could not move a file left in the processing area")
                }
            }
        }
        Ok(())
    }

    /// One pass: resumes files whose retry is due, then takes every complete file in the source
    /// folder. Stops between files when `stop` is set. Returns when the route wants to look again.
    pub fn pass(
        &mut self,
        stop: &AtomicBool,
        summary: &mut Summary,
    ) -> Result<Option<Instant>, LedgerError> {
        let priority_turn = match &self.gate {
            Some((gate, Some(index))) => Some((gate.clone(), *index, gate.pass_begins())),
            _ => None,
        };
        let mut settling = false;
        let next = self.pass_files(stop, summary, &mut settling)?;
        if let Some((gate, index, request)) = priority_turn {
            gate.pass_ends(index, request, settling);
        }
        Ok(next)
    }

    /// The body of [`RouteWorker::pass`]; sets `settling` when files were left to settle.
    fn pass_files(
        &mut self,
        stop: &AtomicBool,
        summary: &mut Summary,
        settling: &mut bool,
    ) -> Result<Option<Instant>, LedgerError> {
        let mut next: Option<Instant> = None;
        self.ledger.verify_still_there()?;
        if !self.processing_ready() {
            summary.refused_routes += 1;
            return Ok(next);
        }
        let now_wall = now_ms();
        let unfinished = self.ledger.unfinished(self.route.name())?;
        // A remote source stays listed until its journey ends: never take it twice.
        let in_hand: std::collections::HashSet<String> =
            unfinished.iter().map(|r| r.name.clone()).collect();
        for row in unfinished {
            if stop.load(Ordering::Relaxed) {
                return Ok(next);
            }
            match row.next_attempt_at_ms {
                Some(at) if at > now_wall => {
                    let due = Instant::now() + Duration::from_millis((at - now_wall) as u64);
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
                _ => summary.count(&journey::resume(&self.route, &self.ledger, &row)?),
            }
        }
        let listing = match self.route.source.list(&self.route.config.from.dir) {
            Ok(listing) => {
                if self.listing_failed {
                    info!(route = self.route.name(), "source folder readable again");
                    self.listing_failed = false;
                }
                listing
            }
            Err(e) => {
                if !self.listing_failed {
                    warn!(route = self.route.name(), error = %e, "cannot list the source folder; will keep trying");
                    self.listing_failed = true;
                }
                return Ok(next);
            }
        };
        self.tell_unfit(listing.unfit);
        let mut files = listing.files;
        files.retain(|e| !in_hand.contains(&e.name));
        let (ready, settle_at) = self.tracker.observe(&self.route, files, Instant::now());
        if let Some(at) = settle_at {
            *settling = true;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        if let Some((gate, None)) = &self.gate
            && !ready.is_empty()
        {
            gate.wait_for_priority(self.route.name(), stop);
        }
        for entry in &ready {
            self.tracker.forget(&entry.name);
        }
        summary.add(self.take_all(ready, stop)?);
        // Files that met a transient fault in this pass wait for their next attempt.
        if let Some(at) = self.ledger.next_attempt_at(self.route.name())? {
            let due =
                Instant::now() + Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64);
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        self.apply_retention();
        Ok(next)
    }

    /// Warns once of each entry of the source folder that the route's pattern names but that the
    /// route cannot take: a link, a folder, a name that is not UTF-8 (see
    /// [`crate::endpoint::Unfitness`]).
    fn tell_unfit(&mut self, unfit: Vec<Unfit>) {
        let wanted: HashSet<Unfit> = unfit
            .into_iter()
            .filter(|u| self.route.wants(&u.name))
            .collect();
        for entry in wanted.difference(&self.told) {
            warn!(
                route = self.route.name(),
                file = entry.name.as_str(),
                "not taken from the source folder: {}",
                entry.why
            );
        }
        self.told = wanted;
    }

    /// Takes the ready files, oldest first, on this thread and the helper threads.
    fn take_all(&mut self, ready: Vec<Entry>, stop: &AtomicBool) -> Result<Summary, LedgerError> {
        let queue = Mutex::new(ready.into_iter());
        let total = Mutex::new(Summary::default());
        let route = &self.route;
        let work = |ledger: &Ledger| -> Result<(), LedgerError> {
            while !stop.load(Ordering::Relaxed) {
                let Some(entry) = queue.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                    break;
                };
                let outcome = journey::take(route, ledger, &entry)?;
                total
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .count(&outcome);
            }
            Ok(())
        };
        let work = &work;
        let ledger = &self.ledger;
        let helpers = &mut self.helpers;
        std::thread::scope(|scope| {
            let handles: Vec<_> = helpers
                .iter_mut()
                .map(|helper| scope.spawn(move || work(helper)))
                .collect();
            let mine = work(ledger);
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Ok(())))
                .fold(mine, |acc, r| acc.and(r))
        })?;
        Ok(total.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deletes dated archive folders older than the route's retention, at most once an hour.
    fn apply_retention(&mut self) {
        let Some(keep) = self.route.config.archive_retention else {
            return;
        };
        if self
            .last_retention
            .is_some_and(|t| t.elapsed() < RETENTION_EVERY)
        {
            return;
        }
        self.last_retention = Some(Instant::now());
        let cutoff = chrono::Local::now().date_naive()
            - chrono::Duration::from_std(keep).unwrap_or_default();
        let root = &self.route.config.archive;
        for day_dir in dated_dirs(root) {
            let (date, path) = day_dir;
            if date < cutoff {
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => {
                        info!(route = self.route.name(), folder = %path.display(), "archive folder past its retention removed")
                    }
                    Err(e) => {
                        warn!(route = self.route.name(), folder = %path.display(), error = %e, "could not remove an archive folder past its retention")
                    }
                }
            }
        }
    }
}

/// The `YYYY/MM/DD` folders under an archive root, with their dates.
fn dated_dirs(root: &Path) -> Vec<(chrono::NaiveDate, PathBuf)> {
    let subdirs = |p: &Path| -> Vec<(u32, PathBuf)> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
            .collect()
    };
    let mut out = Vec::new();
    for (y, yp) in subdirs(root) {
        for (m, mp) in subdirs(&yp) {
            for (d, dp) in subdirs(&mp) {
                if let Some(date) = chrono::NaiveDate::from_ymd_opt(y as i32, m, d) {
                    out.push((date, dp));
                }
            }
        }
    }
    out
}

/// Builds every route of a config on shared endpoints, after creating or upgrading the ledger
/// once, before any worker opens its own connection.
pub fn routes(config: &Config, endpoints: &Endpoints) -> Result<Vec<Arc<Route>>, String> {
    Ledger::open(&config.agent.state_dir).map_err(|e| e.to_string())?;
    config
        .routes
        .iter()
        .map(|r| Route::new(config, r, endpoints).map(Arc::new))
        .collect()
}

/// One pass over every route, waiting once for files still settling; then returns. Priority
/// routes make theirs first.
pub fn once(config: &Config, endpoints: &Endpoints) -> Result<Summary, String> {
    let routes = routes(config, endpoints)?;
    let alerts = alert_sender(config)?;
    let stop = AtomicBool::new(false);
    let once_route = |route: &Arc<Route>| -> Result<Summary, LedgerError> {
        let mut worker = RouteWorker::new(route.clone(), &config.agent.state_dir, None)?;
        let mut summary = worker.recover(&stop)?;
        if let Some(at) = worker.pass(&stop, &mut summary)? {
            let wait = at.saturating_duration_since(Instant::now());
            if wait <= route.config.from.stable_for {
                std::thread::sleep(wait);
                worker.pass(&stop, &mut summary)?;
            }
        }
        // A route refused once is one route, however many of its passes said so.
        summary.refused_routes = summary.refused_routes.min(1);
        Ok(summary)
    };
    let mut total = Summary::default();
    for priority in [true, false] {
        let results: Vec<Result<Summary, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = routes
                .iter()
                .filter(|route| route.config.priority == priority)
                .map(|route| scope.spawn(|| once_route(route).map_err(|e| e.to_string())))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a route worker crashed".to_string()))
                })
                .collect()
        });
        for r in results {
            total.add(r?);
        }
    }
    if let Some((mut sender, ledger)) = alerts {
        // A `once` from cron has no sender thread: what is due is sent now, the rest waits in
        // the outbox for the next run.
        if let Err(e) = sender.round(&ledger, true) {
            warn!(error = %e, "the alerts' outbox could not be read; its alerts wait for the next run");
        }
    }
    Ok(total)
}

/// The alert channels, known to the ledger before any file is taken, with a ledger connection
/// of their own; `None` without channels.
fn alert_sender(config: &Config) -> Result<Option<(crate::alerts::Sender, Ledger)>, String> {
    if config.alerts.is_empty() {
        return Ok(None);
    }
    let ledger = Ledger::open(&config.agent.state_dir).map_err(|e| e.to_string())?;
    Ok(crate::alerts::Sender::new(config, &ledger)
        .map_err(|e| e.to_string())?
        .map(|sender| (sender, ledger)))
}

/// Runs every route until `shutdown` resolves; the file in hand is finished first.
pub async fn run(
    config: Config,
    endpoints: &Endpoints,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let routes = routes(&config, endpoints)?;
    let alerts = alert_sender(&config)?;
    let stop = Arc::new(AtomicBool::new(false));
    let fatal: Fatal = Arc::new((Mutex::new(None), Notify::new()));
    let wakers: Vec<Arc<Notify>> = routes.iter().map(|_| Arc::new(Notify::new())).collect();
    let _watcher = watch_sources(&routes, &wakers);
    let priority: Vec<usize> = (0..routes.len())
        .filter(|&i| routes[i].config.priority)
        .collect();
    let gate = Arc::new(PriorityGate::new(
        priority.iter().map(|&i| wakers[i].clone()).collect(),
        priority
            .iter()
            .map(|&i| routes[i].config.from.stable_for)
            .max()
            .unwrap_or_default(),
    ));
    let health = Arc::new(Health {
        failing: Mutex::new(vec![None; routes.len()]),
    });
    let metrics = match config.agent.metrics {
        Some(address) => {
            let watched = health.clone();
            let scraper = crate::metrics::Scraper::new(
                config.clone(),
                endpoints.clone(),
                Box::new(move || watched.problem()),
            )
            .map_err(|e| e.to_string())?;
            Some(tokio::spawn(crate::metrics::serve(address, scraper).await?))
        }
        None => None,
    };
    let mut tasks = Vec::new();
    for (i, (route, wake)) in routes.iter().zip(&wakers).enumerate() {
        tasks.push(tokio::spawn(route_loop(
            route.clone(),
            config.agent.state_dir.clone(),
            config.agent.poll_interval,
            (
                wake.clone(),
                (gate.clone(), priority.iter().position(|&p| p == i)),
            ),
            stop.clone(),
            (fatal.clone(), health.clone(), i),
        )));
    }
    let service_manager =
        tell_service_manager(health.clone(), config.agent.state_dir.clone(), stop.clone());
    let alerts = alerts.and_then(|(sender, ledger)| sender.spawn(ledger, stop.clone()));
    info!(routes = routes.len(), "cartferry is running");
    tokio::select! {
        _ = shutdown => info!("stop requested; finishing the files in hand"),
        _ = fatal.1.notified() => {}
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    for w in &wakers {
        w.notify_one();
    }
    for t in tasks {
        let _ = t.await;
    }
    for thread in [service_manager, alerts].into_iter().flatten() {
        let _ = thread.join();
    }
    if let Some(server) = metrics {
        server.abort();
    }
    if let Some(why) = fatal.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(why);
    }
    info!("cartferry stopped");
    Ok(())
}

/// What the service manager's watchdog hears: whether each route's last pass went through.
struct Health {
    /// Per route: why its last pass failed, while it does.
    failing: Mutex<Vec<Option<String>>>,
}

impl Health {
    fn set(&self, route: usize, problem: Option<String>) {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())[route] = problem;
    }

    /// The first route's problem, if any route has one.
    fn problem(&self) -> Option<String> {
        let failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        failing.iter().flatten().next().cloned()
    }
}

/// How often the watchdog thread looks whether the agent is stopping.
const WATCHDOG_STEP: Duration = Duration::from_millis(100);

/// Tells the service manager (systemd with `Type=notify`) that the agent is ready. When the
/// unit has a watchdog (`WatchdogSec`), a thread then says every half period that the agent is
/// healthy: every route's last pass went through and the ledger takes writes. While it is not,
/// the pings stop and the status says why; systemd then restarts the agent. Without
/// `NOTIFY_SOCKET` in the environment this does nothing.
fn tell_service_manager(
    health: Arc<Health>,
    state_dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let period = sd_notify::watchdog_enabled()? / 2;
    let probe = match Ledger::open(&state_dir) {
        Ok(ledger) => ledger,
        Err(e) => {
            warn!(error = %e, "cannot open the ledger for the service manager's watchdog; it gets no pings");
            return None;
        }
    };
    let watch = move || {
        let mut told = None;
        while !stop.load(Ordering::Relaxed) {
            let problem = health.problem().or_else(|| {
                probe
                    .verify_still_there()
                    .and_then(|()| probe.writable())
                    .err()
                    .map(|e| format!("the ledger cannot be written: {e}"))
            });
            let state = match &problem {
                None => sd_notify::NotifyState::Watchdog,
                Some(why) => sd_notify::NotifyState::Status(why),
            };
            let _ = sd_notify::notify(&[state]);
            if problem != told {
                match &problem {
                    Some(why) => warn!(
                        "the service manager's watchdog gets no pings while this lasts: {why}"
                    ),
                    None if told.is_some() => info!("healthy again: the watchdog gets its pings"),
                    None => {}
                }
                told = problem;
            }
            // In short steps, so that a stopping agent does not wait out a long period.
            let next = Instant::now() + period;
            while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                std::thread::sleep(period.min(WATCHDOG_STEP));
            }
        }
    };
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(watch)
        .ok()
}

/// Passes of one route that may crash in a row before the agent stops.
const MAX_ROUTE_CRASHES: u32 = 3;

/// What stops every route at once (a ledger that cannot be trusted, a route that keeps
/// crashing), and how routes say so.
type Fatal = Arc<(Mutex<Option<String>>, Notify)>;

async fn route_loop(
    route: Arc<Route>,
    state_dir: PathBuf,
    poll: Duration,
    (wake, gate): (Arc<Notify>, (Arc<PriorityGate>, Option<usize>)),
    stop: Arc<AtomicBool>,
    (fatal, health, index): (Fatal, Arc<Health>, usize),
) {
    let mut worker: Option<RouteWorker> = None;
    let mut recovered = false;
    let mut crashes_in_a_row = 0;
    let mut woken_by_event = false;
    while !stop.load(Ordering::Relaxed) {
        let pass_started = Instant::now();
        let (route2, state_dir2, stop2, gate2) =
            (route.clone(), state_dir.clone(), stop.clone(), gate.clone());
        let taken = worker.take();
        let joined = tokio::task::spawn_blocking(move || {
            let mut w = match taken {
                Some(w) => w,
                None => RouteWorker::new(route2, &state_dir2, Some(gate2))?,
            };
            let mut summary = Summary::default();
            if !recovered {
                summary = w.recover(&stop2)?;
            }
            let next = w.pass(&stop2, &mut summary)?;
            Ok::<_, LedgerError>((w, next))
        })
        .await;
        let next = match joined {
            Ok(Ok((w, next))) => {
                worker = Some(w);
                recovered = true;
                crashes_in_a_row = 0;
                health.set(index, None);
                next
            }
            Ok(Err(LedgerError::Unusable(why))) => {
                error!(route = route.name(), "{why}");
                let mut slot = fatal.0.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(why);
                fatal.1.notify_one();
                return;
            }
            Ok(Err(e)) => {
                error!(route = route.name(), error = %e, "the ledger failed; retrying after the poll interval");
                health.set(
                    index,
                    Some(format!("route {}: the ledger failed: {e}", route.name())),
                );
                None
            }
            Err(e) => {
                // A bug, not a fault of the files or servers: the ledger makes a fresh start safe,
                // but a pass that crashes again and again stops the agent, so that the service
                // manager (and whoever watches it) sees a failed agent instead of a silent one.
                crashes_in_a_row += 1;
                if crashes_in_a_row >= MAX_ROUTE_CRASHES {
                    let why = format!(
                        "route {} crashed {crashes_in_a_row} times in a row ({e}); stopping the agent: report this to the cartferry developers with the log",
                        route.name()
                    );
                    error!(route = route.name(), "{why}");
                    let mut slot = fatal.0.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert(why);
                    fatal.1.notify_one();
                    return;
                }
                error!(route = route.name(), error = %e, crashes = crashes_in_a_row, "a route pass crashed; starting it afresh");
                health.set(index, Some(format!("route {} crashed: {e}", route.name())));
                None
            }
        };
        let deadline = next.map_or(Instant::now() + poll, |n| n.min(Instant::now() + poll));
        tokio::select! {
            _ = wake.notified() => {
                debug!(route = route.name(), "woken by a folder event");
                // A file being written sends events all along: passes woken by one event after
                // another start at most every EVENT_GAP.
                if woken_by_event {
                    tokio::time::sleep_until((pass_started + EVENT_GAP).into()).await;
                }
                woken_by_event = true;
            }
            _ = tokio::time::sleep_until(deadline.into()) => woken_by_event = false,
        }
    }
}

/// Watches every local source folder; an event wakes the routes reading that folder. Events are
/// hints: the woken route lists its folder, which is the truth. Returns the watcher to keep alive.
fn watch_sources(routes: &[Arc<Route>], wakers: &[Arc<Notify>]) -> Option<impl Drop> {
    let mut by_dir: HashMap<PathBuf, Vec<Arc<Notify>>> = HashMap::new();
    for (route, wake) in routes.iter().zip(wakers) {
        if let Some(dir) = &route.source_dir {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            by_dir.entry(dir).or_default().push(wake.clone());
        }
    }
    let all: Vec<Arc<Notify>> = wakers.to_vec();
    let lookup = by_dir.clone();
    // No debouncer: a route's wake-up is a `Notify`, which keeps one permit however many events
    // come before the route looks, so a burst of events is one pass already. A debouncer's
    // timer thread would wake hundreds of times a second while the agent is idle.
    let handler = move |result: notify::Result<notify::Event>| match result {
        Ok(event) => {
            if event.need_rescan() {
                all.iter().for_each(|w| w.notify_one());
            }
            for path in &event.paths {
                if let Some(wakes) = path.parent().and_then(|p| lookup.get(p)) {
                    wakes.iter().for_each(|w| w.notify_one());
                }
            }
        }
        Err(e) => {
            warn!(error = %e, "folder watch error; the periodic rescan continues");
            all.iter().for_each(|w| w.notify_one());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            warn!(error = %e, "cannot watch folders; relying on the periodic rescan");
            return None;
        }
    };
    for dir in by_dir.keys() {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            warn!(folder = %dir.display(), error = %e, "cannot watch this folder; relying on the periodic rescan");
        }
    }
    Some(watcher)
}
