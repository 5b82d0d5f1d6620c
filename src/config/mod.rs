//! The TOML configuration: parsed leniently into raw structs, then validated as a whole so that
//! every mistake (unknown key, bad duration, duplicate route, missing folder…) is reported at once,
//! each with its key path.
//!
//! Relative paths are resolved against the folder that holds the config file, so a service started
//! from any working directory finds the same folders.

mod alerts;
mod build;
mod overlaps;
mod raw;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::format;
use crate::naming::{MarkerTemplate, NameTemplate};
use raw::{Problems, RawConfig};

pub use alerts::{AlertChannelConfig, AlertTransport, EmailSettings, SmtpSecurity};

/// One mistake in the configuration, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, for example `routes[0].from.pattern`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in one config file.
#[derive(Debug, thiserror::Error)]
#[error("{} has {}:\n{}", path.display(), crate::report::counted(problems.len() as u64, "problem", "problems"), render(problems))]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// All problems, in file order where possible.
    pub problems: Vec<Problem>,
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Agent-wide settings.
    pub agent: AgentConfig,
    /// Named endpoints.
    pub endpoints: BTreeMap<String, EndpointConfig>,
    /// Routes, in file order.
    pub routes: Vec<RouteConfig>,
    /// Alert channels, by name.
    pub alerts: Vec<AlertChannelConfig>,
    /// What is allowed but likely a mistake (`check` prints them, the agent logs them).
    pub warnings: Vec<Problem>,
}

/// Agent-wide settings (`[agent]`).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where the ledger and staging files live.
    pub state_dir: PathBuf,
    /// Default parent of every route's archive folder.
    pub archive_dir: PathBuf,
    /// Default parent of every route's error folder.
    pub errors_dir: PathBuf,
    /// How often folders are listed even without events.
    pub poll_interval: Duration,
    /// Taken off the front of order ids before the order ledger compares them, on every route
    /// (`order_id_prefix = "#"` makes the cart's `#1001` and the warehouse's `1001` one order).
    pub order_id_prefix: Option<String>,
    /// A file still failing this long after it was taken is an alert (`retrying`).
    pub alert_retrying_after: Duration,
    /// Where `run` serves Prometheus metrics and its health check, if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
}

/// How transient faults are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts before a file with transient faults goes to the error folder.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of the delay.
    pub max_backoff: Duration,
}

/// A named place files live (`[endpoints.NAME]`).
#[derive(Debug, Clone)]
pub enum EndpointConfig {
    /// A folder on this machine.
    Local {
        /// The folder every route `dir` is relative to.
        root: PathBuf,
        /// Create the root and route folders when missing (demo and fresh installs).
        create_dirs: bool,
    },
    /// A folder on an SFTP server.
    Sftp(SftpConfig),
}

impl EndpointConfig {
    /// Whether missing route folders may be created.
    pub fn create_dirs(&self) -> bool {
        match self {
            EndpointConfig::Local { create_dirs, .. } => *create_dirs,
            EndpointConfig::Sftp(s) => s.create_dirs,
        }
    }
}

/// A secret given by reference, never inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file, without a trailing newline.
    File(PathBuf),
}

impl Secret {
    /// Reads the secret; the error names where it was looked for, never the value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Env(var) => {
                std::env::var(var).map_err(|_| format!("the environment variable {var} is not set"))
            }
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// Settings of an SFTP endpoint (`kind = "sftp"`).
#[derive(Debug, Clone)]
pub struct SftpConfig {
    /// Server name or address.
    pub host: String,
    /// Server port (default 22).
    pub port: u16,
    /// Login name.
    pub user: String,
    /// Private key file for public-key authentication.
    pub private_key: Option<PathBuf>,
    /// The private key's passphrase.
    pub passphrase: Option<Secret>,
    /// Password, for servers that accept only passwords.
    pub password: Option<Secret>,
    /// Try the keys of a running ssh-agent.
    pub agent: bool,
    /// OpenSSH known_hosts file; the server's key must be in it.
    pub known_hosts: PathBuf,
    /// Remote folder every route `dir` is relative to (default: the login folder).
    pub root: String,
    /// Limit for each network operation.
    pub timeout: Duration,
    /// Create missing route folders on the server.
    pub create_dirs: bool,
    /// Sessions to the server at most, for transfers side by side (default 4).
    pub connections: usize,
}

