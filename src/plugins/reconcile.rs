//! Inventory reconciliation: a route carrying the warehouse's inventory to the cart compares it
//! with the cart's own stock export (the newest file in a local folder) and writes a discrepancy
//! report: `sku,cart_quantity,warehouse_quantity,difference,note`, in SKU order, for SKUs whose
//! quantities differ beyond the route's threshold and SKUs known to one side only.
//!
//! Both sides go into a private temporary SQLite database on disk (quantities summed per SKU
//! over locations) and come out of it joined in SKU order, so a million SKUs take the same
//! memory as ten: SQLite's page cache, capped here.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use tracing::{info, warn};

use super::{Ended, FileAt, Plugin, PluginError, SideOutput, Work, io_at, side_files};
use crate::config::{ReconcileConfig, RouteConfig};
use crate::format::{self, Item, ReaderFormat, Transform, WriteContext};
use crate::ledger::Reconciled;
use crate::model::Document;

/// How a reconciliation went.
#[derive(Debug)]
enum Compared {
    /// Compared; the report is staged.
    Done {
        /// What it found.
        found: Reconciled,
        /// Rows of the cart's export that could not be read and were left out.
        skipped_rows: u64,
    },
    /// The cart's folder holds no export.
    NoExport,
    /// The cart's newest export cannot be read at all.
    Unreadable {
        /// Its name.
        export: String,
        /// Why, with its position.
        problem: String,
    },
}

/// SQLite's page cache for one reconciliation, in KiB.
const CACHE_KIB: i64 = 16 * 1024;

/// A route's reconciliation settings, with the cart export's reader ready.
pub struct Reconciliation {
    export_dir: PathBuf,
    matcher: globset::GlobMatcher,
    reader: Box<dyn ReaderFormat>,
    report_folder: PathBuf,
    min_units: i64,
    min_percent: f64,
}

impl Reconciliation {
    /// A route's `reconcile`, checked.
    pub fn new(config: &ReconcileConfig) -> Result<Reconciliation, String> {
        let reader = format::reader(&config.reader, &config.reader_options)
            .map_err(|problems| format::describe_problems(problems, "reconcile."))?;
        let matcher = globset::Glob::new(&config.pattern)
            .map_err(|e| format!("reconcile.pattern: {e}"))?
            .compile_matcher();
        Ok(Reconciliation {
            export_dir: config.cart_export.clone(),
            matcher,
            reader,
            report_folder: config.report_folder.clone(),
            min_units: config.min_units,
            min_percent: config.min_percent,
        })
    }

    /// Closes the warehouse's side, compares it with the cart's newest export and stages the
    /// report at `report`.
    fn finish(
        &self,
        mut warehouse: WarehouseStock,
        report: &Path,
    ) -> Result<Compared, PluginError> {
        warehouse
            .close()
            .map_err(|e| io_at(report)(io::Error::other(e)))?;
        self.reconcile(warehouse, report)
    }

