//! The order ledger's cost (issue 17); figures go to BENCHMARKS.md, and nothing here asserts a
//! duration. A Shopify export of 100,000 orders (`ORDERS`), half of them sent before, goes
//! through `cartferry once` against a ledger already holding 1,000,000 orders (`LEDGER_ORDERS`);
//! then `cartferry order ID` is timed on that ledger. With `BASELINE_BIN` naming a cartferry
//! built without the order ledger, the same export goes through it too, in the same run (a fresh
//! state folder: it knows no order ledger). `cargo bench --bench orders`; `BENCH_DIR` chooses the
//! scratch folder, and `KEEP=1` leaves it there for a look.

use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{measured, scratch};
#[path = "support/shopify.rs"]
mod shopify;
use shopify::{SHOPIFY_HEADER, shopify_orders};

use cartferry::format::Item;
use cartferry::model::Document;
use cartferry::plugins::order_ledger::fingerprint;

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");

/// Runs of `cartferry order ID` timed.
const LOOKUPS: usize = 21;

const CONFIG: &str = r#"
[agent]
state_dir = "var/state"
stable_for = "0s"
[endpoints.here]
kind = "local"
root = "."
create_dirs = true
[[routes]]
name = "orders"
from = { endpoint = "here", dir = "exports", pattern = "*.csv" }
reader = "shopify-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "here", dir = "out", name = "{stem}.csv" }
"#;

fn number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A fresh scratch folder with the config and an empty `exports/`, for one run.
fn with_config(name: &str) -> PathBuf {
    let dir = scratch(name);
    fs::create_dir_all(dir.join("exports")).unwrap();
    fs::write(dir.join("cartferry.toml"), CONFIG).unwrap();
    dir
}

fn cartferry(bin: &str, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command
        .arg("--config")
        .arg(dir.join("cartferry.toml"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Fills the ledger of `dir` (made by a first `once`) with `total` orders sent in one earlier
/// file: the first `from_export` orders of `export` as they are, the rest made up.
fn fill_ledger(dir: &Path, export: &Path, from_export: u64, total: u64) {
    let db = rusqlite::Connection::open(dir.join("var/state/ledger.sqlite3")).unwrap();
    db.execute_batch(
        "INSERT INTO files (id, route, name, size, state, claimed_at, output_name, finished_at)
         VALUES (1, 'orders', 'earlier.csv', 0, 'done', 0, 'earlier.csv', 0);",
    )
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO order_events (order_key, order_id, kind, outcome, file_id,
                 destination, content, at_ms) VALUES (?1, ?1, 'order', 'sent', 1, 'here:out', ?2, 0)",
            )
            .unwrap();
        let reader = cartferry::format::reader("shopify-orders-csv", &toml::Table::new()).unwrap();
        let file = fs::File::open(export).unwrap();
        let mut sent = 0;
        for item in reader.read(Box::new(BufReader::new(file))) {
            if sent == from_export {
                break;
            }
            if let Ok(Item::Document(Document::Order(order), _)) = item {
                insert
                    .execute(rusqlite::params![order.order_id, fingerprint(&order)])
                    .unwrap();
                sent += 1;
            }
        }
        for n in sent..total {
            insert
                .execute(rusqlite::params![format!("#9{n:09}"), "made up"])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Orders in the delivered files of `dir` (canonical orders CSV, a row per line).
fn delivered_orders(dir: &Path) -> usize {
    fs::read_dir(dir.join("out"))
        .unwrap()
        .flatten()
        .map(|f| {
            let mut ids: Vec<String> = csv::Reader::from_path(f.path())
                .unwrap()
                .records()
                .map(|r| r.unwrap()[0].to_string())
                .collect();
            ids.dedup();
            ids.len()
        })
        .sum()
}

fn main() {
    let orders = number("ORDERS", 100_000);
    let ledger_orders = number("LEDGER_ORDERS", 1_000_000);
    let generated = scratch("orders-export");
    let export = generated.join("export.csv");
    {
        let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(&export).unwrap());
        out.write_all(SHOPIFY_HEADER.as_bytes()).unwrap();
        shopify_orders(&mut out, 1, orders);
        out.flush().unwrap();
    }
    println!(
        "{orders} orders in a {:.1} MB Shopify export, {} of them sent before",
        fs::metadata(&export).unwrap().len() as f64 / 1e6,
        orders / 2
    );

    let dir = with_config("orders");
    cartferry(BIN, &dir, &["once"]).status().unwrap();
    let filling = Instant::now();
    fill_ledger(&dir, &export, orders / 2, ledger_orders);
    println!(
        "ledger filled with {ledger_orders} orders in {:.1} s ({:.0} MB)",
        filling.elapsed().as_secs_f64(),
        fs::metadata(dir.join("var/state/ledger.sqlite3"))
            .unwrap()
            .len() as f64
            / 1e6
    );
    fs::copy(&export, dir.join("exports/export.csv")).unwrap();
    let (took, rss) = measured(&mut cartferry(BIN, &dir, &["once"]));
    println!(
        "| with the order ledger | {:.2} s | {:.1} MiB | {} orders delivered |",
        took.as_secs_f64(),
        rss as f64 / 1024.0,
        delivered_orders(&dir)
    );

    if let Some(baseline) = std::env::var_os("BASELINE_BIN") {
        let baseline = baseline.to_string_lossy().into_owned();
        let base = with_config("orders-baseline");
        fs::copy(&export, base.join("exports/export.csv")).unwrap();
        let (took, rss) = measured(&mut cartferry(&baseline, &base, &["once"]));
        println!(
            "| without it ({baseline}) | {:.2} s | {:.1} MiB | {} orders delivered |",
            took.as_secs_f64(),
            rss as f64 / 1024.0,
            delivered_orders(&base)
        );
        let _ = fs::remove_dir_all(&base);
    }

    let mut lookups: Vec<Duration> = (0..LOOKUPS)
        .map(|i| {
            let id = format!("#{}", 1 + (i as u64 * 7919) % orders);
            measured(&mut cartferry(BIN, &dir, &["order", &id])).0
        })
        .collect();
    lookups.sort();
    println!(
        "`cartferry order ID` on that ledger, {LOOKUPS} runs (the whole process): median {:.1} ms, slowest {:.1} ms",
        lookups[LOOKUPS / 2].as_secs_f64() * 1e3,
        lookups[LOOKUPS - 1].as_secs_f64() * 1e3
    );
    if std::env::var_os("KEEP").is_none() {
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&generated);
    }
}
