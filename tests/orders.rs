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
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv", on_conflict = "unique" }
status_updates = { folder = "cart/status" }
"##;

/// A sandbox with `routes`, comparing order ids without their `#`.
fn sandbox(routes: &str) -> Sandbox {
    let sandbox = Sandbox::new(&format!(
        "{}\n{routes}",
        FAST_AGENT.replace("[agent]", "[agent]\norder_id_prefix = \"#\"")
    ));
    for dir in ["cart/orders", "warehouse/orders"] {
        fs::create_dir_all(sandbox.path(dir)).unwrap();
    }
    sandbox
}

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

/// Every order id in the files below `dir` (read with the reader `reader`), with the files it
/// is in.
fn orders_delivered_as(dir: &std::path::Path, reader: &str) -> BTreeMap<String, Vec<String>> {
    let reader = cartferry::format::reader(reader, &toml::Table::new()).unwrap();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in list_files(dir) {
        let file = fs::File::open(dir.join(&name)).unwrap();
        for item in reader.read(Box::new(std::io::BufReader::new(file))) {
            if let cartferry::format::Item::Document(doc, _) = item.unwrap() {
                let files = found.entry(doc.id().to_string()).or_default();
                if !files.contains(&name) {
                    files.push(name.clone());
                }
            }
        }
    }
    found
}

/// Every order id in the canonical orders CSVs below `dir`, with the files it is in.
fn orders_delivered(dir: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    orders_delivered_as(dir, "canonical-orders-csv")
}

#[test]
fn overlapping_exports_reach_the_warehouse_once_per_order_and_a_changed_order_goes_to_errors() {
    overlapping_exports(ROUTE, "canonical-orders-csv", "csv");
}

#[test]
fn overlapping_exports_through_the_x12_940_route_send_each_order_once() {
    let route = ROUTE
        .replace(
            "writer = \"canonical-orders-csv\"",
            "writer = \"x12-940\"\nwriter_options = { partner = { sender_id = \"STORE\", receiver_id = \"THREEPL\" } }",
        )
        .replace("name = \"{stem}.csv\"", "name = \"{stem}.940\"");
    overlapping_exports(&route, "x12-940", "940");
}

