//! Crash safety: files fed while the agent is killed with SIGKILL at random moments are, in the
//! end, each delivered exactly once, byte-identical to a clean run, with nothing left behind.

mod support;

use std::fs;
use std::time::Duration;

use support::*;

const FILES: usize = 200;
const MIN_KILLS: usize = 12;
const MAX_KILLS: usize = 80;

fn inputs(rng: &mut fastrand::Rng) -> Vec<(String, Vec<u8>)> {
    (0..FILES)
        .map(|i| {
            let orders = rng.u32(5..60);
            let lines = rng.u32(1..4);
            (
                format!("batch-{i:03}.csv"),
                orders_csv(i as u32 * 1000 + 1, orders, lines).into_bytes(),
            )
        })
        .collect()
}

fn config() -> String {
    format!(
        "{}\n{}",
        FAST_AGENT.replace("stable_for = \"200ms\"", "stable_for = \"30ms\""),
        ORDERS_ROUTE
    )
}

fn ledger_count(sandbox: &Sandbox, state: &str) -> i64 {
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM files WHERE state = ?1",
        [state],
        |r| r.get(0),
    )
    .unwrap()
}

/// Polls `done` every millisecond until it holds or `limit` passes.
fn poll_tightly(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Files whose journey was cut short by the last kill.
fn unfinished(sandbox: &Sandbox) -> i64 {
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM files WHERE state NOT IN ('done', 'duplicate', 'failed', 'abandoned')",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

#[test]
fn files_fed_through_random_sigkills_are_delivered_exactly_once() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test seed {seed} (set CRASH_SEED={seed} to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let files = inputs(&mut rng);

    let sandbox = Sandbox::new(&config());
    let mut fed = 0;
    let mut kills = 0;
    let mut interrupted = 0;
    // Each round feeds a few files, starts the agent, and kills it while it is busy: on odd rounds
    // as soon as a file sits claimed in the processing area, on even rounds a random moment after
    // the round's first delivery. Polling is tight (1 ms): a small file's journey takes a few.
    let busy = || {
        !sandbox
            .all_files_below("cart/orders/.cartferry-processing")
            .is_empty()
    };
    while (kills < MIN_KILLS || fed < FILES) && kills < MAX_KILLS {
        let batch = rng.usize(3..=8).min(FILES - fed);
        for (name, data) in &files[fed..fed + batch] {
            sandbox.drop_file("cart/orders", name, data);
        }
        fed += batch;
        let delivered_before = sandbox.files("warehouse/orders").len();
        let agent = sandbox.spawn();
        if kills % 2 == 1 {
            poll_tightly(Duration::from_secs(5), busy);
        } else {
            poll_tightly(Duration::from_secs(5), || {
                sandbox.files("warehouse/orders").len() > delivered_before
            });
            std::thread::sleep(Duration::from_millis(rng.u64(0..8)));
        }
        agent.kill();
        kills += 1;
        if unfinished(&sandbox) > 0 || busy() {
            interrupted += 1;
        }
    }
    eprintln!("{kills} kills, {interrupted} of them in the middle of a file's journey");

    let agent = sandbox.start();
    let settled = wait_until(Duration::from_secs(120), || {
        sandbox.files("warehouse/orders").len() == FILES
            && sandbox.all_files_below("cart/orders").is_empty()
    });
    let log = agent.log_text();
    assert_eq!(agent.stop(), 0);
    assert!(
        settled,
        "seed {seed}: not settled; {} delivered; log:\n{log}",
        sandbox.files("warehouse/orders").len()
    );

    let clean = Sandbox::new(&config());
    for (name, data) in &files {
        clean.drop_file("cart/orders", name, data);
    }
    clean.once_expecting(0);

    let delivered = sandbox.all_files_below("warehouse/orders");
    assert_eq!(
        delivered,
        clean.all_files_below("warehouse/orders"),
        "seed {seed}: same names as a clean run, no temporaries"
    );
    for name in &delivered {
        assert_eq!(
            fs::read(sandbox.path(&format!("warehouse/orders/{name}"))).unwrap(),
            fs::read(clean.path(&format!("warehouse/orders/{name}"))).unwrap(),
            "seed {seed}: {name} differs from a clean run"
        );
    }
    let mut archived: Vec<String> = sandbox
        .all_files_below("var/archive/orders")
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    archived.sort();
    let mut names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(archived, names, "seed {seed}: every source archived, once");
    assert!(
        sandbox.all_files_below("var/state/staging").is_empty(),
        "seed {seed}: staging left behind"
    );
    assert!(
        sandbox.all_files_below("var/errors").is_empty(),
        "seed {seed}: errors: {:?}",
        sandbox.all_files_below("var/errors")
    );
    assert_eq!(ledger_count(&sandbox, "done"), FILES as i64, "seed {seed}");
    assert_eq!(
        ledger_count(&sandbox, "duplicate") + ledger_count(&sandbox, "failed"),
        0,
        "seed {seed}"
    );
    assert!(
        interrupted >= 5,
        "seed {seed}: only {interrupted} kills landed mid-journey; the test proves little"
    );
}

/// 50 files of 20 orders: 1,000 orders.
const EDI_FILES: u32 = 50;
const EDI_ORDERS: u32 = 20;
const EDI_KILLS: usize = 20;

#[test]
fn x12_control_numbers_stay_unique_and_orders_go_once_through_sigkills() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("x12 crash test seed {seed} (set CRASH_SEED={seed} to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sandbox = Sandbox::new(&format!(
        "{}\n{}",
        FAST_AGENT.replace("stable_for = \"200ms\"", "stable_for = \"30ms\""),
        r#"
[[routes]]
name = "orders-940"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-orders-csv"
writer = "x12-940"
to = { endpoint = "warehouse", dir = "edi", name = "{stem}.edi", on_conflict = "fail" }
status_updates = { folder = "cart/status" }
[routes.writer_options.partner]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
"#
    ));
    let busy = || {
        !sandbox
            .all_files_below("cart/orders/.cartferry-processing")
            .is_empty()
    };
    let mut fed = 0;
    for kills in 0..EDI_KILLS {
        let batch = rng.u32(2..=4).min(EDI_FILES - fed);
        for i in fed..fed + batch {
            let csv = orders_csv(100_000 + i * EDI_ORDERS, EDI_ORDERS, rng.u32(1..3));
            sandbox.drop_file("cart/orders", &format!("b{i:03}.csv"), csv.as_bytes());
        }
        fed += batch;
        let agent = sandbox.spawn();
        if kills % 2 == 1 {
            poll_tightly(Duration::from_secs(5), busy);
        } else {
            let before = sandbox.files("warehouse/edi").len();
            poll_tightly(Duration::from_secs(5), || {
                sandbox.files("warehouse/edi").len() > before
            });
            std::thread::sleep(Duration::from_millis(rng.u64(0..8)));
        }
        agent.kill();
    }
    for i in fed..EDI_FILES {
        let csv = orders_csv(100_000 + i * EDI_ORDERS, EDI_ORDERS, 1);
        sandbox.drop_file("cart/orders", &format!("b{i:03}.csv"), csv.as_bytes());
    }
    let agent = sandbox.start();
    let settled = wait_until(Duration::from_secs(120), || {
        sandbox.files("warehouse/edi").len() == EDI_FILES as usize
            && sandbox.all_files_below("cart/orders").is_empty()
    });
    let log = agent.log_text();
    assert_eq!(agent.stop(), 0);
    assert!(settled, "seed {seed}: not settled; log:\n{log}");

    let (mut interchanges, mut groups, mut orders) = (Vec::new(), Vec::new(), Vec::new());
    for name in sandbox.files("warehouse/edi") {
        let bytes = fs::read(sandbox.path(&format!("warehouse/edi/{name}"))).unwrap();
        let sets: Vec<_> = cartferry::format::x12::envelope::Envelopes::new(Box::new(&bytes[..]))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("seed {seed}: {name}: {e}"));
        assert_eq!(sets.len(), EDI_ORDERS as usize, "seed {seed}: {name}");
        interchanges.push(sets[0].interchange.control.clone());
        groups.push(sets[0].group.control.clone());
        orders.extend(sets.iter().map(|s| s.segments[0].element(2).to_string()));
    }
    let unique = |v: &mut Vec<String>| {
        let n = v.len();
        v.sort();
        v.dedup();
        v.len() == n
    };
    assert!(
        unique(&mut interchanges),
        "seed {seed}: an ISA13 was used twice: {interchanges:?}"
    );
    assert!(unique(&mut groups), "seed {seed}: a GS06 was used twice");
    assert_eq!(
        orders.len(),
        (EDI_FILES * EDI_ORDERS) as usize,
        "seed {seed}"
    );
    assert!(unique(&mut orders), "seed {seed}: an order went twice");

    // One status file per delivered file, each order in it once.
    let status_files = sandbox.files("cart/status");
    assert_eq!(
        status_files.len(),
        EDI_FILES as usize,
        "seed {seed}: {status_files:?}"
    );
    let mut sent: Vec<String> = Vec::new();
    for name in &status_files {
        let text = fs::read_to_string(sandbox.path(&format!("cart/status/{name}"))).unwrap();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[1], "sent_to_fulfillment", "seed {seed}: {line}");
            sent.push(cells[0].to_string());
        }
    }
    sent.sort();
    assert_eq!(
        sent, orders,
        "seed {seed}: the statuses are the orders delivered"
    );
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    let reserved: i64 = db
        .query_row("SELECT interchange FROM control_numbers", [], |r| r.get(0))
        .unwrap();
    eprintln!("{reserved} interchange numbers reserved for {EDI_FILES} files");
    assert!(reserved >= i64::from(EDI_FILES), "seed {seed}");

    // The groups waiting for their 997 are exactly the groups delivered, each with its orders,
    // whatever staging the kills cut short.
    let mut recorded: Vec<String> = db
        .prepare("SELECT grp FROM sent_groups WHERE sets = ?1")
        .unwrap()
        .query_map([EDI_ORDERS], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|g| g.unwrap().to_string())
        .collect();
    recorded.sort();
    let mut delivered: Vec<String> = groups
        .iter()
        .map(|g| g.parse::<i64>().unwrap().to_string())
        .collect();
    delivered.sort();
    assert_eq!(recorded, delivered, "seed {seed}: recorded groups");
    let (rows, references): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT reference) FROM sent_sets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (rows, references),
        (
            i64::from(EDI_FILES * EDI_ORDERS),
            i64::from(EDI_FILES * EDI_ORDERS)
        ),
        "seed {seed}: recorded sets"
    );
}

