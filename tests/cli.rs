//! The command line: `check`, `init`, `convert`.

mod support;

use std::fs;
use std::process::Command;

use support::*;

#[test]
fn check_on_a_config_with_three_mistakes_reports_all_three() {
    let config = format!(
        "{}\n{}\n{}",
        FAST_AGENT.replace("stable_for = \"200ms\"", "stable_for = \"soon\""),
        ORDERS_ROUTE.replace("reader =", "colour = \"blue\"\nreader ="),
        ORDERS_ROUTE
    );
    let sandbox = Sandbox::new(&config);
    let out = sandbox.cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("3 problems"), "{text}");
    assert!(
        text.contains("agent.stable_for: \"soon\" is not a duration"),
        "{text}"
    );
    assert!(text.contains("routes[0].colour: unknown key"), "{text}");
    assert!(
        text.contains("routes[1].name: route name \"orders\" is used twice"),
        "{text}"
    );
}

#[test]
fn check_reports_missing_folders_and_passes_on_a_good_config() {
    let missing = Sandbox::new(&format!(
        "{}\n{ORDERS_ROUTE}",
        FAST_AGENT.replace("create_dirs = true", "create_dirs = false")
    ));
    let out = missing.cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text.contains("endpoints.cart.root: folder") && text.contains("does not exist"),
        "{text}"
    );

    let good = Sandbox::with_routes(ORDERS_ROUTE);
    let out = good.cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("  ok    route orders").count(), 2, "{text}");
    assert!(
        good.files("warehouse/orders").is_empty(),
        "the probe file is removed"
    );
}

#[test]
fn init_writes_a_config_that_checks_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("var/cart/outbox/orders").is_dir());
    let config = dir.path().join("cartferry.toml");
    let check = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .arg("check")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // And runs: an order file dropped into the demo's outbox reaches the demo warehouse.
    fs::copy(
        format!(
            "{}/fixtures/canonical-orders-csv/orders-good.csv",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.path().join("var/cart/outbox/orders/orders-good.csv"),
    )
    .unwrap();
    let once = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .arg("once")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&once.stderr);
    assert_eq!(once.status.code(), Some(0), "{log}");
    support::assert_no_unexpected_errors(&log, &[]);
    assert_eq!(
        list_files(&dir.path().join("var/warehouse/in/orders")),
        ["orders-good.csv"],
        "{log}"
    );
    // And its X12 loop closes: a 945 from the warehouse is answered with a 997, which the
    // outbox route then takes to the warehouse (two passes: written, then sent).
    fs::copy(
        format!(
            "{}/fixtures/x12/945/shipments.edi",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.path().join("var/warehouse/out/edi/shipments.edi"),
    )
    .unwrap();
    let mut log = String::new();
    for _ in 0..2 {
        let once = Command::new(binary())
            .arg("--config")
            .arg(&config)
            .arg("once")
            .output()
            .unwrap();
        log.push_str(&String::from_utf8_lossy(&once.stderr));
        assert_eq!(once.status.code(), Some(0), "{log}");
    }
    assert_eq!(
        list_files(&dir.path().join("var/warehouse/in/997")).len(),
        1,
        "the demo's 997 never reached the warehouse; log:\n{log}"
    );
    let again = Command::new(binary())
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success(), "init must not overwrite a config");
}

