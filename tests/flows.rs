//! The six business flows end to end, on the `shopify-x12` example config, against a real
//! OpenSSH server on loopback playing the 3PL's server and a small test-only warehouse
//! (`support/warehouse.rs`) that reads what arrives and answers the way a 3PL does.

mod support;

use std::fs;
use std::path::Path;

use cartferry::format::x12::acknowledgment_997::AckStatus;
use cartferry::model::{
    InventoryRecord, ItemCondition, Package, ReturnLine, ReturnReceipt, ShipmentConfirmation,
    ShippedLine,
};
use support::sshd::Sshd;
use support::warehouse::Warehouse;
use support::*;

/// A shipping method the example config maps.
const STANDARD: &str = "Standard Shipping";

/// The example config, pointed at the test server and made quick.
struct Flow {
    sshd: Sshd,
    sandbox: Sandbox,
    warehouse: Warehouse,
}

fn flow() -> Flow {
    let sshd = Sshd::start();
    let example = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/shopify-x12.toml"),
    )
    .unwrap();
    let config = sshd.as_warehouse_of(&example);
    let sandbox = Sandbox::new(&config);
    let warehouse = Warehouse::new(&sshd.path("root"), "EXAMPLE3PL", "YOURSTORE");
    Flow {
        sshd,
        sandbox,
        warehouse,
    }
}

impl Flow {
    /// One `once`, after the files dropped have had time to settle; its log.
    fn once(&self, code: i32) -> String {
        std::thread::sleep(std::time::Duration::from_millis(80));
        String::from_utf8_lossy(&self.sandbox.once_expecting(code).stderr).into_owned()
    }

    fn drop(&self, dir: &str, name: &str, text: &str) {
        self.sandbox
            .drop_file(&format!("var/cart/{dir}"), name, text.as_bytes());
    }

    /// Every status row the cart got, without the time: `order,status,detail`, in file order.
    fn statuses(&self) -> Vec<String> {
        let dir = self.sandbox.path("var/cart/inbox/status");
        let mut rows = Vec::new();
        for name in list_files(&dir) {
            let text = fs::read_to_string(dir.join(&name)).unwrap();
            for line in text.lines().skip(1) {
                let cells: Vec<&str> = line.split(',').collect();
                rows.push(format!("{},{}", cells[0], cells[3]));
            }
        }
        rows
    }

    /// Files on the server's `in/` (before the warehouse takes them).
    fn server_in(&self) -> Vec<String> {
        list_files(&self.sshd.path("root/in"))
            .into_iter()
            .filter(|n| n != "done")
            .collect()
    }
}

#[test]
fn orders_go_out_as_940s_and_the_warehouse_997_accepts_or_rejects_each() {
    let mut f = flow();
    f.drop(
        "outbox/orders",
        "batch-1.csv",
        &shopify_export(&[
            ("#2001", "MUG-RED", 2, STANDARD),
            ("#2002", "TEE-M", 1, STANDARD),
            ("#2003", "CAP", 1, STANDARD),
        ]),
    );
    f.once(0);
    assert_eq!(f.server_in(), ["batch-1.940"]);
    f.warehouse.reject.insert("#2003".into());
    assert_eq!(f.warehouse.receive(), 1);
    assert_eq!(
        f.warehouse.orders.keys().collect::<Vec<_>>(),
        ["#2001", "#2002", "#2003"]
    );
    assert_eq!(f.warehouse.orders["#2001"].lines[0].quantity, 2);
    let log = f.once(1);
    assert!(
        log.contains("the partner rejected 1 document cartferry sent"),
        "{log}"
    );
    let mut statuses = f.statuses();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "#2001,cartferry-accepted-by-warehouse",
            "#2001,cartferry-sent-to-fulfillment",
            "#2002,cartferry-accepted-by-warehouse",
            "#2002,cartferry-sent-to-fulfillment",
            "#2003,cartferry-rejected-by-warehouse",
            "#2003,cartferry-sent-to-fulfillment",
        ]
    );
    let report = fs::read_to_string(
        f.sandbox.path("var/errors/acknowledgments-in").join(
            list_files(&f.sandbox.path("var/errors/acknowledgments-in"))
                .into_iter()
                .find(|n| n.ends_with(".error.txt"))
                .unwrap(),
        ),
    )
    .unwrap();
    assert!(
        report.contains("order #2003") && !report.contains("#2001"),
        "{report}"
    );
}

