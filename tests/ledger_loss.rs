//! A ledger that cannot be trusted is never silently replaced: deleted under a running agent,
//! missing while the archive shows files were handled, emptied to 0 bytes, or damaged. The agent
//! stops (or does not start) and says so with the path and the way out (`--new-ledger`), and
//! `check` reports it.

mod support;

use std::fs;
use std::time::Duration;

use support::*;

fn once_with(sandbox: &Sandbox, args: &[&str]) -> (i32, String) {
    let mut all = vec!["once"];
    all.extend_from_slice(args);
    let out = sandbox.cmd(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_state_folder_deleted_under_a_running_agent_stops_it() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let mut agent = sandbox.start();
    sandbox.drop_file("cart/out", "first.dat", b"first\n");
    assert!(wait_until(Duration::from_secs(20), || sandbox
        .files("warehouse/in")
        .len()
        == 1));
    fs::remove_dir_all(sandbox.path("var/state")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !agent.is_running()),
        "the agent went on without its ledger; log:\n{}",
        agent.log_text()
    );
    let code = agent.child.wait().unwrap().code();
    assert_eq!(code, Some(1), "log:\n{}", agent.log_text());
    assert!(
        agent
            .log_text()
            .contains("was deleted, moved or replaced while cartferry was running"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn a_ledger_deleted_from_its_state_folder_is_not_silently_replaced() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "first.dat", b"first\n");
    sandbox.once_expecting(0);
    fs::remove_file(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    // Reading commands never make a new ledger where one went missing.
    let status = sandbox.cmd(&["status"]);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("no ledger in"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    assert!(
        !sandbox.path("var/state/ledger.sqlite3").exists(),
        "status made a ledger"
    );
    // The same file again: with a silently new ledger it would be delivered a second time.
    sandbox.drop_file("cart/out", "first.dat", b"first\n");
    let (code, log) = once_with(&sandbox, &[]);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains("there is no ledger at")
            && log.contains("an agent has worked there before")
            && log.contains("--new-ledger"),
        "{log}"
    );
    assert_eq!(sandbox.files("cart/out"), ["first.dat"], "nothing taken");
    let check = sandbox.cmd(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.contains("FAIL  ledger: there is no ledger at"),
        "{said}"
    );

    let (code, log) = once_with(&sandbox, &["--new-ledger"]);
    assert_eq!(
        code, 1,
        "on_conflict = fail: the old delivery is still there; {log}"
    );
    assert!(log.contains("already at the destination"), "{log}");
}

#[test]
fn an_empty_or_damaged_ledger_is_refused_and_kept_aside_when_a_new_one_is_asked_for() {
    for (what, bytes, says) in [
        ("empty", &b""[..], "is empty (0 bytes)"),
        (
            "damaged",
            &b"this is not an SQLite database at all, just text"[..],
            "is damaged",
        ),
    ] {
        let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
        sandbox.once_expecting(0);
        let ledger = sandbox.path("var/state/ledger.sqlite3");
        for companion in ["-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{companion}", ledger.display()));
        }
        fs::write(&ledger, bytes).unwrap();
        sandbox.drop_file("cart/out", "x.dat", b"x\n");
        let (code, log) = once_with(&sandbox, &[]);
        assert_eq!(code, 1, "{what}: {log}");
        assert!(
            log.contains(says) && log.contains(&ledger.display().to_string()),
            "{what}: {log}"
        );
        assert!(
            sandbox.files("warehouse/in").is_empty(),
            "{what}: nothing taken"
        );
        let (code, log) = once_with(&sandbox, &["--new-ledger"]);
        assert_eq!(code, 0, "{what}: {log}");
        assert_eq!(sandbox.files("warehouse/in"), ["x.dat"]);
        let kept: Vec<String> = sandbox
            .all_files_below("var/state")
            .into_iter()
            .filter(|n| n.ends_with(".bad"))
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "{what}: the old ledger is kept aside: {kept:?}"
        );
    }
}

#[test]
fn a_ledger_damaged_inside_is_found_after_an_unclean_stop_and_by_check() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "a.dat", b"a\n");
    sandbox.once_expecting(0);
    let ledger = sandbox.path("var/state/ledger.sqlite3");
    // Page 2 (a table's root, past the schema on page 1) is overwritten.
    let mut bytes = fs::read(&ledger).unwrap();
    assert!(bytes.len() >= 3 * 4096, "a ledger of {} bytes", bytes.len());
    bytes[4096..8192].fill(0xA5);
    fs::write(&ledger, &bytes).unwrap();

    let check = sandbox.cmd(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        !check.status.success() && said.contains("FAIL  ledger") && said.contains("is damaged"),
        "`check` reads every page: {said}"
    );

    // The write-ahead log left behind says the last agent did not close the ledger.
    let mut log = ledger.clone().into_os_string();
    log.push("-wal");
    fs::write(&log, b"left by an agent that was killed").unwrap();
    sandbox.drop_file("cart/out", "b.dat", b"b\n");
    let (code, said) = once_with(&sandbox, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("is damaged"), "{said}");
    assert!(sandbox.files("warehouse/in") == ["a.dat"], "nothing taken");
}