#[test]
fn convert_writes_documents_to_stdout_and_problems_to_stderr() {
    let fixtures = format!(
        "{}/fixtures/canonical-orders-csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = |file: &str| {
        Command::new(binary())
            .args([
                "convert",
                "--reader",
                "canonical-orders-csv",
                "--writer",
                "canonical-orders-csv",
            ])
            .arg(format!("{fixtures}/{file}"))
            .output()
            .unwrap()
    };
    let good = run("orders-good.csv");
    assert!(good.status.success());
    let text = String::from_utf8(good.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("100")).count(),
        4,
        "{text}"
    );
    assert!(text.contains("Émile"));

    let bad = run("orders-broken.csv");
    assert_eq!(bad.status.code(), Some(1));
    let partial = String::from_utf8(bad.stdout).unwrap();
    assert!(
        partial.contains("2001,") && !partial.contains("2002,"),
        "only the good order is shown: {partial}"
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 3, field \"quantity\""));

    let mismatched = Command::new(binary())
        .args([
            "convert",
            "--reader",
            "passthrough",
            "--writer",
            "canonical-orders-csv",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(mismatched.status.code(), Some(2));
}

#[test]
fn convert_prints_nothing_for_a_file_whose_trailer_is_broken() {
    for broken in ["ge-control-wrong.edi", "iea-missing.edi"] {
        let out = Command::new(binary())
            .args([
                "convert",
                "--reader",
                "x12-945",
                "--writer",
                "canonical-shipments-csv",
            ])
            .arg(format!(
                "{}/fixtures/x12/broken/{broken}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{broken}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("nothing was written"),
            "{broken}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "{broken}: said nothing was written, printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn json_logs_have_one_event_per_file_with_route_file_bytes_duration_and_outcome() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "x.dat", b"12345");
    let out = Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .args(["--log-format", "json", "once"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["file"] == "x.dat")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            e["route"].as_str(),
            e["bytes"].as_u64(),
            e["outcome"].as_str()
        ),
        (Some("files"), Some(5), Some("delivered"))
    );
    assert!(e["duration_ms"].is_u64(), "{e}");
    assert_eq!(e["level"], "INFO");
}

#[test]
fn sigint_stops_the_agent_cleanly() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let agent = sandbox.start();
    sandbox.drop_file("cart/out", "x.dat", b"12345");
    assert!(wait_until(std::time::Duration::from_secs(10), || sandbox
        .files("warehouse/in")
        .len()
        == 1));
    let log_path = agent.log.clone();
    assert_eq!(agent.stop_with("INT"), 0);
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("stop requested") && log.contains("cartferry stopped"),
        "{log}"
    );
}

#[test]
fn check_reports_sftp_endpoint_mistakes_together() {
    let config = format!(
        "{FAST_AGENT}\n[endpoints.remote]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\npassword = \"inline secret\"\npassword_env = \"X\"\npassword_file = \"secret.txt\"\n{}",
        ORDERS_ROUTE.replace("endpoint = \"warehouse\"", "endpoint = \"remote\"")
    );
    let out = Sandbox::new(&config).cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for needle in [
        "endpoints.remote.password: unknown key",
        "endpoints.remote.user: is required",
        "endpoints.remote.known_hosts: is required",
        "endpoints.remote.password_env: give endpoints.remote.password_env or",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn convert_takes_a_mapping_from_a_file_and_options_on_top() {
    let fixtures = format!("{}/fixtures/mapped-csv", env!("CARGO_MANIFEST_DIR"));
    let (mapping, export) = (
        format!("{fixtures}/shop-orders-de.toml"),
        format!("{fixtures}/shop-orders-de.csv"),
    );
    let convert = |args: &[&str]| {
        Command::new(binary())
            .args([
                "convert",
                "--reader",
                "mapped-csv",
                "--writer",
                "canonical-orders-csv",
                "--reader-options-file",
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let run = |extra: &[&str]| convert(&[&[mapping.as_str()], extra, &[export.as_str()]].concat());
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "B-24003 is rejected");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("B-2400")).count(),
        6
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 6, field \"Menge (mapped to quantity)\""),
        "{stderr}"
    );

    let comma = run(&["--reader-option", "delimiter=\",\""]);
    assert_eq!(comma.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&comma.stderr).contains("lacks the columns Bestellnummer"),
        "the option on top wins: {}",
        String::from_utf8_lossy(&comma.stderr)
    );

    let missing = convert(&["/nonexistent/mapping.toml", "-"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/mapping.toml"));
}

#[test]
fn errors_and_status_escape_control_characters_in_file_names() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    let evil = "evil\u{1b}[2J\u{1b}[31m.csv";
    sandbox.drop_file("cart/orders", evil, b"not,an,order\n");
    sandbox.once_expecting(1);
    for command in ["errors", "status"] {
        let out = sandbox.cmd(&[command]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{command}: {text}");
        assert!(
            !text.contains('\u{1b}'),
            "{command} printed an escape: {text:?}"
        );
        assert!(
            text.contains("evil\\u{1b}[2J\\u{1b}[31m.csv"),
            "{command}: {text}"
        );
    }
}

#[test]
fn a_reader_that_stops_reading_ends_errors_quietly() {
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    let errors = sandbox.path("var/errors/orders");
    std::fs::create_dir_all(&errors).unwrap();
    // Far more than a pipe holds, so the command meets the closed pipe while writing.
    for i in 0..3000 {
        std::fs::write(
            errors.join(format!("a-rather-long-file-name-{i:05}.csv")),
            b"x",
        )
        .unwrap();
    }
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("errors")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{said}");
    assert!(!said.contains("panicked"), "{said}");
}

#[test]
fn with_json_logs_every_line_on_stderr_is_json_summary_and_fatal_errors_included() {
    let json_once = |sandbox: &Sandbox| {
        Command::new(binary())
            .arg("--config")
            .arg(sandbox.config())
            .args(["--log-format", "json", "once"])
            .output()
            .unwrap()
    };
    let events = |stderr: &[u8]| -> Vec<serde_json::Value> {
        let text = String::from_utf8_lossy(stderr);
        text.lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l:?}\nin:\n{text}"))
            })
            .collect()
    };
    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    sandbox.drop_file("cart/orders", "bad.csv", b"not,an,order\n");
    let out = json_once(&sandbox);
    assert_eq!(out.status.code(), Some(1));
    let all = events(&out.stderr);
    let summary = all
        .iter()
        .find(|e| e["message"] == "once: pass done")
        .expect("the summary is an event");
    assert_eq!(
        (summary["failed"].as_u64(), summary["delivered"].as_u64()),
        (Some(1), Some(0))
    );

    let broken = Sandbox::new("[agent]\npoll_interval = \"soon\"\n");
    let out = json_once(&broken);
    assert_eq!(out.status.code(), Some(2));
    let all = events(&out.stderr);
    assert!(
        all.iter().any(|e| e["level"] == "ERROR"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("poll_interval"))),
        "{all:?}"
    );
}

