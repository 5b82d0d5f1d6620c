//! Priority routes: a hold goes to the warehouse before an order file waiting at the same moment,
//! even one that arrived first, and holds and releases of one order keep their order.

mod support;

use std::time::Duration;

use support::*;

const ROUTES: &str = r#"
[[routes]]
name = "orders"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }

[[routes]]
name = "holds"
priority = true
from = { endpoint = "cart", dir = "holds", pattern = "*.csv" }
reader = "canonical-holds-csv"
writer = "canonical-holds-csv"
to = { endpoint = "warehouse", dir = "holds", name = "{stem}.csv" }
"#;

fn hold(order: u32, action: &str) -> String {
    format!("order_id,action,reason\n{order},{action},payment review\n")
}

/// Where in the log the file `name` was delivered.
fn delivered_at(log: &str, name: &str) -> usize {
    log.lines()
        .position(|l| l.contains("file delivered") && l.contains(&format!("file=\"{name}\"")))
        .unwrap_or_else(|| panic!("{name} not delivered; log:\n{log}"))
}

#[test]
fn a_hold_goes_before_the_order_file_that_arrived_just_before_it() {
    let sandbox = Sandbox::with_routes(ROUTES);
    let agent = sandbox.start();
    for round in 0..3u32 {
        let order = 5000 + round;
        sandbox.drop_file(
            "cart/orders",
            &format!("o{order}.csv"),
            orders_csv(order, 1, 1).as_bytes(),
        );
        std::thread::sleep(Duration::from_millis(20));
        sandbox.drop_file(
            "cart/holds",
            &format!("h{order}.csv"),
            hold(order, "hold").as_bytes(),
        );
        // The log line comes after the file is in place (the source is archived in between).
        assert!(
            wait_until(Duration::from_secs(20), || {
                sandbox.files("warehouse/orders").len() == round as usize + 1
                    && agent.log_text().lines().any(|l| {
                        l.contains("file delivered")
                            && l.contains(&format!("file=\"o{order}.csv\""))
                    })
            }),
            "round {round}; log:\n{}",
            agent.log_text()
        );
        let log = agent.log_text();
        assert!(
            delivered_at(&log, &format!("h{order}.csv"))
                < delivered_at(&log, &format!("o{order}.csv")),
            "round {round}: the hold must reach the warehouse first; log:\n{log}"
        );
    }
    assert_eq!(agent.stop(), 0);
}

#[test]
fn once_takes_priority_routes_first_and_keeps_a_hold_before_its_release() {
    let sandbox = Sandbox::with_routes(ROUTES);
    sandbox.drop_file("cart/orders", "o1.csv", orders_csv(7000, 3, 1).as_bytes());
    sandbox.drop_file("cart/holds", "a-hold.csv", hold(7001, "hold").as_bytes());
    std::thread::sleep(Duration::from_millis(30));
    sandbox.drop_file(
        "cart/holds",
        "b-release.csv",
        hold(7001, "release").as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    let (hold_at, release_at, orders_at) = (
        delivered_at(&log, "a-hold.csv"),
        delivered_at(&log, "b-release.csv"),
        delivered_at(&log, "o1.csv"),
    );
    assert!(hold_at < release_at && release_at < orders_at, "{log}");

    let wrong =
        Sandbox::with_routes(&ROUTES.replace("priority = true", "priority = true\nworkers = 4"));
    let check = wrong.cmd(&["check"]);
    assert_eq!(check.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("routes[1].workers: a priority route"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