#[test]
fn a_cancellation_reaches_the_warehouse_before_its_order_waiting_beside_it() {
    let mut f = flow();
    f.drop(
        "outbox/orders",
        "batch-2.csv",
        &shopify_export(&[
            ("#3001", "MUG-RED", 1, STANDARD),
            ("#3002", "CAP", 1, STANDARD),
        ]),
    );
    f.drop(
        "outbox/cancellations",
        "cancel-3001.csv",
        "order_id,action,reason\n#3001,cancel,customer changed their mind\n",
    );
    f.once(0);
    assert_eq!(f.warehouse.receive(), 2);
    assert_eq!(f.warehouse.received, ["cancel-3001.940", "batch-2.940"]);
    assert!(f.warehouse.cancelled.contains("#3001"));
    let statuses = f.statuses();
    assert!(
        statuses.contains(&"#3001,cartferry-cancelled".to_string()),
        "{statuses:?}"
    );
}

#[test]
fn shipments_come_back_as_shopify_fulfillments_with_statuses_and_a_997() {
    let mut f = flow();
    let line = |sku: &str, ordered, shipped| ShippedLine {
        sku: sku.into(),
        quantity_ordered: Some(ordered),
        quantity_shipped: shipped,
    };
    let package = |tracking: &str| Package {
        tracking_number: tracking.into(),
        ..Package::default()
    };
    f.warehouse.ship(
        vec![
            ShipmentConfirmation {
                order_id: "#4001".into(),
                shipment_id: Some("S-1".into()),
                ship_date: Some("2026-11-23".into()),
                carrier: "UPSN".into(),
                packages: vec![package("1Z999AA10000000001"), package("1Z999AA10000000002")],
                lines: vec![line("MUG-RED", 2, 2), line("CAP", 1, 1)],
                ..ShipmentConfirmation::default()
            },
            ShipmentConfirmation {
                order_id: "#4002".into(),
                shipment_id: Some("S-2".into()),
                ship_date: Some("2026-11-23".into()),
                carrier: "FDEG".into(),
                packages: vec![package("794600000001")],
                lines: vec![line("TEE-M", 3, 1)],
                ..ShipmentConfirmation::default()
            },
        ],
        "ship-1.945",
    );
    f.once(0);
    let fulfillments =
        fs::read_to_string(f.sandbox.path("var/cart/inbox/fulfillments/ship-1.csv")).unwrap();
    assert!(
        fulfillments.contains("1Z999AA10000000001,1Z999AA10000000002")
            || fulfillments.contains("1Z999AA10000000001, 1Z999AA10000000002"),
        "{fulfillments}"
    );
    assert_eq!(
        f.statuses(),
        [
            "#4001,cartferry-shipped",
            "#4002,cartferry-partially-shipped"
        ]
    );
    // The 997 answering the 945 goes out on the next pass, through the outbox route.
    f.once(0);
    assert_eq!(f.warehouse.receive(), 1);
    assert_eq!(f.warehouse.acknowledged.len(), 1);
    assert_eq!(
        (
            f.warehouse.acknowledged[0].0.as_str(),
            f.warehouse.acknowledged[0].2
        ),
        ("SW", AckStatus::Accepted)
    );
}

