//! The TOML configuration: parsed leniently into raw structs, then validated as a whole so that
//! every mistake (unknown key, bad duration, duplicate route, missing folder…) is reported at once,
//! each with its key path.
//!
//! Relative paths are resolved against the folder that holds the config file, so a service started
//! from any working directory finds the same folders.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::format;
use crate::naming::{MarkerTemplate, NameTemplate};

/// Most files one route takes at the same time.
const MAX_WORKERS: usize = 32;

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
#[error("{} has {} problem(s):\n{}", path.display(), problems.len(), render(problems))]
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

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    agent: RawAgent,
    #[serde(default)]
    endpoints: BTreeMap<String, RawEndpoint>,
    /// Trading partners' X12 envelopes, which routes name in `writer_options.partner`.
    #[serde(default)]
    partners: BTreeMap<String, format::Options>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Deserialize, Default)]
struct RawAgent {
    state_dir: Option<String>,
    archive_dir: Option<String>,
    errors_dir: Option<String>,
    poll_interval: Option<String>,
    stable_for: Option<String>,
    max_attempts: Option<u32>,
    retry_initial: Option<String>,
    retry_max: Option<String>,
}

#[derive(Deserialize)]
struct RawEndpoint {
    kind: Option<String>,
    root: Option<String>,
    create_dirs: Option<bool>,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    private_key: Option<String>,
    passphrase_env: Option<String>,
    passphrase_file: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    agent: Option<bool>,
    known_hosts: Option<String>,
    timeout: Option<String>,
}

