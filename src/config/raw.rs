//! The raw config as TOML gives it (every key optional, so that every missing one can be
//! reported), and the collector of problems found while it is checked.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Problem;
use crate::format;

#[derive(Deserialize, Default)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) agent: RawAgent,
    #[serde(default)]
    pub(super) endpoints: BTreeMap<String, RawEndpoint>,
    /// Trading partners' X12 envelopes, which routes name in `writer_options.partner`.
    #[serde(default)]
    pub(super) partners: BTreeMap<String, format::Options>,
    #[serde(default)]
    pub(super) routes: Vec<RawRoute>,
    /// Alert channels (`[alerts.NAME]`).
    #[serde(default)]
    pub(super) alerts: BTreeMap<String, RawAlert>,
}

#[derive(Deserialize, Default)]
pub(super) struct RawAgent {
    pub(super) state_dir: Option<String>,
    pub(super) archive_dir: Option<String>,
    pub(super) errors_dir: Option<String>,
    pub(super) poll_interval: Option<String>,
    pub(super) stable_for: Option<String>,
    pub(super) max_attempts: Option<u32>,
    pub(super) retry_initial: Option<String>,
    pub(super) retry_max: Option<String>,
    pub(super) order_id_prefix: Option<String>,
    pub(super) alert_retrying_after: Option<String>,
    pub(super) metrics: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawAlert {
    pub(super) kind: Option<String>,
    pub(super) events: Option<Vec<String>>,
    pub(super) routes: Option<Vec<String>>,
    pub(super) digest_window: Option<String>,
    pub(super) max_per_hour: Option<u32>,
    pub(super) timeout: Option<String>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<Vec<String>>,
    pub(super) url: Option<String>,
    pub(super) format: Option<String>,
    pub(super) command: Option<Vec<String>>,
}

impl RawAlert {
    /// The keys that belong to one kind of channel: the kind, and whether each is set.
    pub(super) fn kind_keys(&self) -> [(&'static str, &'static str, bool); 11] {
        [
            ("email", "host", self.host.is_some()),
            ("email", "port", self.port.is_some()),
            ("email", "tls", self.tls.is_some()),
            ("email", "user", self.user.is_some()),
            ("email", "password_env", self.password_env.is_some()),
            ("email", "password_file", self.password_file.is_some()),
            ("email", "from", self.from.is_some()),
            ("email", "to", self.to.is_some()),
            ("webhook", "url", self.url.is_some()),
            ("webhook", "format", self.format.is_some()),
            ("command", "command", self.command.is_some()),
        ]
    }
}

#[derive(Deserialize)]
pub(super) struct RawEndpoint {
    pub(super) kind: Option<String>,
    pub(super) root: Option<String>,
    pub(super) create_dirs: Option<bool>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    pub(super) private_key: Option<String>,
    pub(super) passphrase_env: Option<String>,
    pub(super) passphrase_file: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) agent: Option<bool>,
    pub(super) known_hosts: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) connections: Option<usize>,
}

impl RawEndpoint {
    /// The keys that only SFTP endpoints take, with whether each is set.
    pub(super) fn sftp_keys(&self) -> [(&'static str, bool); 12] {
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
            ("connections", self.connections.is_some()),
        ]
    }
}

