//! The order ledger: an order is sent to the warehouse once, whatever files it comes in; a
//! changed order is never sent silently; every order's life is told by `cartferry order`.

mod support;

use std::collections::BTreeMap;
use std::fs;

use support::*;

/// Shopify exports to a canonical orders CSV for the warehouse, split on bad orders.
const ROUTE: &str = r##"
[[routes]]
name = "orders"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "shopify-orders-csv"
writer = "canonical-orders-csv"
on_invalid = "split"
order_id_prefix = "#"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv", on_conflict = "unique" }
status_updates = { folder = "cart/status" }
"##;

/// A Shopify export of orders `#first`…`#last`, each of one SKU whose quantity is 1 + n % 3,
/// except for `changed` (order number, quantity).
fn export(first: u32, last: u32, changed: Option<(u32, u32)>) -> String {
    let ids: Vec<String> = (first..=last).map(|n| format!("#{n}")).collect();
    let rows: Vec<(&str, &str, u32, &str)> = (first..=last)
        .zip(&ids)
        .map(|(n, id)| {
            let quantity = match changed {
                Some((c, q)) if c == n => q,
                _ => 1 + n % 3,
            };
            (id.as_str(), "MUG-RED", quantity, "Standard Shipping")
        })
        .collect();
    shopify_export(&rows)
}

/// Every order id in the canonical orders CSVs below `dir`, with the files it is in.
fn orders_delivered(dir: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in list_files(dir) {
        let mut csv = csv::Reader::from_path(dir.join(&name)).unwrap();
        for record in csv.records() {
            let id = record.unwrap()[0].to_string();
            let files = found.entry(id).or_default();
            if !files.contains(&name) {
                files.push(name.clone());
            }
        }
    }
    found
}

