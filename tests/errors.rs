//! Bad input and faults: reports in the error folder, the rest keeps flowing, retries work.

mod support;

use std::fs;
use std::time::Duration;

use support::*;

fn fixture(name: &str) -> Vec<u8> {
    fs::read(format!(
        "{}/fixtures/canonical-orders-csv/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn malformed_file_goes_to_errors_with_a_report_and_its_neighbours_are_delivered() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    let mut agent = sandbox.start();
    sandbox.drop_file("cart/orders", "a-good.csv", &fixture("orders-good.csv"));
    sandbox.drop_file("cart/orders", "b-broken.csv", &fixture("orders-broken.csv"));
    sandbox.drop_file(
        "cart/orders",
        "c-good.csv",
        &orders_csv(5000, 3, 2).into_bytes(),
    );
    assert!(
        wait_until(Duration::from_secs(15), || {
            sandbox.files("warehouse/orders").len() == 2
                && sandbox.files("var/errors/orders").len() == 2
        }),
        "expected 2 deliveries and a file with its report; log:\n{}",
        agent.log_text()
    );
    assert_eq!(
        sandbox.files("warehouse/orders"),
        ["a-good.csv", "c-good.csv"]
    );
    let report =
        fs::read_to_string(sandbox.path("var/errors/orders/b-broken.csv.error.txt")).unwrap();
    for needle in [
        "line 3",
        "field \"quantity\"",
        "order 2002",
        "\"two\"",
        "Fix:",
        "retry orders b-broken.csv",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
    assert_eq!(
        fs::read(sandbox.path("var/errors/orders/b-broken.csv")).unwrap(),
        fixture("orders-broken.csv")
    );
    assert!(agent.is_running(), "the agent stopped after a bad file");
    // Still flowing afterwards.
    sandbox.drop_file(
        "cart/orders",
        "d-good.csv",
        &orders_csv(6000, 1, 1).into_bytes(),
    );
    assert!(wait_until(Duration::from_secs(10), || sandbox
        .files("warehouse/orders")
        .len()
        == 3));
    // The customer's name in the broken order is not in the log.
    let log = agent.log_text();
    assert!(
        log.contains("b-broken.csv") && !log.contains("Katherine") && !log.contains("two"),
        "{log}"
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn same_content_twice_is_delivered_once_and_a_fixed_error_file_is_delivered_on_retry() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    let good = fixture("orders-good.csv");
    sandbox.drop_file("cart/orders", "first.csv", &good);
    sandbox.drop_file("cart/orders", "broken.csv", &fixture("orders-broken.csv"));
    // `once` exits 1 when a file went to errors.
    sandbox.once_expecting(1);
    assert_eq!(sandbox.files("warehouse/orders"), ["first.csv"]);

    // The same bytes under another name, and again under the same name: archived, not delivered.
    sandbox.drop_file("cart/orders", "again.csv", &good);
    sandbox.drop_file("cart/orders", "first.csv", &good);
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("warehouse/orders"), ["first.csv"]);
    let archived = sandbox.all_files_below("var/archive/orders");
    assert_eq!(archived.len(), 3, "{archived:?}");

    let errors = sandbox.cmd(&["errors"]);
    let listing = String::from_utf8_lossy(&errors.stdout);
    assert!(
        listing.contains("orders/broken.csv: 1 problem in the data: line 3"),
        "{listing}"
    );

    // Fix the file where it lies, retry it, and it is delivered.
    fs::write(
        sandbox.path("var/errors/orders/broken.csv"),
        fixture("orders-broken-fixed.csv"),
    )
    .unwrap();
    let retry = sandbox.cmd(&["retry", "orders", "broken.csv"]);
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    assert!(
        sandbox.files("var/errors/orders").is_empty(),
        "the report goes with the file"
    );
    sandbox.once_expecting(0);
    assert_eq!(
        sandbox.files("warehouse/orders"),
        ["broken.csv", "first.csv"]
    );
    let delivered = fs::read_to_string(sandbox.path("warehouse/orders/broken.csv")).unwrap();
    assert!(delivered.contains("2002,2026-11-21"), "{delivered}");

    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).to_string();
    let line = status.lines().find(|l| l.starts_with("orders")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cols[1..4],
        ["0", "0", "2"],
        "waiting, in error, delivered today: {status}"
    );
}

#[test]
fn retry_of_a_whole_route_puts_every_error_file_back() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    for name in ["x.csv", "y.csv"] {
        sandbox.drop_file("cart/orders", name, b"order_id,sku\n1,A\n");
    }
    sandbox.once_expecting(1);
    assert_eq!(
        sandbox.files("var/errors/orders").len(),
        4,
        "two files, two reports"
    );
    assert!(sandbox.cmd(&["retry", "orders"]).status.success());
    assert_eq!(sandbox.files("cart/orders"), ["x.csv", "y.csv"]);
    let bad = sandbox.cmd(&["retry", "orders", "nope.csv"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not in the error folder"));
}

#[test]
fn destination_that_disappears_is_retried_and_delivered_when_it_returns() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let agent = sandbox.start();
    fs::remove_dir_all(sandbox.path("warehouse/in")).unwrap();
    sandbox.drop_file("cart/out", "x.dat", b"payload");
    agent.expect_log(
        "transient fault; will retry",
        Duration::from_secs(10),
        "no retry logged",
    );
    fs::create_dir_all(sandbox.path("warehouse/in")).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || sandbox.files("warehouse/in")
            == ["x.dat"]),
        "not delivered after the destination came back; log:\n{}",
        agent.log_text()
    );
    assert!(sandbox.files("var/errors/files").is_empty());
    assert_eq!(agent.stop(), 0);
}

