//! The command line (the contract in DESIGN.md): `run`, `once`, `check`, `status`, `errors`,
//! `retry`, `convert`, `init`, and the order ledger's `order` and `orders` (`orders.rs`). Each command returns its process exit code; messages for people go
//! to stdout (results) and stderr (problems).

use std::io::{self, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::agent;
use crate::config::{Config, default_config_path};
use crate::endpoint::{self, Endpoints};
use crate::format::{self, ConvertError, Transform};
use crate::fsutil;
use crate::ledger::{self, Ledger};
use crate::report::{self, error_files};
use crate::route::Route;
use crate::state_lock::{LockError, StateLock};

/// The bundled demo config, also the template that `init` writes.
const CONFIG_TEMPLATE: &str = include_str!("../../config/cartferry.toml");

/// Exit code of `once` when files wait for a retry after transient faults (EX_TEMPFAIL).
const EXIT_RETRYING: u8 = 75;

/// Exit code of `run` and `once` when another agent holds the state folder.
const EXIT_LOCKED: u8 = 3;

/// Whether messages on stderr are JSON events (`--log-format json`) rather than text.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says on stderr what stopped a command: one JSON event with `--log-format json`, so that the
/// stream stays all JSON, else a line of text.
fn complain(text: impl std::fmt::Display) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::error!("{text}");
    } else {
        eprintln!("cartferry: {text}");
    }
}

/// What `cartferry alerts` does.
#[derive(Subcommand, Debug)]
pub enum AlertsAction {
    /// Send a test message to every channel now and say what each answered (exit 1 when one
    /// failed).
    Test,
}

/// Exit code when the reader of the standard output stopped reading (as after SIGPIPE).
const EXIT_BROKEN_PIPE: i32 = 141;

/// Prints a line for people on stdout (see [`say`]).
macro_rules! say {
    ($($arg:tt)*) => {
        say(format_args!($($arg)*))
    };
}

mod explain;
mod orders;
mod status;

/// Writes one line to stdout. A reader that stopped reading (`cartferry errors | head`) ends
/// the command quietly, as it ends any Unix tool; any other failure to write is said on stderr.
fn say(line: std::fmt::Arguments<'_>) {
    if let Err(e) = writeln!(io::stdout().lock(), "{line}") {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        eprintln!("cartferry: cannot write to the standard output: {e}");
        std::process::exit(1);
    }
}

/// `text` with its control characters escaped (`\u{1b}`), so that a file name or a reason
/// printed for people cannot clear, recolour or forge lines on their terminal.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// The version `--version` prints; a test build says it has crash points.
const VERSION: &str = if cfg!(feature = "failpoints") {
    concat!(env!("CARGO_PKG_VERSION"), " (with crash points for tests)")
} else {
    env!("CARGO_PKG_VERSION")
};

