//! Alerts: what goes wrong (and right again) is said by e-mail, webhook or a program, without
//! anybody looking.
//!
//! Events go into the ledger's outbox in the transaction of the step that caused them
//! (`ledger/alerts.rs`), or once under a key when found by looking ([`Sender::look`]: long
//! retries, late orders and 997s, all-clears). A sender thread of its own drains the outbox per
//! channel: events of one kind and subject become one message, a digest when more came within
//! the channel's window after its last message of that kind; at most `max_per_hour` messages go
//! out; a channel that fails is tried again with backoff while files keep flowing. A message is
//! marked sent in the ledger after its server took it: a crash between the two sends it again
//! (with the same id, for receivers that drop repeats), never loses it.

mod command;
mod email;
mod event;
mod webhook;

pub use event::{Event, Kind, heading};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use crate::config::{AlertChannelConfig, AlertTransport, Config};
use crate::ledger::{Ledger, LedgerError, OutboxEvent, now_ms};

/// One message of a channel: one event, or a digest of events of one kind and subject.
#[derive(Debug, Clone)]
pub struct Message {
    /// Stable for the same events: a receiver can drop a repeat after a crash.
    pub id: String,
    /// The machine the agent runs on.
    pub host: String,
    /// The events' kind.
    pub kind: Kind,
    /// What they are about.
    pub subject: String,
    /// The events, oldest first.
    pub events: Vec<OutboxEvent>,
}

impl Message {
    /// A message of `channel` carrying `events` (one kind and subject, at least one).
    pub fn new(channel: &str, host: &str, events: Vec<OutboxEvent>) -> Message {
        let first = &events[0];
        Message {
            id: format!("cartferry-{host}-{channel}-{}-{}", first.id, events.len()),
            host: host.to_string(),
            kind: first.event.kind(),
            subject: first.event.subject().to_string(),
            events,
        }
    }

    /// The line a subject or a chat message starts with.
    pub fn title(&self) -> String {
        let plain: Vec<Event> = self.events.iter().map(|e| e.event.clone()).collect();
        format!(
            "cartferry on {}: {}",
            self.host,
            heading(self.kind, &self.subject, &plain)
        )
    }

    /// The message for people: the title, then every event's sentence with its time.
    pub fn text(&self) -> String {
        let mut text = self.title();
        text.push_str("\n\n");
        for e in &self.events {
            text.push_str(&format!("- {}: {}\n", when(e.at_ms), e.event.sentence()));
        }
        text.push_str("\nSee cartferry status for everything at once.\n");
        text
    }

    /// cartferry's own JSON body (webhooks, commands): the message and each event with its
    /// fields.
    pub fn json(&self) -> serde_json::Value {
        let events: Vec<serde_json::Value> = self
            .events
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(&e.event).expect("an event is plain data");
                v["at"] = serde_json::Value::String(when(e.at_ms));
                v["text"] = serde_json::Value::String(e.event.sentence());
                v
            })
            .collect();
        serde_json::json!({
            "id": self.id,
            "host": self.host,
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "count": self.events.len(),
            "title": self.title(),
            "events": events,
        })
    }
}