impl SftpConfig {
    /// The server as messages and the ledger name it: `user@host:port`.
    pub fn server(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// What delivery does when the final name is already taken at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Send the source to the error folder and say so.
    Fail,
    /// Deliver under `<stem>-2.<ext>`, `<stem>-3.<ext>`, …
    Unique,
    /// Replace the existing file.
    Overwrite,
}

/// Where a route picks files up.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Endpoint name.
    pub endpoint: String,
    /// Folder relative to the endpoint root.
    pub dir: String,
    /// Glob on file names.
    pub pattern: String,
    /// When set, a file is taken only once its marker file exists.
    pub done_marker: Option<MarkerTemplate>,
    /// How long size and mtime must stay unchanged before a file is taken.
    pub stable_for: Duration,
    /// For remote sources: the remote folder delivered files are moved to (deleted when unset).
    pub remote_archive: Option<String>,
}

/// Where a route delivers.
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    /// Endpoint name.
    pub endpoint: String,
    /// Folder relative to the endpoint root.
    pub dir: String,
    /// Template of the delivered file's name.
    pub name: NameTemplate,
    /// What to do when the name is already taken.
    pub on_conflict: OnConflict,
}

/// A route's `acknowledge`: a 997 for every X12 group it receives.
#[derive(Debug, Clone)]
pub struct AcknowledgeConfig {
    /// The partner's envelope (`[partners.NAME]`), which the 997s are written for.
    pub partner: format::Options,
    /// The local folder the 997s are written into; a route there sends them on.
    pub folder: PathBuf,
}

/// What a route does with an order it delivered before (`on_repeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRepeat {
    /// Leave out an order sent unchanged before; refuse a changed one.
    Skip,
    /// Refuse every order sent before.
    Error,
    /// Send it again, changed or not.
    Send,
}

impl OnRepeat {
    /// Parses the config spelling.
    pub fn parse(text: &str) -> Option<OnRepeat> {
        match text {
            "skip" => Some(OnRepeat::Skip),
            "error" => Some(OnRepeat::Error),
            "send" => Some(OnRepeat::Send),
            _ => None,
        }
    }
}

/// How a route's documents are kept in the order ledger.
#[derive(Debug, Clone)]
pub struct OrdersConfig {
    /// What to do with an order sent before (`on_repeat`, default `skip`).
    pub on_repeat: OnRepeat,
    /// Taken off the front of order ids before they are compared (the agent's
    /// `order_id_prefix`, the same on every route).
    pub id_prefix: Option<String>,
    /// How long the warehouse may take to ship an order this route sends: the route's
    /// `shipment_due`, else that of the X12 partner its writer names.
    pub shipment_due: Option<Duration>,
}

/// A route's `status_updates`: the cart's order status file for every file it moves.
#[derive(Debug, Clone)]
pub struct StatusUpdatesConfig {
    /// The status format (`canonical-status-csv` …).
    pub format: String,
    /// Its options.
    pub options: format::Options,
    /// The local folder the status files are written into.
    pub folder: PathBuf,
}

/// A route's `reconcile`: the warehouse's inventory compared with the cart's stock export.
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// The local folder where the cart drops its stock exports (the newest is used).
    pub cart_export: PathBuf,
    /// Which files there are exports.
    pub pattern: String,
    /// The exports' reader.
    pub reader: String,
    /// Its options.
    pub reader_options: format::Options,
    /// Where discrepancy reports go.
    pub report_folder: PathBuf,
    /// Smallest difference reported, in units.
    pub min_units: i64,
    /// Smallest difference reported, in percent of the cart's quantity.
    pub min_percent: f64,
}