#[test]
fn transient_fault_past_the_attempt_limit_goes_to_errors_with_the_reason() {
    let sandbox = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace(
        "on_conflict = \"fail\" }",
        "on_conflict = \"fail\" }\nmax_attempts = 2",
    ));
    let agent = sandbox.start();
    fs::remove_dir_all(sandbox.path("warehouse/in")).unwrap();
    sandbox.drop_file("cart/out", "x.dat", b"payload");
    assert!(
        wait_until(Duration::from_secs(15), || sandbox
            .files("var/errors/files")
            .len()
            == 2),
        "not moved to errors; log:\n{}",
        agent.log_text()
    );
    let report = fs::read_to_string(sandbox.path("var/errors/files/x.dat.error.txt")).unwrap();
    assert!(report.contains("gave up after 2 attempts"), "{report}");
    assert_eq!(agent.stop(), 0);
}

#[test]
fn name_taken_by_a_different_file_is_not_overwritten() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    fs::write(sandbox.path("warehouse/in/x.dat"), b"someone else's").unwrap();
    sandbox.drop_file("cart/out", "x.dat", b"ours");
    sandbox.once_expecting(1);
    assert_eq!(
        fs::read(sandbox.path("warehouse/in/x.dat")).unwrap(),
        b"someone else's"
    );
    let report = fs::read_to_string(sandbox.path("var/errors/files/x.dat.error.txt")).unwrap();
    assert!(
        report.contains("a file named x.dat is already at the destination"),
        "{report}"
    );

    // With on_conflict = "unique" the file goes next to it instead.
    let unique = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace("\"fail\"", "\"unique\""));
    fs::write(unique.path("warehouse/in/x.dat"), b"someone else's").unwrap();
    unique.drop_file("cart/out", "x.dat", b"ours");
    unique.once_expecting(0);
    assert_eq!(
        fs::read(unique.path("warehouse/in/x-2.dat")).unwrap(),
        b"ours"
    );
}

