//! Alerts end to end, against a real SMTP server (aiosmtpd) and a real HTTP receiver on
//! 127.0.0.1: what is said, once, without customer data; digests; a channel that is down; a
//! crash between the step and the send; `alerts test`.

mod support;

use std::fs;
use std::process::Command;
use std::time::Duration;

use support::alert_peers::{SmtpServer, WebhookReceiver, free_port};
use support::{FAST_AGENT, ORDERS_ROUTE, Sandbox, binary, orders_csv, wait_until};

/// Customer data the bad file carries; no alert may repeat any of it.
const CUSTOMER: [&str; 5] = [
    "Lovelace",
    "12 Analytical Row",
    "ada@example.com",
    "555-0100",
    "Augusta",
];

/// An orders file whose one order has a quantity of `two`, with a customer's name, address,
/// e-mail and phone.
fn bad_orders(id: u32) -> String {
    let good = orders_csv(id, 1, 1);
    let (header, row) = good.split_once('\n').unwrap();
    let fields: Vec<&str> = row.trim_end().split(',').collect();
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let column = |name: &str| header.split(',').position(|h| h == name).unwrap();
    fields[column("ship_to_first_name")] = "Augusta".into();
    fields[column("ship_to_last_name")] = "Lovelace".into();
    fields[column("ship_to_address1")] = "12 Analytical Row".into();
    fields[column("ship_to_email")] = "ada@example.com".into();
    fields[column("ship_to_phone")] = "555-0100".into();
    fields[column("quantity")] = "two".into();
    format!("{header}\n{}\n", fields.join(","))
}

fn email_channel(port: u16) -> String {
    format!(
        r#"
[alerts.mail]
kind = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "cartferry@shop.example"
to = ["ops@shop.example", "owner@shop.example"]
"#
    )
}

fn webhook_channel(name: &str, url: &str, extra: &str) -> String {
    format!(
        r#"
[alerts.{name}]
kind = "webhook"
url = "{url}"
{extra}
"#
    )
}

fn assert_no_customer_data(text: &str, what: &str) {
    for value in CUSTOMER {
        assert!(
            !text.contains(value),
            "{what} repeats customer data ({value}):\n{text}"
        );
    }
}

#[test]
fn a_bad_order_file_is_said_once_by_email_webhook_and_command_without_customer_data_then_all_clear()
{
    let peers = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), peers.path());
    let hook = WebhookReceiver::start(peers.path());
    let said_to_program = peers.path().join("program.jsonl");
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}{}
[alerts.script]
kind = \"command\"
command = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]
",
        email_channel(smtp.port),
        webhook_channel("hook", &hook.url(), ""),
        said_to_program.display(),
        said_to_program.display()
    ));
    let agent = sandbox.start();
    sandbox.drop_file("cart/orders", "bad.csv", bad_orders(1001).as_bytes());
    let program_lines = || {
        fs::read_to_string(&said_to_program)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(30), || smtp.messages().len()
            + hook.posts().len()
            + program_lines().len()
            >= 3),
        "the three channels were not all told; log:\n{}",
        agent.log_text()
    );
    // Some more rounds of the sender: nothing is said twice.
    std::thread::sleep(Duration::from_secs(2));
    let mails = smtp.messages();
    let posts = hook.posts();
    let lines = program_lines();
    assert_eq!((mails.len(), posts.len(), lines.len()), (1, 1, 1));

    let mail = &mails[0];
    assert!(
        mail.contains("To: ops@shop.example, owner@shop.example"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: cartferry on ")
            && mail.contains("route orders: bad.csv went to the error folder"),
        "{mail}"
    );
    assert!(
        mail.contains("quantity"),
        "the reason names the field: {mail}"
    );
    assert!(
        mail.contains("bad.csv.error.txt"),
        "the report's path: {mail}"
    );
    assert!(mail.contains("cartferry retry orders bad.csv"), "{mail}");
    assert_no_customer_data(mail, "the e-mail");

    for (body, what) in [(&posts[0], "the webhook"), (&lines[0], "the command")] {
        assert_eq!(body["kind"], "file_failed", "{what}: {body}");
        assert_eq!(body["count"], 1, "{what}: {body}");
        let event = &body["events"][0];
        assert_eq!(event["route"], "orders", "{what}: {body}");
        assert_eq!(event["file"], "bad.csv", "{what}: {body}");
        let report = event["report"].as_str().unwrap();
        assert!(
            fs::metadata(report).is_ok(),
            "{what} names a report that is not there: {report}"
        );
        assert!(
            event["reason"].as_str().unwrap().contains("quantity"),
            "{body}"
        );
        assert_no_customer_data(&body.to_string(), what);
    }
    assert!(
        hook.headers(0).to_ascii_lowercase().contains(&format!(
            "idempotency-key: {}",
            posts[0]["id"].as_str().unwrap()
        )),
        "{}",
        hook.headers(0)
    );

    // The route delivers again: all clear, once.
    sandbox.drop_file("cart/orders", "good.csv", orders_csv(2001, 2, 1).as_bytes());
    assert!(
        wait_until(Duration::from_secs(30), || hook.posts().len() >= 2),
        "no all-clear; log:\n{}",
        agent.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let posts = hook.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[1]["kind"], "all_clear", "{}", posts[1]);
    assert_eq!(posts[1]["subject"], "orders", "{}", posts[1]);
    assert_eq!(agent.stop(), 0);
}