    /// The newest file of the cart's export folder matching the pattern, if any.
    fn newest_export(&self) -> io::Result<Option<PathBuf>> {
        let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
        for entry in std::fs::read_dir(&self.export_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !self.matcher.is_match(&name) || crate::naming::is_hidden_or_temporary(&name) {
                continue;
            }
            let modified = entry.metadata()?.modified()?;
            if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                newest = Some((modified, entry.path()));
            }
        }
        Ok(newest.map(|(_, path)| path))
    }

    /// Compares `warehouse` with the cart's newest export and writes the report to `report`.
    fn reconcile(
        &self,
        mut warehouse: WarehouseStock,
        report: &Path,
    ) -> Result<Compared, PluginError> {
        let Some(export) = self.newest_export().map_err(io_at(&self.export_dir))? else {
            return Ok(Compared::NoExport);
        };
        let export_name = export
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut skipped_rows = 0;
        let file = File::open(&export).map_err(io_at(&export))?;
        let db = &mut warehouse.db;
        let sql = |e: rusqlite::Error| io_at(report)(io::Error::other(e));
        let tx = db.transaction().map_err(sql)?;
        {
            let mut add = tx.prepare(UPSERT_CART).map_err(sql)?;
            for item in self.reader.read(Box::new(BufReader::new(file))) {
                match item {
                    Ok(Item::Document(Document::InventoryRecord(r), _)) => {
                        add.execute(params![r.sku, r.on_hand]).map_err(sql)?;
                    }
                    Ok(Item::Rejected(..)) => skipped_rows += 1,
                    Ok(_) => {}
                    Err(format::FormatError::Io(e)) => return Err(io_at(&export)(e)),
                    Err(format::FormatError::Data(p)) => {
                        return Ok(Compared::Unreadable {
                            export: export_name,
                            problem: p.to_string(),
                        });
                    }
                }
            }
        }
        tx.commit().map_err(sql)?;
        let mut found = Reconciled {
            cart_export: export_name,
            ..Reconciled::default()
        };
        let out = File::create(report).map_err(io_at(report))?;
        let mut csv = csv::Writer::from_writer(BufWriter::new(out));
        let write = |e: csv::Error| io_at(report)(io::Error::other(e));
        csv.write_record([
            "sku",
            "cart_quantity",
            "warehouse_quantity",
            "difference",
            "note",
        ])
        .map_err(write)?;
        let mut stmt = db
            .prepare(
                "SELECT k.sku, c.qty, w.qty FROM (SELECT sku FROM w UNION SELECT sku FROM c) k
                 LEFT JOIN c ON c.sku = k.sku LEFT JOIN w ON w.sku = k.sku",
            )
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let sku: String = row.get(0).map_err(sql)?;
            let cart: Option<i64> = row.get(1).map_err(sql)?;
            let stock: Option<i64> = row.get(2).map_err(sql)?;
            found.compared += 1;
            let (note, counted) = match (cart, stock) {
                (Some(_), None) => ("only in the cart's export", &mut found.cart_only),
                (None, Some(_)) => (
                    "only in the warehouse's inventory",
                    &mut found.warehouse_only,
                ),
                (Some(c), Some(w)) if self.reported(c, w) => ("", &mut found.differences),
                _ => continue,
            };
            *counted += 1;
            let show = |q: Option<i64>| q.map(|q| q.to_string()).unwrap_or_default();
            let difference = match (cart, stock) {
                (Some(c), Some(w)) => (w - c).to_string(),
                _ => String::new(),
            };
            csv.write_record([&sku, &show(cart), &show(stock), &difference, note])
                .map_err(write)?;
        }
        let mut out = csv
            .into_inner()
            .map_err(|e| io_at(report)(e.into_error()))?;
        out.flush().map_err(io_at(report))?;
        out.get_ref().sync_all().map_err(io_at(report))?;
        crate::fsutil::flushed(out.get_ref());
        Ok(Compared::Done {
            found,
            skipped_rows,
        })
    }

    /// Whether quantities `cart` and `warehouse` differ enough to report: by at least
    /// `min_units` and at least `min_percent` of the cart's quantity.
    fn reported(&self, cart: i64, warehouse: i64) -> bool {
        let difference = (warehouse - cart).abs();
        difference > 0
            && difference >= self.min_units
            && difference as f64 * 100.0 >= self.min_percent * cart.abs() as f64
    }
}

/// The suffix of a file's staged discrepancy report.
const STAGED: &str = "discrepancies";

/// The route's reconciliation, when it reconciles.
pub fn build(route: &RouteConfig, _: &Transform) -> Result<Vec<Box<dyn Plugin>>, String> {
    match &route.reconcile {
        Some(config) => Ok(vec![Box::new(Reconciliation::new(config)?)]),
        None => Ok(Vec::new()),
    }
}

