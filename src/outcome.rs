//! How a file's journey ended (for now), and the one line the log says of it.

use std::time::Duration;

use tracing::{info, warn};

/// The file events keep the target they have always had, so log filters on it keep working.
const LOG_TARGET: &str = "cartferry::journey";

/// How one file's journey ended (for now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered and archived.
    Delivered {
        /// The delivered name.
        output_name: String,
        /// Bytes delivered.
        bytes: u64,
        /// Where the documents left out went, when the route split the file.
        rejected_part: Option<String>,
    },
    /// Same content as an earlier delivery; archived only.
    Duplicate,
    /// Every document was delivered before (in other files) and left out; archived only.
    AlreadySent {
        /// Documents left out.
        left_out: u64,
        /// Where the documents refused went, when the route split the file.
        rejected_part: Option<String>,
    },
    /// Moved to the error folder.
    Failed {
        /// One-line reason, without customer data.
        reason: String,
    },
    /// A transient fault; the file waits in the processing area for its next attempt.
    RetryLater {
        /// The fault, one line.
        reason: String,
    },
    /// Someone else took the file before it could be claimed.
    Vanished,
    /// What the file says was recorded; nothing to deliver.
    Recorded {
        /// Records made (for each group in a file of partners' replies, one).
        records: u64,
    },
}

impl Outcome {
    /// The outcome's name in logs and metrics (`delivered`, `failed` …).
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Duplicate => "duplicate",
            Outcome::AlreadySent { .. } => "already_sent",
            Outcome::Failed { .. } => "failed",
            Outcome::RetryLater { .. } => "retry_later",
            Outcome::Vanished => "vanished",
            Outcome::Recorded { .. } => "recorded",
        }
    }

    /// Logs one line for people with the file's `outcome`: at info level when all is well, at
    /// warn when a file or part of one went to the error folder or waits for a retry.
    pub fn log(&self, route: &str, file: &str, took: Duration) {
        let duration_ms = took.as_millis() as u64;
        let label = self.label();
        match self {
            Outcome::Delivered {
                output_name,
                bytes,
                rejected_part: None,
            } => info!(
                target: LOG_TARGET,
                route,
                file,
                bytes,
                duration_ms,
                outcome = label,
                to = output_name.as_str(),
                "file delivered"
            ),
            Outcome::Delivered {
                output_name,
                bytes,
                rejected_part: Some(rejected),
            } => warn!(
                target: LOG_TARGET,
                route,
                file,
                bytes,
                duration_ms,
                outcome = label,
                to = output_name.as_str(),
                rejected = rejected.as_str(),
                "file delivered without the documents that have problems; those went to the error folder"
            ),
            Outcome::Failed { reason } => warn!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                reason = reason.as_str(),
                "file moved to the error folder"
            ),
            Outcome::RetryLater { reason } => warn!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                reason = reason.as_str(),
                "transient fault; will retry"
            ),
            Outcome::Duplicate => info!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                "same content already delivered on this route; archived without delivery"
            ),
            Outcome::AlreadySent {
                left_out,
                rejected_part: None,
            } => info!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                left_out,
                "every document in the file was delivered before; archived without delivery"
            ),
            Outcome::AlreadySent {
                left_out,
                rejected_part: Some(rejected),
            } => warn!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                left_out,
                rejected = rejected.as_str(),
                "nothing new to deliver: the file's other documents were delivered before, and those with problems went to the error folder"
            ),
            Outcome::Vanished => info!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                "file disappeared before it could be claimed"
            ),
            Outcome::Recorded { records } => info!(
                target: LOG_TARGET,
                route,
                file,
                duration_ms,
                outcome = label,
                records,
                "file recorded; nothing to deliver"
            ),
        }
    }
}
