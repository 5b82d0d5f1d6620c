//! `cartferry explain PATH` says where a file stands and why, in every state a file can be in:
//! in an inbox but not matched, hidden or temporary, not a plain file, waiting for its
//! done-marker or to be unchanged; on its way (at which step); delivered and archived; a
//! duplicate; in the error folder; never seen.

mod support;

use std::fs;
use std::process::Output;

use support::*;

fn explain(sandbox: &Sandbox, path: &str) -> (Option<i32>, String) {
    let out: Output = sandbox.cmd(&["explain", path]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Asserts that `explain path` exits with `code` and says each of `says`.
fn says(sandbox: &Sandbox, path: &str, code: i32, says: &[&str]) {
    let (got, text) = explain(sandbox, path);
    assert_eq!(got, Some(code), "explain {path}:\n{text}");
    for part in says {
        assert!(text.contains(part), "explain {path} says {part:?}:\n{text}");
    }
}

const MARKED_ROUTE: &str = r#"
[[routes]]
name = "marked"
from = { endpoint = "cart", dir = "marked", pattern = "*.csv", done_marker = "{name}.done" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "marked" }
"#;

#[test]
fn files_in_an_inbox_that_are_not_taken_yet_or_never_will_be() {
    let routes = format!(
        "{}{MARKED_ROUTE}",
        PASSTHROUGH_ROUTE.replace("\"*\"", "\"*.dat\"")
    );
    let sandbox = Sandbox::with_routes(&routes);
    fs::create_dir_all(sandbox.path("cart/marked")).unwrap();
    sandbox.drop_file("cart/out", "notes.txt", b"notes\n");
    sandbox.drop_file("cart/out", ".hidden.dat", b"x\n");
    sandbox.drop_file("cart/out", "wait.dat", b"12345\n");
    sandbox.drop_file("cart/marked", "batch.csv", b"a,b\n");
    std::os::unix::fs::symlink(
        sandbox.path("cart/out/wait.dat"),
        sandbox.path("cart/out/link.dat"),
    )
    .unwrap();

    says(
        &sandbox,
        &sandbox.path("cart/out/notes.txt").display().to_string(),
        0,
        &[
            "in the inbox of route files",
            "the route takes only names matching *.dat",
        ],
    );
    says(
        &sandbox,
        ".hidden.dat",
        0,
        &["its name is hidden or temporary"],
    );
    says(
        &sandbox,
        "link.dat",
        0,
        &["not taken: it is a symbolic link"],
    );
    {
        use std::os::unix::ffi::OsStrExt;
        let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.dat");
        fs::write(sandbox.path("cart/out").join(latin1), b"x\n").unwrap();
        let out = std::process::Command::new(binary())
            .arg("--config")
            .arg(sandbox.config())
            .arg("explain")
            .arg(latin1)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("not taken: its name is not valid UTF-8"),
            "{text}"
        );
    }
    says(
        &sandbox,
        "wait.dat",
        0,
        &[
            "waiting to be taken (6 bytes, unchanged since ",
            "unchanged for 200ms",
        ],
    );
    says(
        &sandbox,
        "batch.csv",
        0,
        &[
            "in the inbox of route marked",
            "waiting for its done-marker batch.csv.done",
        ],
    );
    says(
        &sandbox,
        "never.dat",
        1,
        &[
            "never.dat: never seen",
            "files: *.dat from cart:out",
            "marked: *.csv from cart:marked",
        ],
    );
}

#[test]
fn files_at_the_end_of_their_journey() {
    let sandbox = sandbox_after_a_duplicate_and_a_bad_file();

    let archived = sandbox
        .all_files_below("var/archive/files")
        .into_iter()
        .find(|f| f.ends_with("a.dat"))
        .expect("a.dat archived");
    says(
        &sandbox,
        "a.dat",
        0,
        &[
            "a.dat: taken by route files",
            "delivered as a.dat, and archived",
            "archive/files/",
        ],
    );
    says(
        &sandbox,
        &sandbox
            .path(&format!("var/archive/files/{archived}"))
            .display()
            .to_string(),
        0,
        &["delivered as a.dat"],
    );
    says(
        &sandbox,
        "b.dat",
        0,
        &[
            "not delivered: the same content as a.dat, taken ",
            "archived ",
        ],
    );
    says(
        &sandbox,
        &sandbox
            .path("var/errors/orders/bad.csv")
            .display()
            .to_string(),
        0,
        &[
            "bad.csv: taken by route orders",
            "in the error folder at ",
            "quantity",
            "`cartferry retry orders bad.csv`",
        ],
    );
}

#[cfg(feature = "failpoints")]
#[test]
fn a_file_on_its_way_says_at_which_step() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "a.dat", b"a\n");
    let crashed = std::process::Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("FAILPOINTS", "deliver.named=return")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the crash point stops the run");
    says(
        &sandbox,
        "a.dat",
        0,
        &["a.dat: taken by route files", "on its way, being delivered"],
    );
}
