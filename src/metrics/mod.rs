//! Prometheus metrics and a health check for operators (`[agent] metrics = "127.0.0.1:9187"`).
//!
//! What happens to files (taken, how each journey ended, bytes, durations, retries) is counted
//! in the process as it happens ([`taken`], [`ended`]): since the agent started, as Prometheus
//! counters are. What stands (files on their way and in error, the last delivery, late orders
//! and 997s, alert channels, SFTP sessions) is read from the ledger, the error folders and the
//! endpoints at each scrape ([`Scraper`]), so it is right after a restart too. `server.rs` serves
//! both over HTTP with axum.

mod server;

pub use server::serve;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::config::{Config, EndpointConfig};
use crate::endpoint::Endpoints;
use crate::ledger::{Ledger, LedgerError, now_ms};
use crate::outcome::Outcome;

/// A route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

/// A route and how a journey ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    route: String,
    outcome: String,
}

/// An endpoint.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

/// An alert channel.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

type DurationFamily = Family<RouteLabel, Histogram, fn() -> Histogram>;

/// What the process counts as files go.
struct Counters {
    taken: Family<RouteLabel, Counter>,
    ended: Family<OutcomeLabels, Counter>,
    bytes: Family<RouteLabel, Counter>,
    retries: Family<RouteLabel, Counter>,
    duration: DurationFamily,
}

fn journey_buckets() -> Histogram {
    // 5 ms to about 5.5 minutes.
    Histogram::new(exponential_buckets(0.005, 4.0, 9))
}

fn counters() -> &'static Counters {
    static COUNTERS: OnceLock<Counters> = OnceLock::new();
    COUNTERS.get_or_init(|| Counters {
        taken: Family::default(),
        ended: Family::default(),
        bytes: Family::default(),
        retries: Family::default(),
        duration: Family::new_with_constructor(journey_buckets),
    })
}

fn route_label(route: &str) -> RouteLabel {
    RouteLabel {
        route: route.to_string(),
    }
}

/// Counts a file `route` starts to take.
pub fn taken(route: &str) {
    counters().taken.get_or_create(&route_label(route)).inc();
}

/// Counts how a journey of `route` ended (for now), after `took`.
pub fn ended(route: &str, outcome: &Outcome, took: Duration) {
    let c = counters();
    let label = route_label(route);
    c.ended
        .get_or_create(&OutcomeLabels {
            route: route.to_string(),
            outcome: outcome.label().to_string(),
        })
        .inc();
    match outcome {
        Outcome::RetryLater { .. } => {
            c.retries.get_or_create(&label).inc();
        }
        Outcome::Delivered { bytes, .. } => {
            c.bytes.get_or_create(&label).inc_by(*bytes);
        }
        _ => {}
    }
    if !matches!(outcome, Outcome::RetryLater { .. }) {
        c.duration.get_or_create(&label).observe(took.as_secs_f64());
    }
}

/// A gauge family of one label, filled from `values`.
fn gauges<
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (L, i64)>,
) {
    let family = Family::<L, Gauge>::default();
    for (label, value) in values {
        family.get_or_create(&label).set(value);
    }
    registry.register(name, help, family);
}

/// Reads what stands at each scrape, with a ledger connection of its own.
pub struct Scraper {
    config: Config,
    endpoints: Endpoints,
    ledger: Mutex<Ledger>,
    health: Box<dyn Fn() -> Option<String> + Send + Sync>,
}

impl Scraper {
    /// The scraper of `config`'s routes, on `endpoints`; `health` says why a route's worker is
    /// not well, when one is not.
    pub fn new(
        config: Config,
        endpoints: Endpoints,
        health: Box<dyn Fn() -> Option<String> + Send + Sync>,
    ) -> Result<Scraper, LedgerError> {
        let ledger = Ledger::open(&config.agent.state_dir)?;
        Ok(Scraper {
            config,
            endpoints,
            ledger: Mutex::new(ledger),
            health,
        })
    }

    /// Why the agent is not healthy (a route's worker failing, the ledger not taking writes),
    /// or `None` when it is.
    pub fn problem(&self) -> Option<String> {
        (self.health)().or_else(|| {
            let ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
            ledger
                .verify_still_there()
                .and_then(|()| ledger.writable())
                .err()
                .map(|e| format!("the ledger cannot be written: {e}"))
        })
    }