fn when(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Somewhere a message can be sent.
trait Transport: Send {
    /// Sends `message`; says what the other side answered, or why it failed (one line).
    fn send(&self, message: &Message) -> Result<String, String>;
}

fn transport_of(channel: &AlertChannelConfig) -> Box<dyn Transport> {
    match &channel.transport {
        AlertTransport::Email(settings) => Box::new(email::Email {
            settings: settings.clone(),
            timeout: channel.timeout,
        }),
        AlertTransport::Webhook { url, slack } => {
            Box::new(webhook::Webhook::new(url.clone(), *slack, channel.timeout))
        }
        AlertTransport::Command { argv } => Box::new(command::Program {
            argv: argv.clone(),
            timeout: channel.timeout,
        }),
    }
}

/// Whether `channel` says `event`.
fn wants(channel: &AlertChannelConfig, event: &Event) -> bool {
    let kind_chosen = channel
        .events
        .as_ref()
        .is_none_or(|k| k.contains(&event.kind()));
    let route_chosen = match (event.route(), &channel.routes) {
        (Some(route), Some(chosen)) => chosen.contains(route),
        _ => true,
    };
    kind_chosen && route_chosen
}

/// The subject of the ledger's own events.
const LEDGER: &str = "ledger";

/// First wait after a channel failed; doubled per failure in a row.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Longest wait between tries of a failing channel.
const LONGEST_RETRY: Duration = Duration::from_secs(600);
/// How often the sender thread looks at the outbox.
const ROUND: Duration = Duration::from_millis(500);
/// How often the slower looks (late orders and 997s, long retries) are made while running.
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// How often the sender learns whether the ledger takes writes.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// Late orders said per look, at most (the rest follow as they are said).
const LATE_ORDERS_PER_LOOK: usize = 1000;

/// One alert channel with its transport.
struct Channel {
    config: AlertChannelConfig,
    transport: Box<dyn Transport>,
    /// Said in the log while it lasts: failing, at its hourly limit.
    failing: bool,
    limited: bool,
}

/// Drains the outbox into the channels, and looks for the events no step causes.
pub struct Sender {
    channels: Vec<Channel>,
    host: String,
    retrying_after: Duration,
    last_look: Option<Instant>,
    last_probe: Option<Instant>,
    /// The ledger's write fault being said directly (it cannot go into the outbox), while it
    /// lasts: why, since when, and which channels took it.
    unwritable: Option<(String, i64, Vec<bool>)>,
}

impl Sender {
    /// The config's channels, made known to `ledger` if they are not yet (`run` and `once` do
    /// so before anything happens: a channel new to the ledger says the events from then on, not
    /// the history); `None` when it has none.
    pub fn new(config: &Config, ledger: &Ledger) -> Result<Option<Sender>, LedgerError> {
        if config.alerts.is_empty() {
            return Ok(None);
        }
        open_channels(config, ledger)?;
        Ok(Some(Sender {
            channels: config
                .alerts
                .iter()
                .map(|c| Channel {
                    transport: transport_of(c),
                    config: c.clone(),
                    failing: false,
                    limited: false,
                })
                .collect(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            retrying_after: config.agent.alert_retrying_after,
            last_look: None,
            last_probe: None,
            unwritable: None,
        }))
    }

    /// Looks for events, then sends what is due on every channel. `look_now` makes the slower
    /// looks whatever their period.
    pub fn round(&mut self, ledger: &Ledger, look_now: bool) -> Result<(), LedgerError> {
        // The probe writes a row: every round only while the ledger refuses writes.
        let probe = look_now
            || self.unwritable.is_some()
            || self.last_probe.is_none_or(|t| t.elapsed() >= PROBE_EVERY);
        if probe {
            self.last_probe = Some(Instant::now());
            if let Err(e) = ledger.writable() {
                self.say_unwritable(format!("{e}"));
                return Ok(());
            }
        }
        if let Some((reason, _, _)) = self.unwritable.take() {
            ledger.alert(&Event::AllClear {
                subject: LEDGER.into(),
                after: format!("the ledger could not be written: {reason}"),
                of_route: false,
            })?;
        }
        let slow = look_now || self.last_look.is_none_or(|t| t.elapsed() >= LOOK_EVERY);
        self.look(ledger, slow)?;
        if slow {
            self.last_look = Some(Instant::now());
        }
        for i in 0..self.channels.len() {
            self.drain(ledger, i)?;
        }
        Ok(())
    }

    /// Records the events found by looking, each once: all-clears always; long retries and
    /// late orders and 997s when `slow`.
    fn look(&self, ledger: &Ledger, slow: bool) -> Result<(), LedgerError> {
        for open in ledger.unanswered_failures()? {
            let cleared = match open.kind {
                Kind::FileFailed | Kind::Retrying => {
                    ledger.delivered_since(&open.subject, open.at_ms + 1)? > 0
                }
                Kind::EndpointRefused => ledger.endpoint_pause(&open.subject)?.is_none(),
                _ => true,
            };
            if cleared {
                ledger.alert_once(
                    &format!("all_clear:{}", open.id),
                    &Event::AllClear {
                        subject: open.subject.clone(),
                        after: open.event.brief(),
                        of_route: open.event.route().is_some(),
                    },
                )?;
            }
        }
        if !slow {
            return Ok(());
        }
        let now = now_ms();
        let before = now - self.retrying_after.as_millis() as i64;
        for row in ledger.retrying_since(before)? {
            ledger.alert_once(
                &format!("retrying:{}", row.id),
                &Event::Retrying {
                    route: row.route,
                    file: row.name,
                    attempts: row.attempts,
                    reason: row.last_error.unwrap_or_default(),
                },
            )?;
        }
        for group in ledger.late_groups(now)? {
            ledger.alert_once(
                &format!("ack_late:{}:{}", group.partner, group.group),
                &Event::AckLate {
                    route: group.sent.route,
                    partner: group.partner,
                    group: group.group,
                    file: group.sent.output_name.unwrap_or(group.sent.source_name),
                },
            )?;
        }
        let (_, late) = ledger.late_orders(now, LATE_ORDERS_PER_LOOK)?;
        for order in late {
            ledger.alert_once(
                &format!(
                    "order_late:{}:{}:{}",
                    order.route, order.order_id, order.sent_at_ms
                ),
                &Event::OrderLate {
                    route: order.route,
                    order_id: order.order_id,
                    file: order.file,
                },
            )?;
        }
        Ok(())
    }

    /// Sends channel `i`'s due messages: each kind and subject once its window since the last
    /// message of it has passed, within the hourly limit; stops at the first failure.
    fn drain(&mut self, ledger: &Ledger, i: usize) -> Result<(), LedgerError> {
        let channel = &mut self.channels[i];
        let name = channel.config.name.clone();
        let now = now_ms();
        let standing = ledger.alert_channel(&name)?.unwrap_or_default();
        if standing.next_try_ms.is_some_and(|at| at > now) {
            return Ok(());
        }
        ledger.take_new_alerts(&name, |e| wants(&channel.config, e))?;
        let mut groups: Vec<Vec<OutboxEvent>> = Vec::new();
        let mut index: HashMap<(Kind, String), usize> = HashMap::new();
        for e in ledger.due_alerts(&name)? {
            let key = (e.event.kind(), e.event.subject().to_string());
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[at].push(e);
        }
        let window = channel.config.digest_window.as_millis() as i64;
        for events in groups {
            let (kind, subject) = (
                events[0].event.kind(),
                events[0].event.subject().to_string(),
            );
            if ledger
                .last_alert_message(&name, kind, &subject)?
                .is_some_and(|last| now - last < window)
            {
                continue;
            }
            let sent_this_hour = ledger.alert_messages_since(&name, now - 3_600_000)?;
            if sent_this_hour >= u64::from(channel.config.max_per_hour) {
                if !channel.limited {
                    warn!(channel = %name, limit = channel.config.max_per_hour, "an alert channel sent its most messages for this hour; the rest wait and go out as digests");
                    channel.limited = true;
                }
                return Ok(());
            }
            channel.limited = false;
            let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
            let message = Message::new(&name, &self.host, events);
            crate::crash_point!("alerts.sending");
            match channel.transport.send(&message) {
                Ok(answer) => {
                    crate::crash_point!("alerts.sent");
                    ledger.alert_sent(&name, kind, &subject, &ids)?;
                    if channel.failing {
                        info!(channel = %name, "an alert channel works again; what waited is being sent");
                        channel.failing = false;
                    }
                    debug!(channel = %name, kind = kind.as_str(), events = ids.len(), answer = %answer, "alert sent");
                }
                Err(why) => {
                    let failures = standing.failures + 1;
                    let wait = crate::journey::backoff(failures, FIRST_RETRY, LONGEST_RETRY);
                    ledger.alert_send_failed(&name, &why, now + wait.as_millis() as i64)?;
                    if !channel.failing {
                        warn!(channel = %name, error = %why, "an alert could not be sent; it waits in the outbox and is tried again (files keep flowing)");
                        channel.failing = true;
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Says, straight to every channel that wants it and has not taken it yet, that the ledger
    /// cannot be written (the outbox is in the ledger).
    fn say_unwritable(&mut self, reason: String) {
        let (_, since_ms, taken) = self
            .unwritable
            .get_or_insert_with(|| (reason.clone(), now_ms(), vec![false; self.channels.len()]));
        let event = Event::LedgerUnwritable { reason };
        for (channel, taken) in self.channels.iter().zip(taken.iter_mut()) {
            if *taken || !wants(&channel.config, &event) {
                continue;
            }
            let message = Message::new(
                &channel.config.name,
                &self.host,
                // Not in the outbox: its id is its time, one per outage.
                vec![OutboxEvent {
                    id: *since_ms,
                    at_ms: *since_ms,
                    event: event.clone(),
                }],
            );
            match channel.transport.send(&message) {
                Ok(_) => *taken = true,
                Err(why) => {
                    warn!(channel = %channel.config.name, error = %why, "could not say that the ledger cannot be written; trying again")
                }
            }
        }
    }

    /// Starts the sender thread on `ledger`, a connection of its own: a round every half second
    /// until `stop`. File flow never waits for it.
    pub fn spawn(
        mut self,
        ledger: Ledger,
        stop: Arc<AtomicBool>,
    ) -> Option<std::thread::JoinHandle<()>> {
        let work = move || {
            let mut told = false;
            while !stop.load(Ordering::Relaxed) {
                match self.round(&ledger, false) {
                    Ok(()) => told = false,
                    Err(e) if !told => {
                        warn!(error = %e, "the alerts' outbox could not be read; trying again");
                        told = true;
                    }
                    Err(_) => {}
                }
                let next = Instant::now() + ROUND;
                while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        std::thread::Builder::new()
            .name("alerts".into())
            .spawn(work)
            .ok()
    }
}

/// Makes `config`'s channels known to `ledger` where they are not yet: a channel new to the
/// ledger says the events from then on, not the history.
pub fn open_channels(config: &Config, ledger: &Ledger) -> Result<(), LedgerError> {
    config
        .alerts
        .iter()
        .try_for_each(|c| ledger.open_alert_channel(&c.name))
}

/// What a channel answered to `cartferry alerts test`.
pub struct TestAnswer {
    /// The channel.
    pub channel: String,
    /// What its server answered, or why it failed.
    pub answer: Result<String, String>,
}

/// Sends a test message to every channel of `config`, now, outside the outbox.
pub fn test_every_channel(config: &Config) -> Vec<TestAnswer> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    config
        .alerts
        .iter()
        .map(|c| {
            let message = Message::new(
                &c.name,
                &host,
                vec![OutboxEvent {
                    id: now_ms(),
                    at_ms: now_ms(),
                    event: Event::Test,
                }],
            );
            TestAnswer {
                channel: c.name.clone(),
                answer: transport_of(c).send(&message),
            }
        })
        .collect()
}
