//! Exactly-once by proof: the agent is crashed (the process aborts, as on a crash or a kill) at
//! every step boundary of the journey that a scenario passes through, restarted, and must end
//! exactly where a clean run ends: every file delivered once and byte for byte the same, side
//! outputs once, the ledger finished, nothing temporary left. The crash points are compiled in
//! by the `failpoints` feature, which the test command turns on.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::sshd::Sshd;
use support::*;

/// SIGABRT, which a crash point raises.
const ABORTED: i32 = 6;

/// How many `once` runs a restarted agent gets to finish what a crash left.
const MAX_RECOVERY_RUNS: usize = 6;

/// Fails unless the binary under test has crash points compiled in.
fn require_crash_points() {
    let out = Command::new(binary()).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("crash points"),
        "the crash-point tests need a test build: run `cargo test --features failpoints` (scripts/test-all.sh does)"
    );
}

/// Runs `once` with the crash point `point` armed; returns the output. The run notes every
/// file it flushes in `FLUSH_JOURNAL` (see `power_cut`).
fn once_crashing_at(sandbox: &Sandbox, point: &str) -> Output {
    Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("RUST_LOG", "info")
        .env("FAILPOINTS", format!("{point}=return"))
        .env("CARTFERRY_FLUSH_JOURNAL", sandbox.path(FLUSH_JOURNAL))
        .output()
        .unwrap()
}

/// Where a crashed run notes the files it flushed (inode and size, one per line).
const FLUSH_JOURNAL: &str = "flushed.journal";

/// Every regular file below `root` but the ledger's own: inode → (size, modification time).
fn files_by_inode(root: &Path) -> BTreeMap<u64, (u64, i64, PathBuf)> {
    let mut all = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && !name.starts_with("ledger.sqlite3") && name != FLUSH_JOURNAL
            {
                all.insert(
                    meta.ino(),
                    (
                        meta.len(),
                        meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                        path,
                    ),
                );
            }
        }
    }
    all
}

/// The flushes a crashed run noted in its `journal`: (inode, size) of each file flushed.
fn flushes(journal: &str) -> Vec<(u64, u64)> {
    journal
        .lines()
        .filter_map(|l| l.strip_prefix("f ")?.split_once(' '))
        .filter_map(|(ino, len)| Some((ino.parse().ok()?, len.parse().ok()?)))
        .collect()
}

/// A power cut after a crash, as POSIX allows it to fall: what the crashed run wrote (a file new
/// since `before`, or changed) loses its data unless the run flushed it at its present size, and
/// a rename is undone unless the run flushed the folder it renamed into afterwards. The ledger is
/// taken as SQLite left it (its own syncs are SQLite's business). Returns what was lost.
fn power_cut(root: &Path, before: &BTreeMap<u64, (u64, i64, PathBuf)>) -> Vec<String> {
    let journal = fs::read_to_string(root.join(FLUSH_JOURNAL)).unwrap_or_default();
    let entries: Vec<(&str, &str)> = journal.lines().filter_map(|l| l.split_once(' ')).collect();
    let flushed = flushes(&journal);
    let mut lost = Vec::new();
    for (ino, (len, mtime, path)) in files_by_inode(root) {
        let written = before
            .get(&ino)
            .is_none_or(|(l, m, _)| (*l, *m) != (len, mtime));
        if written && !flushed.contains(&(ino, len)) && len > 0 {
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(0)
                .unwrap();
            lost.push(format!("the data of {}", path.display()));
        }
    }
    // Renames whose folder was not flushed after them, undone newest first.
    for (i, (kind, rest)) in entries.iter().enumerate().rev() {
        let Some((from, to)) = rest.split_once('\t').filter(|_| *kind == "r") else {
            continue;
        };
        let (from, to) = (Path::new(from), Path::new(to));
        let folder = to.parent().unwrap().to_string_lossy().into_owned();
        let kept = entries[i + 1..]
            .iter()
            .any(|(k, dir)| *k == "d" && *dir == folder);
        if !kept && fs::symlink_metadata(to).is_ok() && fs::symlink_metadata(from).is_err() {
            fs::create_dir_all(from.parent().unwrap()).unwrap();
            fs::rename(to, from).unwrap();
            lost.push(format!(
                "the rename of {} to {}",
                from.display(),
                to.display()
            ));
        }
    }
    lost
}

