//! What the ledger keeps for X12: each partner's control numbers, the groups and sets sent, and
//! what partners' 997s said of them.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::{Ledger, LedgerError, Result, now_ms};

/// Largest X12 interchange or group control number (nine digits); the next after it is 1.
pub const MAX_CONTROL_NUMBER: u64 = 999_999_999;

/// A functional group cartferry sent, as the ledger recorded it when its file was staged.
#[derive(Debug, Clone)]
pub struct SentGroup {
    /// The route that sent it.
    pub route: String,
    /// The source file its documents came from.
    pub source_name: String,
    /// The name it was delivered under.
    pub output_name: Option<String>,
    /// GS01.
    pub functional_id: String,
    /// Transaction sets in it.
    pub sets: u64,
}

/// A sent group still without its 997 after the time its partner was given.
#[derive(Debug, Clone)]
pub struct LateGroup {
    /// The partner's control-number key (`x12:ZZ:US:ZZ:THEM`).
    pub partner: String,
    /// GS06.
    pub group: u64,
    /// What it was.
    pub sent: SentGroup,
    /// When its file was delivered (ms since epoch).
    pub sent_at_ms: i64,
    /// When its 997 was due (ms since epoch).
    pub due_at_ms: i64,
}

/// One transaction set of a group being recorded as sent.
#[derive(Debug, Clone)]
pub struct SentSet<'a> {
    /// The partner's control-number key.
    pub partner: &'a str,
    /// GS06.
    pub group: u64,
    /// GS01.
    pub functional_id: &'a str,
    /// ST01.
    pub set_id: &'a str,
    /// ST02.
    pub control: &'a str,
    /// The document it carries (order id …), when known.
    pub reference: Option<&'a str>,
}

/// The record of a staged file's sent groups, in one transaction: replaces what an earlier
/// staging of the same file recorded, and counts for nothing until [`SentLog::commit`].
pub struct SentLog<'l> {
    tx: rusqlite::Transaction<'l>,
    file_id: i64,
    due_ms: Option<i64>,
    /// The group of the last set recorded.
    group: Option<(String, u64)>,
}

impl SentLog<'_> {
    /// Records one set (and its group, the first time).
    pub fn set(&mut self, set: &SentSet<'_>) -> Result<()> {
        if self
            .group
            .as_ref()
            .is_none_or(|(p, g)| p != set.partner || *g != set.group)
        {
            // A group number seen again (after nine digits wrapped) is a new group.
            self.tx.execute(
                "DELETE FROM sent_sets WHERE partner = ?1 AND grp = ?2",
                params![set.partner, set.group as i64],
            )?;
            self.tx.execute(
                "INSERT OR REPLACE INTO sent_groups (partner, grp, file_id, functional_id, due_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    set.partner,
                    set.group as i64,
                    self.file_id,
                    set.functional_id,
                    self.due_ms
                ],
            )?;
            self.group = Some((set.partner.to_string(), set.group));
        }
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO sent_sets (partner, grp, control, set_id, reference)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                set.partner,
                set.group as i64,
                set.control,
                set.set_id,
                set.reference
            ])?;
        Ok(())
    }

    /// Counts each group's sets and commits the record.
    pub fn commit(self) -> Result<()> {
        self.tx.execute(
            "UPDATE sent_groups SET sets = (SELECT COUNT(*) FROM sent_sets s
             WHERE s.partner = sent_groups.partner AND s.grp = sent_groups.grp)
             WHERE file_id = ?1",
            [self.file_id],
        )?;
        Ok(self.tx.commit()?)
    }
}

