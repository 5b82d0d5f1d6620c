//! Checking a raw config and turning it into a [`Config`]: every section is checked on its own
//! and every problem noted with its key path, so that one run reports them all.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::overlaps;
use super::raw::{
    Problems, RawAcknowledge, RawAlso, RawConfig, RawDestination, RawEndpoint, RawReconcile,
    RawRoute, RawSource, RawStatusUpdates,
};
use super::{
    AcknowledgeConfig, AgentConfig, AlsoConfig, Config, DestinationConfig, EndpointConfig,
    OnConflict, OnRepeat, OrdersConfig, ReconcileConfig, RetryPolicy, RouteConfig, Secret,
    SftpConfig, SourceConfig, StatusUpdatesConfig, default_state_dir, resolve,
};
use crate::format;
use crate::naming::{MarkerTemplate, NameTemplate};
use crate::plugins::status_updates::formats::StatusFormat;

/// Most files one route takes at the same time.
const MAX_WORKERS: usize = 32;

/// Sessions an SFTP endpoint opens at most, unless its `connections` says otherwise.
const DEFAULT_CONNECTIONS: usize = 4;

/// Most sessions an SFTP endpoint may open.
const MAX_CONNECTIONS: usize = 16;

/// Shortest rescan interval: a shorter one keeps an idle agent busy.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A `max_attempts` setting (at least 1), or `default` when it is not given.
fn attempts(problems: &mut Problems, key: &str, given: Option<u32>, default: u32) -> u32 {
    match given {
        Some(0) => {
            problems.push(key, "must be at least 1 (the first attempt counts)");
            1
        }
        Some(n) => n,
        None => default,
    }
}

/// Trading partners' X12 envelopes by name (`[partners.NAME]`).
type Partners = BTreeMap<String, format::Options>;

/// The config `raw` read from `path` (relative paths anchored at `base`), noting every problem.
pub(super) fn build(base: &Path, path: &Path, raw: RawConfig, problems: &mut Problems) -> Config {
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
        order_id_prefix: a.order_id_prefix.clone().filter(|p| !p.trim().is_empty()),
        metrics: metrics_address(a.metrics.as_deref(), problems),
        alert_retrying_after: problems.duration(
            "agent.alert_retrying_after",
            a.alert_retrying_after.as_deref(),
            Duration::from_secs(30 * 60),
        ),
    };
    let stable_for = problems.duration(
        "agent.stable_for",
        a.stable_for.as_deref(),
        Duration::from_secs(2),
    );
    let retry = RetryPolicy {
        max_attempts: attempts(problems, "agent.max_attempts", a.max_attempts, 5),
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

    if agent.poll_interval < MIN_POLL_INTERVAL {
        problems.push(
            "agent.poll_interval",
            format!(
                "must be at least {} (a shorter one keeps an idle agent busy); folder events wake the agent at once anyway",
                humantime::format_duration(MIN_POLL_INTERVAL)
            ),
        );
    }
    if retry.initial_backoff.is_zero() {
        problems.push(
            "agent.retry_initial",
            "must be more than 0s: a fault would be retried at once, again and again",
        );
    }
    if retry.initial_backoff > retry.max_backoff {
        problems.push(
            "agent.retry_initial",
            format!(
                "{} is longer than agent.retry_max ({}); the first wait cannot be longer than the longest",
                humantime::format_duration(retry.initial_backoff),
                humantime::format_duration(retry.max_backoff)
            ),
        );
    }
    let endpoints = endpoints(base, raw.endpoints, problems);
    let defaults = RouteDefaults {
        agent: &agent,
        stable_for,
        retry: &retry,
    };
    let mut seen_names = HashSet::new();
    let mut routes = Vec::new();
    let mut keys = Vec::new();
    for (i, r) in raw.routes.into_iter().enumerate() {
        let key = format!("routes[{i}]");
        let route = Section {
            base,
            key: &key,
            partners: &raw.partners,
        }
        .route(r, &defaults, &endpoints, &mut seen_names, problems);
        if let Some(route) = route {
            routes.push(route);
            keys.push(key);
        }
    }
    let mut warnings = Vec::new();
    // Folders are compared once every route is valid on its own (a route named twice is one
    // mistake, not also a second route on the same inbox).
    if problems.0.is_empty() {
        overlaps::check(&routes, &keys, &endpoints, problems, &mut warnings);
    }
    let route_names = routes.iter().map(|r| r.name.as_str()).collect();
    let alerts = super::alerts::build(base, raw.alerts, &route_names, problems, &mut warnings);
    if routes.is_empty() && problems.0.is_empty() {
        problems.push("routes", "no route is configured; add a [[routes]] table");
    }
    Config {
        path: path.to_path_buf(),
        agent,
        endpoints,
        routes,
        alerts,
        warnings,
    }
}