/// Files still on their journey, by the ledger.
fn unfinished(sandbox: &Sandbox) -> i64 {
    let path = sandbox.path("var/state/ledger.sqlite3");
    if !path.exists() {
        return 0;
    }
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM files WHERE state NOT IN ('done', 'duplicate', 'failed', 'abandoned')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Runs `once` until nothing is left to do (no file unfinished or waiting in `inboxes`).
fn run_until_quiet(sandbox: &Sandbox, inboxes: &[PathBuf]) -> String {
    let mut log = String::new();
    for _ in 0..MAX_RECOVERY_RUNS {
        let out = sandbox.cmd(&["once"]);
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.code().is_some(),
            "an unarmed run crashed; log:\n{log}"
        );
        let waiting = inboxes.iter().any(|dir| !list_files(dir).is_empty());
        if unfinished(sandbox) == 0 && !waiting {
            return log;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "still unfinished after {MAX_RECOVERY_RUNS} runs ({} in the ledger); log:\n{log}",
        unfinished(sandbox)
    );
}

/// X12 text with what differs between two correct runs blanked: the envelope's dates, times and
/// control numbers (a crash between reserving numbers and recording them leaves a gap).
fn without_envelope_numbers(text: &str) -> String {
    let blank = |segment: &str, at: &[usize]| -> String {
        segment
            .split('*')
            .enumerate()
            .map(|(i, e)| if at.contains(&i) { "#" } else { e })
            .collect::<Vec<_>>()
            .join("*")
    };
    text.split('~')
        .map(|s| {
            let id = s.trim_start().split('*').next().unwrap_or("");
            match id {
                "ISA" => blank(s, &[9, 10, 13]),
                "GS" => blank(s, &[4, 5, 6]),
                "GE" | "IEA" => blank(s, &[2]),
                _ => s.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("~")
}

/// A status file with its times blanked (each sandbox takes its files at its own moment): the
/// `updated_at` column, and the minute in an "already sent on …" detail.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            if cells.len() == 4 {
                cells[2] = "#".into();
                if let Some(at) = cells[3].find(" on ") {
                    let end = (at + 4 + "2026-11-30 10:01".len()).min(cells[3].len());
                    cells[3].replace_range(at + 4..end, "#");
                }
            }
            cells.join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a run leaves that a crash must not change: every file below `roots` by path, with its
/// content (reports by name only: they say when and where; X12 without its envelope numbers,
/// which must each go out once). Archives are compared by name, since they hold the sources.
/// Temporaries fail the test.
fn outcome(roots: &[(&str, PathBuf)]) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    let mut interchanges = BTreeSet::new();
    for (label, root) in roots {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                assert!(
                    !name.ends_with(".part") && !name.starts_with(".tmp"),
                    "a temporary file was left: {path:?}"
                );
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                // A 997 answer is named by its interchange number, which a crash may skip.
                let rel = match rel.rsplit_once("997-") {
                    Some((dir, _)) if name.ends_with(".edi") => format!("{dir}997-#.edi"),
                    _ => rel,
                };
                let content = if name.ends_with(".error.txt") {
                    "(report)".to_string()
                } else if label.starts_with("archive") {
                    "(archived)".to_string()
                } else if label.starts_with("status") {
                    without_times(&fs::read_to_string(&path).unwrap())
                } else {
                    let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
                    if text.trim_start().starts_with("ISA") {
                        let isa: Vec<&str> = text.trim_start().split('*').collect();
                        assert!(
                            interchanges.insert((isa[6].to_string(), isa[13].to_string())),
                            "interchange {} went out twice ({path:?})",
                            isa[13]
                        );
                        without_envelope_numbers(&text)
                    } else {
                        text
                    }
                };
                all.insert(format!("{label}/{rel}"), content);
            }
        }
    }
    all
}

