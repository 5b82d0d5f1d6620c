//! The order ledger's cost (issue 17); figures go to BENCHMARKS.md, and nothing here asserts a
//! duration. A Shopify export of 100,000 orders (`ORDERS`), half of them sent before, goes
//! through `cartferry once` against a ledger already holding 1,000,000 orders (`LEDGER_ORDERS`),
//! `RUNS` times (5), each on a fresh copy of that ledger, and against a new ledger (every order
//! new), through two routes: one writing canonical orders CSV (the cheapest writer), one
//! writing X12 940s (the shopify-x12 example's).
//! Then `cartferry order ID` is timed on that ledger, and the order ledger's two steps per order
//! (a lookup, a record) are timed in this process through the ledger's own functions. With
//! `BASELINE_BIN` naming a cartferry built without the order ledger, the same export goes
//! through it too, alternating with the runs above (a fresh state folder: it knows no order
//! ledger, and delivers every order). `cargo bench --bench orders`; `BENCH_DIR` chooses the
//! scratch folder, and `KEEP=1` leaves it there for a look.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{Run, measured, measured_run, median, scratch};
#[path = "support/shopify.rs"]
mod shopify;
use shopify::{SHOPIFY_HEADER, shopify_orders};

use cartferry::format::Item;
use cartferry::ledger::{EventKind, EventOutcome, Ledger, OrderEvent};
use cartferry::model::{Document, Order};
use cartferry::plugins::order_ledger::{fingerprint, order_key};

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");

/// Runs of `cartferry order ID` timed.
const LOOKUPS: usize = 21;

/// The config of a route from `exports/` to `out/`, with the writer `writer` (and its
/// options).
fn config(writer: &str) -> String {
    let options = match writer {
        "x12-940" => "writer_options = { partner = \"acme\" }\n",
        _ => "",
    };
    format!(
        r#"
[agent]
state_dir = "var/state"
stable_for = "0s"
[endpoints.here]
kind = "local"
root = "."
create_dirs = true
[partners.acme]
sender_id = "US"
receiver_id = "ACME"
[[routes]]
name = "orders"
from = {{ endpoint = "here", dir = "exports", pattern = "*.csv" }}
reader = "shopify-orders-csv"
writer = "{writer}"
{options}to = {{ endpoint = "here", dir = "out", name = "{{stem}}.out" }}
"#
    )
}

/// The routes measured: the cheapest writer there is, and the X12 940 of the shopify-x12
/// example.
const WRITERS: [&str; 2] = ["canonical-orders-csv", "x12-940"];

fn number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A fresh scratch folder with the config and an empty `exports/`, for one run.
fn with_config(name: &str, writer: &str) -> PathBuf {
    let dir = scratch(name);
    fs::create_dir_all(dir.join("exports")).unwrap();
    fs::write(dir.join("cartferry.toml"), config(writer)).unwrap();
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

/// Orders in the delivered files of `dir`: a row per line in canonical orders CSV (the order id
/// first), a transaction set per order in X12. Read as streams: the bench's own peak memory must
/// stay below what it measures of cartferry's.
fn delivered_orders(dir: &Path) -> usize {
    fs::read_dir(dir.join("out"))
        .unwrap()
        .flatten()
        .map(|f| {
            let mut head = [0; 3];
            fs::File::open(f.path())
                .unwrap()
                .read_exact(&mut head)
                .unwrap();
            if &head == b"ISA" {
                let file = BufReader::new(fs::File::open(f.path()).unwrap());
                return file
                    .lines()
                    .filter(|l| l.as_ref().unwrap().starts_with("ST*940*"))
                    .count();
            }
            let mut reader = csv::Reader::from_path(f.path()).unwrap();
            let mut last = String::new();
            let mut orders = 0;
            for record in reader.records() {
                let id = &record.unwrap()[0];
                if id != last {
                    orders += 1;
                    last = id.to_string();
                }
            }
            orders
        })
        .sum()
}

/// The orders of `export`, one at a time.
fn each_order(export: &Path, mut with: impl FnMut(Order)) {
    let reader = cartferry::format::reader("shopify-orders-csv", &toml::Table::new()).unwrap();
    let file = fs::File::open(export).unwrap();
    for item in reader.read(Box::new(BufReader::new(file))) {
        if let Ok(Item::Document(Document::Order(order), _)) = item {
            with(order);
        }
    }
}

/// A copy of the state folder `template` in a fresh scratch folder `name`, with the config of a
/// route to `writer` and the export to take.
fn run_folder(name: &str, writer: &str, template: Option<&Path>, export: &Path) -> PathBuf {
    let dir = with_config(name, writer);
    if let Some(template) = template {
        let state = dir.join("var/state");
        fs::create_dir_all(&state).unwrap();
        for entry in fs::read_dir(template.join("var/state")).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), state.join(entry.file_name())).unwrap();
            }
        }
    }
    fs::copy(export, dir.join("exports/export.csv")).unwrap();
    dir
}