#[test]
fn a_split_file_delivers_its_good_orders_and_the_fixed_bad_ones_follow_on_retry() {
    let sandbox = Sandbox::with_routes(
        &ORDERS_ROUTE
            .replace("on_invalid = \"reject-file\"\n", "")
            .replace(", on_conflict = \"fail\"", ""),
    );
    let broken = String::from_utf8(fixture("orders-broken.csv")).unwrap();
    let header = broken.lines().next().unwrap();
    // A good order after the bad one, and the file in Windows line endings.
    let input = format!(
        "{}\n2003,2026-11-21,USD,UPS Ground,Grace,Hopper,,1 Navy Way,,Arlington,VA,22202,US,,,,1,MUG-RED,2,12.50,Red mug\n",
        broken.trim_end()
    )
    .replace('\n', "\r\n");
    sandbox.drop_file("cart/orders", "batch.csv", input.as_bytes());
    let out = sandbox.once_expecting(1);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("1 delivered (1 without their bad documents)"),
        "{summary}"
    );

    let delivered = fs::read_to_string(sandbox.path("warehouse/orders/batch.csv")).unwrap();
    assert!(delivered.contains("2001,") && delivered.contains("2003,"));
    assert!(!delivered.contains("2002,"), "the bad order is left out");

    let rejected = fs::read_to_string(sandbox.path("var/errors/orders/batch.csv")).unwrap();
    let bad_row = input.lines().nth(2).unwrap();
    assert_eq!(
        rejected,
        format!("{header}\r\n{bad_row}\r\n"),
        "header and the bad order's rows, as written"
    );
    let report = fs::read_to_string(sandbox.path("var/errors/orders/batch.csv.error.txt")).unwrap();
    for needle in [
        "delivered 2 documents of this file",
        "line 2, field \"quantity\", order 2002: \"two\"",
        "retry orders batch.csv",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
    assert_eq!(sandbox.files("cart/orders"), Vec::<String>::new());

    fs::write(
        sandbox.path("var/errors/orders/batch.csv"),
        rejected.replace(",two,", ",2,"),
    )
    .unwrap();
    assert!(
        sandbox
            .cmd(&["retry", "orders", "batch.csv"])
            .status
            .success()
    );
    sandbox.once_expecting(0);
    let second = fs::read_to_string(sandbox.path("warehouse/orders/batch-2.csv")).unwrap();
    assert_eq!(
        second.lines().count(),
        2,
        "header and order 2002 alone: {second}"
    );
    assert!(second.contains("2002,") && second.contains("TEE-M-BLK"));
    assert!(sandbox.files("var/errors/orders").is_empty());
}

#[test]
fn a_windows_1252_semicolon_file_is_read_and_its_rejected_rows_keep_their_encoding() {
    let sandbox = Sandbox::with_routes(&ORDERS_ROUTE.replace("on_invalid = \"reject-file\"\n", ""));
    let header = "Order ID;Shipping Method;Ship To First Name;Ship To Last Name;Ship To Address1;Ship To City;Ship To State;Ship To Postal Code;Ship To Country;SKU;Quantity";
    let text = format!(
        "{header}\r\nA1;Ground;José;Núñez;1 Calle Mayor;Québec;Québec;G1R 4P5;Canada;MUG;1\r\nA2;Ground;Zoë;Brontë;2 Rue;Paris;;75001;France;;1\r\n"
    );
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!lossy);
    sandbox.drop_file("cart/orders", "ansi.csv", &bytes);
    sandbox.once_expecting(1);
    let delivered = fs::read_to_string(sandbox.path("warehouse/orders/ansi.csv")).unwrap();
    assert!(delivered.contains("A1,"), "{delivered}");
    assert!(
        delivered.contains("José,Núñez"),
        "decoded to UTF-8: {delivered}"
    );
    assert!(
        delivered.contains(",QC,G1R 4P5,CA,"),
        "province and country as ISO codes: {delivered}"
    );
    let rejected = fs::read(sandbox.path("var/errors/orders/ansi.csv")).unwrap();
    let bad_rows = format!("{header}\r\n{}\r\n", text.lines().nth(2).unwrap());
    let (expected, _, _) = encoding_rs::WINDOWS_1252.encode(&bad_rows);
    assert_eq!(
        rejected,
        expected.as_ref(),
        "the bad row, still Windows-1252 and semicolons"
    );
    let report = fs::read_to_string(sandbox.path("var/errors/orders/ansi.csv.error.txt")).unwrap();
    assert!(
        report.contains("line 2, field \"sku\", order A2"),
        "{report}"
    );
}