/// 945s received through random kills, each group answered by a route with `acknowledge`.
const ANSWERED_FILES: u32 = 40;

#[test]
fn every_received_group_gets_exactly_one_997_through_sigkills() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("997 crash test seed {seed} (set CRASH_SEED={seed} to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sandbox = Sandbox::new(&format!(
        "{}\n{}",
        FAST_AGENT.replace("stable_for = \"200ms\"", "stable_for = \"30ms\""),
        r#"
[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"

[[routes]]
name = "shipments"
from = { endpoint = "warehouse", dir = "out", pattern = "*.edi" }
reader = "x12-945"
writer = "canonical-shipments-csv"
to = { endpoint = "cart", dir = "shipments", name = "{stem}.csv", on_conflict = "fail" }
acknowledge = { partner = "acme", folder = "outbox/997" }
"#
    ));
    let fixture = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/945/shipments.edi"),
    )
    .unwrap();
    // The same three shipments under group (and interchange) number `n`.
    let numbered = |n: u32| {
        fixture
            .replace("*000000311*", &format!("*{n:09}*"))
            .replace("*311*X*", &format!("*{n}*X*"))
            .replace("GE*3*311", &format!("GE*3*{n}"))
            .replace("IEA*1*000000311", &format!("IEA*1*{n:09}"))
    };
    let mut fed = 0;
    for _ in 0..EDI_KILLS {
        let batch = rng.u32(1..=3).min(ANSWERED_FILES - fed);
        for n in fed..fed + batch {
            sandbox.drop_file(
                "warehouse/out",
                &format!("s{n:03}.edi"),
                numbered(1000 + n).as_bytes(),
            );
        }
        fed += batch;
        let agent = sandbox.spawn();
        let before = sandbox.files("outbox/997").len();
        poll_tightly(Duration::from_secs(5), || {
            sandbox.files("outbox/997").len() > before
        });
        std::thread::sleep(Duration::from_millis(rng.u64(0..8)));
        agent.kill();
    }
    for n in fed..ANSWERED_FILES {
        sandbox.drop_file(
            "warehouse/out",
            &format!("s{n:03}.edi"),
            numbered(1000 + n).as_bytes(),
        );
    }
    let agent = sandbox.start();
    let settled = wait_until(Duration::from_secs(120), || {
        sandbox.files("cart/shipments").len() == ANSWERED_FILES as usize
            && sandbox.all_files_below("warehouse/out").is_empty()
    });
    let log = agent.log_text();
    assert_eq!(agent.stop(), 0);
    assert!(settled, "seed {seed}: not settled; log:\n{log}");

    let (mut answered, mut interchanges) = (Vec::new(), Vec::new());
    for name in sandbox.files("outbox/997") {
        let bytes = fs::read(sandbox.path(&format!("outbox/997/{name}"))).unwrap();
        let sets: Vec<_> = cartferry::format::x12::envelope::Envelopes::new(Box::new(&bytes[..]))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("seed {seed}: {name}: {e}"));
        interchanges.push(sets[0].interchange.control.clone());
        for set in &sets {
            let ack = cartferry::format::x12::acknowledgment_997::read(set).unwrap();
            assert_eq!(
                (ack.accepted, ack.sets.len()),
                (3, 3),
                "seed {seed}: {name}"
            );
            answered.push(ack.control.parse::<u32>().unwrap());
        }
    }
    answered.sort();
    assert_eq!(
        answered,
        (1000..1000 + ANSWERED_FILES).collect::<Vec<_>>(),
        "seed {seed}: every group answered once"
    );
    let n = interchanges.len();
    interchanges.sort();
    interchanges.dedup();
    assert_eq!(
        interchanges.len(),
        n,
        "seed {seed}: an ISA13 was used twice"
    );
}

