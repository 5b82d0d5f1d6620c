//! Business-flow benchmarks: inventory reconciliation of a million SKUs, and the agent's work for
//! X12 acknowledgments (issues 5 and 6); figures go to BENCHMARKS.md. Each generates its files,
//! runs `cartferry once` on them and prints wall time and peak RSS; nothing asserts a duration.
//! Run all with `cargo bench --bench flows`, or one with `-- reconcile|acknowledgments`.
//! `BENCH_DIR` chooses the scratch folder (default: the system temp folder).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

mod support;
use support::{measured, measured_expecting, scratch};

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");

/// Writes `lines` into `dir/rel` (creating its folder), buffered.
fn write_file(dir: &Path, rel: &str, lines: impl FnOnce(&mut dyn Write)) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut out = BufWriter::new(fs::File::create(&path).unwrap());
    lines(&mut out);
    out.flush().unwrap();
}

/// `cartferry once` on `dir/cartferry.toml`, which must exit with `code`: wall time and peak
/// RSS, printed under `label`.
fn once(dir: &Path, code: i32, label: &str) {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(dir.join("cartferry.toml"))
        .arg("once")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let (took, rss_kib) = if code == 0 {
        measured(&mut command)
    } else {
        measured_expecting(&mut command, code)
    };
    println!(
        "{label}: {:.2} s, peak RSS {:.1} MiB",
        took.as_secs_f64(),
        rss_kib as f64 / 1024.0
    );
}

const AGENT: &str = r#"
[agent]
state_dir = "var/state"
stable_for = "0s"
[endpoints.here]
kind = "local"
root = "."
create_dirs = true
"#;

/// The warehouse's inventory of `skus` SKUs and the cart's stock export of the same SKUs in
/// another order; every 100,003rd differs by one unit.
fn inventory_files(dir: &Path, skus: u64) {
    let sku = |i: u64| format!("SKU-{:07}", (i * 7919) % skus);
    write_file(dir, "exports/stock-1.csv", |out| {
        writeln!(out, "sku,location,on_hand,available").unwrap();
        for i in 0..skus {
            writeln!(out, "{},,{},", sku(i), i % 50).unwrap();
        }
    });
    write_file(dir, "stock/snapshot.csv", |out| {
        writeln!(out, "sku,location,on_hand,available").unwrap();
        for i in 0..skus {
            let planted = u64::from(i % 100_003 == 7);
            writeln!(out, "{},WH1,{},", sku(i), i % 50 + planted).unwrap();
        }
    });
}