/// The order ledger's two steps for every order of `export`, timed one by one through the
/// ledger's functions on the ledger of `dir`, as a file of the route takes them: the lookup of
/// the order's earlier sending, and the record of its sending. Returns the total of each.
fn ledger_steps(dir: &Path, export: &Path) -> (Duration, Duration, u64) {
    let ledger = Ledger::open(&dir.join("var/state")).unwrap();
    let file = ledger.begin_claim("orders", "steps.csv", 0).unwrap();
    let mut batch = ledger.order_batch(file, 0);
    let (mut lookups, mut records, mut orders) = (Duration::ZERO, Duration::ZERO, 0);
    each_order(export, |order| {
        let key = order_key(&order.order_id, None);
        let started = Instant::now();
        let prior = batch.prior_order(&key, "here:out").unwrap();
        lookups += started.elapsed();
        let content = fingerprint(&order);
        let unchanged = prior.is_some_and(|p| p.content == content);
        let event = OrderEvent {
            order_id: order.order_id.clone(),
            key,
            kind: EventKind::Order,
            outcome: if unchanged {
                EventOutcome::LeftOut
            } else {
                EventOutcome::Sent
            },
            destination: "here:out".into(),
            content: (!unchanged).then_some(content),
            detail: unchanged.then(|| "already sent on 2026-11-30 10:00 in earlier.csv".into()),
            due_ms: None,
        };
        let started = Instant::now();
        batch.record(event).unwrap();
        records += started.elapsed();
        orders += 1;
    });
    let started = Instant::now();
    batch.commit().unwrap();
    records += started.elapsed();
    (lookups, records, orders)
}

/// `runs` runs of `cartferry once` on the export through a route to `writer` against a copy of
/// the ledger of `template` (or, without one, a new ledger: every order is new), alternating
/// with runs of `baseline` on a fresh state folder; prints each and the medians. Returns the
/// folder of the last run.
fn compare(
    writer: &str,
    orders: u64,
    runs: usize,
    template: Option<&Path>,
    export: &Path,
    baseline: Option<&str>,
) -> PathBuf {
    let (ledger, new, tag) = match template {
        Some(_) => (
            "a ledger of earlier orders, half the export among them",
            orders / 2,
            "filled",
        ),
        None => ("a new ledger", orders, "new"),
    };
    println!("\nthe route to `{writer}`, {ledger}:\n");
    println!("| run | with the order ledger: wall, CPU, memory | without it: wall, CPU, memory |");
    println!("|---|---|---|");
    let (mut with, mut without): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
    let show = |run: &Run| {
        format!(
            "{:.2} s, {:.2} s, {:.1} MiB",
            seconds(run.wall),
            seconds(run.cpu),
            run.peak_rss_kib as f64 / 1024.0
        )
    };
    let mut last: Option<PathBuf> = None;
    for i in 1..=runs {
        let dir = run_folder(&format!("{writer}-{tag}-{i}"), writer, template, export);
        let run = measured_run(&mut cartferry(BIN, &dir, &["once"]), 0);
        assert_eq!(delivered_orders(&dir), new as usize);
        with.push(run);
        let mut line = format!("| {i} | {} |", show(&run));
        if let Some(bin) = baseline {
            let base = run_folder(&format!("{writer}-{tag}-baseline"), writer, None, export);
            let run = measured_run(&mut cartferry(bin, &base, &["once"]), 0);
            assert_eq!(delivered_orders(&base), orders as usize);
            without.push(run);
            line += &format!(" {} |", show(&run));
            let _ = fs::remove_dir_all(&base);
        }
        println!("{line}");
        if let Some(previous) = last.replace(dir) {
            let _ = fs::remove_dir_all(previous);
        }
    }
    let wall = median(&mut with.iter().map(|r| r.wall).collect::<Vec<_>>());
    let cpu = median(&mut with.iter().map(|r| r.cpu).collect::<Vec<_>>());
    if !without.is_empty() {
        let base_wall = median(&mut without.iter().map(|r| r.wall).collect::<Vec<_>>());
        let base_cpu = median(&mut without.iter().map(|r| r.cpu).collect::<Vec<_>>());
        println!(
            "medians: {:.2} s wall, {:.2} s CPU with the order ledger; {:.2} s, {:.2} s without: {:+.0} % wall, {:+.0} % CPU",
            seconds(wall),
            seconds(cpu),
            seconds(base_wall),
            seconds(base_cpu),
            (seconds(wall) / seconds(base_wall) - 1.0) * 100.0,
            (seconds(cpu) / seconds(base_cpu) - 1.0) * 100.0
        );
        println!(
            "the conversion without it: {:.2} µs of wall time per order",
            seconds(base_wall) * 1e6 / orders as f64
        );
    }
    last.expect("one run at least")
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let orders = number("ORDERS", 100_000);
    let ledger_orders = number("LEDGER_ORDERS", 1_000_000);
    let runs = number("RUNS", 5).max(1) as usize;
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

    let template = with_config("orders-ledger", WRITERS[0]);
    cartferry(BIN, &template, &["once"]).status().unwrap();
    let filling = Instant::now();
    fill_ledger(&template, &export, orders / 2, ledger_orders);
    println!(
        "ledger filled with {ledger_orders} orders in {:.1} s ({:.0} MB)",
        filling.elapsed().as_secs_f64(),
        fs::metadata(template.join("var/state/ledger.sqlite3"))
            .unwrap()
            .len() as f64
            / 1e6
    );

    let baseline = std::env::var_os("BASELINE_BIN").map(|b| b.to_string_lossy().into_owned());
    let mut last = None;
    for writer in WRITERS {
        for ledger in [None, Some(template.as_path())] {
            let dir = compare(writer, orders, runs, ledger, &export, baseline.as_deref());
            if let Some(previous) = last.replace(dir) {
                let _ = fs::remove_dir_all(previous);
            }
        }
    }

    let dir = last.expect("one run at least");
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

    let steps = run_folder("orders-steps", WRITERS[0], Some(&template), &export);
    let (looked_up, recorded, counted) = ledger_steps(&steps, &export);
    println!(
        "the order ledger's steps, per order ({counted} orders, half sent before): lookup {:.2} µs, record {:.2} µs",
        seconds(looked_up) * 1e6 / counted as f64,
        seconds(recorded) * 1e6 / counted as f64
    );
    if std::env::var_os("KEEP").is_none() {
        for folder in [&dir, &steps, &template, &generated] {
            let _ = fs::remove_dir_all(folder);
        }
    }
}