/// What a power cut may also do to the ledger, which runs with `synchronous = NORMAL`: its
/// commits sit in the write-ahead log, flushed only at a checkpoint or by a commit made with
/// `synchronous = FULL` (`Ledger::durably`), which the crashed run noted in the journal under
/// `root`. Every commit after the last flush is lost: the WAL is cut back to it (its frames
/// carry the database size only on commit frames) and the shared index, which SQLite rebuilds
/// from the WAL, removed. Returns how many commits were lost.
fn lose_unflushed_ledger_commits(root: &Path, state_dir: &Path) -> usize {
    let wal_path = state_dir.join("ledger.sqlite3-wal");
    let wal = fs::read(&wal_path).expect("the ledger has a write-ahead log");
    assert!(
        wal.len() >= 32,
        "the ledger's write-ahead log has no header"
    );
    let word = |at: usize| u32::from_be_bytes(wal[at..at + 4].try_into().unwrap());
    let page_size = word(8) as usize;
    let salts = &wal[16..24];
    let frame = 24 + page_size;
    let mut commits = Vec::new();
    let mut at = 32;
    while at + frame <= wal.len() && &wal[at + 8..at + 16] == salts {
        if word(at + 4) != 0 {
            commits.push(at + frame);
        }
        at += frame;
    }
    let wal_inode = fs::metadata(&wal_path).unwrap().ino();
    let journal = fs::read_to_string(root.join(FLUSH_JOURNAL)).unwrap_or_default();
    let durable = flushes(&journal)
        .into_iter()
        .filter(|(ino, _)| *ino == wal_inode)
        .map(|(_, len)| len as usize)
        .max()
        .unwrap_or(32);
    let lost = commits.iter().filter(|end| **end > durable).count();
    if lost > 0 {
        fs::OpenOptions::new()
            .write(true)
            .open(&wal_path)
            .unwrap()
            .set_len(durable as u64)
            .unwrap();
        let _ = fs::remove_file(state_dir.join("ledger.sqlite3-shm"));
    }
    lost
}

/// What the order ledger counts as sent (its file delivered), by order, kind and destination,
/// with how many times: a crash must change none of it.
fn orders_recorded(sandbox: &Sandbox) -> BTreeMap<String, i64> {
    let db = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    let mut statement = db
        .prepare(
            "SELECT e.kind || ' ' || e.order_key || ' to ' || e.destination, COUNT(*)
             FROM order_events e JOIN files f ON f.id = e.file_id
             WHERE e.outcome IN ('sent', 'resent') AND f.state IN ('delivered', 'done')
             GROUP BY 1",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Asserts that nothing is left in any processing area or staging folder below `roots`.
fn assert_nothing_in_flight(roots: &[PathBuf], point: &str) {
    for root in roots {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let shown = path.to_string_lossy();
                    assert!(
                        !shown.contains(".cartferry-processing") && !shown.contains("/staging/"),
                        "left in flight after a crash at {point}: {path:?}"
                    );
                }
            }
        }
    }
}

/// A folder of a scenario's outcome, with its label.
type Labelled = (&'static str, PathBuf);

/// One scenario of the matrix: how to set up a sandbox (its config, its files), where to look
/// for what it leaves, and the crash points its journey passes.
struct Scenario<'a> {
    name: &'a str,
    points: &'a [&'a str],
    /// A fresh sandbox with its inputs in place; `run` numbers it (for remote folders).
    setup: &'a dyn Fn(usize) -> Sandbox,
    /// Where its outcome lies, labelled; labels starting with `archive` compare names only.
    roots: &'a dyn Fn(&Sandbox, usize) -> Vec<Labelled>,
    /// Folders whose files mean work is left.
    inboxes: &'a dyn Fn(&Sandbox, usize) -> Vec<PathBuf>,
    /// What each crash also loses.
    cut: Cut,
}

/// What a crash also loses, besides the process.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Nothing: the page cache survives a process crash.
    None,
    /// A power cut: what was written and not flushed (see `power_cut`).
    Power,
    /// A power cut that also takes the ledger's unflushed commits (see
    /// `lose_unflushed_ledger_commits`).
    PowerAndLedger,
}

/// Crashes the scenario at each of its points in turn and compares with a clean run.
fn crash_everywhere(scenario: &Scenario<'_>) {
    require_crash_points();
    let clean = (scenario.setup)(0);
    run_until_quiet(&clean, &(scenario.inboxes)(&clean, 0));
    let expected = outcome(&(scenario.roots)(&clean, 0));
    let expected_orders = orders_recorded(&clean);
    assert!(
        !expected.is_empty(),
        "{}: the clean run left nothing to compare",
        scenario.name
    );
    let mut commits_lost = 0;
    for (i, point) in scenario.points.iter().enumerate() {
        let run = i + 1;
        let sandbox = (scenario.setup)(run);
        let before = files_by_inode(sandbox.root());
        let crashed = once_crashing_at(&sandbox, point);
        assert_eq!(
            crashed.status.signal(),
            Some(ABORTED),
            "{}: the run never reached crash point {point}; log:\n{}",
            scenario.name,
            String::from_utf8_lossy(&crashed.stderr)
        );
        if scenario.cut != Cut::None {
            power_cut(sandbox.root(), &before);
        }
        if scenario.cut == Cut::PowerAndLedger {
            commits_lost +=
                lose_unflushed_ledger_commits(sandbox.root(), &sandbox.path("var/state"));
        }
        let log = run_until_quiet(&sandbox, &(scenario.inboxes)(&sandbox, run));
        let found = outcome(&(scenario.roots)(&sandbox, run));
        assert_eq!(
            found, expected,
            "{}: after a crash at {point}, the outcome differs from a clean run; recovery log:\n{log}",
            scenario.name
        );
        assert_nothing_in_flight(&[sandbox.root().to_path_buf()], point);
        assert_eq!(
            orders_recorded(&sandbox),
            expected_orders,
            "{}: after a crash at {point}, the order ledger differs from a clean run",
            scenario.name
        );
    }
    assert!(
        scenario.cut != Cut::PowerAndLedger || commits_lost > 0,
        "{}: no crash left a ledger commit to lose",
        scenario.name
    );
}

