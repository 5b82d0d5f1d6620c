//! What already has a delivered name: a folder, a dangling link or a pipe takes the name as much
//! as a file does, so the delivery takes the next free name (or, with `on_conflict = "fail"`,
//! goes to the error folder) instead of going round forever; and a name template that can make
//! an empty name is refused at config time.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;

const UNIQUE_ROUTE: &str = r#"
[[routes]]
name = "files"
from = { endpoint = "cart", dir = "out", pattern = "*" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "in", name = "{name}", on_conflict = "unique" }
"#;

/// `cartferry once`, killed if it is not done within 30 s (a livelock would never be).
fn once_within_30s(sandbox: &Sandbox) -> Output {
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = wait_until(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if !done {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        done,
        "once did not finish within 30 s; log:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes something at a path.
type Maker = fn(&Path);

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_folder_a_dangling_link_or_a_pipe_at_the_name_takes_it() {
    let makers: [(&str, Maker); 3] = [
        ("a folder", |p| fs::create_dir(p).unwrap()),
        ("a dangling link", |p| {
            symlink("/nonexistent/target", p).unwrap()
        }),
        ("a pipe", mkfifo),
    ];
    for (what, make) in makers {
        let sandbox = Sandbox::with_routes(UNIQUE_ROUTE);
        make(&sandbox.path("warehouse/in/orders.csv"));
        sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");
        let out = once_within_30s(&sandbox);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}; log:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(sandbox.path("warehouse/in/orders-2.csv")).unwrap(),
            b"order 1\n",
            "{what}: delivered under the next free name"
        );
        assert!(
            fs::symlink_metadata(sandbox.path("warehouse/in/orders.csv")).is_ok(),
            "{what} is left as it was"
        );
    }
}

#[test]
fn with_on_conflict_fail_a_folder_at_the_name_sends_the_file_to_the_error_folder() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    fs::create_dir(sandbox.path("warehouse/in/orders.csv")).unwrap();
    sandbox.drop_file("cart/out", "orders.csv", b"order 1\n");
    let out = once_within_30s(&sandbox);
    assert_eq!(
        out.status.code(),
        Some(1),
        "log:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sandbox.files("var/errors/files"),
        ["orders.csv", "orders.csv.error.txt"]
    );
    let report = fs::read_to_string(sandbox.path("var/errors/files/orders.csv.error.txt")).unwrap();
    assert!(report.contains("already at the destination"), "{report}");
}

#[test]
fn a_name_template_that_can_make_an_empty_name_is_refused_at_config_time() {
    for template in ["{ext}", ".{ext}", "..", "{ext}."] {
        let sandbox = Sandbox::with_routes(
            &UNIQUE_ROUTE.replace("name = \"{name}\"", &format!("name = \"{template}\"")),
        );
        let out = sandbox.cmd(&["check"]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{template}: {said}");
        assert!(
            said.contains("routes[0].to.name") && said.contains("can make an empty name"),
            "{template}: {said}"
        );
    }
    for fine in ["{stem}.{ext}", "x{ext}", "{id}", "{route}-{date}.csv"] {
        let sandbox = Sandbox::with_routes(
            &UNIQUE_ROUTE.replace("name = \"{name}\"", &format!("name = \"{fine}\"")),
        );
        let out = sandbox.cmd(&["check"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fine}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_file_with_a_name_of_250_bytes_is_delivered_or_reported_like_any_other() {
    let long = format!("{}.csv", "o".repeat(246));
    assert_eq!(long.len(), 250);
    let sandbox = Sandbox::with_routes(UNIQUE_ROUTE);
    sandbox.drop_file("cart/out", &long, b"order 1\n");
    let out = once_within_30s(&sandbox);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sandbox.files("warehouse/in"), std::slice::from_ref(&long));

    // The same name in a file with bad data: in the error folder with its report, and said so.
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    sandbox.drop_file("cart/orders", &long, b"not,an,order\n");
    let out = once_within_30s(&sandbox);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("1 to errors"), "{log}");
    let in_errors = sandbox.files("var/errors/orders");
    assert_eq!(in_errors.len(), 2, "the file and its report: {in_errors:?}");
    assert!(in_errors.contains(&long));
    assert!(
        in_errors
            .iter()
            .any(|n| n.ends_with(".error.txt") && n.len() <= 255),
        "{in_errors:?}"
    );
    let listed = sandbox.cmd(&["errors"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&long) && !text.contains("no report found"),
        "{text}"
    );
}