/// One of a route's `also` outputs: the same documents through another writer, into a local
/// folder (the refund requests and restock adjustments of return receipts, for instance).
#[derive(Debug, Clone)]
pub struct AlsoConfig {
    /// Writer format name.
    pub writer: String,
    /// Its options.
    pub writer_options: format::Options,
    /// The local folder the files go to.
    pub folder: PathBuf,
    /// Template of the file's name.
    pub name: NameTemplate,
}

/// One route (`[[routes]]`).
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Unique name, used in folders, logs and commands.
    pub name: String,
    /// Where files come from.
    pub from: SourceConfig,
    /// Reader format name.
    pub reader: String,
    /// Reader options (`reader_options`), read by the format.
    pub reader_options: format::Options,
    /// Writer format name.
    pub writer: String,
    /// Writer options (`writer_options`), read by the format.
    pub writer_options: format::Options,
    /// What one bad document does to its file; the reader's default when unset.
    pub on_invalid: Option<format::OnInvalid>,
    /// Shipping method → carrier and service (`shipping_methods`); empty: methods pass as named.
    pub shipping_methods: format::shared::shipping::ShippingMethods,
    /// Where results go; `None` for a route that reads partners' 997s and delivers nothing.
    pub to: Option<DestinationConfig>,
    /// How the route answers the X12 groups it receives with 997s, when it does.
    pub acknowledge: Option<AcknowledgeConfig>,
    /// Where and how the route writes order status updates for the cart, when it does.
    pub status_updates: Option<StatusUpdatesConfig>,
    /// How the route reconciles inventory with the cart's stock export, when it does.
    pub reconcile: Option<ReconcileConfig>,
    /// More outputs of the same documents, each through its own writer into a local folder.
    pub also: Vec<AlsoConfig>,
    /// Local archive folder (dated subfolders below it).
    pub archive: PathBuf,
    /// How long archived files are kept; forever when unset.
    pub archive_retention: Option<Duration>,
    /// Local error folder.
    pub errors: PathBuf,
    /// Skip delivery of content already delivered on this route.
    pub dedupe: bool,
    /// What the order ledger does with the route's orders.
    pub orders: OrdersConfig,
    /// Transient-fault retries.
    pub retry: RetryPolicy,
    /// Files taken at the same time (1 keeps strict oldest-first order).
    pub workers: usize,
    /// Its files go before any other route's file waiting at the same moment (holds).
    pub priority: bool,
}

impl RouteConfig {
    /// The route's formats and their options.
    pub fn formats(&self) -> format::FormatChoice<'_> {
        format::FormatChoice {
            reader: &self.reader,
            reader_options: &self.reader_options,
            writer: &self.writer,
            writer_options: &self.writer_options,
            on_invalid: self.on_invalid,
            shipping_methods: &self.shipping_methods,
        }
    }

    /// The route's folders on endpoints: (`"from"` or `"to"`, endpoint name, folder).
    pub fn sides(&self) -> Vec<(&'static str, &str, &str)> {
        let mut sides = vec![("from", self.from.endpoint.as_str(), self.from.dir.as_str())];
        if let Some(to) = &self.to {
            sides.push(("to", &to.endpoint, &to.dir));
        }
        sides
    }
}

/// The default config file location for this user (`directories`), used when `--config` is absent.
pub fn default_config_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "cartferry")
        .map(|d| d.config_dir().join("cartferry.toml"))
        .unwrap_or_else(|| PathBuf::from("cartferry.toml"))
}

fn default_state_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "cartferry")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("cartferry-state"))
}