#[test]
fn thirty_bad_files_in_a_minute_are_one_message_at_once_and_one_digest() {
    let peers = tempfile::tempdir().unwrap();
    let hook = WebhookReceiver::start(peers.path());
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}",
        webhook_channel("hook", &hook.url(), "digest_window = \"6s\"")
    ));
    let agent = sandbox.start();
    sandbox.drop_file("cart/orders", "bad-00.csv", bad_orders(1000).as_bytes());
    assert!(
        wait_until(Duration::from_secs(30), || hook.posts().len() == 1),
        "the first failure was not said at once; log:\n{}",
        agent.log_text()
    );
    for n in 1..30 {
        sandbox.drop_file(
            "cart/orders",
            &format!("bad-{n:02}.csv"),
            bad_orders(1000 + n).as_bytes(),
        );
    }
    assert!(
        wait_until(Duration::from_secs(60), || sandbox
            .files("var/errors/orders")
            .len()
            == 60),
        "not every file reached the error folder (30 files and 30 reports): {:?}",
        sandbox.files("var/errors/orders")
    );
    assert!(
        wait_until(Duration::from_secs(30), || hook.posts().len() >= 2),
        "no digest; log:\n{}",
        agent.log_text()
    );
    // The digest window again: nothing more comes.
    std::thread::sleep(Duration::from_secs(7));
    let posts = hook.posts();
    assert_eq!(posts.len(), 2, "30 failures are two messages: {posts:?}");
    assert_eq!(posts[0]["count"], 1);
    assert_eq!(posts[1]["count"], 29, "{}", posts[1]);
    assert!(
        posts[1]["title"]
            .as_str()
            .unwrap()
            .contains("29 files of route orders went to the error folder"),
        "{}",
        posts[1]
    );
    let mut named: Vec<&str> = posts
        .iter()
        .flat_map(|p| p["events"].as_array().unwrap())
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    named.sort();
    named.dedup();
    assert_eq!(named.len(), 30, "every file is named once: {named:?}");
    assert_eq!(agent.stop(), 0);
}

#[test]
fn an_alert_waits_while_the_smtp_server_is_down_and_arrives_once_while_files_keep_flowing() {
    let peers = tempfile::tempdir().unwrap();
    let port = free_port();
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}timeout = \"2s\"\n",
        email_channel(port)
    ));
    let agent = sandbox.start();
    sandbox.drop_file("cart/orders", "bad.csv", bad_orders(1001).as_bytes());
    agent.expect_log(
        "an alert could not be sent",
        Duration::from_secs(30),
        "the failing channel is said in the log",
    );
    for n in 0..5 {
        sandbox.drop_file(
            "cart/orders",
            &format!("good-{n}.csv"),
            orders_csv(2000 + 10 * n, 2, 1).as_bytes(),
        );
    }
    assert!(
        wait_until(Duration::from_secs(30), || sandbox
            .files("warehouse/orders")
            .len()
            == 5),
        "files did not flow while the SMTP server was down: {:?}",
        sandbox.files("warehouse/orders")
    );
    let status = sandbox.cmd(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("alerts mail: 1 waiting") && status.contains("last try failed"),
        "{status}"
    );

    let smtp = SmtpServer::start(port, peers.path());
    assert!(
        wait_until(Duration::from_secs(60), || !smtp.messages().is_empty()),
        "the alert did not arrive once the server was up; log:\n{}",
        agent.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let mails = smtp.messages();
    // The failure, and (files were delivered after it) the route's all-clear: each once.
    let failed: Vec<&String> = mails
        .iter()
        .filter(|m| {
            m.lines().any(|l| {
                l.starts_with("Subject: ")
                    && l.ends_with(": route orders: bad.csv went to the error folder")
            })
        })
        .collect();
    assert_eq!(failed.len(), 1, "{mails:?}");
    agent.expect_log(
        "an alert channel works again",
        Duration::from_secs(5),
        "the channel's recovery is said",
    );
    assert_eq!(agent.stop(), 0);
}