impl Plugin for Reconciliation {
    fn begin<'a>(
        &'a self,
        file: &FileAt<'a>,
        _: &WriteContext,
    ) -> Result<Option<Box<dyn Work + 'a>>, PluginError> {
        let stock = WarehouseStock::new().map_err(|e| {
            io_at(&file.staged(STAGED))(io::Error::other(format!(
                "could not start the inventory reconciliation: {e}"
            )))
        })?;
        Ok(Some(Box::new(Gathering {
            reconciliation: self,
            stock,
        })))
    }

    fn side_outputs(&self, file: &FileAt<'_>) -> Vec<SideOutput> {
        vec![SideOutput {
            kind: "discrepancies".into(),
            staged: file.staged(STAGED),
            folder: self.report_folder.clone(),
            name: format!("{}.discrepancies.csv", side_files::stem(file.name())),
        }]
    }
}

/// A file's inventory being gathered for its reconciliation.
struct Gathering<'r> {
    reconciliation: &'r Reconciliation,
    stock: WarehouseStock,
}

impl Work for Gathering<'_> {
    fn written(&mut self, document: &Document) -> io::Result<()> {
        if let Document::InventoryRecord(r) = document {
            self.stock
                .add(&r.sku, r.on_hand)
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Compares the inventory the file delivers with the cart's stock export, staging the
    /// discrepancy report and recording what it found.
    fn finish(self: Box<Self>, file: &FileAt<'_>, ended: &Ended<'_>) -> Result<(), PluginError> {
        if !matches!(ended, Ended::Converted { .. }) {
            return Ok(());
        }
        let (route, name) = (file.route, file.name());
        match self
            .reconciliation
            .finish(self.stock, &file.staged(STAGED))?
        {
            Compared::Done {
                found,
                skipped_rows,
            } => {
                file.ledger.reconciled(file.row.id, (route, name), &found)?;
                info!(
                    route,
                    file = name,
                    compared = found.compared,
                    differences = found.differences,
                    cart_only = found.cart_only,
                    warehouse_only = found.warehouse_only,
                    "inventory reconciled: {found}"
                );
                if skipped_rows > 0 {
                    warn!(
                        route,
                        file = name,
                        export = found.cart_export.as_str(),
                        skipped_rows,
                        "rows of the cart's stock export could not be read and were left out of the reconciliation"
                    );
                }
            }
            Compared::NoExport => warn!(
                route,
                file = name,
                "no stock export from the cart to reconcile with; the inventory goes on unreconciled"
            ),
            Compared::Unreadable { export, problem } => warn!(
                route,
                file = name,
                export = export.as_str(),
                problem = problem.as_str(),
                "the cart's stock export cannot be read; the inventory goes on unreconciled"
            ),
        }
        Ok(())
    }
}

const UPSERT_CART: &str = "INSERT INTO c (sku, qty) VALUES (?1, ?2)
     ON CONFLICT (sku) DO UPDATE SET qty = qty + excluded.qty";

/// The warehouse's side, gathered from the inventory records a conversion writes.
struct WarehouseStock {
    db: Connection,
    in_transaction: bool,
}

impl WarehouseStock {
    /// An empty side, in a private temporary database.
    fn new() -> rusqlite::Result<WarehouseStock> {
        let db = Connection::open("")?;
        db.pragma_update(None, "cache_size", -CACHE_KIB)?;
        db.pragma_update(None, "journal_mode", "OFF")?;
        db.pragma_update(None, "synchronous", "OFF")?;
        db.execute_batch(
            "CREATE TABLE w (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE c (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL) WITHOUT ROWID;
             BEGIN;",
        )?;
        Ok(WarehouseStock {
            db,
            in_transaction: true,
        })
    }

    fn add(&mut self, sku: &str, quantity: i64) -> rusqlite::Result<()> {
        self.db
            .prepare_cached(
                "INSERT INTO w (sku, qty) VALUES (?1, ?2)
                 ON CONFLICT (sku) DO UPDATE SET qty = qty + excluded.qty",
            )?
            .execute(params![sku, quantity])?;
        Ok(())
    }

    /// Ends gathering (commits what was gathered).
    fn close(&mut self) -> rusqlite::Result<()> {
        if std::mem::take(&mut self.in_transaction) {
            self.db.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}
