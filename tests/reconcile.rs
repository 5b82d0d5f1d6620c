//! Inventory reconciliation through the agent: the warehouse's inventory compared with the cart's
//! newest stock export, a discrepancy report naming exactly the SKUs that differ beyond the
//! threshold or are known to one side only, its summary in the log and in `status`.

mod support;

use support::*;

const ROUTE: &str = r#"
[[routes]]
name = "inventory"
from = { endpoint = "warehouse", dir = "stock", pattern = "*.csv" }
reader = "canonical-inventory-csv"
writer = "shopify-inventory-csv"
to = { endpoint = "cart", dir = "inventory", name = "{stem}.csv" }
reconcile = { cart_export = "cart/exports", pattern = "stock-*.csv", report_folder = "var/reports", min_units = 2, min_percent = 5 }
"#;

const HEADER: &str = "sku,location,on_hand,available\n";

#[test]
fn the_report_names_exactly_the_skus_that_differ_beyond_the_threshold() {
    let sandbox = Sandbox::with_routes(ROUTE);
    let alerts = sandbox.add_file_alerts("");
    // An older export the agent must not use.
    sandbox.drop_file(
        "cart/exports",
        "stock-1.csv",
        format!("{HEADER}SAME,,999,\n").as_bytes(),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cart = format!(
        "{HEADER}SAME,,10,\nLESS,,5,\nCART-ONLY,,4,\nSMALL,,100,\nPERCENT,,10,\nSPLIT,A,3,\nSPLIT,B,4,\n"
    );
    sandbox.drop_file("cart/exports", "stock-2.csv", cart.as_bytes());
    let warehouse = format!(
        "{HEADER}SAME,WH1,10,10\nLESS,WH1,3,3\nWAREHOUSE-ONLY,WH1,7,7\nSMALL,WH1,97,97\nPERCENT,WH1,12,12\nSPLIT,WH1,7,7\n"
    );
    sandbox.drop_file("warehouse/stock", "snapshot.csv", warehouse.as_bytes());
    let out = sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/inventory"), ["snapshot.csv"]);
    let report =
        std::fs::read_to_string(sandbox.path("var/reports/snapshot.discrepancies.csv")).unwrap();
    // SMALL differs by 3 of 100 (under 5 %), SPLIT's two cart locations add up to 7: neither is
    // reported. PERCENT differs by 2 of 10 (20 %), LESS by 2 of 5.
    assert_eq!(
        report,
        "sku,cart_quantity,warehouse_quantity,difference,note\n\
         CART-ONLY,4,,,only in the cart's export\n\
         LESS,5,3,-2,\n\
         PERCENT,10,12,2,\n\
         WAREHOUSE-ONLY,,7,,only in the warehouse's inventory\n"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("inventory reconciled: 7 SKUs compared with stock-2.csv: 2 differ, 1 only in the cart, 1 only at the warehouse"),
        "{log}"
    );
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).to_string();
    assert!(
        status.contains("inventory of route inventory reconciled") && status.contains("2 differ"),
        "{status}"
    );
    let said = support::alerts_in(&alerts);
    assert_eq!(support::alert_kinds(&said), ["reconciliation"], "{said:?}");
    let event = &said[0]["events"][0];
    assert_eq!(event["file"], "snapshot.csv");
    assert!(
        event["found"]
            .as_str()
            .unwrap()
            .contains("2 differ, 1 only in the cart, 1 only at the warehouse"),
        "{event}"
    );
}

#[test]
fn without_a_cart_export_the_inventory_still_goes_through() {
    let sandbox = Sandbox::with_routes(ROUTE);
    sandbox.drop_file(
        "warehouse/stock",
        "snapshot.csv",
        format!("{HEADER}A,WH1,1,1\n").as_bytes(),
    );
    let out = sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/inventory"), ["snapshot.csv"]);
    assert!(sandbox.files("var/reports").is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no stock export from the cart"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A million SKUs on each side, with discrepancies planted every 100,003rd SKU: the report lists
/// exactly those (the memory this takes is measured in BENCHMARKS.md, not here).
#[test]
fn a_million_skus_reconcile_to_exactly_the_planted_discrepancies() {
    const SKUS: u32 = 1_000_000;
    let sandbox =
        Sandbox::with_routes(&ROUTE.replace("min_units = 2, min_percent = 5", "min_units = 1"));
    let planted = |i: u32| i % 100_003 == 7;
    let mut cart = String::with_capacity(SKUS as usize * 24);
    let mut warehouse = String::with_capacity(SKUS as usize * 24);
    cart.push_str(HEADER);
    warehouse.push_str(HEADER);
    for i in 0..SKUS {
        let sku = format!("SKU-{:07}", (u64::from(i) * 7919) % u64::from(SKUS));
        cart.push_str(&format!("{sku},,{},\n", i % 50));
        let stock = if planted(i) { i % 50 + 1 } else { i % 50 };
        warehouse.push_str(&format!("{sku},WH1,{stock},\n"));
    }
    sandbox.drop_file("cart/exports", "stock-big.csv", cart.as_bytes());
    sandbox.drop_file("warehouse/stock", "big.csv", warehouse.as_bytes());
    sandbox.once_expecting(0);
    let report =
        std::fs::read_to_string(sandbox.path("var/reports/big.discrepancies.csv")).unwrap();
    let mut expected: Vec<String> = (0..SKUS)
        .filter(|&i| planted(i))
        .map(|i| {
            format!(
                "SKU-{:07},{},{},1,",
                (u64::from(i) * 7919) % u64::from(SKUS),
                i % 50,
                i % 50 + 1
            )
        })
        .collect();
    expected.sort();
    let listed: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(listed, expected);
}

#[test]
fn an_unreadable_cart_export_leaves_the_inventory_unreconciled_but_delivered() {
    let sandbox = Sandbox::with_routes(ROUTE);
    sandbox.drop_file(
        "cart/exports",
        "stock-1.csv",
        b"Handle,SKU,Qty\nmug,MUG,3\n",
    );
    sandbox.drop_file(
        "warehouse/stock",
        "snapshot.csv",
        format!("{HEADER}A,WH1,1,1\n").as_bytes(),
    );
    let out = sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/inventory"), ["snapshot.csv"]);
    assert!(sandbox.files("var/reports").is_empty());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("the cart's stock export cannot be read") && log.contains("on_hand"),
        "{log}"
    );
}
