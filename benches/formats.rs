//! Format benchmarks (issue 4); figures go to BENCHMARKS.md. Nothing here asserts a duration.
//! `cargo bench --bench formats` converts a generated Shopify orders export (1 GiB, or
//! `BIG_MIB`) to canonical CSV with `cartferry convert`, and reads the same file with Python's
//! `csv` module as the peer. `BENCH_DIR` chooses the scratch folder.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::{measured, scratch};
#[path = "support/shopify.rs"]
mod shopify;
use shopify::{SHOPIFY_HEADER, shopify_orders};

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");
const RUNS: usize = 3;

/// Python's `csv` module reading every row of the file (the least a Python converter does).
const PYTHON_CSV: &str = "import csv, sys\nwith open(sys.argv[1], newline='', encoding='utf-8-sig') as f:\n    rows = sum(1 for _ in csv.reader(f))\nprint(rows)\n";

fn median(runs: &mut [(Duration, u64)]) -> (Duration, u64) {
    runs.sort();
    runs[runs.len() / 2]
}

fn shopify_to_canonical(input: &Path, output: &Path) -> (Duration, u64) {
    measured(
        Command::new(BIN)
            .args([
                "convert",
                "--reader",
                "shopify-orders-csv",
                "--writer",
                "canonical-orders-csv",
            ])
            .arg(input)
            .stdout(fs::File::create(output).unwrap()),
    )
}

/// The `csv` crate alone reading every row as text, with the settings cartferry reads CSV with,
/// in this process: the floor for any converter built on it.
fn csv_crate_floor(input: &Path) -> Duration {
    let start = std::time::Instant::now();
    let file = std::io::BufReader::with_capacity(1 << 18, fs::File::open(input).unwrap());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(file);
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while reader.read_record(&mut record).unwrap() {
        rows += 1;
    }
    assert!(rows > 0);
    start.elapsed()
}

fn main() {
    let size_target: u64 = std::env::var("BIG_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
        << 20;
    let dir = scratch("shopify");
    let input = dir.join("orders_export.csv");
    let mut orders = 0;
    {
        let mut f = BufWriter::with_capacity(1 << 20, fs::File::create(&input).unwrap());
        f.write_all(SHOPIFY_HEADER.as_bytes()).unwrap();
        while f.get_ref().metadata().unwrap().len() < size_target {
            shopify_orders(&mut f, orders + 1, 10_000);
            orders += 10_000;
        }
    }
    let bytes = fs::metadata(&input).unwrap().len();
    let mb = bytes as f64 / 1e6;
    // Warm the page cache in a child, so every contender reads from memory alike.
    measured(Command::new("cat").arg(&input).stdout(Stdio::null()));

    let output = dir.join("canonical.csv");
    let (mut ours, mut python, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        floor.push(csv_crate_floor(&input));
        ours.push(shopify_to_canonical(&input, &output));
        python.push(measured(
            Command::new("python3")
                .args(["-c", PYTHON_CSV])
                .arg(&input)
                .stdout(Stdio::null()),
        ));
    }
    let converted_orders = fs::read(&output)
        .map(|b| {
            let mut r = csv::Reader::from_reader(&b[..]);
            let mut last = String::new();
            let mut n = 0;
            for rec in r.records() {
                let rec = rec.unwrap();
                if rec[0] != *last {
                    n += 1;
                    last = rec[0].to_string();
                }
            }
            n
        })
        .unwrap();
    assert_eq!(converted_orders, orders, "every order converted");
    let (ours, python) = (median(&mut ours), median(&mut python));
    floor.sort();
    let floor = floor[floor.len() / 2];
    println!("shopify export: {:.0} MB, {orders} orders", mb);
    println!(
        "cartferry convert shopify-orders-csv → canonical-orders-csv: {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB",
        ours.0.as_secs_f64(),
        mb / ours.0.as_secs_f64(),
        ours.1 as f64 / 1024.0
    );
    println!(
        "python3 csv.reader, rows only: {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB",
        python.0.as_secs_f64(),
        mb / python.0.as_secs_f64(),
        python.1 as f64 / 1024.0
    );
    println!(
        "csv crate alone, rows only (floor): {:.2} s, {:.0} MB/s",
        floor.as_secs_f64(),
        mb / floor.as_secs_f64()
    );
    println!(
        "cartferry is {:.1}× Python's csv",
        python.0.as_secs_f64() / ours.0.as_secs_f64()
    );
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = fs::remove_dir_all(&dir);
    }
}