/// 50 files of 20 orders, each sharing 6 orders (30 %) with the file before it, unchanged: the
/// exports of a cart taken by overlapping date ranges.
const OVERLAP_FILES: u32 = 50;
const OVERLAP_ORDERS: u32 = 20;
const OVERLAP_NEW: u32 = 14;
const OVERLAP_KILLS: usize = 12;

#[test]
fn overlapping_orders_through_random_sigkills_are_sent_and_recorded_once() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("overlap crash test seed {seed} (set CRASH_SEED={seed} to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sandbox = Sandbox::new(&config());
    let file = |i: u32| {
        (
            format!("export-{i:03}.csv"),
            orders_csv(10_000 + i * OVERLAP_NEW, OVERLAP_ORDERS, 1),
        )
    };
    let busy = || {
        !sandbox
            .all_files_below("cart/orders/.cartferry-processing")
            .is_empty()
    };
    let mut fed = 0;
    let mut interrupted = 0;
    for kills in 0..OVERLAP_KILLS {
        let batch = rng.u32(2..=5).min(OVERLAP_FILES - fed);
        for i in fed..fed + batch {
            let (name, csv) = file(i);
            sandbox.drop_file("cart/orders", &name, csv.as_bytes());
        }
        fed += batch;
        let agent = sandbox.spawn();
        if kills % 2 == 1 {
            poll_tightly(Duration::from_secs(5), busy);
        } else {
            let before = sandbox.files("warehouse/orders").len();
            poll_tightly(Duration::from_secs(5), || {
                sandbox.files("warehouse/orders").len() > before
            });
            std::thread::sleep(Duration::from_millis(rng.u64(0..8)));
        }
        agent.kill();
        if unfinished(&sandbox) > 0 || busy() {
            interrupted += 1;
        }
    }
    for i in fed..OVERLAP_FILES {
        let (name, csv) = file(i);
        sandbox.drop_file("cart/orders", &name, csv.as_bytes());
    }
    let agent = sandbox.start();
    let settled = wait_until(Duration::from_secs(120), || {
        sandbox.files("warehouse/orders").len() == OVERLAP_FILES as usize
            && sandbox.all_files_below("cart/orders").is_empty()
    });
    let log = agent.log_text();
    assert_eq!(agent.stop(), 0);
    assert!(settled, "seed {seed}: not settled; log:\n{log}");
    eprintln!("{OVERLAP_KILLS} kills, {interrupted} of them in the middle of a file's journey");

    // Every order reached the warehouse once.
    let mut delivered: Vec<u32> = Vec::new();
    for name in sandbox.files("warehouse/orders") {
        let text = fs::read_to_string(sandbox.path(&format!("warehouse/orders/{name}"))).unwrap();
        delivered.extend(
            text.lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().parse::<u32>().unwrap()),
        );
    }
    delivered.sort();
    let all: Vec<u32> =
        (10_000..10_000 + (OVERLAP_FILES - 1) * OVERLAP_NEW + OVERLAP_ORDERS).collect();
    assert_eq!(delivered, all, "seed {seed}: every order once");

    // And the order ledger counts each as sent once, in the file that delivered it.
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    let (sent, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT e.order_key) FROM order_events e
             JOIN files f ON f.id = e.file_id
             WHERE e.kind = 'order' AND e.outcome = 'sent' AND f.state = 'done'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (sent, distinct),
        (all.len() as i64, all.len() as i64),
        "seed {seed}"
    );
    let left_out: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM order_events e JOIN files f ON f.id = e.file_id
             WHERE e.outcome = 'left_out' AND f.state = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        left_out,
        i64::from((OVERLAP_FILES - 1) * (OVERLAP_ORDERS - OVERLAP_NEW)),
        "seed {seed}: each repeat left out once"
    );
    assert!(
        sandbox.all_files_below("var/errors").is_empty(),
        "seed {seed}: errors: {:?}",
        sandbox.all_files_below("var/errors")
    );
    assert!(
        interrupted >= 3,
        "seed {seed}: only {interrupted} kills landed mid-journey; the test proves little"
    );
}