/// A split route of canonical orders with an `also` output: a good file, one with a bad order
/// (split off), one all bad (to the error folder).
fn local_split_sandbox(_run: usize) -> Sandbox {
    let sandbox = Sandbox::with_routes(&ORDERS_ROUTE.replace(
        "on_invalid = \"reject-file\"",
        "on_invalid = \"split\"\nalso = [ { writer = \"canonical-orders-xml\", folder = \"cart/also\", name = \"{stem}.xml\" } ]",
    ));
    sandbox.drop_file(
        "cart/orders",
        "a-good.csv",
        minimal_orders(&[("1001", "1"), ("1002", "2")]).as_bytes(),
    );
    sandbox.drop_file(
        "cart/orders",
        "b-mixed.csv",
        minimal_orders(&[("2001", "1"), ("2002", "x"), ("2003", "3")]).as_bytes(),
    );
    sandbox.drop_file(
        "cart/orders",
        "c-bad.csv",
        minimal_orders(&[("3001", "0")]).as_bytes(),
    );
    sandbox
}

/// Where the local split route's outcome lies.
fn local_split_outcome(s: &Sandbox, _run: usize) -> Vec<Labelled> {
    vec![
        ("warehouse", s.path("warehouse/orders")),
        ("also", s.path("cart/also")),
        ("errors", s.path("var/errors")),
        ("archive", s.path("var/archive")),
    ]
}

#[test]
fn a_local_route_with_split_and_failing_files_ends_the_same_after_a_crash_at_any_point() {
    crash_everywhere(&Scenario {
        name: "local split",
        points: &[
            "claim.begun",
            "claim.renamed",
            "claim.recorded",
            "stage.converted",
            "stage.rejected_placed",
            "deliver.named",
            "rename.linked",
            "deliver.put",
            "deliver.recorded",
            "side_output.renamed",
            "side_output.published",
            "archive.moved",
            "error_folder.recorded",
            "error_folder.moved",
        ],
        setup: &local_split_sandbox,
        roots: &local_split_outcome,
        inboxes: &|s, _| vec![s.path("cart/orders")],
        cut: Cut::None,
    });
}

/// Eight files taken four at a time into a destination that overwrites.
#[test]
fn four_workers_overwriting_at_the_destination_end_the_same_after_a_crash_at_any_point() {
    let setup = |_run: usize| {
        let sandbox = Sandbox::with_routes(
            &PASSTHROUGH_ROUTE
                .replace("on_conflict = \"fail\"", "on_conflict = \"overwrite\"")
                .replace("name = \"files\"", "name = \"files\"\nworkers = 4"),
        );
        for i in 0..8u8 {
            let body: Vec<u8> = (0..20_000u32).map(|j| (j as u8) ^ i).collect();
            sandbox.drop_file("cart/out", &format!("f{i}.dat"), &body);
        }
        sandbox
    };
    crash_everywhere(&Scenario {
        name: "workers=4, overwrite",
        points: &[
            "claim.renamed",
            "claim.recorded",
            "deliver.named",
            "deliver.hashed",
            "deliver.put",
            "deliver.recorded",
            "archive.moved",
        ],
        setup: &setup,
        roots: &|s, _| {
            vec![
                ("warehouse", s.path("warehouse/in")),
                ("archive", s.path("var/archive")),
            ]
        },
        inboxes: &|s, _| vec![s.path("cart/out")],
        cut: Cut::None,
    });
}

/// A passthrough route (hashed as it delivers) that delivered `a.dat` in an uncrashed run, and
/// then takes `b.dat` (the same bytes: a duplicate, found as it is sent and withdrawn) and
/// `c.dat` (new).
fn passthrough_duplicate_sandbox(_run: usize) -> Sandbox {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let body: String = (0..30_000).map(|i| format!("line {i}\n")).collect();
    sandbox.drop_file("cart/out", "a.dat", body.as_bytes());
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/out", "b.dat", body.as_bytes());
    sandbox.drop_file("cart/out", "c.dat", b"new bytes\n");
    sandbox
}

