//! Order status updates for the cart, through the agent: every route that moves orders, holds,
//! shipments or returns writes what became of each order (sent to fulfillment, accepted or
//! rejected by the warehouse, shipped, partially shipped …) in the cart's import format, once the
//! file is delivered, and only for the documents that were delivered.

mod support;

use std::path::Path;

/// The rows of a status file without its `updated_at` column (the time the file was taken).
fn statuses(sandbox: &support::Sandbox, file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(sandbox.path(file))
        .unwrap_or_else(|e| panic!("{file}: {e}; files: {:?}", sandbox.all_files_below("cart")));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("order_id,status,updated_at,detail"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), 4, "{l}");
            assert!(
                chrono::DateTime::parse_from_str(cells[2], "%Y-%m-%dT%H:%M:%S%:z").is_ok(),
                "{l}"
            );
            format!("{},{},{}", cells[0], cells[1], cells[3])
        })
        .collect()
}

const PARTNER: &str = r#"
[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
"#;

#[test]
fn delivered_orders_are_sent_to_fulfillment_and_the_warehouse_997_accepts_or_rejects_them() {
    let sandbox = support::Sandbox::with_routes(&format!(
        r#"{PARTNER}
[[routes]]
name = "orders-940"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "acme" }}
on_invalid = "split"
to = {{ endpoint = "warehouse", dir = "edi", name = "{{stem}}.edi" }}
status_updates = {{ folder = "cart/status" }}

[[routes]]
name = "acks"
from = {{ endpoint = "warehouse", dir = "acks", pattern = "*.997" }}
reader = "x12-997"
status_updates = {{ folder = "cart/status" }}
"#
    ));
    std::fs::create_dir_all(sandbox.path("warehouse/acks")).unwrap();
    // Order 1002 has no quantity a warehouse can ship: it is left out, and gets no status.
    let rows = support::minimal_orders(&[("1001", "1"), ("1002", "two"), ("1003", "2")]);
    sandbox.drop_file("cart/orders", "batch.csv", rows.as_bytes());
    sandbox.once_expecting(1);
    assert_eq!(
        statuses(&sandbox, "cart/status/batch.status.csv"),
        ["1001,sent_to_fulfillment,", "1003,sent_to_fulfillment,"]
    );

    let ack = "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1200*U*00401*000000077*0*P*>~\n\
        GS*FA*WAREHOUSE*CARTFERRY*20261122*1200*77*X*004010~\nST*997*0001~\nAK1*OW*1~\n\
        AK2*940*0002~\nAK5*R*5~\nAK9*P*2*2*1~\nSE*6*0001~\nGE*1*77~\nIEA*1*000000077~\n";
    // Like many warehouses, this one lists only the set in error: the other was accepted.
    sandbox.drop_file("warehouse/acks", "answer.997", ack.as_bytes());
    sandbox.once_expecting(1);
    let mut answered = statuses(&sandbox, "cart/status/answer.status.csv");
    answered.sort();
    assert_eq!(
        answered,
        [
            "1001,accepted_by_warehouse,",
            "1003,rejected_by_warehouse,5"
        ]
    );
    // The rejection also went to the error folder with its report.
    assert!(
        sandbox
            .all_files_below("var/errors/acks")
            .iter()
            .any(|f| f.ends_with("answer.997.error.txt"))
    );
}

#[test]
fn shipments_update_the_cart_as_shipped_or_partially_shipped_in_its_own_format() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "shipments"
from = { endpoint = "warehouse", dir = "out", pattern = "*.edi" }
reader = "x12-945"
writer = "woocommerce-shipment-tracking-csv"
to = { endpoint = "cart", dir = "tracking", name = "{stem}.csv" }
status_updates = { folder = "cart/status", format = "woocommerce-order-status-csv", options = { statuses = { shipped = "completed", partially_shipped = "partially-shipped" } } }
"#,
    );
    let fixture =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/945/shipments.edi"))
            .unwrap();
    sandbox.drop_file("warehouse/out", "ship.edi", &fixture);
    sandbox.once_expecting(0);
    // 1001 shipped whole, 1002 shipped 2 of 3 mugs, 1003 whole.
    assert_eq!(
        std::fs::read_to_string(sandbox.path("cart/status/ship.status.csv")).unwrap(),
        "order_id,status\n1001,completed\n1002,partially-shipped\n1003,completed\n"
    );
    assert_eq!(sandbox.files("cart/tracking"), ["ship.csv"]);
}