impl RawEndpoint {
    /// The keys that only SFTP endpoints take, with whether each is set.
    fn sftp_keys(&self) -> [(&'static str, bool); 11] {
        [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("user", self.user.is_some()),
            ("private_key", self.private_key.is_some()),
            ("passphrase_env", self.passphrase_env.is_some()),
            ("passphrase_file", self.passphrase_file.is_some()),
            ("password_env", self.password_env.is_some()),
            ("password_file", self.password_file.is_some()),
            ("agent", self.agent.is_some()),
            ("known_hosts", self.known_hosts.is_some()),
            ("timeout", self.timeout.is_some()),
        ]
    }
}

#[derive(Deserialize)]
struct RawRoute {
    name: Option<String>,
    from: Option<RawSource>,
    reader: Option<String>,
    reader_options: Option<format::Options>,
    writer: Option<String>,
    writer_options: Option<format::Options>,
    on_invalid: Option<String>,
    shipping_methods: Option<format::shared::shipping::ShippingMethods>,
    to: Option<RawDestination>,
    acknowledge: Option<RawAcknowledge>,
    status_updates: Option<RawStatusUpdates>,
    reconcile: Option<RawReconcile>,
    also: Option<Vec<RawAlso>>,
    archive: Option<String>,
    archive_retention: Option<String>,
    errors: Option<String>,
    dedupe: Option<bool>,
    max_attempts: Option<u32>,
    workers: Option<usize>,
    priority: Option<bool>,
}

#[derive(Deserialize)]
struct RawSource {
    endpoint: Option<String>,
    dir: Option<String>,
    pattern: Option<String>,
    done_marker: Option<String>,
    stable_for: Option<String>,
    remote_archive: Option<String>,
}

#[derive(Deserialize)]
struct RawAlso {
    writer: Option<String>,
    writer_options: Option<format::Options>,
    folder: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawReconcile {
    cart_export: Option<String>,
    pattern: Option<String>,
    reader: Option<String>,
    reader_options: Option<format::Options>,
    report_folder: Option<String>,
    min_units: Option<i64>,
    min_percent: Option<f64>,
}

#[derive(Deserialize)]
struct RawStatusUpdates {
    format: Option<String>,
    options: Option<format::Options>,
    folder: Option<String>,
}

#[derive(Deserialize)]
struct RawAcknowledge {
    partner: Option<String>,
    folder: Option<String>,
}

#[derive(Deserialize)]
struct RawDestination {
    endpoint: Option<String>,
    dir: Option<String>,
    name: Option<String>,
    on_conflict: Option<String>,
}

/// `options` with a `partner` named by a string replaced by that `[partners.NAME]` table.
fn named_partner(
    mut options: format::Options,
    partners: &BTreeMap<String, format::Options>,
    key: &str,
    problems: &mut Problems,
) -> format::Options {
    if let Some(toml::Value::String(name)) = options.get("partner") {
        match partners.get(name) {
            Some(partner) => {
                options.insert("partner".into(), toml::Value::Table(partner.clone()));
            }
            None => {
                let known: Vec<&str> = partners.keys().map(String::as_str).collect();
                problems.push(
                    key,
                    format!(
                        "there is no [partners.{name}] in the config{}",
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!("; the partners are {}", known.join(", "))
                        }
                    ),
                );
            }
        }
    }
    options
}

/// A route's `acknowledge` table, checked: an X12 reader (not of 997s), a known partner whose
/// envelope is valid, and a folder.
fn acknowledge_config(
    raw: RawAcknowledge,
    reader: &str,
    partners: &BTreeMap<String, format::Options>,
    base: &Path,
    key: &str,
    problems: &mut Problems,
) -> Option<AcknowledgeConfig> {
    if !reader.starts_with("x12-") || reader == format::X12_997 {
        problems.push(
            key,
            "only routes reading X12 (other than x12-997) answer with 997s",
        );
    }
    let folder = problems.required(&format!("{key}.folder"), raw.folder.as_ref());
    let name = problems.required(&format!("{key}.partner"), raw.partner.as_ref());
    let mut table = format::Options::new();
    table.insert("partner".into(), toml::Value::String(name.clone()));
    let partner = match named_partner(table, partners, &format!("{key}.partner"), problems)
        .remove("partner")
    {
        Some(toml::Value::Table(partner)) => partner,
        _ => return None,
    };
    if let Err(found) = format::x12::writer::Partner::from_options(&partner) {
        for p in found {
            problems.push(format!("[partners.{name}].{}", p.key), p.message);
        }
    }
    if folder.is_empty() {
        return None;
    }
    Some(AcknowledgeConfig {
        partner,
        folder: resolve(base, &folder),
    })
}

/// Collects problems while a raw config is turned into a [`Config`].
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    fn duration(&mut self, key: &str, text: Option<&str>, default: Duration) -> Duration {
        match text {
            None => default,
            Some(text) => humantime::parse_duration(text).unwrap_or_else(|e| {
                self.push(
                    key,
                    format!("\"{text}\" is not a duration ({e}); write it like \"2s\", \"500ms\" or \"1h 30m\""),
                );
                default
            }),
        }
    }