/// The points a passthrough route's files pass, the duplicate's first (it is taken first).
const PASSTHROUGH_POINTS: &[&str] = &[
    "claim.renamed",
    "claim.recorded",
    "deliver.named",
    "archive.moved",
    "deliver.hashed",
    "rename.linked",
    "deliver.put",
    "deliver.recorded",
];

/// The passthrough scenario, with what each crash also loses.
fn passthrough_scenario(name: &str, cut: Cut) {
    crash_everywhere(&Scenario {
        name,
        points: PASSTHROUGH_POINTS,
        setup: &passthrough_duplicate_sandbox,
        roots: &|s, _| {
            vec![
                ("warehouse", s.path("warehouse/in")),
                ("archive", s.path("var/archive")),
                ("errors", s.path("var/errors")),
            ]
        },
        inboxes: &|s, _| vec![s.path("cart/out")],
        cut,
    });
}

/// A file delivered as it is is hashed as it is sent, and its hash recorded before its rename: a
/// crash anywhere, or a power cut, delivers the new file once and the duplicate never.
#[test]
fn a_passthrough_route_hashing_as_it_sends_ends_the_same_after_a_crash_at_any_point() {
    passthrough_scenario("passthrough", Cut::None);
}

/// The same with power cuts, which may undo the claim of a file not yet hashed.
#[test]
fn a_passthrough_route_hashing_as_it_sends_ends_the_same_after_a_power_cut_at_any_point() {
    passthrough_scenario("passthrough, power cut", Cut::Power);
}

/// The same with power cuts that also take the ledger's unflushed commits.
#[test]
fn a_passthrough_route_ends_the_same_after_a_power_cut_that_loses_the_unflushed_ledger_commits() {
    passthrough_scenario(
        "passthrough, power cut, unflushed commits lost",
        Cut::PowerAndLedger,
    );
}

/// A route whose orders were sent before (in `a.csv`, by an uncrashed run) takes `second`:
/// orders sent before unchanged are left out, a changed one goes to the error folder.
fn repeats_sandbox(second: &str) -> Sandbox {
    let sandbox = Sandbox::with_routes(&ORDERS_ROUTE.replace(
        "on_invalid = \"reject-file\"",
        "on_invalid = \"split\"\nstatus_updates = { folder = \"cart/status\" }",
    ));
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        minimal_orders(&[("1001", "1"), ("1002", "2")]).as_bytes(),
    );
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/orders", "again.csv", second.as_bytes());
    sandbox
}

/// The points the journey of a file of repeated orders passes.
const REPEATS_POINTS: &[&str] = &[
    "claim.renamed",
    "claim.recorded",
    "order_ledger.recorded",
    "stage.converted",
    "stage.rejected_placed",
    "deliver.named",
    "deliver.put",
    "deliver.recorded",
    "side_output.renamed",
    "side_output.published",
    "archive.moved",
];

/// Where a repeats scenario's outcome lies.
fn repeats_outcome(s: &Sandbox, _run: usize) -> Vec<Labelled> {
    vec![
        ("warehouse", s.path("warehouse/orders")),
        ("status", s.path("cart/status")),
        ("errors", s.path("var/errors")),
        ("archive", s.path("var/archive")),
    ]
}

/// Orders sent before, again: one unchanged (left out), one changed (to the error folder), one
/// new (delivered), whatever crash comes between; and the order ledger holds each order's
/// sending once.
#[test]
fn orders_sent_before_are_left_out_or_refused_once_after_a_crash_at_any_point() {
    let second = minimal_orders(&[("1001", "1"), ("1002", "5"), ("4001", "1")]);
    crash_everywhere(&Scenario {
        name: "repeats",
        points: REPEATS_POINTS,
        setup: &|_| repeats_sandbox(&second),
        roots: &repeats_outcome,
        inboxes: &|s, _| vec![s.path("cart/orders")],
        cut: Cut::None,
    });
}

/// A file with nothing new (one order unchanged, one changed): nothing is delivered, the
/// changed order goes to the error folder, whatever crash comes between.
#[test]
fn a_file_with_nothing_new_ends_the_same_after_a_crash_at_any_point() {
    let second = minimal_orders(&[("1001", "1"), ("1002", "5")]);
    crash_everywhere(&Scenario {
        name: "nothing new",
        points: &[
            "claim.renamed",
            "claim.recorded",
            "order_ledger.recorded",
            "stage.rejected_placed",
            "archive.moved",
        ],
        setup: &|_| repeats_sandbox(&second),
        roots: &repeats_outcome,
        inboxes: &|s, _| vec![s.path("cart/orders")],
        cut: Cut::None,
    });
}