/// An SMTP server, and a sandbox with an e-mail channel to it and a bad order file.
fn a_bad_file_and_an_email_channel(peers: &std::path::Path) -> (SmtpServer, Sandbox) {
    let smtp = SmtpServer::start(free_port(), peers);
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}",
        email_channel(smtp.port)
    ));
    sandbox.drop_file("cart/orders", "bad.csv", bad_orders(1001).as_bytes());
    (smtp, sandbox)
}

/// `cartferry once` with crash points armed; the process aborts there.
fn once_crashing_at(sandbox: &Sandbox, point: &str) {
    let out = Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("FAILPOINTS", format!("{point}=return"))
        .output()
        .unwrap();
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "cartferry once did not crash at {point}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_crash_between_the_step_and_the_send_sends_the_alert_once_after_the_restart() {
    let peers = tempfile::tempdir().unwrap();
    let (smtp, sandbox) = a_bad_file_and_an_email_channel(peers.path());
    once_crashing_at(&sandbox, "alerts.sending");
    assert!(
        sandbox
            .files("var/errors/orders")
            .contains(&"bad.csv".to_string()),
        "the step before the crash: {:?}",
        sandbox.files("var/errors/orders")
    );
    assert!(smtp.messages().is_empty(), "sent before the crash");
    sandbox.once_expecting(0);
    sandbox.once_expecting(0);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains("bad.csv went to the error folder"),
        "{}",
        mails[0]
    );
}

#[test]
fn a_crash_after_the_server_took_a_message_repeats_it_under_the_same_message_id() {
    let peers = tempfile::tempdir().unwrap();
    let (smtp, sandbox) = a_bad_file_and_an_email_channel(peers.path());
    once_crashing_at(&sandbox, "alerts.sent");
    sandbox.once_expecting(0);
    sandbox.once_expecting(0);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "taken, then repeated once after the crash");
    let id = |m: &str| {
        m.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        id(&mails[0]),
        id(&mails[1]),
        "a receiver can drop the repeat"
    );
}

#[test]
fn alerts_test_sends_to_every_channel_and_says_what_each_answered() {
    let peers = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), peers.path());
    let slack = WebhookReceiver::start(&peers.path().join("slack"));
    let refusing = WebhookReceiver::start(&peers.path().join("refusing"));
    refusing.answer_with(500);
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}{}{}",
        email_channel(smtp.port),
        webhook_channel("slack", &slack.url(), "format = \"slack\""),
        webhook_channel("refusing", &refusing.url(), ""),
    ));
    let out = sandbox.cmd(&["alerts", "test"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one channel failed: {said}");
    assert!(
        said.contains("mail: sent (127.0.0.1:") && said.contains(" answered 250"),
        "{said}"
    );
    assert!(said.contains("slack: sent (HTTP 200"), "{said}");
    assert!(
        said.contains("refusing: FAILED: the webhook answered HTTP 500"),
        "{said}"
    );
    assert_eq!(smtp.messages().len(), 1);
    assert!(smtp.messages()[0].contains("this channel works"));
    let posts = slack.posts();
    assert_eq!(posts.len(), 1);
    let body = posts[0].as_object().unwrap();
    assert_eq!(
        body.keys().collect::<Vec<_>>(),
        ["text"],
        "Slack's shape: {body:?}"
    );
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("this channel works")
    );
}

