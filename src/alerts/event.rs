//! What an alert tells: the events worth a message, and the one sentence each is said in. No
//! event carries customer data: routes, file names, reasons (which are written without it, as
//! the log's are), report paths, order ids and counts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Something a merchant or operator should hear of without looking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A file went to the error folder.
    FileFailed {
        /// The route.
        route: String,
        /// The file's name.
        file: String,
        /// Why, one line.
        reason: String,
        /// Its report in the error folder.
        report: String,
    },
    /// A file was delivered without its documents with problems, which went to the error
    /// folder with a report (a route that splits, `on_invalid = "split"`).
    DocumentsRejected {
        /// The route.
        route: String,
        /// The file's name.
        file: String,
        /// The documents left out, in the error folder.
        rejected: String,
    },
    /// A file has waited for its retries longer than the limit (`agent.alert_retrying_after`).
    Retrying {
        /// The route.
        route: String,
        /// The file's name.
        file: String,
        /// Attempts so far.
        attempts: u32,
        /// The last fault, one line.
        reason: String,
    },
    /// A partner's 997 rejected a group sent to it, in whole or in part.
    AckRejected {
        /// The route that sent the group.
        route: String,
        /// The partner's control-number key.
        partner: String,
        /// The group's control number (GS06).
        group: u64,
        /// AK9-01: R rejected, P partly accepted, E accepted with errors.
        status: String,
        /// The 997's file.
        ack_file: String,
    },
    /// A sent group's 997 did not come in time.
    AckLate {
        /// The route that sent the group.
        route: String,
        /// The partner's control-number key.
        partner: String,
        /// The group's control number (GS06).
        group: u64,
        /// The file the group was sent in.
        file: String,
    },
    /// An order sent to the warehouse has had no shipment or cancellation past its due time.
    OrderLate {
        /// The route that sent it.
        route: String,
        /// The order's id.
        order_id: String,
        /// The file it was sent in.
        file: String,
    },
    /// Reconciling the warehouse's inventory with the cart's found differences.
    Reconciliation {
        /// The route.
        route: String,
        /// The inventory file.
        file: String,
        /// What was found, one line.
        found: String,
    },
    /// A server refused cartferry (login, host key): the endpoint waits before it asks again.
    EndpointRefused {
        /// The server, `user@host:port`.
        endpoint: String,
        /// What it answered.
        message: String,
    },
    /// The agent cannot write its ledger: nothing moves until it can.
    LedgerUnwritable {
        /// Why, one line.
        reason: String,
    },
    /// What failed works again: a route delivered, an endpoint let cartferry in, the ledger
    /// takes writes.
    AllClear {
        /// The route, endpoint or `ledger` that recovered.
        subject: String,
        /// What it recovered from, one line.
        after: String,
        /// Whether the subject is a route.
        of_route: bool,
    },
    /// The message `cartferry alerts test` sends.
    Test,
}

/// The kinds of [`Event`], as `[alerts.NAME] events` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// [`Event::FileFailed`].
    FileFailed,
    /// [`Event::DocumentsRejected`].
    DocumentsRejected,
    /// [`Event::Retrying`].
    Retrying,
    /// [`Event::AckRejected`].
    AckRejected,
    /// [`Event::AckLate`].
    AckLate,
    /// [`Event::OrderLate`].
    OrderLate,
    /// [`Event::Reconciliation`].
    Reconciliation,
    /// [`Event::EndpointRefused`].
    EndpointRefused,
    /// [`Event::LedgerUnwritable`].
    LedgerUnwritable,
    /// [`Event::AllClear`].
    AllClear,
    /// [`Event::Test`].
    Test,
}

impl Kind {
    /// Every kind a channel can choose, as the config spells them.
    pub const CHOOSABLE: [Kind; 10] = [
        Kind::FileFailed,
        Kind::DocumentsRejected,
        Kind::Retrying,
        Kind::AckRejected,
        Kind::AckLate,
        Kind::OrderLate,
        Kind::Reconciliation,
        Kind::EndpointRefused,
        Kind::LedgerUnwritable,
        Kind::AllClear,
    ];

