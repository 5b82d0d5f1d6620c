//! X12 benchmarks (issue 5); figures go to BENCHMARKS.md. Nothing here asserts a duration.
//! `cargo bench --bench x12`: 100,000 orders (canonical CSV) to a 940 with `cartferry convert`,
//! then a 945 of 100,000 shipments (written by cartferry's 945 writer) to canonical CSV, with
//! Python's `badx12` parser reading the same 945 as the peer (installed into
//! `target/bench-badx12` on first run). `ORDERS` changes the count; `BENCH_DIR` the scratch
//! folder.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::{measured, scratch};

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");
const RUNS: usize = 3;
const PARTNER: &str = r#"partner={sender_id="CARTFERRY",receiver_id="WAREHOUSE"}"#;

/// `count` orders of 1–3 lines as canonical orders CSV.
fn orders(path: &Path, count: u64) {
    let mut out = BufWriter::new(fs::File::create(path).unwrap());
    writeln!(out, "order_id,order_date,currency,shipping_method,carrier,service,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description").unwrap();
    for o in 1..=count {
        for l in 1..=1 + o % 3 {
            writeln!(out, "{o},2026-11-20,USD,UPS Ground,UPSN,GROUND,Ada,Lovelace,,{o} Analytical Way,Suite 3,Springfield,IL,{:05},US,ada{o}@example.com,+1 555 0100,Leave at the door,{l},SKU-{l},{},12.50,Red mug", o % 100_000, 1 + (o + l) % 4).unwrap();
        }
    }
    out.flush().unwrap();
}

/// `count` shipments of 1–3 lines and 1–2 packages as canonical shipments CSV.
fn shipments(path: &Path, count: u64) {
    let mut out = BufWriter::new(fs::File::create(path).unwrap());
    writeln!(out, "order_id,shipment_id,ship_date,carrier,service,tracking_number,weight,sku,quantity_shipped,quantity_ordered").unwrap();
    for o in 1..=count {
        let rows = 1 + o % 3;
        for r in 1..=rows {
            let tracking = if r <= 1 + o % 2 {
                format!("1Z999AA1{o:010}{r}")
            } else {
                String::new()
            };
            writeln!(
                out,
                "{o},S{o},2026-11-21,UPSN,GROUND,{tracking},,SKU-{r},{q},{q}",
                q = 1 + (o + r) % 4
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
}

fn convert(reader: &str, writer: &str, input: &Path, output: &Path) -> (Duration, u64) {
    let mut cmd = Command::new(BIN);
    cmd.args(["convert", "--reader", reader, "--writer", writer]);
    if writer.starts_with("x12-") {
        cmd.args(["--writer-option", PARTNER]);
    }
    measured(
        cmd.arg(input)
            .stdout(fs::File::create(output).unwrap())
            .stderr(Stdio::null()),
    )
}

/// A virtual environment with badx12 (0.2.2 needs `collections.Iterable`, gone since Python 3.10:
/// the peer script puts it back before importing).
fn badx12_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-badx12");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(
            made.success(),
            "python3 -m venv failed: install python3-venv"
        );
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "badx12==0.2.2"])
            .status()
            .unwrap();
        assert!(installed.success(), "pip install badx12 failed");
    }
    python
}

const BADX12: &str = "import collections, collections.abc, sys\ncollections.Iterable = collections.abc.Iterable\nfrom badx12 import Parser\nd = Parser().parse_document(sys.argv[1])\nprint(sum(len(g.transaction_sets) for g in d.interchange.groups))\n";

fn median(runs: &mut [(Duration, u64)]) -> (Duration, u64) {
    runs.sort();
    runs[runs.len() / 2]
}

fn mb(path: &Path) -> f64 {
    fs::metadata(path).unwrap().len() as f64 / 1e6
}

fn main() {
    let count: u64 = std::env::var("ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = scratch("x12");
    let (orders_csv, edi_940) = (dir.join("orders.csv"), dir.join("orders.edi"));
    orders(&orders_csv, count);
    let mut out940: Vec<_> = (0..RUNS)
        .map(|_| convert("canonical-orders-csv", "x12-940", &orders_csv, &edi_940))
        .collect();
    let sets = fs::read_to_string(&edi_940)
        .unwrap()
        .matches("ST*940*")
        .count() as u64;
    assert_eq!(sets, count, "every order became a 940");
    let (t, rss) = median(&mut out940);
    println!(
        "{count} orders → 940: {:.2} s, {:.0} MB/s in ({:.0} MB), {:.0} MB/s out ({:.0} MB), peak RSS {:.1} MiB",
        t.as_secs_f64(),
        mb(&orders_csv) / t.as_secs_f64(),
        mb(&orders_csv),
        mb(&edi_940) / t.as_secs_f64(),
        mb(&edi_940),
        rss as f64 / 1024.0
    );

    let (shipments_csv, edi_945, back) = (
        dir.join("shipments.csv"),
        dir.join("shipments.edi"),
        dir.join("shipments-back.csv"),
    );
    shipments(&shipments_csv, count);
    convert(
        "canonical-shipments-csv",
        "x12-945",
        &shipments_csv,
        &edi_945,
    );
    let mut in945: Vec<_> = (0..RUNS)
        .map(|_| convert("x12-945", "canonical-shipments-csv", &edi_945, &back))
        .collect();
    let (t, rss) = median(&mut in945);
    println!(
        "945 of {count} shipments → canonical CSV: {:.2} s, {:.0} MB/s ({:.0} MB), peak RSS {:.1} MiB",
        t.as_secs_f64(),
        mb(&edi_945) / t.as_secs_f64(),
        mb(&edi_945),
        rss as f64 / 1024.0
    );
    let python = badx12_python();
    let script = dir.join("badx12_peer.py");
    fs::write(&script, BADX12).unwrap();
    let mut peer: Vec<_> = (0..RUNS)
        .map(|_| {
            measured(
                Command::new(&python)
                    .arg(&script)
                    .arg(&edi_945)
                    .stdout(Stdio::null()),
            )
        })
        .collect();
    let (p, prss) = median(&mut peer);
    println!(
        "peer: badx12 parsing the same 945 (no conversion, no output): {:.2} s, {:.0} MB/s, peak RSS {:.1} MiB",
        p.as_secs_f64(),
        mb(&edi_945) / p.as_secs_f64(),
        prss as f64 / 1024.0
    );
    println!(
        "cartferry reads the 945 {:.1}× as fast as badx12",
        p.as_secs_f64() / t.as_secs_f64()
    );
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = fs::remove_dir_all(&dir);
    }
}