/// The trading partner of the X12 scenario.
const PARTNER: &str = r#"
[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
"#;

/// Orders out as 940s (control numbers), 945s in and answered with 997s, which an outbox route
/// sends to the warehouse.
fn x12_sandbox(_run: usize) -> Sandbox {
    let routes = format!(
        r#"{PARTNER}
[[routes]]
name = "orders-940"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "acme" }}
to = {{ endpoint = "warehouse", dir = "edi", name = "{{stem}}.edi" }}

[[routes]]
name = "945-in"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.edi" }}
reader = "x12-945"
writer = "canonical-shipments-csv"
to = {{ endpoint = "cart", dir = "shipments", name = "{{stem}}.csv" }}
acknowledge = {{ partner = "acme", folder = "cart/997" }}

[[routes]]
name = "997-out"
from = {{ endpoint = "cart", dir = "997", pattern = "*.edi" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "warehouse", dir = "in997", name = "{{name}}" }}
"#
    );
    let shipments =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/945/shipments.edi"))
            .unwrap();
    let sandbox = Sandbox::with_routes(&routes);
    fs::create_dir_all(sandbox.path("cart/997")).unwrap();
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        minimal_orders(&[("1001", "1"), ("1002", "2")]).as_bytes(),
    );
    sandbox.drop_file(
        "cart/orders",
        "b.csv",
        minimal_orders(&[("1003", "1")]).as_bytes(),
    );
    sandbox.drop_file("warehouse/out", "ship.edi", &shipments);
    sandbox
}

/// The X12 scenario, crashed at each point its journey passes, with or without a power cut.
fn x12_scenario(name: &str, cut: Cut) {
    crash_everywhere(&Scenario {
        name,
        points: &[
            "claim.renamed",
            "stage.numbers_reserved",
            "stage.converted",
            "deliver.named",
            "deliver.put",
            "deliver.recorded",
            "side_output.renamed",
            "archive.moved",
        ],
        setup: &x12_sandbox,
        roots: &|s, _| {
            vec![
                ("edi", s.path("warehouse/edi")),
                ("shipments", s.path("cart/shipments")),
                ("997", s.path("warehouse/in997")),
                ("archive", s.path("var/archive")),
            ]
        },
        inboxes: &|s, _| {
            vec![
                s.path("cart/orders"),
                s.path("warehouse/out"),
                s.path("cart/997"),
            ]
        },
        cut,
    });
}

#[test]
fn an_x12_exchange_with_997_answers_ends_the_same_after_a_crash_at_any_point() {
    x12_scenario("x12", Cut::None);
}

/// The X12 exchange after power cuts that also lose the ledger's unflushed commits: a
/// control-number reservation is flushed at once and survives; whatever else the ledger forgot
/// is done again, and no interchange goes out twice.
#[test]
fn an_x12_exchange_ends_the_same_after_a_power_cut_that_loses_the_unflushed_ledger_commits() {
    x12_scenario(
        "x12, power cut, unflushed commits lost",
        Cut::PowerAndLedger,
    );
}

/// SFTP both ways: local files uploaded to the server, the server's files downloaded.
#[test]
fn sftp_uploads_and_downloads_end_the_same_after_a_crash_at_any_point() {
    let sshd = Sshd::start();
    let config = |run: usize| {
        format!(
            r#"
[agent]
state_dir = "var/state"
archive_dir = "var/archive"
errors_dir = "var/errors"
stable_for = "100ms"
retry_initial = "100ms"

[endpoints.cart]
kind = "local"
root = "cart"
create_dirs = true

[[routes]]
name = "up"
from = {{ endpoint = "cart", dir = "out", pattern = "*" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "warehouse", dir = "run{run}/in" }}

[[routes]]
name = "down"
from = {{ endpoint = "warehouse", dir = "run{run}/out", pattern = "*.csv" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "cart", dir = "in" }}
"#
        ) + &sshd.endpoint("warehouse", "user_key", "known_hosts")
    };
    let setup = |run: usize| {
        let sandbox = Sandbox::new(&config(run));
        for dir in ["in", "out"] {
            fs::create_dir_all(sshd.path(&format!("root/run{run}/{dir}"))).unwrap();
        }
        let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        sandbox.drop_file("cart/out", "up-big.bin", &big);
        sandbox.drop_file("cart/out", "up-small.csv", b"a,b\n1,2\n");
        fs::write(
            sshd.path(&format!("root/run{run}/out/down-1.csv")),
            b"1001,1Z999\n",
        )
        .unwrap();
        fs::write(sshd.path(&format!("root/run{run}/out/down-2.csv")), &big).unwrap();
        sandbox
    };
    let roots = |s: &Sandbox, run: usize| {
        vec![
            ("server", sshd.path(&format!("root/run{run}"))),
            ("cart", s.path("cart/in")),
            ("archive", s.path("var/archive")),
        ]
    };
    crash_everywhere(&Scenario {
        name: "sftp",
        points: &[
            "claim.renamed",
            "download.fetched",
            "claim.recorded",
            "deliver.named",
            "deliver.hashed",
            "deliver.put",
            "deliver.recorded",
            "archive.moved",
            "remote_source.removed",
        ],
        setup: &setup,
        roots: &roots,
        inboxes: &|s, run| vec![s.path("cart/out"), sshd.path(&format!("root/run{run}/out"))],
        cut: Cut::None,
    });
}