#[derive(Deserialize)]
pub(super) struct RawRoute {
    pub(super) name: Option<String>,
    pub(super) from: Option<RawSource>,
    pub(super) reader: Option<String>,
    pub(super) reader_options: Option<format::Options>,
    pub(super) writer: Option<String>,
    pub(super) writer_options: Option<format::Options>,
    pub(super) on_invalid: Option<String>,
    pub(super) shipping_methods: Option<format::shared::shipping::ShippingMethods>,
    pub(super) to: Option<RawDestination>,
    pub(super) acknowledge: Option<RawAcknowledge>,
    pub(super) status_updates: Option<RawStatusUpdates>,
    pub(super) reconcile: Option<RawReconcile>,
    pub(super) also: Option<Vec<RawAlso>>,
    pub(super) archive: Option<String>,
    pub(super) archive_retention: Option<String>,
    pub(super) errors: Option<String>,
    pub(super) dedupe: Option<bool>,
    pub(super) on_repeat: Option<String>,
    pub(super) shipment_due: Option<String>,
    pub(super) max_attempts: Option<u32>,
    pub(super) workers: Option<usize>,
    pub(super) priority: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct RawSource {
    pub(super) endpoint: Option<String>,
    pub(super) dir: Option<String>,
    pub(super) pattern: Option<String>,
    pub(super) done_marker: Option<String>,
    pub(super) stable_for: Option<String>,
    pub(super) remote_archive: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawAlso {
    pub(super) writer: Option<String>,
    pub(super) writer_options: Option<format::Options>,
    pub(super) folder: Option<String>,
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawReconcile {
    pub(super) cart_export: Option<String>,
    pub(super) pattern: Option<String>,
    pub(super) reader: Option<String>,
    pub(super) reader_options: Option<format::Options>,
    pub(super) report_folder: Option<String>,
    pub(super) min_units: Option<i64>,
    pub(super) min_percent: Option<f64>,
}

#[derive(Deserialize)]
pub(super) struct RawStatusUpdates {
    pub(super) format: Option<String>,
    pub(super) options: Option<format::Options>,
    pub(super) folder: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawAcknowledge {
    pub(super) partner: Option<String>,
    pub(super) folder: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawDestination {
    pub(super) endpoint: Option<String>,
    pub(super) dir: Option<String>,
    pub(super) name: Option<String>,
    pub(super) on_conflict: Option<String>,
}

/// Collects problems while a raw config is turned into a [`Config`].
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub(super) fn duration(
        &mut self,
        key: &str,
        text: Option<&str>,
        default: Duration,
    ) -> Duration {
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
    pub(super) fn required(&mut self, key: &str, value: Option<&String>) -> String {
        match value {
            Some(v) if !v.trim().is_empty() => v.clone(),
            _ => {
                self.push(key, "is required");
                String::new()
            }
        }
    }
}

/// The keys a table of the config takes, for "did you mean" on a misspelt one: `table` is the
/// misspelt key's table as the problem names it (`routes[0].from`, `routes[0]`, `agent`).
pub(super) fn keys_of(table: &str) -> &'static [&'static str] {
    // An array's element is its array's table: `routes[0]` takes the keys of a route.
    let table = table
        .trim_end_matches(|c: char| c == ']' || c.is_ascii_digit())
        .trim_end_matches('[');
    let last = table.rsplit('.').next().unwrap_or("");
    match (table, last) {
        ("", _) => fields_of::<RawConfig>(),
        ("agent", _) => fields_of::<RawAgent>(),
        (t, _) if t.starts_with("alerts.") && !t["alerts.".len()..].contains('.') => {
            fields_of::<RawAlert>()
        }
        (t, _) if t.starts_with("endpoints.") && !t["endpoints.".len()..].contains('.') => {
            fields_of::<RawEndpoint>()
        }
        (t, "routes") if !t.contains('.') => fields_of::<RawRoute>(),
        (_, "from") => fields_of::<RawSource>(),
        (_, "to") => fields_of::<RawDestination>(),
        (_, "also") => fields_of::<RawAlso>(),
        (_, "reconcile") => fields_of::<RawReconcile>(),
        (_, "status_updates") => fields_of::<RawStatusUpdates>(),
        (_, "acknowledge") => fields_of::<RawAcknowledge>(),
        _ => &[],
    }
}

/// The field names serde's derive gives a struct: asked of the struct itself, so the list
/// cannot drift from the struct.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only records the fields a struct asks for.
    struct Fields(&'static [&'static str]);
    /// Stops the struct's deserialization once its fields are known.
    #[derive(Debug)]
    struct Known;
    impl std::fmt::Display for Known {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields recorded")
        }
    }
    impl std::error::Error for Known {}
    impl serde::de::Error for Known {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Known
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Known;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Known> {
            Err(Known)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Known> {
            self.0 = fields;
            Err(Known)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut recorder = Fields(&[]);
    let _ = T::deserialize(&mut recorder);
    recorder.0
}