/// cartferry moves order, shipment, inventory and return files between an online store and its
/// fulfillment warehouse, safely and unattended.
#[derive(Debug, Parser)]
#[command(version = VERSION, about)]
pub struct Cli {
    /// Config file [default: the platform config folder's cartferry.toml].
    #[arg(long, global = true, env = "CARTFERRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: `human` (default) or `json`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; coloured on a terminal.
    Human,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent until SIGINT/SIGTERM; the file in hand is finished first.
    Run {
        /// Start a new ledger when the one in the state folder is missing, empty or damaged
        /// (a file delivered before may then be delivered again).
        #[arg(long)]
        new_ledger: bool,
    },
    /// One pass over every route, then exit (1 when a file or part of one went to errors, 75 when some wait for a retry).
    Once {
        /// Start a new ledger when the one in the state folder is missing, empty or damaged
        /// (a file delivered before may then be delivered again).
        #[arg(long)]
        new_ledger: bool,
    },
    /// Validate the config and test every endpoint folder (list, write, rename).
    Check,
    /// Per route: files waiting, in error, delivered today, and the last error; then what
    /// needs a look (entries not taken, duplicates, late 997s and orders …).
    Status {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List the files in the error folders with their one-line reasons.
    Errors {
        /// Only this route.
        route: Option<String>,
        /// The files archived as duplicates instead (their content, or every document in them,
        /// was delivered before), latest first.
        #[arg(long)]
        duplicates: bool,
    },
    /// Put fixed files from a route's error folder back into its inbox.
    Retry {
        /// The route.
        route: String,
        /// The file in the error folder; all of the route's files when omitted.
        file: Option<String>,
        /// Send the file's orders even where they changed since they were sent (recorded as a
        /// deliberate resend).
        #[arg(long)]
        resend: bool,
    },
    /// One order's life: the file it came in, what went to the warehouse, holds, the
    /// warehouse's 997, shipments with tracking, returns, and anything that went to an error
    /// folder.
    Order {
        /// The order id, as the cart writes it (`#1001`).
        id: String,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Where a file stands and why: a path in an inbox, an archive or an error folder, a remote
    /// name, or a file name.
    Explain {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The alert channels (`[alerts.NAME]`).
    Alerts {
        /// What to do with them.
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// Orders in the order ledger.
    Orders {
        /// List every order sent to the warehouse without a shipment in its route's
        /// `shipment_due`, oldest first.
        #[arg(long)]
        late: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Transform one file to stdout (the problems go to stderr; exit 1 when there are any).
    Convert {
        /// Reader format.
        #[arg(long)]
        reader: String,
        /// Writer format.
        #[arg(long)]
        writer: String,
        /// A reader option, as in a route's `reader_options` (repeatable), e.g. `encoding=windows-1252`.
        #[arg(long = "reader-option", value_name = "KEY=VALUE")]
        reader_options: Vec<String>,
        /// A TOML file of reader options, as a route's `reader_options` table (a mapping, say);
        /// `--reader-option` keys go on top.
        #[arg(long = "reader-options-file", value_name = "FILE")]
        reader_options_file: Option<PathBuf>,
        /// A writer option, as in a route's `writer_options` (repeatable).
        #[arg(long = "writer-option", value_name = "KEY=VALUE")]
        writer_options: Vec<String>,
        /// What a bad document does: `split` (good ones still written) or `reject-file`.
        #[arg(long)]
        on_invalid: Option<String>,
        /// Input file, or `-` for stdin.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Write a commented config and the folder tree for a new install.
    Init {
        /// Where to put them.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Start from one of the complete examples instead of the local demo:
        /// shopify-x12, woocommerce-csv or cart-sftp.
        #[arg(long)]
        example: Option<String>,
    },
}

impl Cli {
    fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(default_config_path)
    }
}

/// Runs the parsed command; returns the exit code.
pub fn execute(cli: Cli) -> ExitCode {
    JSON_LOGS.store(
        cli.log_format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    let config_path = cli.config_path();
    let result = match &cli.command {
        Command::Convert {
            reader,
            writer,
            reader_options,
            reader_options_file,
            writer_options,
            on_invalid,
            file,
        } => {
            return convert(
                reader,
                writer,
                (
                    reader_options_file.as_deref(),
                    reader_options,
                    writer_options,
                ),
                on_invalid.as_deref(),
                file,
            );
        }
        Command::Init { dir, example } => return init(dir, example.as_deref()),
        command => match Config::load(&config_path) {
            Err(e) if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) => {
                tracing::error!(problems = e.problems.len(), "{e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
            Ok(config) => match command {
                Command::Run { new_ledger } | Command::Once { new_ledger } => {
                    for w in &config.warnings {
                        tracing::warn!(key = w.key.as_str(), "{}", w.message);
                    }
                    let lock = match StateLock::acquire(&config.agent.state_dir) {
                        Ok(lock) => lock,
                        Err(e @ LockError::Held { .. }) => {
                            complain(e);
                            return ExitCode::from(EXIT_LOCKED);
                        }
                        Err(e) => {
                            complain(e);
                            return ExitCode::FAILURE;
                        }
                    };
                    match ledger::check_before_use(
                        &config.agent.state_dir,
                        *new_ledger,
                        state_evidence(&config, lock.first_in_folder()),
                        ledger::Scrutiny::AfterUncleanStop,
                    ) {
                        Ok(None) => {}
                        Ok(Some(note)) => tracing::warn!("{note}"),
                        Err(problem) => {
                            complain(problem);
                            return ExitCode::FAILURE;
                        }
                    }
                    // The ledger exists from here on, whatever happens next: a later start must
                    // never take its absence for a new state folder. The alert channels are
                    // known to it before anything happens (a server refusing the login while
                    // the route folders are made is said too).
                    let opened = Ledger::open(&config.agent.state_dir)
                        .and_then(|ledger| crate::alerts::open_channels(&config, &ledger));
                    if let Err(e) = opened {
                        complain(e);
                        return ExitCode::FAILURE;
                    }
                    match command {
                        Command::Run { .. } => run(config),
                        _ => once(&config),
                    }
                }
                Command::Check => check(&config),
                Command::Status { json } => status::status(&config, *json),
                Command::Errors { route, duplicates } => match duplicates {
                    false => errors(&config, route.as_deref()),
                    true => duplicates_of(&config, route.as_deref()),
                },
                Command::Retry {
                    route,
                    file,
                    resend,
                } => retry(&config, route, file.as_deref(), *resend),
                Command::Order { id, json } => orders::order(&config, id, *json),
                Command::Explain { path } => explain::explain(&config, path),
                Command::Orders { late, json } => orders::orders(&config, *late, *json),
                Command::Alerts {
                    action: AlertsAction::Test,
                } => test_alerts(&config),
                Command::Convert { .. } | Command::Init { .. } => unreachable!("handled above"),
            },
        },
    };
    result.unwrap_or_else(|e| {
        complain(e);
        ExitCode::FAILURE
    })
}

type CmdResult = Result<ExitCode, String>;

/// `alerts test`: a test message to every channel, and what each answered.
fn test_alerts(config: &Config) -> CmdResult {
    if config.alerts.is_empty() {
        return Err(format!(
            "{} has no alert channel; add an [alerts.NAME] table (README: Alerts)",
            config.path.display()
        ));
    }
    let mut failed = 0;
    for answer in crate::alerts::test_every_channel(config) {
        match answer.answer {
            Ok(said) => say!("{}: sent ({said})", answer.channel),
            Err(why) => {
                failed += 1;
                say!("{}: FAILED: {why}", answer.channel);
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Creates the folders a run needs: the agent's own, and route folders on endpoints that allow it.
fn prepare(config: &Config, endpoints: &Endpoints) -> Result<(), String> {
    config
        .create_dirs()
        .map_err(|e| format!("cannot create the configured folders: {e}"))?;
    for route in &config.routes {
        for (_, name, dir) in route.sides() {
            if config.endpoints[name].create_dirs() {
                match endpoint::create_if_missing(endpoints[name].as_ref(), dir) {
                    Ok(false) => {}
                    Ok(true) => tracing::warn!(
                        route = route.name.as_str(),
                        endpoint = name,
                        folder = dir,
                        "created the route's folder, which did not exist (create_dirs = true): if its name is mistyped, fix it in the config, or files put in the intended folder are not taken"
                    ),
                    // A server that is down now may be up by the first delivery: warn, don't stop.
                    Err(e) => {
                        tracing::warn!(route = route.name.as_str(), error = %e, "cannot create the route's folder yet")
                    }
                }
            }
        }
    }
    Ok(())
}

fn run(config: Config) -> CmdResult {
    let endpoints = endpoint::open_all(&config);
    prepare(&config, &endpoints)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(agent::run(
        config,
        &endpoints,
        crate::platform::shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn once(config: &Config) -> CmdResult {
    let endpoints = endpoint::open_all(config);
    prepare(config, &endpoints)?;
    let s = agent::once(config, &endpoints)?;
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(
            delivered = s.delivered,
            split = s.split,
            duplicates = s.duplicates,
            failed = s.failed,
            retrying = s.retrying,
            recorded = s.recorded,
            refused_routes = s.refused_routes,
            "once: pass done"
        );
    } else {
        eprintln!(
            "once: {} delivered ({} without their bad documents), {} duplicates archived, {} to errors, {} waiting to retry, {} acknowledgment files recorded",
            s.delivered, s.split, s.duplicates, s.failed, s.retrying, s.recorded
        );
    }
    if s.refused_routes > 0 {
        complain(format!(
            "once: {} took no files: their processing folder is not fit (see the error above)",
            report::counted(s.refused_routes, "route", "routes")
        ));
    }
    Ok(if s.failed > 0 || s.split > 0 || s.refused_routes > 0 {
        ExitCode::FAILURE
    } else if s.retrying > 0 {
        ExitCode::from(EXIT_RETRYING)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes, renames and removes a probe file in `dir`; the error says which operation failed.
fn probe(
    ep: &dyn endpoint::Endpoint,
    dir: &str,
    scratch: &Path,
) -> Result<(), endpoint::EndpointError> {
    ep.list(dir)?;
    let name = format!(".cartferry-check-{}", std::process::id());
    let renamed = format!("{name}.renamed");
    ep.put(dir, &name, scratch, endpoint::PutOptions::default(), None)?;
    let result = ep.rename(dir, &name, dir, &renamed);
    let _ = ep.delete(dir, &name);
    let _ = ep.delete(dir, &renamed);
    result
}

fn check(config: &Config) -> CmdResult {
    say!(
        "config {} is valid: {}, {}",
        config.path.display(),
        report::counted(config.routes.len() as u64, "route", "routes"),
        report::counted(config.endpoints.len() as u64, "endpoint", "endpoints")
    );
    for w in &config.warnings {
        say!("  warn  {w}");
    }
    let mut failures = 0;
    let first = !config
        .agent
        .state_dir
        .join(crate::state_lock::LOCK_FILE)
        .exists();
    match ledger::check_before_use(
        &config.agent.state_dir,
        false,
        state_evidence(config, first),
        ledger::Scrutiny::EveryPage,
    ) {
        Ok(_) => say!("  ok    ledger in {}", config.agent.state_dir.display()),
        Err(problem) => {
            failures += 1;
            say!("  FAIL  ledger: {problem}");
        }
    }
    let scratch =
        tempfile::NamedTempFile::new().map_err(|e| format!("cannot create a scratch file: {e}"))?;
    let endpoints = endpoint::open_all(config);
    let mut failed_endpoints = std::collections::BTreeSet::new();
    for route in &config.routes {
        for (side, ep_name, dir) in route.sides() {
            let ep = &endpoints[ep_name];
            if failed_endpoints.contains(ep_name) {
                say!(
                    "  skip  route {} {side}: endpoint {ep_name} failed above",
                    route.name
                );
                continue;
            }
            let created = config.endpoints[ep_name].create_dirs()
                && endpoint::create_if_missing(ep.as_ref(), dir).unwrap_or(false);
            match probe(ep.as_ref(), dir, scratch.path()) {
                Ok(()) => say!(
                    "  ok    route {} {side}: {} {dir}/ (list, write, rename){}",
                    route.name,
                    ep.describe(),
                    if created {
                        "; created now: it did not exist (is its name right?)"
                    } else {
                        ""
                    }
                ),
                Err(e) => {
                    failures += 1;
                    say!("  FAIL  route {} {side}: {e}", route.name);
                    // A server that refused (or was refused) fails every folder alike: say it once.
                    if matches!(
                        e,
                        endpoint::EndpointError::Refused { .. }
                            | endpoint::EndpointError::Paused { .. }
                    ) {
                        failed_endpoints.insert(ep_name);
                    }
                }
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Evidence that the state folder held a ledger before: the lock file of an earlier agent, or
/// what a ledger leaves beside itself (its WAL files, the staging and download folders). A state
/// folder without them is a new one.
fn state_evidence(config: &Config, first_in_folder: bool) -> Option<String> {
    let state = &config.agent.state_dir;
    if !first_in_folder {
        return Some(format!(
            "an agent has worked there before ({} is from an earlier run)",
            state.join(crate::state_lock::LOCK_FILE).display()
        ));
    }
    [
        "ledger.sqlite3-wal",
        "ledger.sqlite3-shm",
        "staging",
        "inbound",
    ]
    .iter()
    .map(|name| state.join(name))
    .find(|path| path.exists())
    .map(|path| {
        format!(
            "the state folder holds {}, which a ledger left",
            path.display()
        )
    })
}

/// A time (ms since the Unix epoch) as people read it here: `2026-11-23 14:05`, local time.
fn local_minute(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Duplicates `errors --duplicates` lists per route, at most.
const DUPLICATES_SHOWN: usize = 100;

/// What an archived duplicate repeated, for people.
pub(super) fn repeated(duplicate: &ledger::DuplicateNote) -> String {
    match &duplicate.same_as {
        Some((earlier, at)) => format!(
            "the same content as {}, taken {}",
            shown(earlier),
            local_minute(*at)
        ),
        None => "every document in it was sent before".into(),
    }
}

/// Fails unless `only` (when given) names a route.
fn known_route(config: &Config, only: Option<&str>) -> Result<(), String> {
    match only {
        Some(name) if config.route(name).is_none() => Err(format!("no route named \"{name}\"")),
        _ => Ok(()),
    }
}

fn duplicates_of(config: &Config, only: Option<&str>) -> CmdResult {
    known_route(config, only)?;
    let Some(ledger) = Ledger::open_existing(&config.agent.state_dir).map_err(|e| e.to_string())?
    else {
        say!("no duplicates: there is no ledger yet");
        return Ok(ExitCode::SUCCESS);
    };
    let mut total = 0;
    for rc in config
        .routes
        .iter()
        .filter(|r| only.is_none_or(|n| n == r.name))
    {
        let (count, latest) = ledger
            .duplicates_since(&rc.name, 0, DUPLICATES_SHOWN)
            .map_err(|e| e.to_string())?;
        total += count;
        for duplicate in &latest {
            say!(
                "{}/{}: {} a duplicate: {}; archived as {}",
                rc.name,
                shown(&duplicate.name),
                local_minute(duplicate.at_ms),
                repeated(duplicate),
                shown(duplicate.archived.as_deref().unwrap_or("-"))
            );
        }
        if count > latest.len() as u64 {
            say!(
                "{}: and {} more",
                rc.name,
                report::counted(
                    count - latest.len() as u64,
                    "older duplicate",
                    "older duplicates"
                )
            );
        }
    }
    if total == 0 {
        say!("no duplicates");
    }
    Ok(ExitCode::SUCCESS)
}

fn errors(config: &Config, only: Option<&str>) -> CmdResult {
    known_route(config, only)?;
    let mut count = 0;
    for rc in config
        .routes
        .iter()
        .filter(|r| only.is_none_or(|n| n == r.name))
    {
        for name in error_files(&rc.errors) {
            count += 1;
            let report_path = report::report_path(&rc.errors.join(&name));
            let reason = std::fs::read_to_string(&report_path)
                .ok()
                .and_then(|t| report::reason_of(&t).map(str::to_string))
                .unwrap_or_else(|| "no report found beside it".into());
            say!("{}/{}: {}", rc.name, shown(&name), shown(&reason));
        }
    }
    if count == 0 {
        say!("no files in the error folders");
    }
    Ok(ExitCode::SUCCESS)
}

fn retry(config: &Config, route_name: &str, file: Option<&str>, resend: bool) -> CmdResult {
    let rc = config.route(route_name).ok_or_else(|| {
        format!("no route named \"{route_name}\"; see `cartferry status` for the routes")
    })?;
    let resend_ledger = match resend {
        true => Some(Ledger::open(&config.agent.state_dir).map_err(|e| e.to_string())?),
        false => None,
    };
    let route = Route::new(config, rc, &endpoint::open_all(config))?;
    let names = match file {
        Some(f) => {
            if !rc.errors.join(f).is_file() {
                return Err(format!(
                    "{} is not in the error folder {}; `cartferry errors {route_name}` lists what is",
                    f,
                    rc.errors.display()
                ));
            }
            vec![f.to_string()]
        }
        None => error_files(&rc.errors),
    };
    if names.is_empty() {
        say!("route {route_name} has no files in its error folder");
    }
    let inbox = &rc.from.dir;
    for name in names {
        let from = rc.errors.join(&name);
        let shown_name = shown(&name);
        let taken = route.source.stat(inbox, &name).map_err(|e| e.to_string())?;
        if taken.is_some() {
            return Err(format!(
                "{shown_name} is already in the inbox {}; wait for it to be taken, then retry",
                route.inbox()
            ));
        }
        if let Some(ledger) = &resend_ledger {
            ledger
                .request_resend(route_name, &name)
                .map_err(|e| e.to_string())?;
        }
        // Through the source endpoint, so it works for local and SFTP inboxes alike, and
        // arrives whole (temporary name, then rename).
        route
            .source
            .put(inbox, &name, &from, endpoint::PutOptions::default(), None)
            .map_err(|e| format!("could not put {shown_name} back into the inbox: {e}"))?;
        fsutil::remove_if_present(&from)
            .and_then(|()| fsutil::remove_if_present(&report::report_path(&from)))
            .map_err(|e| format!("{shown_name} is back in the inbox, but could not be removed from the error folder: {e}"))?;
        say!(
            "{shown_name} is back in {} and will be taken on the next pass{}",
            route.inbox(),
            if resend {
                "; its changed orders will be sent again"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A TOML file as a format options table.
fn options_file(path: &Path) -> Result<format::Options, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--reader-options-file: cannot read {}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| {
        format!(
            "--reader-options-file: {} is not valid TOML: {e}",
            path.display()
        )
    })
}

/// `KEY=VALUE` pairs as a format options table; values are TOML (`true`, `3`) or plain text.
fn options_table(pairs: &[String]) -> Result<format::Options, String> {
    let mut table = format::Options::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("\"{pair}\" is not KEY=VALUE"))?;
        let value = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        table.insert(key.trim().to_string(), value);
    }
    Ok(table)
}

fn convert(
    reader: &str,
    writer: &str,
    (reader_options_file, reader_options, writer_options): (Option<&Path>, &[String], &[String]),
    on_invalid: Option<&str>,
    file: &str,
) -> ExitCode {
    let usage = |message: String| {
        eprintln!("cartferry convert: {message}");
        ExitCode::from(2)
    };
    let mut from_file = match reader_options_file.map(options_file).transpose() {
        Ok(table) => table.unwrap_or_default(),
        Err(e) => return usage(e),
    };
    let (reader_options, writer_options) =
        match (options_table(reader_options), options_table(writer_options)) {
            (Ok(r), Ok(w)) => (r, w),
            (Err(e), _) | (_, Err(e)) => return usage(e),
        };
    from_file.extend(reader_options);
    let reader_options = from_file;
    let on_invalid = match on_invalid.map(|t| (t, format::OnInvalid::parse(t))) {
        None => None,
        Some((_, Some(parsed))) => Some(parsed),
        Some((text, None)) => {
            return usage(format!(
                "--on-invalid: \"{text}\" is not one of \"split\", \"reject-file\""
            ));
        }
    };
    let shipping_methods = format::shared::shipping::ShippingMethods::default();
    let choice = format::FormatChoice {
        reader,
        reader_options: &reader_options,
        writer,
        writer_options: &writer_options,
        on_invalid,
        shipping_methods: &shipping_methods,
    };
    let transform = match Transform::new(choice) {
        Ok(t) => t,
        Err(problems) => {
            for p in problems {
                eprintln!(
                    "cartferry convert: --{}: {}",
                    p.key.replace('_', "-"),
                    p.message
                );
            }
            return ExitCode::from(2);
        }
    };
    if matches!(transform, Transform::Record) {
        return usage(format!(
            "{reader} files are read by a route, which records them in its ledger; there is nothing to convert"
        ));
    }
    let (input, input_len): (Box<dyn io::BufRead + Send>, _) = if file == "-" {
        (
            Box::new(BufReader::with_capacity(fsutil::BUFFER_SIZE, io::stdin())),
            None,
        )
    } else {
        match std::fs::File::open(file) {
            Ok(f) => {
                let len = f.metadata().ok().map(|m| m.len());
                (
                    Box::new(BufReader::with_capacity(fsutil::BUFFER_SIZE, f)),
                    len,
                )
            }
            Err(e) => return usage(format!("cannot read {file}: {e}")),
        }
    };
    let stdout = io::stdout();
    let mut output = BufWriter::with_capacity(fsutil::BUFFER_SIZE, stdout.lock());
    let result = match &transform {
        Transform::Passthrough => {
            let mut input = input;
            io::copy(&mut input, &mut output)
                .map(|_| format::Converted::default())
                .map_err(ConvertError::Io)
        }
        Transform::Convert(conversion) => convert_staged(conversion, input, input_len, &mut output),
        Transform::Record => Ok(format::Converted::default()),
    };
    let flushed = output.flush();
    if let Ok(converted) = &result
        && !converted.warnings.is_empty()
    {
        eprintln!(
            "{} (the documents were written without these values):",
            report::counted(converted.warnings_total as u64, "warning", "warnings")
        );
        for w in &converted.warnings {
            eprintln!("  {w}");
        }
    }
    let result = result.map(|converted| converted.rejected);
    match (result, flushed) {
        (Ok(None), Ok(())) => ExitCode::SUCCESS,
        (Ok(Some(rejected)), Ok(())) => {
            eprintln!(
                "{} in {}, left out of the output:",
                report::counted(rejected.total as u64, "problem", "problems"),
                report::counted(
                    rejected.spans.len() as u64,
                    "rejected document",
                    "rejected documents"
                )
            );
            for p in rejected.problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
        (Err(ConvertError::Data { problems, total }), _) => {
            eprintln!(
                "{}; nothing was written:",
                report::counted(total as u64, "problem", "problems")
            );
            for p in problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
        (Err(ConvertError::Io(e)), _) | (_, Err(e)) => {
            eprintln!("cartferry convert: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Converts into an unnamed temporary file, and copies that to `output` only once the whole
/// input has been read and its last check has passed (an X12 trailer's counts, say): nothing is
/// printed for a file that is then refused. The output is on disk, not in memory, however large.
fn convert_staged(
    conversion: &format::Conversion,
    input: Box<dyn io::BufRead + Send>,
    input_len: Option<u64>,
    output: &mut dyn Write,
) -> Result<format::Converted, ConvertError> {
    let mut staged = tempfile::tempfile()?;
    let mut writer = BufWriter::with_capacity(fsutil::BUFFER_SIZE, &mut staged);
    let converted = format::convert(
        conversion,
        &format::WriteContext::now(),
        input,
        input_len,
        Box::new(&mut writer),
        usize::MAX,
    )?;
    writer.flush()?;
    drop(writer);
    staged.rewind()?;
    io::copy(&mut staged, output)?;
    Ok(converted)
}

/// The complete example configs (`config/examples/`), by name.
const EXAMPLES: [(&str, &str); 3] = [
    (
        "shopify-x12",
        include_str!("../../config/examples/shopify-x12.toml"),
    ),
    (
        "woocommerce-csv",
        include_str!("../../config/examples/woocommerce-csv.toml"),
    ),
    (
        "cart-sftp",
        include_str!("../../config/examples/cart-sftp.toml"),
    ),
];

fn init(dir: &Path, example: Option<&str>) -> ExitCode {
    let path = dir.join("cartferry.toml");
    if path.exists() {
        eprintln!("{} already exists; nothing was changed", path.display());
        return ExitCode::FAILURE;
    }
    // The bundled demo config lives in config/ and points at ../var; a new install keeps its
    // folders beside its config. The examples are written for a folder of their own.
    let text = match example {
        None => CONFIG_TEMPLATE
            .replace("\"../var/", "\"var/")
            .replace("\"../var\"", "\"var\"")
            .replace("under ../var", "under var"),
        Some(name) => match EXAMPLES.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => text.to_string(),
            None => {
                let known: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
                eprintln!(
                    "cartferry init: there is no example \"{name}\"; the examples are {}",
                    known.join(", ")
                );
                return ExitCode::from(2);
            }
        },
    };
    let keys = match example {
        Some(_) => std::fs::create_dir_all(dir.join("keys")),
        None => Ok(()),
    };
    let result = fsutil::write_whole(&path, text.as_bytes())
        .and(keys)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Config::parse_keeping(&path, &text).map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .and_then(|(config, problems)| {
            prepare(&config, &endpoint::open_all(&config)).map(|()| problems)
        });
    match result {
        Ok(problems) => {
            say!(
                "wrote {} and its folders under {}",
                path.display(),
                dir.display()
            );
            if problems.is_empty() {
                say!(
                    "next: edit it, then run `cartferry --config {} check`",
                    path.display()
                );
            } else {
                say!(
                    "still to do before `cartferry --config {} check` passes (see the comments at the top of the file):",
                    path.display()
                );
                for p in problems {
                    say!("  - {p}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cartferry init: {e}");
            ExitCode::FAILURE
        }
    }
}
