//! A day in the life of a store and its X12 warehouse, with the agent running (`cartferry run`)
//! against a real OpenSSH server on loopback and the test-only warehouse answering: 500 orders in
//! 10 batches, 20 holds (half of them racing their own orders), 5 releases, 3 cancellations,
//! shipments arriving out of order (partials, several parcels), 2 inventory snapshots with
//! planted discrepancies, 5 returns (2 damaged), and two files planted to fail. At the end every
//! order's statuses in the cart's files are exactly right, each discrepancy report names exactly
//! its planted SKUs, and the error folders hold only the planted files.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use cartferry::model::{
    InventoryRecord, ItemCondition, Package, ReturnLine, ReturnReceipt, ShipmentConfirmation,
    ShippedLine,
};
use support::sshd::Sshd;
use support::warehouse::Warehouse;
use support::*;

const BATCHES: u32 = 10;
const PER_BATCH: u32 = 50;
const SKUS: [&str; 5] = ["MUG-RED", "MUG-BLU", "TEE-M", "CAP", "TOWEL"];
/// The order planted to fail: a shipping method the route does not know.
const BAD_ORDER: u32 = 10_153;

fn config(sshd: &Sshd) -> String {
    format!(
        r#"
[agent]
state_dir = "var/state"
archive_dir = "var/archive"
errors_dir = "var/errors"
poll_interval = "200ms"
stable_for = "50ms"
retry_initial = "100ms"

[endpoints.cart]
kind = "local"
root = "var/cart"
create_dirs = true

[endpoints.outbox]
kind = "local"
root = "var/outbox"
create_dirs = true

{warehouse}

[partners.threepl]
sender_id = "YOURSTORE"
receiver_id = "EXAMPLE3PL"
acknowledgment_due = "0s"

[[routes]]
name = "orders"
from = {{ endpoint = "cart", dir = "outbox/orders", pattern = "*.csv" }}
reader = "shopify-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "threepl" }}
to = {{ endpoint = "warehouse", dir = "in", name = "{{stem}}.940" }}
status_updates = {{ folder = "var/cart/inbox/status" }}
[routes.shipping_methods]
"Standard Shipping" = {{ carrier = "UPSN", service = "GND" }}
"Express Shipping" = {{ carrier = "FDEG", service = "2DAY" }}
"Free Shipping" = {{ carrier = "UPSN", service = "GND" }}

[[routes]]
name = "holds"
priority = true
from = {{ endpoint = "cart", dir = "outbox/holds", pattern = "*.csv" }}
reader = "canonical-holds-csv"
writer = "canonical-holds-csv"
to = {{ endpoint = "warehouse", dir = "in/holds", name = "{{stem}}.csv" }}
status_updates = {{ folder = "var/cart/inbox/status" }}

[[routes]]
name = "acknowledgments-in"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.997" }}
reader = "x12-997"
status_updates = {{ folder = "var/cart/inbox/status" }}

[[routes]]
name = "shipments"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.945" }}
reader = "x12-945"
writer = "shopify-fulfillments-csv"
to = {{ endpoint = "cart", dir = "inbox/fulfillments", name = "{{stem}}.csv" }}
acknowledge = {{ partner = "threepl", folder = "var/outbox/997" }}
status_updates = {{ folder = "var/cart/inbox/status" }}

[[routes]]
name = "inventory"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.846" }}
reader = "x12-846"
writer = "shopify-inventory-csv"
to = {{ endpoint = "cart", dir = "inbox/inventory", name = "{{stem}}.csv" }}
reconcile = {{ cart_export = "var/cart/outbox/stock", report_folder = "var/reports", min_units = 2, reader = "mapped-csv", reader_options = {{ kind = "inventory", fields = {{ sku = "SKU", on_hand = "On hand (current)" }} }} }}

[[routes]]
name = "rmas"
from = {{ endpoint = "cart", dir = "outbox/rmas", pattern = "*.csv" }}
reader = "canonical-rmas-csv"
writer = "x12-180"
writer_options = {{ partner = "threepl" }}
to = {{ endpoint = "warehouse", dir = "in", name = "{{stem}}.180" }}
status_updates = {{ folder = "var/cart/inbox/status" }}

[[routes]]
name = "returns"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.180" }}
reader = "x12-180"
writer = "refund-requests-csv"
to = {{ endpoint = "cart", dir = "inbox/refunds", name = "{{stem}}.csv" }}
also = [ {{ writer = "restock-adjustments-csv", folder = "var/cart/inbox/restock", name = "{{stem}}.csv" }} ]
acknowledge = {{ partner = "threepl", folder = "var/outbox/997" }}
status_updates = {{ folder = "var/cart/inbox/status" }}

[[routes]]
name = "acknowledgments-out"
from = {{ endpoint = "outbox", dir = "997", pattern = "*.edi" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "warehouse", dir = "in", name = "{{stem}}.997" }}
"#,
        warehouse = sshd.endpoint("warehouse", "user_key", "known_hosts")
    )
}

