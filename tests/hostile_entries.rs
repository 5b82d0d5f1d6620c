//! Entries in an inbox that are not regular files. The listing skips them, but a file can be
//! swapped for something else between the listing and the claim: a symbolic link to a secret, a
//! folder, a pipe. The swap is made here deterministically, between a real listing and a real
//! claim through the library, and what was swapped in is never read: it goes to the error folder
//! as it is, with a report.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;

use cartferry::config::Config;
use cartferry::endpoint::{self, Entry};
use cartferry::journey::{self, Outcome};
use cartferry::ledger::Ledger;
use cartferry::route::Route;
use support::*;

/// The sandbox's only route, its ledger, and the listing entry of `name` in its inbox.
fn listed(sandbox: &Sandbox, name: &str) -> (Arc<Route>, Ledger, Entry) {
    let config = Config::load(&sandbox.config()).unwrap();
    config.create_dirs().unwrap();
    let endpoints = endpoint::open_all(&config);
    let route = cartferry::agent::routes(&config, &endpoints).unwrap()[0].clone();
    let ledger = Ledger::open(&config.agent.state_dir).unwrap();
    let entry = route
        .source
        .list(&route.config.from.dir)
        .unwrap()
        .files
        .into_iter()
        .find(|e| e.name == name)
        .expect("the file is listed");
    (route, ledger, entry)
}

/// Every regular file below `dir`, with its bytes.
fn contents_below(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                out.push((e.path().display().to_string(), fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

fn assert_refused(sandbox: &Sandbox, outcome: Outcome, what: &str) {
    match outcome {
        Outcome::Failed { reason } => assert!(
            reason.contains(&format!("orders.csv is {what}, not a regular file")),
            "{reason}"
        ),
        other => panic!("expected the error folder, got {other:?}"),
    }
    assert!(
        sandbox.all_files_below("warehouse").is_empty(),
        "nothing delivered"
    );
    let report = fs::read_to_string(sandbox.path("var/errors/files/orders.csv.error.txt"))
        .expect("a report beside it");
    assert!(report.contains("not a regular file"), "{report}");
}

#[test]
fn a_file_swapped_for_a_link_to_a_secret_after_listing_is_not_read_through() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("secret.txt");
    fs::write(&secret, b"the root password is hunter2\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    // Readable only by another user (nobody), as far as the test's own user allows.
    if fs::metadata(elsewhere.path()).unwrap().uid() == 0 {
        std::os::unix::fs::chown(&secret, Some(65534), Some(65534)).unwrap();
    }
    sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");
    let (route, ledger, entry) = listed(&sandbox, "orders.csv");

    fs::remove_file(sandbox.path("cart/out/orders.csv")).unwrap();
    symlink(&secret, sandbox.path("cart/out/orders.csv")).unwrap();
    let outcome = journey::take(&route, &ledger, &entry).unwrap();

    assert_refused(&sandbox, outcome, "a symbolic link");
    let moved = sandbox.path("var/errors/files/orders.csv");
    let link = fs::symlink_metadata(&moved).expect("the link itself is in the error folder");
    assert!(link.file_type().is_symlink());
    for (path, bytes) in contents_below(sandbox.root()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hunter2"),
            "the secret was copied into {path}"
        );
    }
    assert_eq!(
        fs::read(&secret).unwrap(),
        b"the root password is hunter2\n",
        "the secret stays where it was"
    );
}

#[test]
fn a_folder_or_a_pipe_swapped_in_after_listing_goes_to_the_error_folder_unread() {
    for (what, make) in [
        (
            "a folder",
            (|p: &Path| fs::create_dir(p).unwrap()) as fn(&Path),
        ),
        ("a special file (a pipe, socket or device)", |p: &Path| {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: `c` is a valid NUL-terminated path that lives across the call.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }),
    ] {
        let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
        sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");
        let (route, ledger, entry) = listed(&sandbox, "orders.csv");
        fs::remove_file(sandbox.path("cart/out/orders.csv")).unwrap();
        make(&sandbox.path("cart/out/orders.csv"));
        // A pipe opened for reading would wait for a writer forever: the claim must not open it.
        let outcome = journey::take(&route, &ledger, &entry).unwrap();
        assert_refused(&sandbox, outcome, what);
        assert!(fs::symlink_metadata(sandbox.path("var/errors/files/orders.csv")).is_ok());
    }
}

#[test]
fn a_processing_folder_that_is_a_link_stops_the_route_and_moves_nothing_from_where_it_points() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let elsewhere = tempfile::tempdir().unwrap();
    // What a claim would have left there: `<ledger id>-<name>`, which recovery returns to the inbox.
    fs::write(elsewhere.path().join("1-payroll.csv"), b"not the agent's\n").unwrap();
    symlink(
        elsewhere.path(),
        sandbox.path("cart/out/.cartferry-processing"),
    )
    .unwrap();
    sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");

    let out = sandbox.once_expecting_errors(
        1,
        &["the route takes no files until its processing folder is fixed"],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("is a symbolic link, not a folder")
            && log.contains("the route takes no files until its processing folder is fixed"),
        "{log}"
    );
    assert_eq!(
        fs::read(elsewhere.path().join("1-payroll.csv")).unwrap(),
        b"not the agent's\n",
        "nothing is taken from where the link points"
    );
    assert_eq!(
        sandbox.files("cart/out"),
        ["orders.csv"],
        "the inbox is left alone"
    );
    assert!(sandbox.all_files_below("warehouse").is_empty());
    assert!(
        sandbox.all_files_below("var/errors").is_empty(),
        "no report for a file never taken"
    );

    fs::remove_file(sandbox.path("cart/out/.cartferry-processing")).unwrap();
    sandbox.once_expecting_errors(
        0,
        &["the route takes no files until its processing folder is fixed"],
    );
    assert_eq!(sandbox.files("warehouse/in"), ["orders.csv"]);
}

#[test]
fn a_processing_folder_that_is_a_file_stops_the_route_without_wedging_it() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    fs::write(sandbox.path("cart/out/.cartferry-processing"), b"").unwrap();
    sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");
    let out = sandbox.once_expecting_errors(
        1,
        &["the route takes no files until its processing folder is fixed"],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("is a file, not a folder"), "{log}");
    assert!(log.contains("1 route took no files"), "{log}");
    assert_eq!(sandbox.files("cart/out"), ["orders.csv"]);
    assert!(
        sandbox.all_files_below("var/errors").is_empty(),
        "no report, no loop of reports"
    );
}

#[test]
fn a_file_changed_after_it_was_taken_is_archived_with_a_warning() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    // A dangling link where the destination folder should be: the file is converted and named,
    // then its delivery fails and waits for a retry, the order file in the processing area.
    fs::remove_dir(sandbox.path("warehouse/orders")).unwrap();
    symlink("/nonexistent/folder", sandbox.path("warehouse/orders")).unwrap();
    sandbox.drop_file("cart/orders", "o.csv", orders_csv(1, 1, 1).as_bytes());
    sandbox.once_expecting(75);
    let claimed = sandbox.path("cart/orders/.cartferry-processing/1-o.csv");
    let mut bytes = fs::read(&claimed).unwrap();
    bytes.extend_from_slice(b"written after the claim\n");
    fs::write(&claimed, bytes).unwrap();
    fs::remove_file(sandbox.path("warehouse/orders")).unwrap();
    fs::create_dir(sandbox.path("warehouse/orders")).unwrap();
    let out = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("the file changed after it was taken") && log.contains("file=\"o.csv\""),
        "{log}"
    );
    assert_eq!(sandbox.files("warehouse/orders"), ["o.csv"]);
}
