//! The alert channels (`[alerts.NAME]`): where events are said, which ones, and how often.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::Secret;
use super::build::secret;
use super::raw::{Problems, RawAlert};
use crate::alerts::Kind;

/// One alert channel.
#[derive(Debug, Clone)]
pub struct AlertChannelConfig {
    /// Its name (`[alerts.NAME]`), which the ledger keeps its place under.
    pub name: String,
    /// Where its messages go.
    pub transport: AlertTransport,
    /// The kinds of event it says; all when `None`.
    pub events: Option<BTreeSet<Kind>>,
    /// The routes whose events it says; all when `None`. Events of an endpoint or of the ledger
    /// concern every route and are always said.
    pub routes: Option<BTreeSet<String>>,
    /// Events of one kind and subject within this window after a message become one digest.
    pub digest_window: Duration,
    /// At most this many messages in any hour; the rest wait and go as digests.
    pub max_per_hour: u32,
    /// Limit for one send.
    pub timeout: Duration,
}

/// How an e-mail channel talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: for a relay on this machine only.
    None,
}

/// An e-mail channel's SMTP server and addresses.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The SMTP server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// Login name and password, when the server wants a login.
    pub login: Option<(String, Secret)>,
    /// The sender address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

/// Where a channel's messages go.
#[derive(Debug, Clone)]
pub enum AlertTransport {
    /// E-mail over SMTP.
    Email(EmailSettings),
    /// An HTTP POST with a JSON body.
    Webhook {
        /// Where to.
        url: String,
        /// The body Slack's and Teams' incoming webhooks accept (`{"text": …}`) rather than
        /// cartferry's own.
        slack: bool,
    },
    /// A program run with the message as JSON on its standard input.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
    },
}

/// Whether `host` names this machine.
fn is_local(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `[alerts.NAME]` tables, checked; `routes` are the configured routes' names.
pub(super) fn build(
    base: &Path,
    raw: BTreeMap<String, RawAlert>,
    routes: &BTreeSet<&str>,
    problems: &mut Problems,
    warnings: &mut Vec<super::Problem>,
) -> Vec<AlertChannelConfig> {
    let mut channels = Vec::new();
    for (name, a) in raw {
        let key = format!("alerts.{name}");
        let kind = a.kind.clone().unwrap_or_default();
        for (of_kind, k, set) in a.kind_keys() {
            if set && kind != of_kind {
                problems.push(
                    format!("{key}.{k}"),
                    format!("is only for kind = \"{of_kind}\""),
                );
            }
        }
        let transport = match kind.as_str() {
            "email" => email(base, &key, &a, problems, warnings),
            "webhook" => webhook(&key, &a, problems, warnings),
            "command" => match a.command.clone().filter(|c| !c.is_empty()) {
                Some(argv) => Some(AlertTransport::Command { argv }),
                None => {
                    problems.push(format!("{key}.command"), "is required: the program and its arguments, like [\"/usr/local/bin/page-me\", \"--team\", \"ops\"]");
                    None
                }
            },
            "" => {
                problems.push(
                    format!("{key}.kind"),
                    "is required (\"email\", \"webhook\" or \"command\")",
                );
                None
            }
            other => {
                problems.push(
                    format!("{key}.kind"),
                    format!("\"{other}\" is not an alert channel; use \"email\", \"webhook\" or \"command\""),
                );
                None
            }
        };
        let events = a.events.as_ref().map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.parse::<Kind>()
                        .map_err(|e| problems.push(format!("{key}.events"), e))
                        .ok()
                })
                .collect()
        });
        let chosen_routes = a.routes.as_ref().map(|names| {
            for n in names.iter().filter(|n| !routes.contains(n.as_str())) {
                problems.push(
                    format!("{key}.routes"),
                    format!("no route is named \"{n}\""),
                );
            }
            names.iter().cloned().collect()
        });
        let max_per_hour = a.max_per_hour.unwrap_or(20);
        if max_per_hour == 0 {
            problems.push(
                format!("{key}.max_per_hour"),
                "must be at least 1; remove the channel to silence it",
            );
        }
        let digest_window = problems.duration(
            &format!("{key}.digest_window"),
            a.digest_window.as_deref(),
            Duration::from_secs(600),
        );
        let timeout = problems.duration(
            &format!("{key}.timeout"),
            a.timeout.as_deref(),
            Duration::from_secs(30),
        );
        if timeout.is_zero() {
            problems.push(format!("{key}.timeout"), "must be more than 0s");
        }
        if let Some(transport) = transport {
            channels.push(AlertChannelConfig {
                name,
                transport,
                events,
                routes: chosen_routes,
                digest_window,
                max_per_hour,
                timeout,
            });
        }
    }
    channels
}