fn id(n: u32) -> String {
    format!("#{n}")
}

fn sku(n: u32) -> &'static str {
    SKUS[n as usize % SKUS.len()]
}

/// Every status each order got in the cart's status files, sorted, each as often as it came (a
/// status said twice is there twice).
fn statuses(sandbox: &Sandbox) -> BTreeMap<String, Vec<String>> {
    let dir = sandbox.path("var/cart/inbox/status");
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in list_files(&dir) {
        for line in fs::read_to_string(dir.join(&name)).unwrap().lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            all.entry(cells[0].to_string())
                .or_default()
                .push(cells[1].to_string());
        }
    }
    for statuses in all.values_mut() {
        statuses.sort();
    }
    all
}

/// The stock records of a snapshot: every SKU at 100, but `planted` ones at 100 + their delta.
fn snapshot(planted: &[(&str, i64)]) -> Vec<InventoryRecord> {
    SKUS.iter()
        .map(|s| {
            let delta = planted.iter().find(|(p, _)| p == s).map_or(0, |(_, d)| *d);
            InventoryRecord {
                sku: s.to_string(),
                location: Some("WH1".into()),
                on_hand: 100 + delta,
                available: Some(100 + delta),
                as_of: Some("2026-11-23".into()),
            }
        })
        .collect()
}