/// Inventory reconciliation: 1,000,000 SKUs converted only, then reconciled at 100,000 and at
/// 1,000,000 SKUs.
fn reconcile() {
    for (skus, reconciled) in [(1_000_000, false), (100_000, true), (1_000_000, true)] {
        let dir = scratch("reconcile");
        let reconcile = if reconciled {
            "reconcile = { cart_export = \"exports\", pattern = \"stock-*.csv\", report_folder = \"reports\", min_units = 1 }"
        } else {
            ""
        };
        fs::write(
            dir.join("cartferry.toml"),
            format!(
                "{AGENT}\n[[routes]]\nname = \"inventory\"\nfrom = {{ endpoint = \"here\", dir = \"stock\", pattern = \"*.csv\" }}\nreader = \"canonical-inventory-csv\"\nwriter = \"shopify-inventory-csv\"\nto = {{ endpoint = \"here\", dir = \"inventory\" }}\n{reconcile}\n"
            ),
        )
        .unwrap();
        inventory_files(&dir, skus);
        let what = if reconciled {
            "reconciled"
        } else {
            "no reconciliation (conversion only)"
        };
        once(&dir, 0, &format!("{skus} SKUs, {what}"));
        if reconciled {
            let report =
                fs::read_to_string(dir.join("reports/snapshot.discrepancies.csv")).unwrap();
            let expected = (0..skus).filter(|i| i % 100_003 == 7).count();
            assert_eq!(report.lines().count() - 1, expected, "the report is right");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// The partner both ways, as the acknowledgment benchmark's routes name it.
const PARTNER: &str = r#"
[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
acknowledgment_due = "4h"
"#;

/// The X12 envelope from the warehouse to cartferry around `body`, numbered `control`.
fn from_warehouse(
    out: &mut dyn Write,
    control: u32,
    functional: &str,
    sets: u64,
    body: impl FnOnce(&mut dyn Write),
) {
    writeln!(out, "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1200*U*00401*{control:09}*0*P*>~").unwrap();
    writeln!(
        out,
        "GS*{functional}*WAREHOUSE*CARTFERRY*20261122*1200*{control}*X*004010~"
    )
    .unwrap();
    body(out);
    writeln!(out, "GE*{sets}*{control}~").unwrap();
    writeln!(out, "IEA*1*{control:09}~").unwrap();
}

/// Acknowledgments through the agent, on 100,000 documents each: orders out as one 940 group
/// (recording its sets for their 997), a 945 group in (answered with a 997), and the partner's
/// 997 for the 940 (its last set rejected).
fn acknowledgments() {
    const N: u64 = 100_000;
    let dir = scratch("acknowledgments");
    fs::write(
        dir.join("cartferry.toml"),
        format!(
            r#"{AGENT}
{PARTNER}
[[routes]]
name = "orders-940"
from = {{ endpoint = "here", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "acme" }}
to = {{ endpoint = "here", dir = "edi" }}

[[routes]]
name = "945-in"
from = {{ endpoint = "here", dir = "in945", pattern = "*.edi" }}
reader = "x12-945"
writer = "canonical-shipments-csv"
to = {{ endpoint = "here", dir = "shipments" }}
acknowledge = {{ partner = "acme", folder = "outbox997" }}

[[routes]]
name = "997-in"
from = {{ endpoint = "here", dir = "in997", pattern = "*.997" }}
reader = "x12-997"
"#
        ),
    )
    .unwrap();
    write_file(&dir, "orders/orders.csv", |out| {
        writeln!(out, "order_id,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_address1,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,sku,quantity").unwrap();
        for o in 0..N {
            writeln!(
                out,
                "{o},Ground,First{o},Last{o},{o} Main St,Springfield,IL,62701,US,SKU-{},1",
                o % 97
            )
            .unwrap();
        }
    });
    once(
        &dir,
        0,
        &format!("{N} canonical orders -> one 940 group, its sets recorded"),
    );

    write_file(&dir, "in945/ship.edi", |out| {
        from_warehouse(out, 7, "SW", N, |out| {
            for s in 1..=N {
                writeln!(out, "ST*945*{s:09}~\nW06*F*{s}*20261121*SH-{s}~\nW27*M*UPSN~\nLX*1~\nMAN*CP*1Z{s:016}~\nW12*CC*1*1*0*EA**VN*SKU-{}~\nW03*1~\nSE*8*{s:09}~", s % 97).unwrap();
            }
        });
    });
    once(
        &dir,
        0,
        &format!("945 of {N} shipments -> canonical CSV, answered with a 997"),
    );

    write_file(&dir, "in997/answer.997", |out| {
        from_warehouse(out, 8, "FA", 1, |out| {
            writeln!(out, "ST*997*0001~\nAK1*OW*1~").unwrap();
            for s in 1..=N {
                let status = if s == N { "R*5" } else { "A" };
                writeln!(out, "AK2*940*{s:04}~\nAK5*{status}~").unwrap();
            }
            writeln!(out, "AK9*P*{N}*{N}*{}~\nSE*{}*0001~", N - 1, 2 * N + 4).unwrap();
        });
    });
    // The rejected order sends the 997 to the error folder: exit 1.
    once(
        &dir,
        1,
        &format!("the partner's 997 for that 940 ({N} AK2/AK5 pairs, the last rejected)"),
    );
    let rejected = fs::read_dir(dir.join("var/state/errors").join("997-in"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        rejected, 2,
        "the 997 and its report naming the rejected order"
    );
    let _ = fs::remove_dir_all(&dir);
}

fn main() {
    if support::wanted("reconcile") {
        reconcile();
    }
    if support::wanted("acknowledgments") {
        acknowledgments();
    }
}