#[test]
fn check_names_an_unknown_reader_option_and_a_bad_on_invalid() {
    let sandbox = Sandbox::with_routes(
        &ORDERS_ROUTE
            .replace("on_invalid = \"reject-file\"", "on_invalid = \"drop\"")
            .replace(
                "reader = \"canonical-orders-csv\"",
                "reader = \"canonical-orders-csv\"\nreader_options = { encodng = \"utf-8\", delimiter = \"#\" }",
            ),
    );
    let out = sandbox.cmd(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for needle in [
        "routes[0].on_invalid",
        "\"drop\" is not one of",
        "routes[0].reader_options",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn a_shopify_export_through_a_route_maps_shipping_methods_and_reports_the_rest() {
    let sandbox = Sandbox::with_routes(
        r#"
[[routes]]
name = "shopify"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "shopify-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
[routes.shipping_methods]
"Standard Shipping" = { carrier = "UPSN", service = "GND" }
"Express Shipping" = { carrier = "FDEG", service = "2DAY" }
"#,
    );
    let export = fs::read(format!(
        "{}/fixtures/shopify-orders-csv/orders_export_1.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    sandbox.drop_file("cart/orders", "orders_export_1.csv", &export);
    let out = sandbox.once_expecting(1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("1 delivered (1 without their bad documents)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered =
        fs::read_to_string(sandbox.path("warehouse/orders/orders_export_1.csv")).unwrap();
    let mut orders: Vec<&str> = delivered
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|id| id.starts_with('#'))
        .collect();
    orders.dedup();
    assert_eq!(orders.len(), 34, "44 good orders less 10 on Free Shipping");
    assert!(delivered.contains("#1002,2025-05-11T10:54:06-04:00,USD,Standard Shipping,UPSN,GND,"));

    let report =
        fs::read_to_string(sandbox.path("var/errors/shopify/orders_export_1.csv.error.txt"))
            .unwrap();
    for needle in [
        "delivered 34 documents of this file",
        "field \"shipping method\", order #1005: \"Free Shipping\"",
        "field \"Lineitem sku\", order #1017",
        "field \"Financial Status\", order #1024: \"pending\"",
        "order #1013",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
    let rejected = fs::read(sandbox.path("var/errors/shopify/orders_export_1.csv")).unwrap();
    assert!(
        rejected.starts_with(b"\xef\xbb\xbfName,Email,Financial Status"),
        "the left-out orders stay a Shopify export"
    );
}

#[test]
fn a_mapped_csv_route_delivers_reports_in_the_carts_columns_and_retries_the_fixed_order() {
    let fixtures = format!("{}/fixtures/mapped-csv", env!("CARGO_MANIFEST_DIR"));
    let mapping = fs::read_to_string(format!("{fixtures}/shop-orders-de.toml"))
        .unwrap()
        .replace("[fields]", "[routes.reader_options.fields]");
    let sandbox = Sandbox::with_routes(&format!(
        r#"
[[routes]]
name = "shop"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "mapped-csv"
writer = "canonical-orders-csv"
to = {{ endpoint = "warehouse", dir = "orders", name = "{{stem}}-{{id}}.csv" }}
[routes.reader_options]
{mapping}
"#
    ));
    let export = fs::read(format!("{fixtures}/shop-orders-de.csv")).unwrap();
    sandbox.drop_file("cart/orders", "bestellungen.csv", &export);
    sandbox.once_expecting(1);
    let delivered = sandbox.files("warehouse/orders");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let text =
        fs::read_to_string(sandbox.path(&format!("warehouse/orders/{}", delivered[0]))).unwrap();
    assert!(text.contains("B-24001,2026-11-21T09:14:00,EUR,Standard,DHL,PAKET,,Jürgen Müller,"));
    assert!(!text.contains("B-24003"));

    let report =
        fs::read_to_string(sandbox.path("var/errors/shop/bestellungen.csv.error.txt")).unwrap();
    assert!(
        report.contains("line 2, field \"Menge (mapped to quantity)\", order B-24003: \"zwei\""),
        "{report}"
    );
    let rejected = sandbox.path("var/errors/shop/bestellungen.csv");
    let fixed = fs::read_to_string(&rejected)
        .unwrap()
        .replace(";zwei;", ";2;");
    fs::write(&rejected, fixed).unwrap();
    let retry = sandbox.cmd(&["retry", "shop"]);
    assert!(retry.status.success(), "{retry:?}");
    sandbox.once_expecting(0);
    let delivered = sandbox.files("warehouse/orders");
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    let retried = delivered
        .iter()
        .map(|name| fs::read_to_string(sandbox.path(&format!("warehouse/orders/{name}"))).unwrap())
        .find(|text| text.contains("B-24003"))
        .expect("the fixed order is delivered");
    assert_eq!(
        retried.lines().count(),
        2,
        "header and the one fixed order: {retried}"
    );
    assert!(retried.contains(",8001,CH,"), "{retried}");
}
