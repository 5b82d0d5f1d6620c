//! Webhooks: an HTTP(S) POST of the message as JSON, cartferry's own body or the `{"text": …}`
//! that Slack's and Teams' incoming webhooks take (ureq).

use std::time::Duration;

use super::{Message, Transport};

/// A webhook channel.
pub(super) struct Webhook {
    url: String,
    slack: bool,
    agent: ureq::Agent,
}

impl Webhook {
    /// Posts to `url`, each request within `timeout`.
    pub(super) fn new(url: String, slack: bool, timeout: Duration) -> Webhook {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Webhook { url, slack, agent }
    }
}

/// What of an error answer's body is quoted, at most.
const QUOTED: usize = 200;

impl Transport for Webhook {
    fn send(&self, message: &Message) -> Result<String, String> {
        let body = if self.slack {
            serde_json::json!({ "text": message.text() })
        } else {
            message.json()
        };
        let mut answer = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &message.id)
            .send(body.to_string())
            .map_err(|e| format!("could not post to the webhook: {e}"))?;
        let status = answer.status();
        let text = answer
            .body_mut()
            .read_to_string()
            .unwrap_or_default()
            .chars()
            .take(QUOTED)
            .collect::<String>();
        if status.is_success() {
            Ok(format!("HTTP {status}"))
        } else {
            Err(format!(
                "the webhook answered HTTP {status}: {}",
                text.trim()
            ))
        }
    }
}
