//! What the ledger keeps of paused endpoints: after a server refused cartferry, every process
//! working with this ledger waits the pause out, not only the one that was refused.

use rusqlite::{OptionalExtension, params};

use super::{Ledger, Result};
use crate::alerts::Event;

/// An endpoint's pause, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// When the pause ends (ms since the Unix epoch).
    pub until_ms: i64,
    /// Refusals in a row so far.
    pub refusals: u32,
    /// The last refusal, for people.
    pub message: String,
}

impl Ledger {
    /// Records that `server` is paused as `pause` says; the first refusal of a series is an
    /// alert, in the same transaction.
    pub fn pause_endpoint(&self, server: &str, pause: &Pause) -> Result<()> {
        self.atomically(|| {
            if self.endpoint_pause(server)?.is_none() {
                self.alert(&Event::EndpointRefused {
                    endpoint: server.to_string(),
                    message: pause.message.clone(),
                })?;
            }
            self.conn.execute(
                "INSERT INTO endpoint_pauses (server, until, refusals, message) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (server) DO UPDATE SET until = ?2, refusals = ?3, message = ?4",
                params![server, pause.until_ms, pause.refusals, pause.message],
            )?;
            Ok(())
        })
    }

    /// The pause of `server`, if one was recorded (it may have ended).
    pub fn endpoint_pause(&self, server: &str) -> Result<Option<Pause>> {
        Ok(self
            .conn
            .query_row(
                "SELECT until, refusals, message FROM endpoint_pauses WHERE server = ?1",
                [server],
                |r| {
                    Ok(Pause {
                        until_ms: r.get(0)?,
                        refusals: r.get(1)?,
                        message: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Forgets the pause of `server` (it logged in again).
    pub fn unpause_endpoint(&self, server: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM endpoint_pauses WHERE server = ?1", [server])?;
        Ok(())
    }
}