    /// Every metric, in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, String> {
        let registry = self.registry().map_err(|e| e.to_string())?;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .map_err(|e| e.to_string())?;
        Ok(text)
    }

    fn registry(&self) -> Result<Registry, LedgerError> {
        let mut registry = Registry::with_prefix("cartferry");
        let c = counters();
        registry.register(
            "files_taken",
            "Files the agent started to take, since it started",
            c.taken.clone(),
        );
        registry.register(
            "files",
            "Journeys ended, by outcome (delivered, duplicate, already_sent, failed, retry_later, recorded, vanished), since the agent started",
            c.ended.clone(),
        );
        registry.register(
            "delivered_bytes",
            "Bytes delivered, since the agent started",
            c.bytes.clone(),
        );
        registry.register(
            "retries",
            "Transient faults a file will be tried again after, since the agent started",
            c.retries.clone(),
        );
        registry.register(
            "journey_duration_seconds",
            "How long a file's journey took, from its claim to its end",
            c.duration.clone(),
        );
        let ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        let routes = &self.config.routes;
        let mut on_the_way = Vec::new();
        let mut last_delivery = Vec::new();
        for r in routes {
            on_the_way.push((
                route_label(&r.name),
                ledger.unfinished(&r.name)?.len() as i64,
            ));
            if let Some(at) = ledger.last_delivery_at(&r.name)? {
                last_delivery.push((route_label(&r.name), at / 1000));
            }
        }
        gauges(
            &mut registry,
            "files_waiting",
            "Files taken and not finished: on their way, or waiting for a retry",
            on_the_way,
        );
        gauges(
            &mut registry,
            "files_in_error",
            "Files in the route's error folder",
            routes.iter().map(|r| {
                (
                    route_label(&r.name),
                    crate::report::error_files(&r.errors).len() as i64,
                )
            }),
        );
        gauges(
            &mut registry,
            "last_delivery_timestamp_seconds",
            "When the route last delivered a file (Unix time)",
            last_delivery,
        );
        let (late_orders, _) = ledger.late_orders(now, 0)?;
        let mut single = |name: &str, help: &str, value: i64| {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            registry.register(name, help, gauge);
        };
        single(
            "orders_late",
            "Orders sent to the warehouse without a shipment or cancellation past their due time",
            late_orders as i64,
        );
        single(
            "x12_groups_unacknowledged",
            "X12 groups delivered without their 997 yet",
            ledger.unacknowledged_groups()? as i64,
        );
        single(
            "x12_groups_late",
            "X12 groups whose 997 is past its due time",
            ledger.late_groups(now)?.len() as i64,
        );
        let sent = Family::<ChannelLabel, Counter>::default();
        let failed = Family::<ChannelLabel, Counter>::default();
        let mut waiting = Vec::new();
        for channel in &self.config.alerts {
            let label = ChannelLabel {
                channel: channel.name.clone(),
            };
            let standing = ledger.alert_channel(&channel.name)?.unwrap_or_default();
            sent.get_or_create(&label).inc_by(standing.sent);
            failed.get_or_create(&label).inc_by(standing.failed);
            waiting.push((label, standing.waiting as i64));
        }
        registry.register("alerts_sent", "Alert messages sent", sent);
        registry.register("alerts_failed", "Alert sends that failed", failed);
        gauges(
            &mut registry,
            "alerts_waiting",
            "Alert events waiting to be sent",
            waiting,
        );
        let mut up = Vec::new();
        let mut refusals = Vec::new();
        for (name, endpoint) in &self.config.endpoints {
            let EndpointConfig::Sftp(sftp) = endpoint else {
                continue;
            };
            let label = EndpointLabel {
                endpoint: name.clone(),
            };
            let connected = self.endpoints.get(name).and_then(|e| e.connected());
            up.push((label.clone(), i64::from(connected.unwrap_or(false))));
            let pause = ledger.endpoint_pause(&sftp.server())?;
            refusals.push((label, pause.map_or(0, |p| i64::from(p.refusals))));
        }
        gauges(
            &mut registry,
            "sftp_session_up",
            "1 while the endpoint has an SFTP session open",
            up,
        );
        gauges(
            &mut registry,
            "sftp_login_failures",
            "Refusals in a row by the endpoint's server (login or host key); 0 once it let cartferry in",
            refusals,
        );
        Ok(registry)
    }
}