#[test]
fn init_keeps_every_folder_of_the_demo_inside_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(["init"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("cartferry.toml")).unwrap();
    assert!(!text.contains("../"), "a path leaves the folder:\n{text}");
    let config = cartferry::config::Config::load(&dir.path().join("cartferry.toml")).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for (name, endpoint) in &config.endpoints {
        if let cartferry::config::EndpointConfig::Local { root: r, .. } = endpoint {
            assert!(r.starts_with(&root), "endpoint {name}: {}", r.display());
        }
    }
    for route in &config.routes {
        if let Some(a) = &route.acknowledge {
            assert!(
                a.folder.starts_with(&root),
                "{}: {}",
                route.name,
                a.folder.display()
            );
        }
        assert!(route.errors.starts_with(&root) && route.archive.starts_with(&root));
    }
}

/// The exit codes README.md's command table gives `command` (the numbers in its last cell).
fn documented_codes(command: &str) -> Vec<i32> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let commands = readme.split("## Commands").nth(1).unwrap();
    let row = commands
        .lines()
        .find(|l| {
            l.starts_with(&format!("| `{command} ")) || l.starts_with(&format!("| `{command}`"))
        })
        .unwrap_or_else(|| panic!("README.md's command table has no row for {command}"));
    let last = row.trim_end_matches('|').rsplit('|').next().unwrap();
    last.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[test]