#[test]
fn an_inventory_snapshot_updates_the_store_and_reports_the_planted_discrepancies() {
    let mut f = flow();
    f.drop(
        "outbox/stock",
        "inventory_export.csv",
        "Handle,Title,SKU,Location,On hand (current)\nmug,Mug,MUG-RED,Shop,10\ntee,Tee,TEE-M,Shop,4\ncap,Cap,CAP,Shop,20\nold,Old,OLD-1,Shop,3\n",
    );
    let record = |sku: &str, on_hand| InventoryRecord {
        sku: sku.into(),
        location: Some("WH1".into()),
        on_hand,
        available: Some(on_hand),
        as_of: Some("2026-11-23".into()),
    };
    // TEE-M: 4 → 9 (reported), CAP: 20 → 19 (1 unit, 5 %: under the example's 2 units), NEW-1
    // only at the warehouse, OLD-1 only in the store.
    f.warehouse.snapshot(
        vec![
            record("MUG-RED", 10),
            record("TEE-M", 9),
            record("CAP", 19),
            record("NEW-1", 5),
        ],
        "stock-1.846",
    );
    f.once(0);
    assert!(
        f.sandbox
            .path("var/cart/inbox/inventory/stock-1.csv")
            .is_file()
    );
    let report = fs::read_to_string(
        f.sandbox
            .path("var/reports/inventory/stock-1.discrepancies.csv"),
    )
    .unwrap();
    assert_eq!(
        report,
        "sku,cart_quantity,warehouse_quantity,difference,note\n\
         NEW-1,,5,,only in the warehouse's inventory\n\
         OLD-1,3,,,only in the cart's export\n\
         TEE-M,4,9,5,\n"
    );
}

#[test]
fn rmas_go_out_as_180s_the_warehouse_reads_and_acknowledges() {
    let mut f = flow();
    f.drop(
        "outbox/rmas",
        "rma-1.csv",
        "rma_id,order_id,customer_name,sku,quantity,reason\nRMA-9,#5001,Ada Lovelace,MUG-RED,2,arrived broken\n",
    );
    f.once(0);
    assert_eq!(f.warehouse.receive(), 1);
    assert!(f.warehouse.rmas.contains("RMA-9"), "{:?}", f.warehouse.rmas);
    // The warehouse's 997 for the 180 is taken and recorded (an RMA gets no order status from it).
    assert_eq!(list_files(&f.sshd.path("root/out")).len(), 1);
    f.once(0);
    assert!(list_files(&f.sshd.path("root/out")).is_empty());
    assert_eq!(f.statuses(), ["#5001,cartferry-return-authorized"]);
}

#[test]
fn returns_come_back_as_refunds_restock_adjustments_and_returned_statuses() {
    let mut f = flow();
    f.warehouse.returned(
        vec![ReturnReceipt {
            rma_id: "RMA-9".into(),
            order_id: "#5001".into(),
            received_date: Some("2026-11-24".into()),
            lines: vec![ReturnLine {
                sku: "MUG-RED".into(),
                quantity_restocked: 1,
                quantity_damaged: 1,
                condition: ItemCondition::Damaged,
            }],
        }],
        "returns-1.180",
    );
    f.once(0);
    let refunds =
        fs::read_to_string(f.sandbox.path("var/cart/inbox/refunds/returns-1.csv")).unwrap();
    assert!(
        refunds.contains("#5001,RMA-9,MUG-RED,1,1,damaged,2026-11-24"),
        "{refunds}"
    );
    let restock =
        fs::read_to_string(f.sandbox.path("var/cart/inbox/restock/returns-1.csv")).unwrap();
    assert_eq!(
        restock,
        "sku,adjustment,reason,reference\nMUG-RED,1,return,RMA-9\n"
    );
    assert_eq!(f.statuses(), ["#5001,cartferry-returned"]);
    // The store answers the 180's group with a 997.
    f.once(0);
    assert_eq!(f.warehouse.receive(), 1);
    assert_eq!(f.warehouse.acknowledged.len(), 1);
}