#[test]
fn a_day_of_orders_holds_shipments_inventory_and_returns_ends_with_every_status_right() {
    let sshd = Sshd::start();
    let sandbox = Sandbox::new(&config(&sshd));
    let mut warehouse = Warehouse::new(&sshd.path("root"), "EXAMPLE3PL", "YOURSTORE");
    fs::create_dir_all(sshd.path("root/in/holds")).unwrap();
    let drop = |dir: &str, name: &str, text: &str| {
        sandbox.drop_file(&format!("var/cart/{dir}"), name, text.as_bytes())
    };
    let stock: String = std::iter::once("Handle,SKU,Location,On hand (current)\n".to_string())
        .chain(SKUS.iter().map(|s| format!("h,{s},Shop,100\n")))
        .collect();
    drop("outbox/stock", "stock.csv", &stock);
    let agent = sandbox.start();
    let settle = |what: &str, done: &mut dyn FnMut() -> bool| {
        assert!(
            wait_until(Duration::from_secs(60), done),
            "{what}; log:\n{}",
            agent.log_text()
        );
    };

    // Morning: ten batches; two holds per batch, one dropped with its batch (racing its order),
    // one after the batch reached the warehouse.
    let mut holds = Vec::new();
    let mut races = Vec::new();
    for b in 0..BATCHES {
        let first = 10_000 + b * PER_BATCH;
        let ids: Vec<String> = (first..first + PER_BATCH).map(id).collect();
        let orders: Vec<_> = (first..first + PER_BATCH)
            .zip(&ids)
            .map(|(n, order)| {
                let method = if n == BAD_ORDER {
                    "Teleport"
                } else {
                    "Standard Shipping"
                };
                (order.as_str(), sku(n), 1 + n % 3, method)
            })
            .collect();
        let export = shopify_export(&orders);
        drop("outbox/orders", &format!("batch-{b:02}.csv"), &export);
        let (racing, later) = (first + 1, first + 2);
        drop(
            "outbox/holds",
            &format!("hold-{racing}.csv"),
            &format!("order_id,action\n{},hold\n", id(racing)),
        );
        holds.push(racing);
        races.push((racing, b));
        settle("the batch reaches the warehouse", &mut || {
            warehouse.receive();
            warehouse.orders.len() as u32 >= (b + 1) * PER_BATCH - u32::from(b >= 3)
        });
        drop(
            "outbox/holds",
            &format!("hold-{later}.csv"),
            &format!("order_id,action\n{},hold\n", id(later)),
        );
        holds.push(later);
        // The cart's scheduler retries one export: the same batch again, which must not reach
        // the warehouse twice (the warehouse fails on an order or a file it already has).
        if b == 4 {
            drop("outbox/orders", "batch-04.csv", &export);
            settle(
                "the exported batch again is archived as a duplicate",
                &mut || {
                    sandbox
                        .all_files_below("var/archive")
                        .iter()
                        .filter(|f| f.contains("batch-04"))
                        .count()
                        == 2
                },
            );
        }
    }
    settle("every hold reaches the warehouse", &mut || {
        warehouse.receive();
        warehouse.held.len() == 20
    });
    // A hold dropped with its order's batch goes first: its route has priority.
    let taken_at = |name: String| {
        warehouse
            .received
            .iter()
            .position(|r| *r == name)
            .unwrap_or_else(|| panic!("{name} never reached the warehouse"))
    };
    for (racing, b) in &races {
        assert!(
            taken_at(format!("hold-{racing}.csv")) < taken_at(format!("batch-{b:02}.940")),
            "the hold of order {racing} reached the warehouse after its batch: {:?}",
            warehouse.received
        );
    }
    // Noon: five holds released, three orders cancelled.
    let released: Vec<u32> = holds.iter().copied().step_by(4).collect();
    let release_rows: String = released
        .iter()
        .map(|n| format!("{},release\n", id(*n)))
        .collect();
    drop(
        "outbox/holds",
        "releases.csv",
        &format!("order_id,action\n{release_rows}"),
    );
    let cancelled = [10_010, 10_220, 10_480];
    let cancel_rows: String = cancelled
        .iter()
        .map(|n| format!("{},cancel\n", id(*n)))
        .collect();
    drop(
        "outbox/holds",
        "cancellations.csv",
        &format!("order_id,action\n{cancel_rows}"),
    );
    settle(
        "releases and cancellations reach the warehouse",
        &mut || {
            warehouse.receive();
            warehouse.held.len() == 15 && warehouse.cancelled.len() == 3
        },
    );

    // Afternoon: the warehouse ships what it may, in three files, the last batches first; every
    // seventh order partly, every fifth in two parcels.
    let shippable: Vec<u32> = warehouse
        .orders
        .keys()
        .map(|k| k[1..].parse::<u32>().unwrap())
        .filter(|n| !warehouse.held.contains(&id(*n)) && !warehouse.cancelled.contains(&id(*n)))
        .collect();
    let shipment = |n: u32| {
        let ordered = 1 + n % 3;
        let shipped = if n.is_multiple_of(7) && ordered > 1 {
            ordered - 1
        } else {
            ordered
        };
        let mut packages = vec![Package {
            tracking_number: format!("1Z{n:016}"),
            ..Package::default()
        }];
        if n.is_multiple_of(5) {
            packages.push(Package {
                tracking_number: format!("1Z{:016}", n + 1_000_000),
                ..Package::default()
            });
        }
        ShipmentConfirmation {
            order_id: id(n),
            shipment_id: Some(format!("S{n}")),
            ship_date: Some("2026-11-23".into()),
            carrier: "UPSN".into(),
            packages,
            lines: vec![ShippedLine {
                sku: sku(n).into(),
                quantity_ordered: Some(ordered),
                quantity_shipped: shipped,
            }],
            ..ShipmentConfirmation::default()
        }
    };
    for (part, chunk) in shippable.rchunks(shippable.len() / 3 + 1).enumerate() {
        warehouse.ship(
            chunk.iter().map(|n| shipment(*n)).collect(),
            &format!("ship-{part}.945"),
        );
    }
    fs::write(sshd.path("root/out/garbage.945"), "this is not X12").unwrap();
    warehouse.snapshot(snapshot(&[("TEE-M", 5), ("CAP", -3)]), "stock-1.846");

    // Evening: five returns authorized and received, two of them damaged; a second snapshot.
    let returned: Vec<u32> = shippable.iter().copied().step_by(90).take(5).collect();
    let rma_rows: String = returned
        .iter()
        .map(|n| {
            format!(
                "RMA-{n},{},Ada Lovelace,{},1,changed mind\n",
                id(*n),
                sku(*n)
            )
        })
        .collect();
    drop(
        "outbox/rmas",
        "rmas.csv",
        &format!("rma_id,order_id,customer_name,sku,quantity,reason\n{rma_rows}"),
    );
    settle("the RMAs reach the warehouse", &mut || {
        warehouse.receive();
        warehouse.rmas.len() == 5
    });
    warehouse.returned(
        returned
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let damaged = i < 2;
                ReturnReceipt {
                    rma_id: format!("RMA-{n}"),
                    order_id: id(*n),
                    received_date: Some("2026-11-23".into()),
                    lines: vec![ReturnLine {
                        sku: sku(*n).into(),
                        quantity_restocked: u32::from(!damaged),
                        quantity_damaged: u32::from(damaged),
                        condition: if damaged {
                            ItemCondition::Damaged
                        } else {
                            ItemCondition::Resellable
                        },
                    }],
                }
            })
            .collect(),
        "returns.180",
    );
    warehouse.snapshot(snapshot(&[("MUG-RED", -10)]), "stock-2.846");

    // Night: everything settles; the warehouse takes the store's 997s.
    let mut last = String::new();
    let settled = wait_until(Duration::from_secs(60), || {
        warehouse.receive();
        let server_out = list_files(&sshd.path("root/out"));
        last = format!(
            "server out/: {server_out:?}; refunds: {:?}; reports: {:?}; 997s the warehouse got: {:?}",
            sandbox.files("var/cart/inbox/refunds"),
            sandbox.files("var/reports"),
            warehouse.acknowledged
        );
        server_out.is_empty()
            && sandbox.files("var/cart/inbox/refunds").len() == 1
            && sandbox.files("var/reports").len() == 2
            && warehouse.acknowledged.len() == 4
    });
    assert!(
        settled,
        "the cart has every answer: {last}; log:\n{}",
        agent.log_text()
    );
    let log = agent.log_text();
    assert_eq!(agent.stop(), 0, "{log}");

    // Every order's statuses, exactly.
    let got = statuses(&sandbox);
    for b in 0..BATCHES {
        for n in 10_000 + b * PER_BATCH..10_000 + (b + 1) * PER_BATCH {
            let mut expected: BTreeSet<&str> = BTreeSet::new();
            if n != BAD_ORDER {
                expected.extend(["sent_to_fulfillment", "accepted_by_warehouse"]);
            }
            if holds.contains(&n) {
                expected.insert("on_hold");
            }
            if released.contains(&n) {
                expected.insert("released");
            }
            if cancelled.contains(&n) {
                expected.insert("cancelled");
            }
            if shippable.contains(&n) {
                let s = shipment(n);
                let partial = s.lines[0].quantity_shipped < s.lines[0].quantity_ordered.unwrap();
                expected.insert(if partial {
                    "partially_shipped"
                } else {
                    "shipped"
                });
            }
            if returned.contains(&n) {
                expected.extend(["return_authorized", "returned"]);
            }
            let found: Vec<&str> = got
                .get(&id(n))
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let expected: Vec<&str> = expected.into_iter().collect();
            assert_eq!(found, expected, "order {n}: each status once");
        }
    }
    assert!(!shippable.contains(&BAD_ORDER) && holds.iter().all(|h| !cancelled.contains(h)));

    // Each snapshot's report names exactly its planted SKUs.
    let report = |name: &str| {
        fs::read_to_string(sandbox.path(&format!("var/reports/{name}.discrepancies.csv")))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(report("stock-1"), ["CAP", "TEE-M"]);
    assert_eq!(report("stock-2"), ["MUG-RED"]);

    // Returns: the refunds list every return, the restock only the undamaged ones.
    let refunds = fs::read_to_string(sandbox.path("var/cart/inbox/refunds/returns.csv")).unwrap();
    assert_eq!(refunds.lines().count(), 6, "{refunds}");
    let restock = fs::read_to_string(sandbox.path("var/cart/inbox/restock/returns.csv")).unwrap();
    assert_eq!(restock.lines().count(), 4, "{restock}");

    // Only the planted failures are in the error folders.
    let mut errors = sandbox.all_files_below("var/errors");
    errors.sort();
    assert_eq!(
        errors,
        [
            "orders/batch-03.csv",
            "orders/batch-03.csv.error.txt",
            "shipments/garbage.945",
            "shipments/garbage.945.error.txt"
        ],
        "log:\n{log}"
    );
    // Every group the store sent was acknowledged: none is late.
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).to_string();
    assert!(!status.contains("without the partner's 997"), "{status}");
}