/// Exports of #1001–#1100, #1051–#1150 (the overlap unchanged) and #1101–#1200 with #1120's
/// quantity changed, through `route`, whose deliveries `reader` reads and end in `.{ext}`.
fn overlapping_exports(route: &str, reader: &str, ext: &str) {
    let sandbox = sandbox(route);
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

    let delivered = orders_delivered_as(&sandbox.path("warehouse/orders"), reader);
    let twice: Vec<_> = delivered.iter().filter(|(_, f)| f.len() > 1).collect();
    assert!(twice.is_empty(), "orders delivered twice: {twice:?}");
    assert_eq!(
        delivered.len(),
        200,
        "every order once: {:?}",
        delivered.keys()
    );
    assert_eq!(delivered["#1051"], [format!("a.{ext}")]);
    assert_eq!(
        delivered["#1120"],
        [format!("b.{ext}")],
        "the changed order is not sent again"
    );
    assert_eq!(delivered["#1200"], [format!("c.{ext}")]);

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
        lines[0].contains(&format!(
            "in b.csv, delivered as b.{ext} to warehouse:orders"
        )),
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
    let sandbox = sandbox(ROUTE);
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
    let sandbox = sandbox(ROUTE);
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
    let listed = sandbox.cmd(&["errors", "--duplicates"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.lines().any(|l| l.starts_with("orders/again.csv: ")
            && l.contains("every document in it was sent before")),
        "{listed}"
    );
}

#[test]
fn a_route_that_sends_repeats_or_refuses_them_does_so() {
    for (policy, code, delivered_twice) in [("send", 0, true), ("error", 1, false)] {
        let sandbox = sandbox(&ROUTE.replace(
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

/// The shopify-x12 example against a real sshd and the test warehouse: its partner with
/// `shipment_due = "0s"` (every order not shipped yet is late; the orders route takes it from
/// the partner) and the server's folders.
fn shopify_x12_example(sshd: &support::sshd::Sshd) -> Sandbox {
    let sandbox = Sandbox::new("");
    fs::remove_file(sandbox.config()).unwrap();
    let init = sandbox.cmd(&[
        "init",
        "--example",
        "shopify-x12",
        sandbox.root().to_str().unwrap(),
    ]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let example = fs::read_to_string(sandbox.config()).unwrap();
    let config = sshd
        .as_warehouse_of(&example)
        .replace("[agent]", "[agent]\norder_id_prefix = \"#\"")
        .replacen("shipment_due = \"48h\"", "shipment_due = \"0s\"", 1);
    assert!(config.contains("shipment_due = \"0s\""), "{config}");
    fs::write(sandbox.config(), config).unwrap();
    sandbox
}

#[test]
fn order_history_and_late_orders_through_the_shopify_x12_example() {
    use cartferry::model::{Package, ShipmentConfirmation, ShippedLine};
    let sshd = support::sshd::Sshd::start();
    let mut warehouse =
        support::warehouse::Warehouse::new(&sshd.path("root"), "EXAMPLE3PL", "YOURSTORE");
    let sandbox = shopify_x12_example(&sshd);
    let alerts = sandbox.add_file_alerts("");
    let export = shopify_export(&[
        ("#5001", "MUG-RED", 2, "Standard Shipping"),
        ("#5002", "MUG-RED", 1, "Express Shipping"),
        ("#5003", "MUG-RED", 3, "Standard Shipping"),
    ]);
    sandbox.drop_file("var/cart/outbox/orders", "morning.csv", export.as_bytes());
    sandbox.once_expecting(0);
    // The same export again, an hour later: nothing new reaches the warehouse. (Taken before
    // the warehouse answers the morning's 940, so that the order's history has one order: a
    // 997 taken in the same pass as noon.csv could come before or after it.)
    sandbox.drop_file(
        "var/cart/outbox/orders",
        "noon.csv",
        export.replace("paid,", "paid ,").as_bytes(),
    );
    sandbox.once_expecting(0);
    assert_eq!(
        warehouse.receive(),
        1,
        "the morning's 940 reached the warehouse, and nothing was sent twice"
    );
    assert_eq!(warehouse.orders.len(), 3);

    // The warehouse ships #5001 (one parcel) and part of #5003; #5002 waits. It also ships
    // #9999, which it never got from this store.
    let shipment = |order: &str, ordered: u32, shipped: u32, tracking: &str| ShipmentConfirmation {
        order_id: order.into(),
        carrier: "UPSN".into(),
        packages: vec![Package {
            tracking_number: tracking.into(),
            ..Package::default()
        }],
        lines: vec![ShippedLine {
            sku: "MUG-RED".into(),
            quantity_ordered: Some(ordered),
            quantity_shipped: shipped,
        }],
        ..ShipmentConfirmation::default()
    };
    warehouse.ship(
        vec![
            shipment("#5001", 2, 2, "1Z0000000000005001"),
            shipment("#5003", 3, 1, "1Z0000000000005003"),
            shipment("#9999", 1, 1, "1Z0000000000009999"),
        ],
        "ship-1.945",
    );
    sandbox.once_expecting(0);
    sandbox.once_expecting(0);

    let history = String::from_utf8_lossy(&sandbox.cmd(&["order", "#5001"]).stdout).into_owned();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "sent; left out; accepted; shipped: {history}"
    );
    assert!(
        lines[0].contains("the order in morning.csv, delivered as morning.940 to warehouse:in"),
        "{history}"
    );
    assert!(lines[1].contains("left out of noon.csv"), "{history}");
    assert!(
        history.contains("the warehouse's 997 accepting it"),
        "{history}"
    );
    assert!(
        history.contains("a shipment in ship-1.945") && history.contains("UPSN 1Z0000000000005001"),
        "{history}"
    );

    let late = String::from_utf8_lossy(&sandbox.cmd(&["orders", "--late"]).stdout).into_owned();
    assert!(
        late.contains("1 order sent to the warehouse without a shipment"),
        "{late}"
    );
    assert!(
        late.contains("#5002: sent") && late.contains("morning.csv"),
        "{late}"
    );
    assert!(
        !late.contains("#5001") && !late.contains("#5003:"),
        "{late}"
    );
    assert!(
        late.contains("1 shipment for orders cartferry never sent") && late.contains("#9999"),
        "{late}"
    );
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).into_owned();
    assert!(
        status.contains("1 order sent to the warehouse without a shipment")
            && status.contains("#5002"),
        "{status}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&sandbox.cmd(&["orders", "--late", "--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json[0]["order_id"], "#5002");

    // Each order late at the end of a run was said once, #5002 among them (this test's
    // partner gives its orders no time: every order is late until it ships).
    let said = support::alerts_in(&alerts);
    let mut late: Vec<&str> = said
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap())
        .filter(|e| e["kind"] == "order_late")
        .map(|e| e["order_id"].as_str().unwrap())
        .collect();
    late.sort();
    let once = late.len();
    late.dedup();
    assert_eq!(late.len(), once, "an order said twice: {said:?}");
    assert!(late.contains(&"#5002"), "{said:?}");
    assert!(said.iter().all(|m| m["kind"] != "file_failed"), "{said:?}");
}

#[test]
fn four_workers_on_overlapping_exports_send_each_order_once() {
    let sandbox = sandbox(&ROUTE.replace("on_invalid", "workers = 4\non_invalid"));
    for i in 0..16u32 {
        let first = 1001 + i * 7;
        sandbox.drop_file(
            "cart/orders",
            &format!("export-{i:02}.csv"),
            export(first, first + 9, None).as_bytes(),
        );
    }
    // A file whose order is still on its way in another waits for it (a retry): a few passes.
    let mut waited = 0;
    for pass in 0.. {
        assert!(pass < 20, "not settled after 20 passes");
        let out = sandbox.cmd(&["once"]);
        let log = String::from_utf8_lossy(&out.stderr);
        waited += log.matches("this file waits for it").count();
        match out.status.code() {
            Some(0) if sandbox.files("cart/orders").is_empty() => break,
            Some(0 | 75) => std::thread::sleep(std::time::Duration::from_millis(200)),
            _ => panic!("{log}"),
        }
    }
    eprintln!("{waited} waits for an order on its way in another file");
    let delivered = orders_delivered(&sandbox.path("warehouse/orders"));
    let twice: Vec<_> = delivered.iter().filter(|(_, f)| f.len() > 1).collect();
    assert!(twice.is_empty(), "orders delivered twice: {twice:?}");
    assert_eq!(delivered.len(), (15 * 7 + 10) as usize);
    assert!(sandbox.all_files_below("var/errors").is_empty());
}

#[test]
fn an_order_still_on_its_way_in_another_file_makes_the_next_file_wait() {
    // Enough attempts that a.csv does not give up while the test looks.
    let sandbox = sandbox(&ROUTE.replace("on_invalid", "max_attempts = 100\non_invalid"));
    // The destination folder is a file: every delivery fails (a transient fault) until it is
    // a folder again.
    fs::remove_dir(sandbox.path("warehouse/orders")).unwrap();
    fs::write(sandbox.path("warehouse/orders"), "not a folder").unwrap();
    sandbox.drop_file("cart/orders", "a.csv", export(1001, 1002, None).as_bytes());
    sandbox.cmd(&["once"]);
    sandbox.drop_file("cart/orders", "b.csv", export(1002, 1003, None).as_bytes());
    let mut log = String::new();
    let waited = wait_until(std::time::Duration::from_secs(20), || {
        log = String::from_utf8_lossy(&sandbox.cmd(&["once"]).stderr).into_owned();
        log.contains(
            "order #1002 is also in a.csv, which is not delivered yet; this file waits for it",
        )
    });
    assert!(waited, "b.csv never waited for a.csv; log:\n{log}");
    fs::remove_file(sandbox.path("warehouse/orders")).unwrap();
    fs::create_dir(sandbox.path("warehouse/orders")).unwrap();
    let settled = wait_until(std::time::Duration::from_secs(30), || {
        sandbox.cmd(&["once"]);
        list_files(&sandbox.path("warehouse/orders")).len() == 2
    });
    assert!(
        settled,
        "{:?}",
        list_files(&sandbox.path("warehouse/orders"))
    );
    let delivered = orders_delivered(&sandbox.path("warehouse/orders"));
    assert_eq!(delivered["#1002"], ["a.csv"], "{delivered:?}");
    assert_eq!(delivered["#1003"], ["b.csv"], "{delivered:?}");
}

#[test]
fn a_cancellation_goes_once_and_one_of_an_order_never_sent_is_reported() {
    let sandbox = sandbox(
        r#"
[[routes]]
name = "holds"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-holds-csv"
writer = "canonical-holds-csv"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
"#,
    );
    sandbox.drop_file("cart/orders", "a.csv", b"order_id,action\n#1001,cancel\n");
    let first = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(
        log.contains("file read with warnings")
            && log.contains("cartferry has no record of sending order #1001"),
        "{log}"
    );
    sandbox.drop_file(
        "cart/orders",
        "b.csv",
        b"order_id,action\n#1001,cancel\n#1002,hold\n",
    );
    sandbox.once_expecting(0);
    let b = fs::read_to_string(sandbox.path("warehouse/orders/b.csv")).unwrap();
    assert!(!b.contains("#1001") && b.contains("#1002,hold"), "{b}");
    let history = String::from_utf8_lossy(&sandbox.cmd(&["order", "1001"]).stdout).into_owned();
    assert!(
        history.contains("a cancellation in a.csv, delivered as a.csv")
            && history.contains("a cancellation left out of b.csv"),
        "{history}"
    );
}