impl Config {
    /// Reads and validates a config file; every problem is reported, not only the first.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |problems| ConfigError {
            path: path.to_path_buf(),
            problems,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(vec![Problem {
                key: "(file)".into(),
                message: format!("cannot be read: {e}"),
            }])
        })?;
        Config::parse(path, &text).map_err(fail)
    }

    /// Validates config text as if read from `path` (which anchors relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Config, Vec<Problem>> {
        match Config::parse_keeping(path, text)? {
            (config, problems) if problems.is_empty() => Ok(config),
            (_, problems) => Err(problems),
        }
    }

    /// Like [`Config::parse`], but gives the config back with its problems when the text is
    /// valid TOML of the right shape (`init` creates the folders of a config whose key files
    /// are still to come).
    pub fn parse_keeping(path: &Path, text: &str) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        let mut problems = Problems::default();
        let mut unknown = Vec::new();
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            vec![Problem {
                key: "(syntax)".into(),
                message: e.to_string().trim().to_string(),
            }]
        })?;
        let raw: RawConfig =
            serde_ignored::deserialize(deserializer, |p| unknown.push(key_path(&p))).map_err(
                |e| {
                    vec![Problem {
                        key: "(types)".into(),
                        message: format::problems::in_plain_words(e.to_string().trim()),
                    }]
                },
            )?;
        for key in unknown {
            let message = match key.rsplit('.').next() {
                Some(secret @ ("password" | "passphrase")) => format!(
                    "unknown key: a {secret} is never written into the config; give {secret}_env (the name of an environment variable holding it) or {secret}_file (a file holding it)"
                ),
                _ => {
                    let (table, name) = key.rsplit_once('.').unwrap_or(("", key.as_str()));
                    let closest = raw::keys_of(table)
                        .iter()
                        .map(|k| (strsim::levenshtein(k, name), *k))
                        .filter(|(d, _)| *d <= 2)
                        .min();
                    match closest {
                        Some((_, known)) => format!("unknown key; did you mean `{known}`?"),
                        None => "unknown key; check its spelling against README.md".to_string(),
                    }
                }
            };
            problems.push(key, message);
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = normalise(&path);
        let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let names: Vec<Option<String>> = raw.routes.iter().map(|r| r.name.clone()).collect();
        let config = build::build(&base, &path, raw, &mut problems);
        Ok((config, with_route_names(problems.0, &names)))
    }

    /// The route with this name.
    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// Creates the agent's own local folders: state, and every route's archive and error folder.
    /// (Endpoint folders are created through their endpoints, see `cli::prepare`.)
    pub fn create_dirs(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.agent.state_dir)?;
        for route in &self.routes {
            std::fs::create_dir_all(&route.errors)?;
            std::fs::create_dir_all(&route.archive)?;
            if let Some(acknowledge) = &route.acknowledge {
                std::fs::create_dir_all(&acknowledge.folder)?;
            }
            if let Some(updates) = &route.status_updates {
                std::fs::create_dir_all(&updates.folder)?;
            }
            for also in &route.also {
                std::fs::create_dir_all(&also.folder)?;
            }
            if let Some(reconcile) = &route.reconcile {
                std::fs::create_dir_all(&reconcile.cart_export)?;
                std::fs::create_dir_all(&reconcile.report_folder)?;
            }
        }
        Ok(())
    }
}

/// `problems` with the name of the route each concerns said after it (`(route orders)`), so a
/// reader need not count `[[routes]]` tables to find `routes[3]`.
fn with_route_names(problems: Vec<Problem>, names: &[Option<String>]) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|mut p| {
            let index = p
                .key
                .strip_prefix("routes[")
                .and_then(|rest| rest.split(']').next())
                .and_then(|i| i.parse::<usize>().ok());
            if let Some(Some(name)) = index.and_then(|i| names.get(i))
                && !name.trim().is_empty()
            {
                p.message = format!("{} (route {name})", p.message);
            }
            p
        })
        .collect()
}

/// Renders an ignored key's path as the rest of the messages do: `routes[0].from.patern`.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => match key_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

fn resolve(base: &Path, text: &str) -> PathBuf {
    normalise(&base.join(text))
}

/// Removes `.` and `..` components without touching the filesystem, so messages show
/// `/srv/var/errors`, not `/srv/config/../var/errors`.
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
