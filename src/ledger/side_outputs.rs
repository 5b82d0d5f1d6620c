//! What the ledger keeps of a file's side outputs (the names they are written under, and whether
//! they are) and of inventory reconciliations.

use rusqlite::{OptionalExtension, params};

use super::{Ledger, Result, now_ms};

/// What reconciling a warehouse's inventory with the cart's stock export found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The cart's export it was compared with.
    pub cart_export: String,
    /// SKUs on either side.
    pub compared: u64,
    /// SKUs on both sides whose quantities differ beyond the threshold.
    pub differences: u64,
    /// SKUs only in the cart's export.
    pub cart_only: u64,
    /// SKUs only in the warehouse's inventory.
    pub warehouse_only: u64,
}

impl std::fmt::Display for Reconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} SKUs compared with {}: {} differ, {} only in the cart, {} only at the warehouse",
            self.compared, self.cart_export, self.differences, self.cart_only, self.warehouse_only
        )
    }
}

impl Ledger {
    /// The side file `kind` (`status`, `discrepancies`) of file `file_id`: its path, and whether
    /// it is written.
    pub fn side_file(&self, file_id: i64, kind: &str) -> Result<Option<(String, bool)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT path, done FROM side_files WHERE file_id = ?1 AND kind = ?2",
                params![file_id, kind],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records the path of file `file_id`'s side file `kind`, before it is written.
    pub fn writing_side_file(&self, file_id: i64, kind: &str, path: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO side_files (file_id, kind, path, done) VALUES (?1, ?2, ?3, 0)",
            params![file_id, kind, path],
        )?;
        Ok(())
    }

    /// File `file_id`'s side file `kind` is written (or there was nothing to write).
    pub fn wrote_side_file(&self, file_id: i64, kind: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE side_files SET done = 1 WHERE file_id = ?1 AND kind = ?2",
            params![file_id, kind],
        )?;
        Ok(())
    }

    /// Records what reconciling file `file_id` (named `file`) of `route` found; differences are
    /// an alert, in the caller's transaction.
    pub fn reconciled(
        &self,
        file_id: i64,
        (route, file): (&str, &str),
        found: &Reconciled,
    ) -> Result<()> {
        if found.differences + found.cart_only + found.warehouse_only > 0 {
            self.alert_once(
                &format!("reconciliation:{file_id}"),
                &crate::alerts::Event::Reconciliation {
                    route: route.to_string(),
                    file: file.to_string(),
                    found: found.to_string(),
                },
            )?;
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO reconciliations
             (file_id, route, at, cart_export, compared, differences, cart_only, warehouse_only)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                file_id,
                route,
                now_ms(),
                found.cart_export,
                found.compared as i64,
                found.differences as i64,
                found.cart_only as i64,
                found.warehouse_only as i64
            ],
        )?;
        Ok(())
    }

    /// What the latest delivered file of `route` found when reconciled, and when.
    pub fn last_reconciliation(&self, route: &str) -> Result<Option<(i64, Reconciled)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT r.at, r.cart_export, r.compared, r.differences, r.cart_only, r.warehouse_only
                 FROM reconciliations r JOIN files f ON f.id = r.file_id
                 WHERE r.route = ?1 AND f.state IN ('delivered', 'done')
                 ORDER BY r.file_id DESC LIMIT 1",
                [route],
                |r| {
                    Ok((
                        r.get(0)?,
                        Reconciled {
                            cart_export: r.get(1)?,
                            compared: r.get::<_, i64>(2)? as u64,
                            differences: r.get::<_, i64>(3)? as u64,
                            cart_only: r.get::<_, i64>(4)? as u64,
                            warehouse_only: r.get::<_, i64>(5)? as u64,
                        },
                    ))
                },
            )
            .optional()?)
    }
}
