//! Who may read what cartferry writes: deliveries and side outputs (status files for the cart)
//! follow the umask, as any program's new files do; the ledger, the staging folder and the error
//! reports, which quote customer data, are the agent's user's alone.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use support::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn deliveries_and_status_files_follow_the_umask_and_the_ledger_and_reports_are_private() {
    let sandbox = Sandbox::with_routes(&ORDERS_ROUTE.replace(
        "on_invalid = \"reject-file\"",
        "on_invalid = \"reject-file\"\nstatus_updates = { folder = \"cart/status\" }",
    ));
    sandbox.drop_file("cart/orders", "good.csv", orders_csv(1, 1, 1).as_bytes());
    sandbox.drop_file("cart/orders", "bad.csv", b"not,an,order\n");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && exec '{}' --config '{}' once",
            binary(),
            sandbox.config().display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&sandbox.path("warehouse/orders/good.csv")), 0o644);
    assert_eq!(mode(&sandbox.path("cart/status/good.status.csv")), 0o644);
    assert_eq!(mode(&sandbox.path("var/state/ledger.sqlite3")), 0o600);
    assert_eq!(mode(&sandbox.path("var/state/staging/orders")), 0o700);
    assert_eq!(
        mode(&sandbox.path("var/errors/orders/bad.csv.error.txt")),
        0o600
    );
}
