//! Recovery of files left in the processing area by a power cut: the ledger and the files may
//! disagree, and the agent must settle each file without losing or doubling it.

mod support;

use std::fs;

use support::*;

fn archived(sandbox: &Sandbox) -> Vec<String> {
    sandbox.all_files_below("var/archive/files")
}

#[test]
fn a_finished_file_whose_archive_move_was_undone_is_archived_again_not_redelivered() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "x.dat", b"payload");
    sandbox.once_expecting(0);
    let archived_path = sandbox.path(&format!("var/archive/files/{}", archived(&sandbox)[0]));
    // A power cut after the ledger said "done" but before the archive rename reached the disk.
    let processing = sandbox.path("cart/out/.cartferry-processing/1-x.dat");
    fs::rename(&archived_path, &processing).unwrap();
    fs::remove_file(sandbox.path("warehouse/in/x.dat")).unwrap(); // taken by the warehouse meanwhile

    sandbox.once_expecting(0);
    assert!(
        archived_path.exists(),
        "moved back to its recorded archive path"
    );
    assert!(!processing.exists());
    assert!(
        sandbox.files("warehouse/in").is_empty(),
        "not delivered a second time"
    );
    assert!(sandbox.files("cart/out").is_empty());
}

#[test]
fn a_claimed_file_the_ledger_does_not_know_is_taken_again() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    // A power cut after the claim's rename but before the ledger's row reached the disk.
    fs::create_dir_all(sandbox.path("cart/out/.cartferry-processing")).unwrap();
    fs::write(
        sandbox.path("cart/out/.cartferry-processing/41-y.dat"),
        b"lost claim",
    )
    .unwrap();
    sandbox.once_expecting(0);
    assert_eq!(
        fs::read(sandbox.path("warehouse/in/y.dat")).unwrap(),
        b"lost claim"
    );
    assert_eq!(archived(&sandbox).len(), 1);
    assert!(sandbox.all_files_below("cart/out").is_empty());
}

#[test]
fn archive_retention_removes_only_old_dated_folders() {
    let sandbox = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace(
        "on_conflict = \"fail\" }",
        "on_conflict = \"fail\" }\narchive_retention = \"30d\"",
    ));
    let old = sandbox.path("var/archive/files/2001/02/03");
    fs::create_dir_all(&old).unwrap();
    fs::write(old.join("ancient.csv"), b"x").unwrap();
    sandbox.drop_file("cart/out", "new.dat", b"fresh");
    sandbox.once_expecting(0);
    assert!(!old.exists(), "a folder past its retention is removed");
    assert_eq!(
        archived(&sandbox).len(),
        1,
        "today's archive stays: {:?}",
        archived(&sandbox)
    );
}

#[test]
fn dedupe_can_be_turned_off_per_route() {
    let sandbox = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace(
        "on_conflict = \"fail\" }",
        "on_conflict = \"unique\" }\ndedupe = false",
    ));
    sandbox.drop_file("cart/out", "a.dat", b"same");
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/out", "a.dat", b"same");
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("warehouse/in"), ["a-2.dat", "a.dat"]);
}

/// A file delivered as it is is hashed as it is sent: a repeat found then is withdrawn before its
/// rename, and one whose name is taken at the destination is hashed first, so that it is a
/// duplicate, not a name conflict. Small and big (read ahead on a second thread) alike.
#[test]
fn a_repeated_file_is_archived_as_a_duplicate_whether_or_not_its_name_is_taken() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let big: String = (0..200_000).map(|i| format!("row {i}\n")).collect();
    assert!(big.len() > 1 << 20);
    sandbox.drop_file("cart/out", "small.dat", b"same\n");
    sandbox.drop_file("cart/out", "big.dat", big.as_bytes());
    sandbox.once_expecting(0);
    // The same bytes again: under the names taken at the destination, and under new ones.
    sandbox.drop_file("cart/out", "small.dat", b"same\n");
    sandbox.drop_file("cart/out", "big.dat", big.as_bytes());
    sandbox.drop_file("cart/out", "small-again.dat", b"same\n");
    sandbox.drop_file("cart/out", "big-again.dat", big.as_bytes());
    let out = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        log.matches("outcome=\"duplicate\"").count(),
        4,
        "four duplicates; log:\n{log}"
    );
    assert_eq!(
        sandbox.all_files_below("warehouse/in"),
        ["big.dat", "small.dat"].map(String::from),
        "delivered once each, nothing temporary left behind"
    );
    assert_eq!(
        fs::read(sandbox.path("warehouse/in/big.dat")).unwrap(),
        big.as_bytes()
    );
    assert_eq!(archived(&sandbox).len(), 6);
    assert!(sandbox.files("var/errors/files").is_empty());
}