    /// The name the config and the ledger use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FileFailed => "file_failed",
            Kind::DocumentsRejected => "documents_rejected",
            Kind::Retrying => "retrying",
            Kind::AckRejected => "ack_rejected",
            Kind::AckLate => "ack_late",
            Kind::OrderLate => "order_late",
            Kind::Reconciliation => "reconciliation",
            Kind::EndpointRefused => "endpoint_refused",
            Kind::LedgerUnwritable => "ledger_unwritable",
            Kind::AllClear => "all_clear",
            Kind::Test => "test",
        }
    }

    /// What a digest of `count` events of this kind is headed with.
    fn digest_heading(self, count: usize, subject: &str) -> String {
        match self {
            Kind::FileFailed => {
                format!("{count} files of route {subject} went to the error folder")
            }
            Kind::DocumentsRejected => format!(
                "{count} files of route {subject} were delivered without their documents with problems"
            ),
            Kind::Retrying => {
                format!("{count} files of route {subject} keep failing and wait for retries")
            }
            Kind::AckRejected => {
                format!("{count} groups sent by route {subject} were rejected by the partner's 997")
            }
            Kind::AckLate => {
                format!("{count} groups sent by route {subject} have no 997 yet, past their time")
            }
            Kind::OrderLate => {
                format!("{count} orders sent by route {subject} are late for shipment")
            }
            Kind::Reconciliation => {
                format!("{count} inventory reconciliations of route {subject} found differences")
            }
            Kind::EndpointRefused => format!("{subject} refused cartferry {count} times"),
            Kind::LedgerUnwritable => format!("the ledger could not be written ({count} times)"),
            Kind::AllClear => format!("{subject} works again ({count} times)"),
            Kind::Test => format!("{count} test messages"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::CHOOSABLE
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::CHOOSABLE.iter().map(|k| k.as_str()).collect();
                format!(
                    "\"{s}\" is not an alert event; choose from {}",
                    names.join(", ")
                )
            })
    }
}