/// A bug that panics in a route pass is not silent: `once` fails, and `run` restarts the route
/// but stops (exit 1) once it has crashed three times in a row.
#[test]
fn a_route_that_panics_fails_once_and_stops_run_after_three_crashes_in_a_row() {
    require_crash_points();
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        minimal_orders(&[("1001", "1")]).as_bytes(),
    );
    let with_panic = |args: &[&str]| {
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(sandbox.config())
            .args(args)
            .env("RUST_LOG", "info")
            .env("FAILPOINTS", "stage.converted=panic");
        command
    };
    let once = with_panic(&["once"]).output().unwrap();
    let log = String::from_utf8_lossy(&once.stderr);
    assert_eq!(once.status.code(), Some(1), "{log}");
    assert!(log.contains("crashed"), "{log}");
    run_until_quiet(&sandbox, &[sandbox.path("cart/orders")]);
    assert_eq!(sandbox.files("warehouse/orders"), ["a.csv"]);

    sandbox.drop_file(
        "cart/orders",
        "b.csv",
        minimal_orders(&[("1002", "1")]).as_bytes(),
    );
    let log_path = sandbox.path("run.log");
    let mut run = with_panic(&["run"])
        .stderr(fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let stopped = wait_until(Duration::from_secs(30), || {
        run.try_wait().unwrap().is_some()
    });
    if !stopped {
        let _ = run.kill();
    }
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(
        stopped,
        "run kept going with a route that crashes; log:\n{log}"
    );
    assert_eq!(run.wait().unwrap().code(), Some(1), "{log}");
    assert_eq!(
        log.matches("a route pass crashed; starting it afresh")
            .count(),
        2,
        "{log}"
    );
    assert!(log.contains("crashed 3 times in a row"), "{log}");
    run_until_quiet(&sandbox, &[sandbox.path("cart/orders")]);
    assert_eq!(sandbox.files("warehouse/orders"), ["a.csv", "b.csv"]);
}

/// The power-cut scenario: crashed at each of these points, with or without the ledger's
/// unflushed commits.
fn power_cut_scenario(name: &str, cut: Cut) {
    crash_everywhere(&Scenario {
        name,
        points: &[
            "claim.renamed",
            "claim.recorded",
            "stage.converted",
            "deliver.named",
            "deliver.put",
            "deliver.recorded",
            "side_output.renamed",
            "side_output.published",
            "archive.moved",
            "error_folder.recorded",
            "error_folder.moved",
        ],
        setup: &local_split_sandbox,
        roots: &local_split_outcome,
        inboxes: &|s, _| vec![s.path("cart/orders")],
        cut,
    });
}

/// Power cuts at the step boundaries: what was not flushed is lost (see `power_cut`), and the
/// restarted agent must still end as a clean run does. Fails when a delivery is renamed into
/// place without being flushed first, or its folder is not flushed after.
#[test]
fn a_local_route_ends_the_same_after_a_power_cut_at_any_point() {
    power_cut_scenario("local, power cut", Cut::Power);
}

/// The same power cuts, losing every ledger commit since its last flush too (`synchronous =
/// NORMAL` allows it): every step re-checks the files, so a step the ledger forgot is done
/// again, not twice, and a delivery is recorded durably before it is made.
#[test]
fn a_local_route_ends_the_same_after_a_power_cut_that_loses_the_unflushed_ledger_commits() {
    power_cut_scenario(
        "local, power cut, unflushed commits lost",
        Cut::PowerAndLedger,
    );
}