fn email(
    base: &Path,
    key: &str,
    a: &RawAlert,
    problems: &mut Problems,
    warnings: &mut Vec<super::Problem>,
) -> Option<AlertTransport> {
    let host = problems.required(&format!("{key}.host"), a.host.as_ref());
    let from = problems.required(&format!("{key}.from"), a.from.as_ref());
    let to = a.to.clone().unwrap_or_default();
    if to.is_empty() {
        problems.push(
            format!("{key}.to"),
            "is required: the recipients' addresses, as a list",
        );
    }
    for address in std::iter::once(&from).chain(&to) {
        if !address.is_empty() && address.parse::<lettre::Address>().is_err() {
            problems.push(
                format!("{key}.{}", if address == &from { "from" } else { "to" }),
                format!("\"{address}\" is not an e-mail address"),
            );
        }
    }
    let security = match a.tls.as_deref().unwrap_or("starttls") {
        "starttls" => SmtpSecurity::StartTls,
        "tls" => SmtpSecurity::Tls,
        "none" => SmtpSecurity::None,
        other => {
            problems.push(
                format!("{key}.tls"),
                format!("\"{other}\" is not a choice; use \"starttls\" (port 587), \"tls\" (port 465) or \"none\" (a relay on this machine)"),
            );
            SmtpSecurity::StartTls
        }
    };
    if security == SmtpSecurity::None && !is_local(&host) {
        warnings.push(super::Problem {
            key: format!("{key}.tls"),
            message: format!("\"none\" sends alerts (and any password) to {host} unencrypted; use \"starttls\" or \"tls\" for a server that is not this machine"),
        });
    }
    let port = a.port.unwrap_or(match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    });
    let password = secret(
        base,
        &format!("{key}.password"),
        a.password_env.clone(),
        a.password_file.clone(),
        problems,
    );
    let login = match (a.user.clone(), password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        (Some(_), None) => {
            problems.push(format!("{key}.user"), "needs password_env or password_file");
            None
        }
        (None, Some(_)) => {
            problems.push(format!("{key}.user"), "is required with a password");
            None
        }
    };
    Some(AlertTransport::Email(EmailSettings {
        host,
        port,
        security,
        login,
        from,
        to,
    }))
}

fn webhook(
    key: &str,
    a: &RawAlert,
    problems: &mut Problems,
    warnings: &mut Vec<super::Problem>,
) -> Option<AlertTransport> {
    let url = problems.required(&format!("{key}.url"), a.url.as_ref());
    let slack = match a.format.as_deref().unwrap_or("json") {
        "json" => false,
        "slack" => true,
        other => {
            problems.push(
                format!("{key}.format"),
                format!("\"{other}\" is not a choice; use \"json\" (cartferry's own body) or \"slack\" (Slack and Teams incoming webhooks)"),
            );
            false
        }
    };
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !is_local(host) {
            warnings.push(super::Problem {
                key: format!("{key}.url"),
                message: "sends alerts unencrypted (http://); use https:// for a server that is not this machine".into(),
            });
        }
    } else if !url.is_empty() && !url.starts_with("https://") {
        problems.push(
            format!("{key}.url"),
            format!("\"{url}\" is not an http:// or https:// address"),
        );
    }
    Some(AlertTransport::Webhook { url, slack })
}
