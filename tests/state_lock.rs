//! One agent per state folder: a second `run` (or a `once` from cron beside a running service)
//! on the same ledger stops at once and names the agent that holds it, instead of resuming that
//! agent's files in flight; `status` and `errors` keep working beside it.

mod support;

use std::process::Child;
use std::time::Duration;

use support::*;

/// Exit code of `run` and `once` when another agent holds the state folder.
const EXIT_LOCKED: i32 = 3;

fn exited(child: &mut Child) -> Option<i32> {
    child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1))
}

#[test]
fn a_second_agent_on_one_state_folder_exits_at_once_naming_the_first() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    for i in 0..20u8 {
        let mut eight_mib = vec![b'x'; 8 << 20];
        eight_mib[0] = i;
        sandbox.drop_file("cart/out", &format!("f{i:02}.dat"), &eight_mib);
    }
    let mut a = sandbox.spawn();
    let mut b = sandbox.spawn();
    assert!(
        wait_until(Duration::from_secs(20), || exited(&mut a.child).is_some()
            || exited(&mut b.child).is_some()),
        "neither agent stopped; logs:\n{}\n---\n{}",
        a.log_text(),
        b.log_text()
    );
    let (mut refused, mut holder) = if exited(&mut a.child).is_some() {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        exited(&mut refused.child),
        Some(EXIT_LOCKED),
        "log:\n{}",
        refused.log_text()
    );
    let said = refused.log_text();
    assert!(
        said.contains("another cartferry agent is working on the state folder")
            && said.contains(&format!("pid {} on ", holder.child.id())),
        "the refused agent must name the holder; log:\n{said}"
    );
    assert!(holder.is_running(), "log:\n{}", holder.log_text());

    let once = sandbox.cmd(&["once"]);
    assert_eq!(
        once.status.code(),
        Some(EXIT_LOCKED),
        "once beside a running agent; log:\n{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let status = sandbox.cmd(&["status"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "status beside a running agent: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    assert!(
        wait_until(Duration::from_secs(60), || sandbox
            .files("warehouse/in")
            .len()
            == 20
            && sandbox.files("cart/out").is_empty()),
        "log:\n{}",
        holder.log_text()
    );
    assert_eq!(holder.stop(), 0);
    let delivered = sandbox.files("warehouse/in");
    let expected: Vec<String> = (0..20).map(|i| format!("f{i:02}.dat")).collect();
    assert_eq!(
        delivered, expected,
        "every file delivered once, under its own name"
    );
    assert!(sandbox.all_files_below("var/errors").is_empty());
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    let states: Vec<(String, i64)> = db
        .prepare("SELECT state, COUNT(*) FROM files GROUP BY state")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(states, [("done".to_string(), 20)]);
}

#[test]
fn the_state_folder_is_free_again_once_its_agent_is_killed() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let first = sandbox.start();
    first.kill();
    let second = sandbox.start();
    sandbox.drop_file("cart/out", "after.dat", b"after a crash\n");
    assert!(
        wait_until(Duration::from_secs(20), || sandbox.files("warehouse/in")
            == ["after.dat"]),
        "log:\n{}",
        second.log_text()
    );
    assert_eq!(second.stop(), 0);
}
