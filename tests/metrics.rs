//! `[agent] metrics`: `/metrics` parsed by a Prometheus text parser, its counters matching what
//! the test sent, and `/healthz` going 503 while the ledger's folder refuses writes.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use support::alert_peers::free_port;
use support::{FAST_AGENT, ORDERS_ROUTE, PASSTHROUGH_ROUTE, Sandbox, orders_csv, wait_until};

/// A route whose destination folder the test makes a file.
const STUCK_ROUTE: &str = r#"
[[routes]]
name = "stuck"
from = { endpoint = "cart", dir = "stuck", pattern = "*" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "blocked" }
"#;

/// GET `url`: the status and the body.
fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut answer = agent.get(url).call().unwrap();
    (
        answer.status().as_u16(),
        answer.body_mut().read_to_string().unwrap(),
    )
}

fn scrape(port: u16) -> Scrape {
    let (status, text) = get(&format!("http://127.0.0.1:{port}/metrics"));
    assert_eq!(status, 200, "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of sample `name` whose labels include `labels`; `None` when there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => f64::NAN,
        })
}

#[test]
fn metrics_count_what_the_agent_did_and_prometheus_can_read_them() {
    let port = free_port();
    let said = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(&format!(
        "{}{PASSTHROUGH_ROUTE}{ORDERS_ROUTE}{STUCK_ROUTE}{}",
        FAST_AGENT.replace(
            "[agent]",
            &format!("[agent]\nmetrics = \"127.0.0.1:{port}\"")
        ),
        support::file_alert_channel("ops", &said.path().join("alerts.jsonl"))
    ));
    // The stuck route's destination is a file: its deliveries fail and are retried.
    std::fs::create_dir_all(sandbox.path("warehouse")).unwrap();
    std::fs::write(sandbox.path("warehouse/blocked"), b"not a folder").unwrap();
    let agent = sandbox.start();
    sandbox.drop_file("cart/stuck", "stuck.dat", b"stuck\n");
    for n in 0..3 {
        sandbox.drop_file(
            "cart/out",
            &format!("f{n}.dat"),
            format!("file {n}\n").as_bytes(),
        );
    }
    assert!(wait_until(Duration::from_secs(30), || sandbox
        .files("warehouse/in")
        .len()
        == 3));
    sandbox.drop_file("cart/out", "again.dat", b"file 0\n");
    let bad = orders_csv(1001, 1, 1).replace(",SKU-1,2,", ",SKU-1,two,");
    assert!(bad.contains(",two,"));
    sandbox.drop_file("cart/orders", "bad.csv", bad.as_bytes());
    sandbox.drop_file("cart/orders", "good.csv", orders_csv(2001, 2, 1).as_bytes());
    assert!(
        wait_until(Duration::from_secs(30), || {
            let s = scrape(port);
            value(
                &s,
                "cartferry_files_total",
                &[("route", "files"), ("outcome", "duplicate")],
            ) == Some(1.0)
                && value(
                    &s,
                    "cartferry_files_total",
                    &[("route", "orders"), ("outcome", "failed")],
                ) == Some(1.0)
                && value(
                    &s,
                    "cartferry_files_total",
                    &[("route", "orders"), ("outcome", "delivered")],
                ) == Some(1.0)
        }),
        "the counters did not reach what was sent:\n{}",
        get(&format!("http://127.0.0.1:{port}/metrics")).1
    );
    let s = scrape(port);
    let files = [("route", "files")];
    assert_eq!(
        value(
            &s,
            "cartferry_files_total",
            &[("route", "files"), ("outcome", "delivered")]
        ),
        Some(3.0)
    );
    assert_eq!(value(&s, "cartferry_files_taken_total", &files), Some(4.0));
    assert_eq!(
        value(&s, "cartferry_delivered_bytes_total", &files),
        Some(3.0 * "file 0\n".len() as f64)
    );
    assert_eq!(
        value(&s, "cartferry_journey_duration_seconds_count", &files),
        Some(4.0),
        "one duration per journey"
    );
    assert_eq!(
        value(&s, "cartferry_files_in_error", &[("route", "orders")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "cartferry_files_waiting", &files), Some(0.0));
    let last = value(&s, "cartferry_last_delivery_timestamp_seconds", &files).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - 120.0..=now + 1.0).contains(&last), "{last} vs {now}");
    assert_eq!(value(&s, "cartferry_orders_late", &[]), Some(0.0));
    assert!(
        wait_until(Duration::from_secs(30), || {
            let s = scrape(port);
            value(&s, "cartferry_retries_total", &[("route", "stuck")]).unwrap_or(0.0) >= 1.0
                && value(&s, "cartferry_alerts_sent_total", &[("channel", "ops")]).unwrap_or(0.0)
                    >= 1.0
        }),
        "no retry or no alert counted:\n{}",
        get(&format!("http://127.0.0.1:{port}/metrics")).1
    );
    let s = scrape(port);
    assert_eq!(
        value(&s, "cartferry_alerts_failed_total", &[("channel", "ops")]),
        Some(0.0)
    );
    let (status, body) = get(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(agent.stop_expecting_errors(&["stuck"]), 0);
}

/// Files made immutable (`chattr +i`) until dropped, even when the test fails.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> Immutable {
        let out = Command::new("chattr")
            .arg("+i")
            .args(&paths)
            .output()
            .expect(
                "chattr (Debian's e2fsprogs) is needed to make the ledger's folder refuse writes",
            );
        assert!(
            out.status.success(),
            "chattr +i failed (the test needs root and a file system with immutable files, such as ext4): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Immutable(paths)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

#[test]
fn healthz_is_503_while_the_ledgers_folder_refuses_writes_and_200_again_after() {
    let port = free_port();
    let sandbox = Sandbox::new(&format!(
        "{}{PASSTHROUGH_ROUTE}",
        FAST_AGENT.replace(
            "[agent]",
            &format!("[agent]\nmetrics = \"127.0.0.1:{port}\"")
        )
    ));
    let agent = sandbox.start();
    // The route's worker has its ledger connection once it delivered a file.
    sandbox.drop_file("cart/out", "first.dat", b"first\n");
    assert!(wait_until(Duration::from_secs(20), || sandbox
        .files("warehouse/in")
        .contains(&"first.dat".to_string())));
    let health = format!("http://127.0.0.1:{port}/healthz");
    assert_eq!(get(&health), (200, "ok\n".to_string()));
    let state = sandbox.path("var/state");
    let files = |names: &[&str]| -> Vec<PathBuf> {
        names
            .iter()
            .map(|n| state.join(n))
            .filter(|p| p.exists())
            .chain(std::iter::once(state.clone()))
            .collect()
    };
    // The shared-memory index stays writable: SQLite maps it, and a write to a mapping the
    // file system refuses is a crash, not an error (a real read-only file system refuses
    // mapping it writable at open instead).
    let frozen = Immutable::set(files(&["ledger.sqlite3", "ledger.sqlite3-wal"]));
    let (status, why) = get(&health);
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("the ledger cannot be written"), "{why}");
    drop(frozen);
    assert!(
        wait_until(Duration::from_secs(10), || get(&health).0 == 200),
        "healthz did not come back: {}",
        get(&health).1
    );
    let code = agent.stop_expecting_errors(&["ledger"]);
    assert_eq!(code, 0);
}