#[test]
fn a_file_that_fails_writes_no_status_and_a_bad_status_setting_is_named() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "orders"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-orders-csv"
writer = "canonical-orders-csv"
on_invalid = "reject-file"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
status_updates = { folder = "cart/status", format = "shopify-order-tags-csv" }
"#,
    );
    let rows = support::minimal_orders(&[("1001", "1"), ("1002", "two")]);
    sandbox.drop_file("cart/orders", "bad.csv", rows.as_bytes());
    sandbox.drop_file(
        "cart/orders",
        "good.csv",
        support::minimal_orders(&[("2001", "1")]).as_bytes(),
    );
    sandbox.once_expecting(1);
    assert_eq!(sandbox.files("cart/status"), ["good.status.csv"]);
    assert_eq!(
        std::fs::read_to_string(sandbox.path("cart/status/good.status.csv")).unwrap(),
        "Name,Command,Tags Command,Tags\n2001,UPDATE,MERGE,cartferry-sent-to-fulfillment\n"
    );
    assert!(sandbox.all_files_below("var/state/staging").is_empty());

    let wrong = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "orders"
from = { endpoint = "cart", dir = "orders" }
reader = "canonical-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "warehouse", dir = "orders" }
status_updates = { format = "magento-status-csv", options = { statuses = { shiped = "x" } } }
also = [ { writer = "refunds-csv" } ]
"#,
    );
    let check = wrong.cmd(&["check"]);
    assert_eq!(check.status.code(), Some(2));
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    for expected in [
        "routes[0].status_updates.folder",
        "routes[0].status_updates.format: unknown status format \"magento-status-csv\"",
        "routes[0].also[0].writer: unknown format \"refunds-csv\"",
        "routes[0].also[0].folder",
    ] {
        assert!(said.contains(expected), "{expected} in:\n{said}");
    }
}

#[test]
fn a_return_gives_the_cart_refund_requests_restock_adjustments_and_returned_statuses() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "returns"
from = { endpoint = "warehouse", dir = "returns", pattern = "*.edi" }
reader = "x12-947"
writer = "refund-requests-csv"
to = { endpoint = "cart", dir = "refunds", name = "{stem}.csv" }
also = [ { writer = "restock-adjustments-csv", folder = "cart/restock", name = "{stem}.restock.csv" } ]
status_updates = { folder = "cart/status" }
"#,
    );
    let fixture = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/947/returns-adjustments.edi"),
    )
    .unwrap();
    sandbox.drop_file("warehouse/returns", "adjust.edi", &fixture);
    sandbox.once_expecting(0);
    // RMA-77: one red mug back on the shelf, one damaged, a T-shirt back; RMA-78: three blue
    // mugs written off.
    assert_eq!(
        std::fs::read_to_string(sandbox.path("cart/refunds/adjust.csv")).unwrap(),
        "order_id,rma_id,sku,quantity_restocked,quantity_damaged,condition,received_date\n\
         #1001,RMA-77,MUG-RED,1,1,damaged,2026-11-25\n\
         #1001,RMA-77,TEE-M-BLK,1,0,resellable,2026-11-25\n\
         #1002,RMA-78,MUG-BLU,0,3,damaged,2026-11-25\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path("cart/restock/adjust.restock.csv")).unwrap(),
        "sku,adjustment,reason,reference\nMUG-RED,1,return,RMA-77\nTEE-M-BLK,1,return,RMA-77\n"
    );
    assert_eq!(
        statuses(&sandbox, "cart/status/adjust.status.csv"),
        ["#1001,returned,RMA-77", "#1002,returned,RMA-78"]
    );
    assert!(sandbox.all_files_below("var/state/staging").is_empty());
}