    /// The value, or an empty string after noting that it is missing.
    fn required(&mut self, key: &str, value: Option<&String>) -> String {
        match value {
            Some(v) if !v.trim().is_empty() => v.clone(),
            _ => {
                self.push(key, "is required");
                String::new()
            }
        }
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
                        message: e.to_string().trim().to_string(),
                    }]
                },
            )?;
        for key in unknown {
            problems.push(key, "unknown key; check its spelling against README.md");
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = normalise(&path);
        let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let config = build(&base, &path, raw, &mut problems);
        Ok((config, problems.0))
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

/// A secret from its `_env` or `_file` key, never both.
fn secret(
    base: &Path,
    key: &str,
    env: Option<String>,
    file: Option<String>,
    problems: &mut Problems,
) -> Option<Secret> {
    match (env, file) {
        (Some(_), Some(_)) => {
            problems.push(
                format!("{key}_env"),
                format!("give {key}_env or {key}_file, not both"),
            );
            None
        }
        (Some(var), None) => Some(Secret::Env(var)),
        (None, Some(file)) => Some(Secret::File(resolve(base, &file))),
        (None, None) => None,
    }
}

fn build_sftp(base: &Path, key: &str, e: RawEndpoint, problems: &mut Problems) -> SftpConfig {
    let host = problems.required(&format!("{key}.host"), e.host.as_ref());
    let user = problems.required(&format!("{key}.user"), e.user.as_ref());
    let known_hosts = match &e.known_hosts {
        Some(k) => resolve(base, k),
        None => {
            problems.push(
                format!("{key}.known_hosts"),
                "is required: the server's host key must be known (see README, \"SFTP\")",
            );
            PathBuf::new()
        }
    };
    if e.known_hosts.is_some() && !known_hosts.is_file() {
        problems.push(
            format!("{key}.known_hosts"),
            format!("file {} does not exist", known_hosts.display()),
        );
    }
    let private_key = e.private_key.as_deref().map(|k| resolve(base, k));
    if let Some(k) = &private_key
        && !k.is_file()
    {
        problems.push(
            format!("{key}.private_key"),
            format!("file {} does not exist", k.display()),
        );
    }
    let passphrase = secret(
        base,
        &format!("{key}.passphrase"),
        e.passphrase_env,
        e.passphrase_file,
        problems,
    );
    let password = secret(
        base,
        &format!("{key}.password"),
        e.password_env,
        e.password_file,
        problems,
    );
    let agent = e.agent.unwrap_or(false);
    if private_key.is_none() && password.is_none() && !agent {
        problems.push(
            format!("{key}.private_key"),
            "no way to log in: set private_key, password_env/password_file, or agent = true",
        );
    }
    SftpConfig {
        host,
        port: e.port.unwrap_or(22),
        user,
        private_key,
        passphrase,
        password,
        agent,
        known_hosts,
        root: e.root.unwrap_or_else(|| ".".into()),
        timeout: problems.duration(
            &format!("{key}.timeout"),
            e.timeout.as_deref(),
            Duration::from_secs(30),
        ),
        create_dirs: e.create_dirs.unwrap_or(false),
    }
}

fn build(base: &Path, path: &Path, raw: RawConfig, problems: &mut Problems) -> Config {
    let a = &raw.agent;
    let state_dir = a
        .state_dir
        .as_deref()
        .map(|s| resolve(base, s))
        .unwrap_or_else(default_state_dir);
    let archive_dir = a
        .archive_dir
        .as_deref()
        .map(|s| resolve(base, s))
        .unwrap_or_else(|| state_dir.join("archive"));
    let errors_dir = a
        .errors_dir
        .as_deref()
        .map(|s| resolve(base, s))
        .unwrap_or_else(|| state_dir.join("errors"));
    let agent = AgentConfig {
        poll_interval: problems.duration(
            "agent.poll_interval",
            a.poll_interval.as_deref(),
            Duration::from_secs(30),
        ),
        state_dir,
        archive_dir,
        errors_dir,
    };
    let stable_for = problems.duration(
        "agent.stable_for",
        a.stable_for.as_deref(),
        Duration::from_secs(2),
    );
    let retry = RetryPolicy {
        max_attempts: a.max_attempts.unwrap_or(5).max(1),
        initial_backoff: problems.duration(
            "agent.retry_initial",
            a.retry_initial.as_deref(),
            Duration::from_secs(5),
        ),
        max_backoff: problems.duration(
            "agent.retry_max",
            a.retry_max.as_deref(),
            Duration::from_secs(600),
        ),
    };

    let mut endpoints = BTreeMap::new();
    for (name, e) in raw.endpoints {
        let key = format!("endpoints.{name}");
        match e.kind.as_deref() {
            Some("local") => {
                let root = problems.required(&format!("{key}.root"), e.root.as_ref());
                let root = resolve(base, &root);
                let create_dirs = e.create_dirs.unwrap_or(false);
                if !create_dirs && !root.is_dir() {
                    problems.push(
                        format!("{key}.root"),
                        format!(
                            "folder {} does not exist; create it, or set create_dirs = true",
                            root.display()
                        ),
                    );
                }
                for (k, set) in e.sftp_keys() {
                    if set {
                        problems.push(format!("{key}.{k}"), "is only for kind = \"sftp\"");
                    }
                }
                endpoints.insert(name, EndpointConfig::Local { root, create_dirs });
            }
            Some("sftp") => {
                let sftp = build_sftp(base, &key, e, problems);
                endpoints.insert(name, EndpointConfig::Sftp(sftp));
            }
            Some(other) => problems.push(
                format!("{key}.kind"),
                format!("\"{other}\" is not an endpoint kind; use \"local\" or \"sftp\""),
            ),
            None => problems.push(format!("{key}.kind"), "is required (\"local\" or \"sftp\")"),
        }
    }

    let mut seen_names = HashSet::new();
    let mut routes = Vec::new();
    let raw_partners = raw.partners;
    for (i, r) in raw.routes.into_iter().enumerate() {
        let key = format!("routes[{i}]");
        let name = problems.required(&format!("{key}.name"), r.name.as_ref());
        if !name.is_empty() {
            if !seen_names.insert(name.clone()) {
                problems.push(
                    format!("{key}.name"),
                    format!("route name \"{name}\" is used twice; route names must be unique"),
                );
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(
                    format!("{key}.name"),
                    "use only letters, digits, '-' and '_' (it names folders)",
                );
            }
        }
        let from = match r.from {
            None => {
                problems.push(format!("{key}.from"), "is required");
                None
            }
            Some(s) => {
                let k = format!("{key}.from");
                let endpoint = problems.required(&format!("{k}.endpoint"), s.endpoint.as_ref());
                let dir = s.dir.unwrap_or_default();
                let pattern = s.pattern.unwrap_or_else(|| "*".into());
                if let Err(e) = globset::Glob::new(&pattern) {
                    problems.push(
                        format!("{k}.pattern"),
                        format!("\"{pattern}\" is not a valid glob: {e}"),
                    );
                }
                let done_marker = s.done_marker.as_deref().and_then(|t| {
                    MarkerTemplate::parse(t)
                        .map_err(|e| problems.push(format!("{k}.done_marker"), e))
                        .ok()
                });
                let stable_for = problems.duration(
                    &format!("{k}.stable_for"),
                    s.stable_for.as_deref(),
                    stable_for,
                );
                Some(SourceConfig {
                    endpoint,
                    dir,
                    pattern,
                    done_marker,
                    stable_for,
                    remote_archive: s.remote_archive,
                })
            }
        };
        let reads_acknowledgments = r.reader.as_deref() == Some(format::X12_997);
        let to = match r.to {
            None if reads_acknowledgments => None,
            None => {
                problems.push(format!("{key}.to"), "is required");
                None
            }
            Some(_) if reads_acknowledgments => {
                problems.push(
                    format!("{key}.to"),
                    "a route reading x12-997 records the acknowledgments and delivers nothing: leave out to",
                );
                None
            }
            Some(d) => {
                let k = format!("{key}.to");
                let endpoint = problems.required(&format!("{k}.endpoint"), d.endpoint.as_ref());
                let name = NameTemplate::parse(d.name.as_deref().unwrap_or("{name}"))
                    .map_err(|e| problems.push(format!("{k}.name"), e))
                    .ok();
                let on_conflict = match d.on_conflict.as_deref().unwrap_or("unique") {
                    "fail" => OnConflict::Fail,
                    "unique" => OnConflict::Unique,
                    "overwrite" => OnConflict::Overwrite,
                    other => {
                        problems.push(
                            format!("{k}.on_conflict"),
                            format!(
                                "\"{other}\" is not one of \"fail\", \"unique\", \"overwrite\""
                            ),
                        );
                        OnConflict::Fail
                    }
                };
                name.map(|name| DestinationConfig {
                    endpoint,
                    dir: d.dir.unwrap_or_default(),
                    name,
                    on_conflict,
                })
            }
        };
        let reader = problems.required(&format!("{key}.reader"), r.reader.as_ref());
        let writer = if reads_acknowledgments {
            r.writer.unwrap_or_default()
        } else {
            problems.required(&format!("{key}.writer"), r.writer.as_ref())
        };
        let acknowledge = r.acknowledge.and_then(|a| {
            acknowledge_config(
                a,
                &reader,
                &raw_partners,
                base,
                &format!("{key}.acknowledge"),
                problems,
            )
        });
        let status_updates = r.status_updates.and_then(|raw| {
            let k = format!("{key}.status_updates");
            let folder = problems.required(&format!("{k}.folder"), raw.folder.as_ref());
            let format = raw.format.unwrap_or_else(|| "canonical-status-csv".into());
            let options = raw.options.unwrap_or_default();
            if let Err(found) = crate::plugins::status_updates::formats::StatusFormat::new(
                &format,
                &options,
                &format!("{k}.options"),
            ) {
                for p in found {
                    let key = if p.key == "format" {
                        format!("{k}.format")
                    } else {
                        p.key
                    };
                    problems.push(key, p.message);
                }
            }
            (!folder.is_empty()).then(|| StatusUpdatesConfig {
                format,
                options,
                folder: resolve(base, &folder),
            })
        });
        let reconcile = r.reconcile.and_then(|raw| {
            let k = format!("{key}.reconcile");
            let cart_export =
                problems.required(&format!("{k}.cart_export"), raw.cart_export.as_ref());
            let report_folder =
                problems.required(&format!("{k}.report_folder"), raw.report_folder.as_ref());
            let config = ReconcileConfig {
                cart_export: resolve(base, &cart_export),
                pattern: raw.pattern.unwrap_or_else(|| "*".into()),
                reader: raw
                    .reader
                    .unwrap_or_else(|| "canonical-inventory-csv".into()),
                reader_options: raw.reader_options.unwrap_or_default(),
                report_folder: resolve(base, &report_folder),
                min_units: raw.min_units.unwrap_or(1),
                min_percent: raw.min_percent.unwrap_or(0.0),
            };
            if let Err(e) = globset::Glob::new(&config.pattern) {
                problems.push(
                    format!("{k}.pattern"),
                    format!("\"{}\" is not a valid glob: {e}", config.pattern),
                );
            }
            if let Err(found) = format::reader(&config.reader, &config.reader_options) {
                for p in found {
                    let sub = if p.key == "reader" {
                        "reader".to_string()
                    } else {
                        p.key.clone()
                    };
                    problems.push(format!("{k}.{sub}"), p.message);
                }
            }
            if config.min_units < 0 || !(0.0..=100_000.0).contains(&config.min_percent) {
                problems.push(k.clone(), "min_units and min_percent must not be negative");
            }
            (!cart_export.is_empty() && !report_folder.is_empty()).then_some(config)
        });
        let also = r
            .also
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(n, raw)| {
                let k = format!("{key}.also[{n}]");
                let writer = problems.required(&format!("{k}.writer"), raw.writer.as_ref());
                let folder = problems.required(&format!("{k}.folder"), raw.folder.as_ref());
                let writer_options = named_partner(
                    raw.writer_options.unwrap_or_default(),
                    &raw_partners,
                    &format!("{k}.writer_options.partner"),
                    problems,
                );
                if !writer.is_empty()
                    && let Err(found) = format::writer(&writer, &writer_options)
                {
                    for p in found {
                        problems.push(format!("{k}.{}", p.key), p.message);
                    }
                }
                let name = NameTemplate::parse(raw.name.as_deref().unwrap_or("{stem}.csv"))
                    .map_err(|e| problems.push(format!("{k}.name"), e))
                    .ok()?;
                (!writer.is_empty() && !folder.is_empty()).then(|| AlsoConfig {
                    writer,
                    writer_options,
                    folder: resolve(base, &folder),
                    name,
                })
            })
            .collect();
        let reader_options = r.reader_options.unwrap_or_default();
        let writer_options = named_partner(
            r.writer_options.unwrap_or_default(),
            &raw_partners,
            &format!("{key}.writer_options.partner"),
            problems,
        );
        let shipping_methods = r.shipping_methods.unwrap_or_default();
        let on_invalid = r.on_invalid.as_deref().and_then(|text| {
            let parsed = format::OnInvalid::parse(text);
            if parsed.is_none() {
                problems.push(
                    format!("{key}.on_invalid"),
                    format!("\"{text}\" is not one of \"split\", \"reject-file\""),
                );
            }
            parsed
        });
        if !reader.is_empty() && (!writer.is_empty() || reads_acknowledgments) {
            let choice = format::FormatChoice {
                reader: &reader,
                reader_options: &reader_options,
                writer: &writer,
                writer_options: &writer_options,
                on_invalid,
                shipping_methods: &shipping_methods,
            };
            if let Err(found) = format::Transform::new(choice) {
                for e in found {
                    problems.push(format!("{key}.{}", e.key), e.message);
                }
            }
        }
        let archive_retention = r.archive_retention.as_deref().map(|t| {
            problems.duration(&format!("{key}.archive_retention"), Some(t), Duration::ZERO)
        });
        let archive = r
            .archive
            .as_deref()
            .map(|s| resolve(base, s))
            .unwrap_or_else(|| agent.archive_dir.join(&name));
        let errors = r
            .errors
            .as_deref()
            .map(|s| resolve(base, s))
            .unwrap_or_else(|| agent.errors_dir.join(&name));
        let Some(from) = from else {
            continue;
        };
        if to.is_none() && !reads_acknowledgments {
            continue;
        }
        let sides = std::iter::once((format!("{key}.from"), &from.endpoint, &from.dir)).chain(
            to.iter()
                .map(|to| (format!("{key}.to"), &to.endpoint, &to.dir)),
        );
        for (k, endpoint, dir) in sides {
            match endpoints.get(endpoint) {
                None if !endpoint.is_empty() => problems.push(
                    format!("{k}.endpoint"),
                    format!("no endpoint named \"{endpoint}\" is defined under [endpoints]"),
                ),
                Some(EndpointConfig::Local { root, create_dirs }) => {
                    let folder = root.join(dir);
                    if !create_dirs && root.is_dir() && !folder.is_dir() {
                        problems.push(
                            format!("{k}.dir"),
                            format!(
                                "folder {} does not exist; create it, or set create_dirs = true on endpoint \"{endpoint}\"",
                                folder.display()
                            ),
                        );
                    }
                }
                Some(EndpointConfig::Sftp(_)) | None => {}
            }
        }
        if from.remote_archive.is_some()
            && matches!(
                endpoints.get(&from.endpoint),
                Some(EndpointConfig::Local { .. })
            )
        {
            problems.push(
                format!("{key}.from.remote_archive"),
                "is only for SFTP sources; a local source is archived under `archive`",
            );
        }
        let workers = r.workers.unwrap_or(1);
        if !(1..=MAX_WORKERS).contains(&workers) {
            problems.push(
                format!("{key}.workers"),
                format!("{workers} is out of range; use 1 to {MAX_WORKERS}"),
            );
        }
        let priority = r.priority.unwrap_or(false);
        if priority && workers != 1 {
            problems.push(
                format!("{key}.workers"),
                "a priority route takes one file at a time, so that an order's hold and its later release reach the warehouse in order: use workers = 1",
            );
        }
        routes.push(RouteConfig {
            name,
            from,
            reader,
            reader_options,
            writer,
            writer_options,
            on_invalid,
            shipping_methods,
            to,
            acknowledge,
            status_updates,
            reconcile,
            also,
            archive,
            archive_retention,
            errors,
            dedupe: r.dedupe.unwrap_or(true),
            workers,
            priority,
            retry: RetryPolicy {
                max_attempts: r.max_attempts.unwrap_or(retry.max_attempts).max(1),
                ..retry.clone()
            },
        });
    }
    if routes.is_empty() && problems.0.is_empty() {
        problems.push("routes", "no route is configured; add a [[routes]] table");
    }
    Config {
        path: path.to_path_buf(),
        agent,
        endpoints,
        routes,
    }
}