#[test]
fn overlapping_exports_reach_the_warehouse_once_per_order_and_a_changed_order_goes_to_errors() {
    let sandbox = Sandbox::with_routes(ROUTE);
    sandbox.drop_file("cart/orders", "a.csv", export(1001, 1100, None).as_bytes());
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/orders", "b.csv", export(1051, 1150, None).as_bytes());
    sandbox.once_expecting(0);
    sandbox.drop_file(
        "cart/orders",
        "c.csv",
        export(1101, 1200, Some((1120, 9))).as_bytes(),
    );
    let out = sandbox.once_expecting(1);
    let log = String::from_utf8_lossy(&out.stderr);

    let delivered = orders_delivered(&sandbox.path("warehouse/orders"));
    let twice: Vec<_> = delivered.iter().filter(|(_, f)| f.len() > 1).collect();
    assert!(twice.is_empty(), "orders delivered twice: {twice:?}");
    assert_eq!(
        delivered.len(),
        200,
        "every order once: {:?}",
        delivered.keys()
    );
    assert_eq!(delivered["#1051"], ["a.csv"]);
    assert_eq!(
        delivered["#1120"],
        ["b.csv"],
        "the changed order is not sent again"
    );
    assert_eq!(delivered["#1200"], ["c.csv"]);

    // The change is in the error folder, with a report naming the field and both values.
    let errors = sandbox.path("var/errors/orders");
    assert_eq!(list_files(&errors), ["c.csv", "c.csv.error.txt"]);
    let rejected = fs::read_to_string(errors.join("c.csv")).unwrap();
    assert_eq!(
        rejected.lines().count(),
        2,
        "the header and #1120: {rejected}"
    );
    assert!(rejected.lines().nth(1).unwrap().starts_with("#1120,"));
    let report = fs::read_to_string(errors.join("c.csv.error.txt")).unwrap();
    for needle in [
        "#1120",
        "line 1 quantity",
        "sent \"2\", now \"9\"",
        "b.csv",
        "retry --resend",
    ] {
        assert!(
            report.contains(needle),
            "the report says {needle}: {report}"
        );
    }
    assert!(
        !log.contains("now \"9\""),
        "the values are in the report, not the log: {log}"
    );

    // The status file of b says which orders were left out, and why.
    let status = fs::read_to_string(sandbox.path("cart/status/b.status.csv")).unwrap();
    let already: Vec<&str> = status
        .lines()
        .filter(|l| l.contains(",already_sent,"))
        .collect();
    assert_eq!(already.len(), 50, "{status}");
    assert!(already[0].starts_with("#1051,") && already[0].contains("in a.csv"));

    // `order` tells #1120's life: sent in b, refused in c.
    let history = sandbox.cmd(&["order", "#1120"]);
    assert_eq!(history.status.code(), Some(0));
    let text = String::from_utf8_lossy(&history.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("in b.csv, delivered as b.csv to warehouse:orders"),
        "{text}"
    );
    assert!(lines[1].contains("refused in c.csv"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&sandbox.cmd(&["order", "1120", "--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json[1]["outcome"], "refused");
}

#[test]
fn a_resend_sends_the_changed_order_again_and_says_so() {
    let sandbox = Sandbox::with_routes(ROUTE);
    sandbox.drop_file("cart/orders", "a.csv", export(1001, 1002, None).as_bytes());
    sandbox.once_expecting(0);
    sandbox.drop_file(
        "cart/orders",
        "b.csv",
        export(1001, 1003, Some((1002, 7))).as_bytes(),
    );
    sandbox.once_expecting(1);
    assert_eq!(
        list_files(&sandbox.path("warehouse/orders")),
        ["a.csv", "b.csv"]
    );
    let retried = sandbox.cmd(&["retry", "orders", "b.csv", "--resend"]);
    assert_eq!(
        retried.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    sandbox.once_expecting(0);
    let delivered = orders_delivered(&sandbox.path("warehouse/orders"));
    assert_eq!(delivered["#1002"], ["a.csv", "b-2.csv"], "{delivered:?}");
    assert_eq!(delivered["#1001"], ["a.csv"]);
    let history = String::from_utf8_lossy(&sandbox.cmd(&["order", "#1002"]).stdout).into_owned();
    assert!(history.contains("sent again on purpose"), "{history}");
}

#[test]
fn a_file_of_orders_all_sent_before_is_archived_without_delivery() {
    let sandbox = Sandbox::with_routes(ROUTE);
    sandbox.drop_file("cart/orders", "a.csv", export(1001, 1010, None).as_bytes());
    sandbox.once_expecting(0);
    // The same orders, exported again later: other bytes (a changed column), same orders.
    let again = export(1001, 1010, None).replace("paid,", "paid ,");
    sandbox.drop_file("cart/orders", "again.csv", again.as_bytes());
    let out = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("every document in the file was delivered before"),
        "{log}"
    );
    assert_eq!(list_files(&sandbox.path("warehouse/orders")), ["a.csv"]);
    assert!(sandbox.all_files_below("var/errors").is_empty());
    assert_eq!(
        sandbox
            .all_files_below("var/archive")
            .iter()
            .filter(|f| f.ends_with("again.csv"))
            .count(),
        1
    );
}

#[test]
fn a_route_that_sends_repeats_or_refuses_them_does_so() {
    for (policy, code, delivered_twice) in [("send", 0, true), ("error", 1, false)] {
        let sandbox = Sandbox::with_routes(&ROUTE.replace(
            "on_invalid",
            &format!("on_repeat = \"{policy}\"\non_invalid"),
        ));
        sandbox.drop_file("cart/orders", "a.csv", export(1001, 1002, None).as_bytes());
        sandbox.once_expecting(0);
        sandbox.drop_file("cart/orders", "b.csv", export(1002, 1003, None).as_bytes());
        sandbox.once_expecting(code);
        let delivered = orders_delivered(&sandbox.path("warehouse/orders"));
        assert_eq!(
            delivered["#1002"].len() == 2,
            delivered_twice,
            "{policy}: {delivered:?}"
        );
        assert_eq!(delivered["#1003"], ["b.csv"], "{policy}");
    }
}

/// The `sh` block of README.md's walkthrough, with `cf` running the binary under test.
fn walkthrough() -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Walkthrough with the demo config")
        .nth(1)
        .expect("README.md has its walkthrough");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the walkthrough has an sh block");
    let cf = "cf() { cargo run -q --release -- --config config/cartferry.toml \"$@\"; }";
    assert!(block.contains(cf), "the walkthrough defines cf as {cf}");
    block.replace(
        cf,
        &format!(
            "cf() {{ {} --config config/cartferry.toml \"$@\"; }}",
            binary()
        ),
    )
}

/// Copies the folder `from` into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_readme_walkthrough_pasted_as_one_block_sends_order_2001_once() {
    let clone = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["config", "fixtures"] {
        copy_tree(&repo.join(dir), &clone.path().join(dir));
    }
    let out = std::process::Command::new("bash")
        .args(["-e", "-c", &walkthrough()])
        .current_dir(clone.path())
        .output()
        .unwrap();
    keep_log(&out.stderr);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{stderr}"
    );
    let delivered = clone.path().join("var/warehouse/in/orders");
    let with_2001: Vec<String> = list_files(&delivered)
        .into_iter()
        .filter(|name| {
            fs::read_to_string(delivered.join(name))
                .unwrap()
                .lines()
                .any(|l| l.starts_with("2001,"))
        })
        .collect();
    assert_eq!(
        with_2001,
        ["orders-broken.csv"],
        "order 2001 once:\n{stdout}"
    );
    assert!(
        stdout.contains("left out of orders-broken.csv"),
        "`order 2001` says it was left out of the retry:\n{stdout}"
    );
}