impl Event {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Event::FileFailed { .. } => Kind::FileFailed,
            Event::DocumentsRejected { .. } => Kind::DocumentsRejected,
            Event::Retrying { .. } => Kind::Retrying,
            Event::AckRejected { .. } => Kind::AckRejected,
            Event::AckLate { .. } => Kind::AckLate,
            Event::OrderLate { .. } => Kind::OrderLate,
            Event::Reconciliation { .. } => Kind::Reconciliation,
            Event::EndpointRefused { .. } => Kind::EndpointRefused,
            Event::LedgerUnwritable { .. } => Kind::LedgerUnwritable,
            Event::AllClear { .. } => Kind::AllClear,
            Event::Test => Kind::Test,
        }
    }

    /// What it is about, for digests and for a channel's `routes`: a route, an endpoint's
    /// server, or `ledger`.
    pub fn subject(&self) -> &str {
        match self {
            Event::FileFailed { route, .. }
            | Event::DocumentsRejected { route, .. }
            | Event::Retrying { route, .. }
            | Event::AckRejected { route, .. }
            | Event::AckLate { route, .. }
            | Event::OrderLate { route, .. }
            | Event::Reconciliation { route, .. } => route,
            Event::EndpointRefused { endpoint, .. } => endpoint,
            Event::LedgerUnwritable { .. } => "ledger",
            Event::AllClear { subject, .. } => subject,
            Event::Test => "test",
        }
    }

    /// The route it concerns, if it concerns one (not an endpoint's or the ledger's event).
    pub fn route(&self) -> Option<&str> {
        match self {
            Event::EndpointRefused { .. } | Event::LedgerUnwritable { .. } | Event::Test => None,
            Event::AllClear {
                of_route: false, ..
            } => None,
            _ => Some(self.subject()),
        }
    }

    /// What happened in a few words, for a subject line or an all-clear.
    pub fn brief(&self) -> String {
        match self {
            Event::FileFailed { route, file, .. } => {
                format!("route {route}: {file} went to the error folder")
            }
            Event::DocumentsRejected { route, file, .. } => {
                format!("route {route}: documents of {file} went to the error folder")
            }
            Event::Retrying {
                route,
                file,
                attempts,
                ..
            } => {
                format!("route {route}: {file} keeps failing ({attempts} attempts)")
            }
            Event::AckRejected {
                route,
                group,
                status,
                ..
            } => format!(
                "route {route}: the partner's 997 {} group {group}",
                if status == "R" {
                    "rejected"
                } else {
                    "partly rejected"
                }
            ),
            Event::AckLate { route, group, .. } => {
                format!("route {route}: no 997 for group {group} in time")
            }
            Event::OrderLate {
                route, order_id, ..
            } => {
                format!("route {route}: order {order_id} is late for shipment")
            }
            Event::Reconciliation { route, .. } => {
                format!("route {route}: the warehouse's inventory differs from the cart's")
            }
            Event::EndpointRefused { endpoint, .. } => format!("{endpoint} refused cartferry"),
            Event::LedgerUnwritable { .. } => "cartferry cannot write its ledger".into(),
            Event::AllClear { subject, after, .. } => {
                format!("{subject} works again (after: {after})")
            }
            Event::Test => "a test message".into(),
        }
    }

    /// The one sentence a message says of it.
    pub fn sentence(&self) -> String {
        match self {
            Event::FileFailed {
                route,
                file,
                reason,
                report,
            } => format!(
                "route {route}: {file} went to the error folder: {}. The report: {report}. Once it is fixed: cartferry retry {route} {file}",
                reason.trim_end_matches('.')
            ),
            Event::DocumentsRejected {
                route,
                file,
                rejected,
            } => format!(
                "route {route}: {file} was delivered without its documents with problems, which went to the error folder as {rejected}, with a report beside it. Once they are fixed: cartferry retry {route} {}",
                std::path::Path::new(rejected)
                    .file_name()
                    .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned())
            ),
            Event::Retrying {
                route,
                file,
                attempts,
                reason,
            } => format!(
                "route {route}: {file} has failed {attempts} times and waits for its next attempt: {reason}"
            ),
            Event::AckRejected {
                route,
                partner,
                group,
                status,
                ack_file,
            } => format!(
                "route {route}: the 997 {ack_file} of {partner} answers group {group} with {status} ({}); see cartferry status",
                match status.as_str() {
                    "R" => "rejected",
                    "P" => "partly accepted",
                    _ => "accepted with errors",
                }
            ),
            Event::AckLate {
                route,
                partner,
                group,
                file,
            } => format!(
                "route {route}: group {group} sent to {partner} in {file} has no 997 yet, past its time"
            ),
            Event::OrderLate {
                route,
                order_id,
                file,
            } => format!(
                "route {route}: order {order_id} (sent in {file}) has no shipment or cancellation yet, past its time; see cartferry order {order_id}"
            ),
            Event::Reconciliation { route, file, found } => {
                format!("route {route}: reconciling {file}: {found}")
            }
            Event::EndpointRefused { endpoint, message } => format!(
                "{endpoint} refused cartferry: {message}. It is asked again after a pause; see cartferry status"
            ),
            Event::LedgerUnwritable { reason } => {
                format!("cartferry cannot write its ledger, so no file moves: {reason}")
            }
            Event::AllClear { subject, after, .. } => {
                format!("{subject} works again (after: {after})")
            }
            Event::Test => "a test message from cartferry alerts test: this channel works".into(),
        }
    }
}

/// What a message of one or more events of one kind and subject is headed with.
pub fn heading(kind: Kind, subject: &str, events: &[Event]) -> String {
    match events {
        [one] => one.brief(),
        _ => kind.digest_heading(events.len(), subject),
    }
}