/// `agent.metrics`: an address and port to serve metrics on.
fn metrics_address(text: Option<&str>, problems: &mut Problems) -> Option<std::net::SocketAddr> {
    let text = text?;
    match text.parse::<std::net::SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(
                "agent.metrics",
                format!("\"{text}\" is not an address and port; write it like \"127.0.0.1:9187\" (this machine only) or \"0.0.0.0:9187\" (every network)"),
            );
            None
        }
    }
}

/// The `[endpoints.NAME]` tables, checked.
fn endpoints(
    base: &Path,
    raw: BTreeMap<String, RawEndpoint>,
    problems: &mut Problems,
) -> BTreeMap<String, EndpointConfig> {
    let mut endpoints = BTreeMap::new();
    for (name, e) in raw {
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
    endpoints
}

/// What a route takes from the agent's settings unless it says otherwise.
struct RouteDefaults<'a> {
    agent: &'a AgentConfig,
    stable_for: Duration,
    retry: &'a RetryPolicy,
}

/// Where a route's sections are checked: the config's folder, the route's key path and the
/// partners its X12 settings may name.
struct Section<'a> {
    base: &'a Path,
    key: &'a str,
    partners: &'a Partners,
}

impl Section<'_> {
    /// The route `r`; `None` when it lacks what a route cannot do without (its problems noted).
    fn route(
        &self,
        r: RawRoute,
        defaults: &RouteDefaults<'_>,
        endpoints: &BTreeMap<String, EndpointConfig>,
        seen_names: &mut HashSet<String>,
        problems: &mut Problems,
    ) -> Option<RouteConfig> {
        let (base, key) = (self.base, self.key);
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
            Some(s) => Some(self.source(s, defaults.stable_for, problems)),
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
            Some(d) => self.destination(d, problems),
        };
        let reader = problems.required(&format!("{key}.reader"), r.reader.as_ref());
        let writer = if reads_acknowledgments {
            r.writer.unwrap_or_default()
        } else {
            problems.required(&format!("{key}.writer"), r.writer.as_ref())
        };
        let acknowledge = r
            .acknowledge
            .and_then(|a| self.acknowledge(a, &reader, problems));
        let status_updates = r
            .status_updates
            .and_then(|raw| self.status_updates(raw, problems));
        let reconcile = r.reconcile.and_then(|raw| self.reconcile(raw, problems));
        let also = r
            .also
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(n, raw)| self.also(n, raw, problems))
            .collect();
        let reader_options = r.reader_options.unwrap_or_default();
        let writer_options = self.named_partner(
            r.writer_options.unwrap_or_default(),
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
        let on_repeat = match r.on_repeat.as_deref() {
            None => OnRepeat::Skip,
            Some(text) => OnRepeat::parse(text).unwrap_or_else(|| {
                problems.push(
                    format!("{key}.on_repeat"),
                    format!("\"{text}\" is not one of \"skip\", \"error\", \"send\""),
                );
                OnRepeat::Skip
            }),
        };
        let orders = OrdersConfig {
            on_repeat,
            id_prefix: defaults.agent.order_id_prefix.clone(),
            shipment_due: r
                .shipment_due
                .as_deref()
                .map(|t| problems.duration(&format!("{key}.shipment_due"), Some(t), Duration::ZERO))
                .or_else(|| partner_shipment_due(&writer_options)),
        };
        let archive_retention = r.archive_retention.as_deref().map(|t| {
            problems.duration(&format!("{key}.archive_retention"), Some(t), Duration::ZERO)
        });
        let archive = r
            .archive
            .as_deref()
            .map(|s| resolve(base, s))
            .unwrap_or_else(|| defaults.agent.archive_dir.join(&name));
        let errors = r
            .errors
            .as_deref()
            .map(|s| resolve(base, s))
            .unwrap_or_else(|| defaults.agent.errors_dir.join(&name));
        let from = from?;
        if to.is_none() && !reads_acknowledgments {
            return None;
        }
        check_folders(key, &from, to.as_ref(), endpoints, problems);
        let priority = r.priority.unwrap_or(false);
        let workers = r
            .workers
            .unwrap_or_else(|| default_workers(priority, &from, to.as_ref(), endpoints));
        if !(1..=MAX_WORKERS).contains(&workers) {
            problems.push(
                format!("{key}.workers"),
                format!("{workers} is out of range; use 1 to {MAX_WORKERS}"),
            );
        }
        if priority && workers != 1 {
            problems.push(
                format!("{key}.workers"),
                "a priority route takes one file at a time, so that an order's hold and its later release reach the warehouse in order: use workers = 1",
            );
        }
        Some(RouteConfig {
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
            orders,
            workers,
            priority,
            retry: RetryPolicy {
                max_attempts: attempts(
                    problems,
                    &format!("{key}.max_attempts"),
                    r.max_attempts,
                    defaults.retry.max_attempts,
                ),
                ..defaults.retry.clone()
            },
        })
    }

    /// A route's `from`.
    fn source(
        &self,
        s: RawSource,
        default_stable_for: Duration,
        problems: &mut Problems,
    ) -> SourceConfig {
        let key = self.key;
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
            default_stable_for,
        );
        SourceConfig {
            endpoint,
            dir,
            pattern,
            done_marker,
            stable_for,
            remote_archive: s.remote_archive,
        }
    }

    /// A route's `to`; `None` when its name template is wrong (noted).
    fn destination(&self, d: RawDestination, problems: &mut Problems) -> Option<DestinationConfig> {
        let key = self.key;
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
                    format!("\"{other}\" is not one of \"fail\", \"unique\", \"overwrite\""),
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

    /// A route's `status_updates`; `None` without a folder (noted).
    fn status_updates(
        &self,
        raw: RawStatusUpdates,
        problems: &mut Problems,
    ) -> Option<StatusUpdatesConfig> {
        let (base, key) = (self.base, self.key);
        let k = format!("{key}.status_updates");
        let folder = problems.required(&format!("{k}.folder"), raw.folder.as_ref());
        let format = raw.format.unwrap_or_else(|| "canonical-status-csv".into());
        let options = raw.options.unwrap_or_default();
        if let Err(found) = StatusFormat::new(&format, &options, &format!("{k}.options")) {
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
    }

    /// A route's `reconcile`; `None` without its folders (noted).
    fn reconcile(&self, raw: RawReconcile, problems: &mut Problems) -> Option<ReconcileConfig> {
        let (base, key) = (self.base, self.key);
        let k = format!("{key}.reconcile");
        let cart_export = problems.required(&format!("{k}.cart_export"), raw.cart_export.as_ref());
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
    }

    /// The route's `also` output `n`; `None` when it lacks what it needs (noted).
    fn also(&self, n: usize, raw: RawAlso, problems: &mut Problems) -> Option<AlsoConfig> {
        let (base, key) = (self.base, self.key);
        let k = format!("{key}.also[{n}]");
        let writer = problems.required(&format!("{k}.writer"), raw.writer.as_ref());
        let folder = problems.required(&format!("{k}.folder"), raw.folder.as_ref());
        let writer_options = self.named_partner(
            raw.writer_options.unwrap_or_default(),
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
    }

    /// A route's `acknowledge` table, checked: an X12 reader (not of 997s), a known partner whose
    /// envelope is valid, and a folder.
    fn acknowledge(
        &self,
        raw: RawAcknowledge,
        reader: &str,
        problems: &mut Problems,
    ) -> Option<AcknowledgeConfig> {
        let key = &format!("{}.acknowledge", self.key);
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
        let partner = match self
            .named_partner(table, &format!("{key}.partner"), problems)
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
            folder: resolve(self.base, &folder),
        })
    }

    /// `options` with a `partner` named by a string replaced by that `[partners.NAME]` table.
    fn named_partner(
        &self,
        mut options: format::Options,
        key: &str,
        problems: &mut Problems,
    ) -> format::Options {
        let partners = self.partners;
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
}

/// The `shipment_due` of the partner a route's `writer_options` name, if it sets one (a partner
/// that cannot be read is reported where the route's writer is built).
fn partner_shipment_due(writer_options: &format::Options) -> Option<Duration> {
    match writer_options.get("partner") {
        Some(toml::Value::Table(partner)) => format::x12::writer::Partner::from_options(partner)
            .ok()?
            .shipment_due(),
        _ => None,
    }
}

/// Files a route takes at the same time when its `workers` is unset: one, in strict order,
/// unless a side of it is an SFTP server; then as many as the fewest `connections` of its SFTP
/// sides, so that a far server's round trips overlap. A priority route takes one.
fn default_workers(
    priority: bool,
    from: &SourceConfig,
    to: Option<&DestinationConfig>,
    endpoints: &BTreeMap<String, EndpointConfig>,
) -> usize {
    if priority {
        return 1;
    }
    std::iter::once(&from.endpoint)
        .chain(to.map(|t| &t.endpoint))
        .filter_map(|name| match endpoints.get(name) {
            Some(EndpointConfig::Sftp(sftp)) => Some(sftp.connections),
            _ => None,
        })
        .min()
        .unwrap_or(1)
        .clamp(1, MAX_WORKERS)
}

/// Checks that the endpoints a route names exist and that its local folders do (or will be
/// created), and that only SFTP sources have a remote archive.
fn check_folders(
    key: &str,
    from: &SourceConfig,
    to: Option<&DestinationConfig>,
    endpoints: &BTreeMap<String, EndpointConfig>,
    problems: &mut Problems,
) {
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
}

/// A secret from its `_env` or `_file` key, never both.
pub(super) fn secret(
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
    let connections = e.connections.unwrap_or(DEFAULT_CONNECTIONS);
    if !(1..=MAX_CONNECTIONS).contains(&connections) {
        problems.push(
            format!("{key}.connections"),
            format!("{connections} is out of range; use 1 to {MAX_CONNECTIONS}"),
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
        connections,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    #[test]
    fn a_route_with_an_sftp_side_takes_its_endpoints_connections_of_files_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cartferry.toml");
        std::fs::write(dir.path().join("known_hosts"), "").unwrap();
        let route = |name: &str, to: &str, own: &str| {
            format!(
                "[[routes]]\nname = \"{name}\"\n{own}\
                 from = {{ endpoint = \"here\", dir = \"{name}\", pattern = \"*\" }}\n\
                 reader = \"passthrough\"\nwriter = \"passthrough\"\n\
                 to = {{ endpoint = \"{to}\", dir = \"in\" }}\n"
            )
        };
        let sftp = |name: &str, connections: &str| {
            format!(
                "[endpoints.{name}]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nuser = \"u\"\n\
                 agent = true\nknown_hosts = \"known_hosts\"\n{connections}"
            )
        };
        let config = format!(
            "[agent]\nstate_dir = \"state\"\n\
             [endpoints.here]\nkind = \"local\"\nroot = \".\"\ncreate_dirs = true\n\
             {}{}{}{}{}{}",
            sftp("far", ""),
            sftp("small", "connections = 2\n"),
            route("local", "here", ""),
            route("default", "far", ""),
            route("fewer", "small", ""),
            route("ordered", "far", "workers = 1\n"),
        ) + &route("held", "far", "priority = true\n");
        std::fs::write(&path, &config).unwrap();
        let loaded = Config::load(&path).unwrap();
        let workers: Vec<usize> = loaded.routes.iter().map(|r| r.workers).collect();
        assert_eq!(workers, [1, 4, 2, 1, 1]);
        std::fs::write(&path, config.replace("connections = 2", "connections = 0")).unwrap();
        let refused = Config::load(&path).unwrap_err().to_string();
        assert!(
            refused.contains("endpoints.small.connections") && refused.contains("use 1 to 16"),
            "{refused}"
        );
    }

    #[test]
    fn a_route_without_shipment_due_takes_its_partners() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cartferry.toml");
        let route = |name: &str, own: &str| {
            format!(
                "[[routes]]\nname = \"{name}\"\n{own}\
                 from = {{ endpoint = \"here\", dir = \"{name}\", pattern = \"*.csv\" }}\n\
                 reader = \"shopify-orders-csv\"\nwriter = \"x12-940\"\n\
                 writer_options = {{ partner = \"acme\" }}\n\
                 to = {{ endpoint = \"here\", dir = \"out-{name}\", name = \"{{stem}}.940\" }}\n"
            )
        };
        let config = format!(
            "[agent]\nstate_dir = \"state\"\n\
             [endpoints.here]\nkind = \"local\"\nroot = \".\"\ncreate_dirs = true\n\
             [partners.acme]\nsender_id = \"US\"\nreceiver_id = \"ACME\"\nshipment_due = \"2days\"\n\
             {}{}",
            route("partners", ""),
            route("own", "shipment_due = \"6h\"\n")
        );
        std::fs::write(&path, config).unwrap();
        let config = Config::load(&path).unwrap();
        let due: Vec<Option<Duration>> = config
            .routes
            .iter()
            .map(|r| r.orders.shipment_due)
            .collect();
        assert_eq!(
            due,
            [
                Some(Duration::from_secs(2 * 86_400)),
                Some(Duration::from_secs(6 * 3_600))
            ]
        );
    }
}