impl Ledger {
    /// Reserves the next interchange and group control numbers of the sequence `key` (one per
    /// trading partner). The reservation is committed with a full flush before it is returned,
    /// so a number handed out is never handed out again, even after a power cut; numbers of a
    /// file that is then made again are skipped, not reused.
    pub fn reserve_control_numbers(&self, key: &str) -> Result<(u64, u64)> {
        self.durably(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO control_numbers (key, interchange, grp) VALUES (?1, 0, 0)",
                [key],
            )?;
            tx.execute(
                "UPDATE control_numbers SET interchange = interchange % ?2 + 1, grp = grp % ?2 + 1
                 WHERE key = ?1",
                rusqlite::params![key, MAX_CONTROL_NUMBER as i64],
            )?;
            let numbers: (i64, i64) = tx.query_row(
                "SELECT interchange, grp FROM control_numbers WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((numbers.0 as u64, numbers.1 as u64))
        })
    }

    /// Starts recording the groups of file `file_id`'s staged output, forgetting any recorded
    /// for an earlier staging; `due` is how long the partner may take to acknowledge them.
    pub fn record_sent(&self, file_id: i64, due: Option<Duration>) -> Result<SentLog<'_>> {
        let tx = self.write_transaction()?;
        tx.execute(
            "DELETE FROM sent_sets WHERE EXISTS (SELECT 1 FROM sent_groups g
             WHERE g.file_id = ?1 AND g.partner = sent_sets.partner AND g.grp = sent_sets.grp)",
            [file_id],
        )?;
        tx.execute("DELETE FROM sent_groups WHERE file_id = ?1", [file_id])?;
        Ok(SentLog {
            tx,
            file_id,
            due_ms: due.map(|d| d.as_millis() as i64),
            group: None,
        })
    }

    /// The group `group` staged for `partner`. Its delivery may not be recorded yet: a partner
    /// can read a file and answer before the delivery's record is committed.
    pub fn sent_group(&self, partner: &str, group: u64) -> Result<Option<SentGroup>> {
        Ok(self
            .conn
            .query_row(
                "SELECT f.route, f.name, f.output_name, g.functional_id, g.sets
                 FROM sent_groups g JOIN files f ON f.id = g.file_id
                 WHERE g.partner = ?1 AND g.grp = ?2",
                params![partner, group as i64],
                |r| {
                    Ok(SentGroup {
                        route: r.get(0)?,
                        source_name: r.get(1)?,
                        output_name: r.get(2)?,
                        functional_id: r.get(3)?,
                        sets: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// The set type (ST01) and reference of set `control` of the group `group` sent to
    /// `partner`, if that group has such a set.
    pub fn sent_set(
        &self,
        partner: &str,
        group: u64,
        control: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT set_id, reference FROM sent_sets
                 WHERE partner = ?1 AND grp = ?2 AND control = ?3",
            )?
            .query_row(params![partner, group as i64, control], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Records what a 997 (file `ack_file`) says of a sent group: AK9-01 `status`. A group
    /// rejected in whole or in part (R, P) is an alert, in the caller's transaction.
    pub fn acknowledge_group(
        &self,
        partner: &str,
        group: u64,
        status: &str,
        ack_file: &str,
    ) -> Result<()> {
        let route: Option<String> = self
            .conn
            .prepare_cached(
                "UPDATE sent_groups SET ack_status = ?3, acknowledged_at = ?4, ack_file = ?5
                 WHERE partner = ?1 AND grp = ?2
                 RETURNING (SELECT route FROM files WHERE id = sent_groups.file_id)",
            )?
            .query_row(
                params![partner, group as i64, status, now_ms(), ack_file],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let (Some(route), "R" | "P") = (route, status) {
            self.alert_once(
                &format!("ack_rejected:{partner}:{group}:{ack_file}"),
                &crate::alerts::Event::AckRejected {
                    route,
                    partner: partner.to_string(),
                    group,
                    status: status.to_string(),
                    ack_file: ack_file.to_string(),
                },
            )?;
        }
        Ok(())
    }

    /// Records what a 997 says of one sent set (AK5-01 `status` and its `codes`); returns the
    /// set's ST01 and the reference of the document it carried, or `None` when the group sent
    /// no such set.
    pub fn acknowledge_set(
        &self,
        partner: &str,
        group: u64,
        control: &str,
        status: &str,
        codes: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE sent_sets SET ack_status = ?4, ack_codes = ?5
                 WHERE partner = ?1 AND grp = ?2 AND control = ?3
                 RETURNING set_id, reference",
            )?
            .query_row(
                params![partner, group as i64, control, status, codes],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Delivered groups without their 997 yet, due or not.
    pub fn unacknowledged_groups(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM sent_groups g JOIN files f ON f.id = g.file_id
             WHERE g.ack_status IS NULL AND f.state IN ('delivered', 'done')",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Delivered groups whose 997 has not come although it was due before `now_ms`, oldest first.
    pub fn late_groups(&self, now_ms: i64) -> Result<Vec<LateGroup>> {
        let mut stmt = self.conn.prepare(
            "SELECT g.partner, g.grp, f.route, f.name, f.output_name, g.functional_id, g.sets,
                    COALESCE(f.finished_at, f.claimed_at) AS sent_at, g.due_ms
             FROM sent_groups g JOIN files f ON f.id = g.file_id
             WHERE g.ack_status IS NULL AND g.due_ms IS NOT NULL
               AND f.state IN ('delivered', 'done')
               AND COALESCE(f.finished_at, f.claimed_at) + g.due_ms <= ?1
             ORDER BY sent_at, g.grp",
        )?;
        let rows = stmt.query_map([now_ms], |r| {
            let sent_at_ms: i64 = r.get(7)?;
            Ok(LateGroup {
                partner: r.get(0)?,
                group: r.get::<_, i64>(1)? as u64,
                sent: SentGroup {
                    route: r.get(2)?,
                    source_name: r.get(3)?,
                    output_name: r.get(4)?,
                    functional_id: r.get(5)?,
                    sets: r.get::<_, i64>(6)? as u64,
                },
                sent_at_ms,
                due_at_ms: sent_at_ms + r.get::<_, i64>(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls `each` with every set of a sent group: (ST02, ST01, reference), in control-number
    /// order.
    pub fn each_set_of_group<E: From<LedgerError>>(
        &self,
        partner: &str,
        group: u64,
        mut each: impl FnMut(&str, &str, Option<String>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT control, set_id, reference FROM sent_sets WHERE partner = ?1 AND grp = ?2
                 ORDER BY LENGTH(control), control",
            )
            .map_err(LedgerError::from)?;
        let mut rows = stmt
            .query(params![partner, group as i64])
            .map_err(LedgerError::from)?;
        while let Some(row) = rows.next().map_err(LedgerError::from)? {
            let control: String = row.get(0).map_err(LedgerError::from)?;
            let set_id: String = row.get(1).map_err(LedgerError::from)?;
            each(&control, &set_id, row.get(2).map_err(LedgerError::from)?)?;
        }
        Ok(())
    }
}