#[test]
fn a_channel_takes_only_the_events_and_routes_it_names() {
    let peers = tempfile::tempdir().unwrap();
    let all = WebhookReceiver::start(&peers.path().join("all"));
    let other_route = WebhookReceiver::start(&peers.path().join("other"));
    let clear_only = WebhookReceiver::start(&peers.path().join("clear"));
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}{}{}{}{}",
        support::PASSTHROUGH_ROUTE,
        webhook_channel("all", &all.url(), ""),
        webhook_channel("other", &other_route.url(), "routes = [\"files\"]"),
        webhook_channel("clear", &clear_only.url(), "events = [\"all_clear\"]"),
    ));
    sandbox.drop_file("cart/orders", "bad.csv", bad_orders(1001).as_bytes());
    sandbox.once_expecting(1);
    sandbox.drop_file("cart/orders", "good.csv", orders_csv(2001, 1, 1).as_bytes());
    sandbox.once_expecting(0);
    let kinds = |r: &WebhookReceiver| {
        r.posts()
            .iter()
            .map(|p| p["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&all), ["file_failed", "all_clear"]);
    assert!(kinds(&other_route).is_empty(), "{:?}", kinds(&other_route));
    assert_eq!(kinds(&clear_only), ["all_clear"]);
}

#[test]
fn a_mistaken_alert_channel_is_refused_with_its_key() {
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{ORDERS_ROUTE}
[alerts.mail]
kind = \"email\"
host = \"127.0.0.1\"
from = \"not an address\"
url = \"https://example.com\"
events = [\"file_failed\", \"fire\"]
routes = [\"nosuch\"]

[alerts.pager]
kind = \"pager\"
"
    ));
    let out = sandbox.cmd(&["check"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{said}");
    for expected in [
        "alerts.mail.to",
        "\"not an address\" is not an e-mail address",
        "alerts.mail.url: is only for kind = \"webhook\"",
        "\"fire\" is not an alert event",
        "no route is named \"nosuch\"",
        "alerts.pager.kind: \"pager\" is not an alert channel",
    ] {
        assert!(said.contains(expected), "missing {expected}:\n{said}");
    }
}

#[test]
fn a_file_retried_past_the_limit_is_said_once_and_its_delivery_is_the_all_clear() {
    let sandbox = Sandbox::new(&format!(
        "{}{}",
        FAST_AGENT.replace(
            "max_attempts = 5",
            "max_attempts = 50\nalert_retrying_after = \"0s\""
        ),
        support::PASSTHROUGH_ROUTE,
    ));
    let alerts = sandbox.add_file_alerts("");
    // The destination folder is a file: every delivery fails, and is tried again.
    fs::create_dir_all(sandbox.path("warehouse")).unwrap();
    fs::write(sandbox.path("warehouse/in"), b"not a folder").unwrap();
    sandbox.drop_file("cart/out", "a.dat", b"payload\n");
    sandbox.once_expecting(75);
    sandbox.once_expecting(75);
    let said = support::alerts_in(&alerts);
    assert_eq!(support::alert_kinds(&said), ["retrying"], "{said:?}");
    let event = &said[0]["events"][0];
    assert_eq!(
        (event["route"].as_str(), event["file"].as_str()),
        (Some("files"), Some("a.dat"))
    );
    assert!(event["attempts"].as_u64().unwrap() >= 1, "{event}");

    fs::remove_file(sandbox.path("warehouse/in")).unwrap();
    fs::create_dir_all(sandbox.path("warehouse/in")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            sandbox.cmd(&["once"]);
            sandbox.files("warehouse/in") == ["a.dat"]
        }),
        "a.dat was not delivered once its folder was back"
    );
    let said = support::alerts_in(&alerts);
    assert_eq!(
        support::alert_kinds(&said),
        ["retrying", "all_clear"],
        "{said:?}"
    );
    assert_eq!(said[1]["subject"], "files");
}

#[test]
fn a_ledger_that_refuses_writes_is_said_straight_to_the_channels_and_then_all_clear() {
    let sandbox = Sandbox::new(&format!("{FAST_AGENT}{}", support::PASSTHROUGH_ROUTE));
    let alerts = sandbox.add_file_alerts("");
    let agent = sandbox.start();
    // The route's worker has its ledger connection once it delivered a file.
    sandbox.drop_file("cart/out", "first.dat", b"first\n");
    assert!(wait_until(Duration::from_secs(20), || sandbox
        .files("warehouse/in")
        .contains(&"first.dat".to_string())));
    let state = sandbox.path("var/state");
    let frozen: Vec<std::path::PathBuf> = ["ledger.sqlite3", "ledger.sqlite3-wal"]
        .iter()
        .map(|n| state.join(n))
        .filter(|p| p.exists())
        .chain(std::iter::once(state.clone()))
        .collect();
    let chattr = |flag: &str| {
        let out = Command::new("chattr")
            .arg(flag)
            .args(&frozen)
            .output()
            .expect(
                "chattr (Debian's e2fsprogs) is needed to make the ledger's folder refuse writes",
            );
        assert!(
            out.status.success(),
            "chattr {flag} failed (the test needs root and a file system with immutable files, such as ext4): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    chattr("+i");
    let said_unwritable = wait_until(Duration::from_secs(30), || {
        support::alert_kinds(&support::alerts_in(&alerts))
            .contains(&"ledger_unwritable".to_string())
    });
    chattr("-i");
    assert!(said_unwritable, "not said; log:\n{}", agent.log_text());
    assert!(
        wait_until(Duration::from_secs(30), || support::alert_kinds(
            &support::alerts_in(&alerts)
        )
        .contains(&"all_clear".to_string())),
        "no all-clear; log:\n{}",
        agent.log_text()
    );
    let said = support::alerts_in(&alerts);
    assert_eq!(
        support::alert_kinds(&said),
        ["ledger_unwritable", "all_clear"],
        "{said:?}"
    );
    assert_eq!(said[1]["subject"], "ledger");
    assert_eq!(agent.stop_expecting_errors(&["ledger"]), 0);
}

#[test]
fn a_channel_at_its_hourly_limit_keeps_the_rest_waiting_and_says_so() {
    let sandbox = Sandbox::new(&format!("{FAST_AGENT}{ORDERS_ROUTE}"));
    let alerts = sandbox.add_file_alerts("max_per_hour = 1\ndigest_window = \"0s\"\n");
    sandbox.drop_file("cart/orders", "bad-1.csv", bad_orders(1001).as_bytes());
    sandbox.once_expecting(1);
    sandbox.drop_file("cart/orders", "bad-2.csv", bad_orders(1002).as_bytes());
    let out = sandbox.once_expecting(1);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("an alert channel sent its most messages for this hour"),
        "{log}"
    );
    let said = support::alerts_in(&alerts);
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["events"][0]["file"], "bad-1.csv");
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).into_owned();
    assert!(
        status.contains("alerts ops: 1 waiting, 1 message sent"),
        "{status}"
    );
}

#[test]
fn a_file_delivered_without_its_bad_documents_is_said_with_where_they_went() {
    let sandbox = Sandbox::new(&format!(
        "{FAST_AGENT}{}",
        ORDERS_ROUTE.replace("on_invalid = \"reject-file\"", "on_invalid = \"split\"")
    ));
    let alerts = sandbox.add_file_alerts("");
    let mixed = orders_csv(2001, 2, 1) + bad_orders(2003).split_once('\n').unwrap().1;
    sandbox.drop_file("cart/orders", "mixed.csv", mixed.as_bytes());
    // `once` exits 1: something went to the error folder.
    sandbox.once_expecting(1);
    assert_eq!(sandbox.files("warehouse/orders"), ["mixed.csv"]);
    let said = support::alerts_in(&alerts);
    assert_eq!(
        support::alert_kinds(&said),
        ["documents_rejected"],
        "{said:?}"
    );
    let event = &said[0]["events"][0];
    assert_eq!(event["file"], "mixed.csv");
    let rejected = event["rejected"].as_str().unwrap();
    assert!(
        fs::read_to_string(rejected).unwrap().contains(",two,"),
        "the bad order is where the alert says: {rejected}"
    );
    assert!(
        event["text"]
            .as_str()
            .unwrap()
            .contains("cartferry retry orders mixed.csv"),
        "{event}"
    );
    assert_no_customer_data(&said[0].to_string(), "the alert");
}