/// A split file whose good part then cannot be delivered: the whole file goes to the error
/// folder, and the part split off earlier must not stay beside it, whatever crash comes between.
#[test]
fn a_split_file_that_then_fails_ends_the_same_after_a_crash_at_any_point() {
    let setup = |_run: usize| {
        let sandbox = Sandbox::new(
            &format!(
                "{FAST_AGENT}\n{}",
                ORDERS_ROUTE.replace("on_invalid = \"reject-file\"", "on_invalid = \"split\"")
            )
            .replace("max_attempts = 5", "max_attempts = 1"),
        );
        // The destination folder is a file: every delivery fails.
        fs::create_dir_all(sandbox.path("warehouse")).unwrap();
        fs::write(sandbox.path("warehouse/orders"), b"not a folder").unwrap();
        sandbox.drop_file(
            "cart/orders",
            "mixed.csv",
            minimal_orders(&[("2001", "1"), ("2002", "x")]).as_bytes(),
        );
        sandbox
    };
    crash_everywhere(&Scenario {
        name: "split, then failed",
        points: &[
            "stage.rejected_placed",
            "error_folder.recorded",
            "error_folder.moved",
        ],
        setup: &setup,
        roots: &|s, _| {
            vec![
                ("errors", s.path("var/errors")),
                ("warehouse", s.path("warehouse")),
            ]
        },
        inboxes: &|s, _| vec![s.path("cart/orders")],
        cut: Cut::None,
    });
    // What every run ends with: the whole file and its report, and no part split off before.
    let sandbox = setup(0);
    run_until_quiet(&sandbox, &[sandbox.path("cart/orders")]);
    assert_eq!(
        sandbox.all_files_below("var/errors"),
        ["orders/mixed.csv", "orders/mixed.csv.error.txt"]
    );
}

/// A partner's 997 rejecting one of the orders a 940 carried: recorded against the group sent,
/// and sent to the error folder with its report, once, whatever crash comes between.
#[test]
fn a_partners_997_is_recorded_once_after_a_crash_at_any_point() {
    let routes = format!(
        r#"{PARTNER}acknowledgment_due = "0s"
[[routes]]
name = "orders-940"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "acme" }}
to = {{ endpoint = "warehouse", dir = "edi", name = "{{stem}}.edi" }}

[[routes]]
name = "acks"
from = {{ endpoint = "warehouse", dir = "acks", pattern = "*.997" }}
reader = "x12-997"
"#
    );
    let setup = |_run: usize| {
        let sandbox = Sandbox::with_routes(&routes);
        fs::create_dir_all(sandbox.path("warehouse/acks")).unwrap();
        sandbox.drop_file(
            "cart/orders",
            "a.csv",
            minimal_orders(&[("1001", "1"), ("1002", "2")]).as_bytes(),
        );
        // The 940 goes out in a run of its own, so its group is number 1 in every sandbox.
        sandbox.once_expecting(0);
        let answer = "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1200*U*00401*000000077*0*P*>~\nGS*FA*WAREHOUSE*CARTFERRY*20261122*1200*77*X*004010~\nST*997*0001~\nAK1*OW*1~\nAK2*940*0001~\nAK5*A~\nAK2*940*0002~\nAK5*R*5~\nAK9*P*2*2*1~\nSE*8*0001~\nGE*1*77~\nIEA*1*000000077~\n";
        sandbox.drop_file("warehouse/acks", "answer.997", answer.as_bytes());
        sandbox
    };
    crash_everywhere(&Scenario {
        name: "partner's 997",
        points: &[
            "claim.renamed",
            "claim.recorded",
            "record.recorded",
            "error_folder.recorded",
            "error_folder.moved",
        ],
        setup: &setup,
        roots: &|s, _| {
            vec![
                ("edi", s.path("warehouse/edi")),
                ("errors", s.path("var/errors")),
                ("archive", s.path("var/archive")),
            ]
        },
        inboxes: &|s, _| vec![s.path("warehouse/acks")],
        cut: Cut::None,
    });
    // The report names the rejected order, and no group is left waiting for its 997.
    let sandbox = setup(0);
    run_until_quiet(&sandbox, &[sandbox.path("warehouse/acks")]);
    let report = fs::read_to_string(sandbox.path("var/errors/acks/answer.997.error.txt")).unwrap();
    assert!(
        report.contains("order 1002") && !report.contains("order 1001"),
        "{report}"
    );
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).into_owned();
    assert!(!status.contains("without the partner's 997"), "{status}");
}