fn exit_codes_are_those_of_the_readme_table() {
    let code = |out: std::process::Output| out.status.code().unwrap_or(-1);
    let mut seen: Vec<(&str, &str, i32)> = Vec::new();

    let sandbox = Sandbox::with_routes(ORDERS_ROUTE);
    seen.push(("check", "a good config", code(sandbox.cmd(&["check"]))));
    seen.push(("status", "a good config", code(sandbox.cmd(&["status"]))));
    seen.push((
        "errors",
        "no files in error",
        code(sandbox.cmd(&["errors"])),
    ));
    seen.push((
        "errors",
        "an unknown route",
        code(sandbox.cmd(&["errors", "nosuch"])),
    ));
    seen.push((
        "retry",
        "an unknown route",
        code(sandbox.cmd(&["retry", "nosuch"])),
    ));
    seen.push(("once", "nothing to do", code(sandbox.cmd(&["once"]))));
    seen.push((
        "order",
        "an order never sent",
        code(sandbox.cmd(&["order", "#404"])),
    ));
    seen.push(("orders", "--late", code(sandbox.cmd(&["orders", "--late"]))));
    seen.push((
        "explain",
        "a file never seen",
        code(sandbox.cmd(&["explain", "nowhere.csv"])),
    ));
    seen.push(("orders", "no --late", code(sandbox.cmd(&["orders"]))));
    sandbox.drop_file("cart/orders", "bad.csv", b"not,an,order\n");
    seen.push(("once", "a file to errors", code(sandbox.cmd(&["once"]))));
    seen.push((
        "explain",
        "a file in the error folder",
        code(sandbox.cmd(&["explain", "bad.csv"])),
    ));
    {
        let _held = cartferry::state_lock::StateLock::acquire(&sandbox.path("var/state")).unwrap();
        seen.push((
            "once",
            "the state folder held",
            code(sandbox.cmd(&["once"])),
        ));
        let out = Command::new(binary())
            .arg("--config")
            .arg(sandbox.config())
            .arg("run")
            .output()
            .unwrap();
        seen.push(("run", "the state folder held", code(out)));
    }

    let missing = Sandbox::new(&format!(
        "{}\n{ORDERS_ROUTE}",
        FAST_AGENT.replace("create_dirs = true", "create_dirs = false")
    ));
    std::fs::create_dir_all(missing.path("cart")).unwrap();
    std::fs::create_dir_all(missing.path("warehouse")).unwrap();
    seen.push((
        "check",
        "a missing local folder",
        code(missing.cmd(&["check"])),
    ));

    let unreachable = Sandbox::with_routes(
        &ORDERS_ROUTE.replace("endpoint = \"warehouse\"", "endpoint = \"nowhere\""),
    );
    std::fs::write(unreachable.path("known_hosts"), "").unwrap();
    std::fs::write(unreachable.path("key"), "").unwrap();
    std::fs::write(
        unreachable.config(),
        std::fs::read_to_string(unreachable.config()).unwrap()
            + "\n[endpoints.nowhere]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = 1\nuser = \"u\"\nprivate_key = \"key\"\nknown_hosts = \"known_hosts\"\ntimeout = \"2s\"\n",
    )
    .unwrap();
    seen.push((
        "check",
        "a folder that fails its test",
        code(unreachable.cmd(&["check"])),
    ));

    let convert = |args: &[&str]| {
        code(
            Command::new(binary())
                .arg("convert")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    seen.push((
        "convert",
        "an unknown reader",
        convert(&[
            "--reader",
            "nosuch",
            "--writer",
            "canonical-orders-csv",
            "-",
        ]),
    ));
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "not,an,order\n").unwrap();
    seen.push((
        "convert",
        "a file with problems",
        convert(&[
            "--reader",
            "canonical-orders-csv",
            "--writer",
            "canonical-orders-csv",
            bad.path().to_str().unwrap(),
        ]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .arg("init")
        .arg(dir.path())
        .args(["--example", "nosuch"])
        .output()
        .unwrap();
    seen.push(("init", "an unknown example", code(out)));

    for (command, case, code) in seen {
        let documented = documented_codes(command);
        assert!(
            documented.contains(&code),
            "`{command}` with {case} exits {code}; README.md's table says {documented:?}"
        );
    }
}

#[test]
fn check_refuses_settings_that_would_spin_or_mislead() {
    let config = FAST_AGENT
        .replace("poll_interval = \"500ms\"", "poll_interval = \"0s\"")
        .replace("max_attempts = 5", "max_attempts = 0")
        .replace("retry_initial = \"100ms\"", "retry_initial = \"10m\"")
        .replace("retry_max = \"1s\"", "retry_max = \"1m\"")
        + "\n[endpoints.sftp]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nuser = \"u\"\npassword = \"hunter2\"\n"
        + ORDERS_ROUTE;
    let sandbox = Sandbox::new(&config);
    let out = sandbox.cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "agent.poll_interval: must be at least 100ms",
        "agent.max_attempts: must be at least 1",
        "agent.retry_initial: 10m is longer than agent.retry_max (1m)",
        "endpoints.sftp.password: unknown key: a password is never written into the config; give password_env",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn status_names_the_last_error_of_a_route_whose_file_was_split() {
    let sandbox = Sandbox::with_routes(
        &ORDERS_ROUTE.replace("on_invalid = \"reject-file\"", "on_invalid = \"split\""),
    );
    let mut file = orders_csv(1, 1, 1);
    file.push_str("2,2026-11-20,USD,UPS Ground,Ada,L,,1 Way,,Springfield,IL,62701,US,,,,1,SKU,not-a-number,1.00,x\n");
    sandbox.drop_file("cart/orders", "mixed.csv", file.as_bytes());
    sandbox.once_expecting(1);
    let out = sandbox.cmd(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("orders"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !row.trim_end().ends_with(" -"),
        "a file in the error folder, yet no last error: {text}"
    );
    assert!(row.contains("mixed.csv"), "{text}");
}

#[test]
fn a_misspelt_key_gets_the_key_it_was_meant_to_be() {
    let config = FAST_AGENT.replace("poll_interval", "poll_intervall")
        + &ORDERS_ROUTE.replace("pattern = ", "patern = ")
        + "\n[endpoints.remote]\nkind = \"sftp\"\nhots = \"127.0.0.1\"\n";
    let sandbox = Sandbox::new(&config);
    let out = sandbox.cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "agent.poll_intervall: unknown key; did you mean `poll_interval`?",
        "routes[0].from.patern: unknown key; did you mean `pattern`?",
        "endpoints.remote.hots: unknown key; did you mean `host`?",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn every_bad_format_option_is_reported_under_its_own_key() {
    let config = format!(
        "{FAST_AGENT}\n{}",
        ORDERS_ROUTE.replace(
            "reader = \"canonical-orders-csv\"",
            "reader = \"canonical-orders-csv\"\nreader_options = { encoding = \"klingon\", delimiter = \"x\" }"
        )
    );
    let out = Sandbox::new(&config).cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("routes[0].reader_options.encoding:")
            && text.contains("routes[0].reader_options.delimiter:"),
        "{text}"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_said_in_plain_words() {
    let config = FAST_AGENT.replace("max_attempts = 5", "max_attempts = \"five\"") + ORDERS_ROUTE;
    let out = Sandbox::new(&config).cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("expected a whole number") && !text.contains("u32"),
        "{text}"
    );
}

#[test]
fn a_problem_of_a_route_names_the_route() {
    let config = format!(
        "{FAST_AGENT}\n{}",
        ORDERS_ROUTE.replace("pattern = \"*.csv\"", "pattern = \"[\"")
    );
    let out = Sandbox::new(&config).cmd(&["check"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("routes[0].from.pattern") && text.contains("(route orders)"),
        "{text}"
    );
}

#[test]
fn a_folder_made_by_create_dirs_is_said_once_and_check_says_it_made_it() {
    // A mistyped inbox: create_dirs makes it, and says so.
    let routes = PASSTHROUGH_ROUTE.replacen("dir = \"out\"", "dir = \"ordres\"", 1);
    let sandbox = Sandbox::with_routes(&routes);
    let first = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&first.stderr);
    let said: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("created the route's folder"))
        .collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(
        said[0].contains("WARN") && said[0].contains("folder=\"ordres\""),
        "{}",
        said[0]
    );
    assert!(sandbox.path("cart/ordres").is_dir());
    let again = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(!log.contains("created the route's folder"), "{log}");

    let other = Sandbox::with_routes(&routes);
    let check = other.cmd(&["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    let line = text.lines().find(|l| l.contains("ordres/")).unwrap_or("");
    assert!(
        check.status.success() && line.contains("created now: it did not exist"),
        "{text}"
    );
    let again = other.cmd(&["check"]);
    assert!(!String::from_utf8_lossy(&again.stdout).contains("created now"));
}

#[test]
fn duplicates_show_in_status_and_in_errors_duplicates() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "a.dat", b"same\n");
    sandbox.once_expecting(0);
    sandbox.drop_file("cart/out", "b.dat", b"same\n");
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("warehouse/in"), ["a.dat"]);

    let status = sandbox.cmd(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    let line = status
        .lines()
        .find(|l| l.starts_with("route files: 1 duplicate today"))
        .unwrap_or_else(|| panic!("no duplicate line in status:\n{status}"));
    assert!(
        line.contains("the last, b.dat at ") && line.contains("the same content as a.dat"),
        "{line}"
    );

    let listed = sandbox.cmd(&["errors", "--duplicates"]);
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = listed
        .lines()
        .find(|l| l.starts_with("files/b.dat: "))
        .unwrap_or_else(|| panic!("b.dat not listed:\n{listed}"));
    assert!(
        line.contains("the same content as a.dat")
            && line.contains("archived as ")
            && line.ends_with("b.dat"),
        "{line}"
    );
    assert!(
        !listed.contains("a.dat:"),
        "a delivered file is no duplicate:\n{listed}"
    );
    let unknown = sandbox.cmd(&["errors", "--duplicates", "nosuchroute"]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn status_json_says_what_status_says_for_scripts() {
    let sandbox = sandbox_after_a_duplicate_and_a_bad_file();
    std::fs::create_dir(sandbox.path("cart/out/folder")).unwrap();
    sandbox.drop_file("cart/out", "waiting.dat", b"w\n");

    let out = sandbox.cmd(&["status", "--json"]);
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let route = |name: &str| {
        status["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["route"] == name)
            .unwrap_or_else(|| panic!("route {name} in {status}"))
            .clone()
    };
    let files = route("files");
    assert_eq!(
        (files["waiting"].as_u64(), files["delivered_today"].as_u64()),
        (Some(1), Some(1)),
        "{files}"
    );
    let orders = route("orders");
    assert_eq!(orders["in_error"].as_u64(), Some(1), "{orders}");
    assert_eq!(orders["last_error"]["file"], "bad.csv", "{orders}");
    assert_eq!(status["not_taken"][0]["name"], "folder", "{status}");
    assert!(
        status["not_taken"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("it is a folder")),
        "{status}"
    );
    let duplicates = &status["duplicates_today"][0];
    assert_eq!(
        (duplicates["route"].as_str(), duplicates["count"].as_u64()),
        (Some("files"), Some(1)),
        "{status}"
    );
    assert_eq!(duplicates["last"]["file"], "b.dat");
    assert_eq!(status["shipping"]["late_orders"].as_u64(), Some(0));
    assert!(status["no_ledger_in"].is_null());
}

/// `cartferry run` in `sandbox` as systemd would start it under a watchdog of 200 ms, with
/// `failpoints` armed; what it tells the service manager arrives at the returned socket.
fn run_under_systemd(sandbox: &Sandbox, failpoints: &str) -> (std::process::Child, SystemdSocket) {
    let path = sandbox.path("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let agent = Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("run")
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000")
        .env("FAILPOINTS", failpoints)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (agent, SystemdSocket(socket))
}

/// The service manager's end of `NOTIFY_SOCKET`.
struct SystemdSocket(std::os::unix::net::UnixDatagram);

impl SystemdSocket {
    /// The next message (waits up to 20 s).
    fn next(&self) -> String {
        let mut buf = [0u8; 1024];
        let n = self
            .0
            .recv(&mut buf)
            .expect("a message from the agent within 20 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// The messages up to the first that starts with `prefix` (at most 100).
    fn until(&self, prefix: &str) -> Vec<String> {
        let mut said = Vec::new();
        while said.len() < 100 {
            let message = self.next();
            let found = message.starts_with(prefix);
            said.push(message);
            if found {
                break;
            }
        }
        said
    }
}

#[test]
fn the_agent_tells_the_service_manager_it_is_ready_healthy_and_stopping() {
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let (mut agent, systemd) = run_under_systemd(&sandbox, "");
    assert_eq!(systemd.next(), "READY=1\n");
    // Three pings in a row: every 100 ms while healthy.
    for _ in 0..3 {
        assert_eq!(systemd.next(), "WATCHDOG=1\n");
    }
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(agent.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let said = systemd.until("STOPPING=1");
    assert_eq!(
        said.last().map(String::as_str),
        Some("STOPPING=1\n"),
        "{said:?}"
    );
    assert!(agent.wait().unwrap().success());
}

#[cfg(feature = "failpoints")]
#[test]
fn a_route_that_crashes_stops_the_watchdog_pings_and_says_why() {
    // Every pass crashes at the claim, so the route stays unhealthy between its passes.
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    sandbox.drop_file("cart/out", "a.dat", b"a\n");
    let (mut agent, systemd) = run_under_systemd(&sandbox, "claim.begun=panic");
    let said = systemd.until("STATUS=");
    let last = said.last().cloned().unwrap_or_default();
    assert!(last.starts_with("STATUS=route files crashed"), "{said:?}");
    // The agent stops by itself after three crashes in a row (exit 1), or is stopped here.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(agent.id() as libc::pid_t, libc::SIGTERM) };
    let _ = agent.wait();
}
