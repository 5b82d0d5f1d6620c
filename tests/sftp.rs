//! SFTP destinations against a real OpenSSH server on loopback.

mod support;

use std::fs;
use std::path::Path;

use support::sshd::Sshd;
use support::*;

const AGENT: &str = r#"
[agent]
state_dir = "var/state"
archive_dir = "var/archive"
errors_dir = "var/errors"
stable_for = "100ms"
max_attempts = 3
retry_initial = "100ms"

[endpoints.cart]
kind = "local"
root = "cart"
create_dirs = true

[[routes]]
name = "up"
from = { endpoint = "cart", dir = "out", pattern = "*" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "in/orders" }
"#;

/// What the ERROR line of a refused login or host key says.
const REFUSED: &str = "not trying again before the pause ends";

fn sandbox(sshd: &Sshd, key: &str, known_hosts: &str) -> Sandbox {
    sandbox_with(&sshd.endpoint("warehouse", key, known_hosts))
}

/// The agent's sandbox with `endpoint` (the `warehouse` endpoint's text) and the outbox made.
fn sandbox_with(endpoint: &str) -> Sandbox {
    let s = Sandbox::new(&format!("{AGENT}\n{endpoint}"));
    fs::create_dir_all(s.path("cart/out")).unwrap();
    s
}

#[test]
fn local_files_are_delivered_to_sftp_byte_identical_without_temporaries() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "user_key", "known_hosts");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    sandbox.drop_file("cart/out", "big.bin", &big);
    sandbox.drop_file("cart/out", "small.csv", b"a,b\n1,2\n");
    sandbox.once_expecting(0);
    let remote = sshd.path("root/in/orders");
    assert_eq!(list_files(&remote), ["big.bin", "small.csv"]);
    assert_eq!(fs::read(remote.join("big.bin")).unwrap(), big);
    assert_eq!(fs::read(remote.join("small.csv")).unwrap(), b"a,b\n1,2\n");
    let all: Vec<_> = fs::read_dir(&remote).unwrap().flatten().collect();
    assert_eq!(all.len(), 2, "no .part left behind");
    assert_eq!(sandbox.all_files_below("var/archive/up").len(), 2);

    // The same bytes under another name: hashed as they are sent, found delivered before, and
    // withdrawn before the rename.
    sandbox.drop_file("cart/out", "big-again.bin", &big);
    let out = sandbox.once_expecting(0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("outcome=\"duplicate\""), "{log}");
    let all: Vec<_> = fs::read_dir(&remote).unwrap().flatten().collect();
    assert_eq!(all.len(), 2, "the duplicate withdrawn; log:\n{log}");
    assert_eq!(sandbox.all_files_below("var/archive/up").len(), 3);
}

/// Round trips a delivery to SFTP may take: open, write, fsync, close, rename, and the
/// check that the name is free when it is chosen.
const ROUND_TRIPS_PER_DELIVERY: u64 = 6;

#[test]
fn a_small_file_is_delivered_to_sftp_in_six_round_trips() {
    const FILES: u64 = 10;
    let sshd = Sshd::start();
    let proxy = support::sshd::CountingProxy::start(sshd.port);
    // One session: the logins of more would count as the files'.
    let endpoint = sshd.endpoint_through("warehouse", proxy.port) + "connections = 1\n";
    let sandbox = sandbox_with(&endpoint);
    // A run without files: the login, the folder's check, the goodbye.
    sandbox.once_expecting(0);
    let alone = proxy.turns();
    for i in 0..FILES {
        sandbox.drop_file(
            "cart/out",
            &format!("f{i}.csv"),
            format!("{i}\n").as_bytes(),
        );
    }
    sandbox.once_expecting(0);
    assert_eq!(
        list_files(&sshd.path("root/in/orders")).len(),
        FILES as usize
    );
    let per_file = (proxy.turns() - 2 * alone) as f64 / FILES as f64;
    assert!(
        per_file <= ROUND_TRIPS_PER_DELIVERY as f64,
        "{per_file:.1} round trips per delivered file (run alone: {alone}), more than {ROUND_TRIPS_PER_DELIVERY}"
    );
    assert!(
        per_file >= (ROUND_TRIPS_PER_DELIVERY - 1) as f64,
        "{per_file:.1} round trips per delivered file: fewer than the protocol allows without pipelining; is the proxy counting?"
    );
}

#[test]
fn an_unknown_host_key_is_refused_with_its_fingerprint_and_nothing_is_sent() {
    let sshd = Sshd::start();
    fs::write(sshd.path("empty_known_hosts"), "").unwrap();
    let sandbox = sandbox(&sshd, "user_key", "empty_known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = sandbox.once_expecting_errors(75, &[REFUSED]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("host key is not in") && log.contains("SHA256:"),
        "{log}"
    );
    assert!(
        log.contains("ssh-keyscan -p"),
        "says how to trust it: {log}"
    );
    assert!(!sshd.path("root/in").exists() || list_files(&sshd.path("root/in/orders")).is_empty());
    let check = sandbox.cmd(&["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        !check.status.success() && text.contains("host key is not in"),
        "{text}"
    );
}

#[test]
fn a_changed_host_key_is_refused_as_a_possible_attack() {
    let sshd = Sshd::start();
    sshd.write_known_hosts("wrong_known_hosts", "other_key.pub");
    let sandbox = sandbox(&sshd, "user_key", "wrong_known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = sandbox.once_expecting_errors(75, &[REFUSED]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("host key CHANGED"), "{log}");
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
}

#[test]
fn a_wrong_user_key_is_refused_and_nothing_is_sent() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "other_key", "known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = sandbox.once_expecting_errors(75, &[REFUSED]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("refused the login"), "{log}");
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
    assert_eq!(
        sandbox.files("cart/out").len(),
        0,
        "the file waits in processing for a retry"
    );
}

/// A route from the SFTP server's `out/` folder to the local `cart/in/`.
fn download_sandbox(sshd: &Sshd, extra: &str) -> Sandbox {
    let config = format!(
        "{}\n[[routes]]\nname = \"down\"\nfrom = {{ endpoint = \"warehouse\", dir = \"out\", pattern = \"*.csv\"{extra} }}\nreader = \"passthrough\"\nwriter = \"passthrough\"\nto = {{ endpoint = \"cart\", dir = \"in\" }}\n",
        // The upload route of AGENT stays; its inbox is empty.
        AGENT.replace("[agent]", "[agent]\npoll_interval = \"200ms\""),
    ) + &sshd.endpoint("warehouse", "user_key", "known_hosts");
    let s = Sandbox::new(&config);
    fs::create_dir_all(s.path("cart/out")).unwrap();
    fs::create_dir_all(sshd.path("root/out")).unwrap();
    s
}

#[test]
fn sftp_files_are_downloaded_delivered_and_removed_from_the_server() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    fs::write(sshd.path("root/out/shipments-1.csv"), &data).unwrap();
    fs::write(sshd.path("root/out/shipments-2.csv"), b"1001,1Z999\n").unwrap();
    fs::write(sshd.path("root/out/readme.txt"), b"not ours").unwrap();
    sandbox.once_expecting(0);
    assert_eq!(
        sandbox.files("cart/in"),
        ["shipments-1.csv", "shipments-2.csv"]
    );
    assert_eq!(
        fs::read(sandbox.path("cart/in/shipments-1.csv")).unwrap(),
        data
    );
    assert_eq!(
        list_files(&sshd.path("root/out")),
        ["readme.txt"],
        "delivered files are deleted on the server"
    );
    assert_eq!(sandbox.all_files_below("var/archive/down").len(), 2);
    assert!(
        sandbox.all_files_below("var/state/inbound").is_empty(),
        "no download left behind"
    );
    // A second pass finds nothing new and takes nothing twice.
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/in").len(), 2);
}

#[test]
fn sftp_sources_can_be_moved_to_a_remote_archive_instead_of_deleted() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, ", remote_archive = \"done\"");
    fs::create_dir_all(sshd.path("root/done")).unwrap();
    fs::write(sshd.path("root/done/a.csv"), b"an older a.csv").unwrap();
    fs::write(sshd.path("root/out/a.csv"), b"new").unwrap();
    sandbox.once_expecting(0);
    assert_eq!(fs::read(sandbox.path("cart/in/a.csv")).unwrap(), b"new");
    assert!(list_files(&sshd.path("root/out")).is_empty());
    assert_eq!(
        list_files(&sshd.path("root/done")),
        ["a-2.csv", "a.csv"],
        "never overwrites the remote archive"
    );
    assert_eq!(fs::read(sshd.path("root/done/a-2.csv")).unwrap(), b"new");
}

#[test]
fn a_bad_remote_file_goes_to_the_error_folder_once_and_leaves_the_server() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let config = fs::read_to_string(sandbox.config())
        .unwrap()
        .replace(
            "name = \"down\"",
            "name = \"down\"\nerrors = \"var/errors/down\"",
        )
        .replace(
            "reader = \"passthrough\"\nwriter = \"passthrough\"\nto = { endpoint = \"cart\", dir = \"in\" }",
            "reader = \"canonical-shipments-csv\"\nwriter = \"canonical-shipments-csv\"\nto = { endpoint = \"cart\", dir = \"in\" }",
        );
    fs::write(sandbox.config(), config).unwrap();
    fs::write(sshd.path("root/out/bad.csv"), b"not,a,shipment\n1,2,3\n").unwrap();
    sandbox.once_expecting(1);
    assert!(
        list_files(&sshd.path("root/out")).is_empty(),
        "the server's copy is gone"
    );
    assert_eq!(
        list_files(&sandbox.path("var/errors/down")),
        ["bad.csv", "bad.csv.error.txt"]
    );
    // Later passes find nothing more to take.
    sandbox.once_expecting(0);
    assert_eq!(list_files(&sandbox.path("var/errors/down")).len(), 2);
}

#[test]
fn a_remote_file_still_growing_is_not_taken_until_it_is_stable() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, ", stable_for = \"700ms\"");
    let agent = sandbox.start();
    let path = sshd.path("root/out/slow.csv");
    let mut expected = Vec::new();
    for piece in 0..6u8 {
        let chunk = vec![b'a' + piece; 50_000];
        expected.extend_from_slice(&chunk);
        fs::write(&path, &expected).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            sandbox.files("cart/in").is_empty(),
            "taken while still growing (piece {piece})"
        );
    }
    assert!(
        wait_until(std::time::Duration::from_secs(15), || sandbox
            .files("cart/in")
            == ["slow.csv"]),
        "not delivered once stable; log:\n{}",
        agent.log_text()
    );
    assert_eq!(
        fs::read(sandbox.path("cart/in/slow.csv")).unwrap(),
        expected
    );
    assert_eq!(agent.stop(), 0);
}

/// Drops a 50 MiB file into the upload route and waits until its `.part` appears on the server;
/// returns the bytes and the `.part` path.
fn start_big_upload(
    sandbox: &Sandbox,
    sshd: &Sshd,
    agent: &Agent,
) -> (Vec<u8>, std::path::PathBuf) {
    let data: Vec<u8> = (0..50u32 << 20).map(|i| (i % 241) as u8).collect();
    sandbox.drop_file("cart/out", "big.bin", &data);
    let part = sshd.path("root/in/orders/.big.bin.0.part");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || part.exists()),
        "the upload never started; log:\n{}",
        agent.log_text()
    );
    (data, part)
}

/// "Once" is checked again after the agent stopped and another `once` looked at every folder
/// afresh: a file it would take again (left in its inbox, on the server, or in the ledger as
/// unfinished) is delivered a second time there, and fails the test.
fn still_once_after_another_run(sandbox: &Sandbox, delivered_to: &Path, name: &str) {
    let out = sandbox.once_expecting(0);
    assert_eq!(
        list_files(delivered_to),
        [name],
        "delivered again after the agent stopped; log:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_server_killed_mid_upload_then_restarted_gets_the_file_once_and_whole() {
    let mut sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "user_key", "known_hosts");
    let agent = sandbox.start();
    let (data, part) = start_big_upload(&sandbox, &sshd, &agent);
    sshd.kill_all();
    // A `.part` gone (renamed: the upload finished) or whole means the kill came too late.
    let partial = fs::metadata(&part).map_or(u64::MAX, |m| m.len());
    assert!(
        partial < data.len() as u64,
        "killed after the upload finished; the test proves nothing"
    );
    agent.expect_log(
        "transient fault",
        std::time::Duration::from_secs(20),
        "the broken upload was not noticed",
    );
    sshd.restart();
    let remote = sshd.path("root/in/orders");
    assert!(
        wait_until(std::time::Duration::from_secs(60), || list_files(&remote)
            == ["big.bin"]),
        "not delivered after the restart; log:\n{}",
        agent.log_text()
    );
    assert!(
        fs::read(remote.join("big.bin")).unwrap() == data,
        "delivered bytes differ"
    );
    assert!(!part.exists(), "a .part file was left behind");
    assert_eq!(agent.stop(), 0);
    still_once_after_another_run(&sandbox, &remote, "big.bin");
}

#[test]
fn a_file_that_gives_up_mid_upload_leaves_no_temporary_file_on_the_server() {
    let mut sshd = Sshd::start();
    let sandbox = Sandbox::new(
        &format!(
            "{AGENT}\n{}",
            sshd.endpoint("warehouse", "user_key", "known_hosts")
        )
        .replace("max_attempts = 3", "max_attempts = 1"),
    );
    fs::create_dir_all(sandbox.path("cart/out")).unwrap();
    let agent = sandbox.start();
    let (data, part) = start_big_upload(&sandbox, &sshd, &agent);
    sshd.kill_all();
    // A `.part` gone (renamed: the upload finished) or whole means the kill came too late.
    let partial = fs::metadata(&part).map_or(u64::MAX, |m| m.len());
    assert!(
        partial < data.len() as u64,
        "killed after the upload finished; the test proves nothing"
    );
    assert!(
        wait_until(std::time::Duration::from_secs(30), || sandbox
            .all_files_below("var/errors")
            .iter()
            .any(|n| n.ends_with("big.bin"))),
        "the file did not reach the error folder; log:\n{}",
        agent.log_text()
    );
    assert!(
        part.exists(),
        "the server was down: its temporary file cannot have been removed yet"
    );
    sshd.restart();
    assert!(
        wait_until(std::time::Duration::from_secs(30), || !part.exists()),
        "the abandoned temporary file stayed on the server; log:\n{}",
        agent.log_text()
    );
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).into_owned();
    assert!(
        status.contains("big.bin: gave up after 1 attempt:"),
        "status names the file and why it gave up: {status}"
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn the_server_killed_mid_download_then_restarted_delivers_the_file_once_and_whole() {
    let mut sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let data: Vec<u8> = (0..50u32 << 20).map(|i| (i % 239) as u8).collect();
    fs::write(sshd.path("root/out/big.csv"), &data).unwrap();
    let agent = sandbox.start();
    let inbound = sandbox.path("var/state/inbound/down");
    let downloading = || {
        list_files(&inbound)
            .iter()
            .any(|n| fs::metadata(inbound.join(n)).is_ok_and(|m| m.len() > 0))
    };
    assert!(
        wait_until(std::time::Duration::from_secs(20), downloading),
        "the download never started; log:\n{}",
        agent.log_text()
    );
    sshd.kill_all();
    agent.expect_log(
        "transient fault",
        std::time::Duration::from_secs(20),
        "the broken download was not noticed",
    );
    assert!(
        sandbox.files("cart/in").is_empty(),
        "delivered from a broken download"
    );
    sshd.restart();
    assert!(
        wait_until(std::time::Duration::from_secs(60), || sandbox
            .files("cart/in")
            == ["big.csv"]),
        "not delivered after the restart; log:\n{}",
        agent.log_text()
    );
    assert!(
        fs::read(sandbox.path("cart/in/big.csv")).unwrap() == data,
        "delivered bytes differ"
    );
    assert!(
        wait_until(std::time::Duration::from_secs(10), || list_files(
            &sshd.path("root/out")
        )
        .is_empty()),
        "the remote file was not removed"
    );
    assert_eq!(agent.stop(), 0);
    still_once_after_another_run(&sandbox, &sandbox.path("cart/in"), "big.csv");
    assert!(sandbox.all_files_below("var/state/inbound").is_empty());
    assert_eq!(
        sandbox.all_files_below("var/archive/down").len(),
        1,
        "archived once"
    );
}

#[test]
fn a_network_that_goes_silent_mid_upload_is_detected_by_the_timeout_and_nothing_hangs() {
    let sshd = Sshd::start();
    let proxy = support::sshd::SilentProxy::start(sshd.port);
    let endpoint = sshd
        .endpoint_through("warehouse", proxy.port)
        .replace("timeout = \"10s\"", "timeout = \"2s\"");
    let sandbox = Sandbox::new(
        &format!("{AGENT}\n{endpoint}").replace("max_attempts = 3", "max_attempts = 20"),
    );
    fs::create_dir_all(sandbox.path("cart/out")).unwrap();
    let agent = sandbox.start();
    let (data, part) = start_big_upload(&sandbox, &sshd, &agent);
    proxy.go_silent();
    agent.expect_log(
        "transient fault",
        std::time::Duration::from_secs(30),
        "a silent network was not detected",
    );
    let log = agent.log_text();
    assert!(
        log.to_lowercase().contains("timed out"),
        "the fault is the timeout: {log}"
    );
    proxy.resume();
    let remote = sshd.path("root/in/orders");
    assert!(
        wait_until(std::time::Duration::from_secs(60), || list_files(&remote)
            == ["big.bin"]),
        "not delivered once the network came back; log:\n{}",
        agent.log_text()
    );
    assert!(fs::read(remote.join("big.bin")).unwrap() == data);
    assert!(!part.exists(), "a .part file was left behind");
    let leftovers: Vec<_> = fs::read_dir(&remote)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert_eq!(agent.stop(), 0, "the agent stops cleanly: nothing hangs");
    still_once_after_another_run(&sandbox, &remote, "big.bin");
}

#[test]
fn a_remote_folder_of_ten_thousand_files_is_listed_and_drained_in_one_run() {
    const FILES: usize = 10_000;
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let out = sshd.path("root/out");
    for i in 0..FILES {
        fs::write(out.join(format!("f{i:05}.csv")), format!("{i}\n")).unwrap();
    }
    sandbox.once_expecting(0);
    let delivered = sandbox.files("cart/in");
    assert_eq!(delivered.len(), FILES);
    assert_eq!(
        fs::read_to_string(sandbox.path("cart/in/f04321.csv")).unwrap(),
        "4321\n"
    );
    assert!(list_files(&out).is_empty(), "every remote file removed");
}

#[test]
fn ecdsa_and_rsa_keys_passphrases_from_environment_or_file_and_hashed_known_hosts_all_work() {
    let sshd = Sshd::start();
    let keygen = |name: &str, kind: &[&str], passphrase: &str| {
        let path = sshd.path(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-N", passphrase, "-f"])
            .arg(&path)
            .args(kind)
            .status()
            .unwrap();
        assert!(status.success());
        let public = fs::read_to_string(sshd.path(&format!("{name}.pub"))).unwrap();
        let mut keys = fs::OpenOptions::new()
            .append(true)
            .open(sshd.path("authorized_keys"))
            .unwrap();
        std::io::Write::write_all(&mut keys, public.as_bytes()).unwrap();
    };
    keygen("ecdsa_key", &["-t", "ecdsa"], "");
    keygen("rsa_key", &["-t", "rsa", "-b", "3072"], "");
    keygen("locked_key", &["-t", "ed25519"], "open sesame");
    fs::write(sshd.path("passphrase.txt"), "open sesame\n").unwrap();
    let passphrase_file = format!(
        "passphrase_file = \"{}\"\n",
        sshd.path("passphrase.txt").display()
    );
    // OpenSSH's hashed form of the known_hosts line (HashKnownHosts yes).
    fs::copy(sshd.path("known_hosts"), sshd.path("hashed_known_hosts")).unwrap();
    let status = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(sshd.path("hashed_known_hosts"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        fs::read_to_string(sshd.path("hashed_known_hosts"))
            .unwrap()
            .starts_with("|1|")
    );

    for (key, known_hosts, extra) in [
        ("ecdsa_key", "known_hosts", ""),
        ("rsa_key", "hashed_known_hosts", ""),
        (
            "locked_key",
            "known_hosts",
            "passphrase_env = \"TEST_KEY_PASSPHRASE\"\n",
        ),
        ("locked_key", "known_hosts", &passphrase_file),
    ] {
        let endpoint = sshd.endpoint("warehouse", key, known_hosts) + extra;
        let sandbox = sandbox_with(&endpoint);
        let name = format!("{key}-{}.csv", extra.len());
        sandbox.drop_file("cart/out", &name, key.as_bytes());
        let out = std::process::Command::new(binary())
            .arg("--config")
            .arg(sandbox.config())
            .arg("once")
            .env("TEST_KEY_PASSPHRASE", "open sesame")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(sshd.path(&format!("root/in/orders/{name}"))).unwrap(),
            key.as_bytes()
        );
    }
}

#[test]
fn a_refused_login_is_not_retried_at_once_so_the_account_is_not_locked() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "other_key", "known_hosts");
    let alerts = sandbox.path("alerts.jsonl");
    let port = support::alert_peers::free_port();
    let config = fs::read_to_string(sandbox.config())
        .unwrap()
        .replace("max_attempts = 3", "max_attempts = 50")
        .replacen(
            "[agent]",
            &format!("[agent]\nmetrics = \"127.0.0.1:{port}\""),
            1,
        )
        + &support::file_alert_channel("ops", &alerts);
    fs::write(sandbox.config(), config).unwrap();
    let agent = sandbox.start();
    sandbox.drop_file("cart/out", "x.csv", b"data");
    // Retries come every few hundred milliseconds; each must be answered from memory.
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            agent.log_text().matches("not trying again for").count() >= 3
        }),
        "no pause after a refused login; log:\n{}",
        agent.log_text()
    );
    let log = agent.log_text();
    assert_eq!(
        log.matches("the SFTP server refused cartferry").count(),
        1,
        "the server was asked more than once: {log}"
    );
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
    // The refusal is one alert, however often the file was looked at again.
    assert!(
        wait_until(std::time::Duration::from_secs(10), || !support::alerts_in(
            &alerts
        )
        .is_empty()),
        "no alert of the refusal; log:\n{}",
        agent.log_text()
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let said = support::alerts_in(&alerts);
    assert_eq!(
        support::alert_kinds(&said),
        ["endpoint_refused"],
        "{said:?}"
    );
    // And to Prometheus: no session, one refusal.
    let metrics = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for line in [
        "cartferry_sftp_session_up{endpoint=\"warehouse\"} 0",
        "cartferry_sftp_login_failures{endpoint=\"warehouse\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
    assert!(
        said[0]["events"][0]["endpoint"]
            .as_str()
            .unwrap()
            .contains("@127.0.0.1:"),
        "{said:?}"
    );
    assert_eq!(agent.stop_expecting_errors(&[REFUSED]), 0);
    // The server's own count, after the agent stopped: one refused login in all.
    assert_eq!(sshd.refused_logins(), 1, "sshd's log:\n{}", sshd.log());
}

#[test]
fn remote_files_fed_through_random_sigkills_are_delivered_exactly_once_and_removed() {
    const FILES: usize = 40;
    let seed = fastrand::u64(..);
    eprintln!("sftp crash test seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let out = sshd.path("root/out");
    let payload = |i: usize| format!("{i}\n").repeat(20_000 + i * 500);
    for i in 0..FILES {
        fs::write(out.join(format!("f{i:02}.csv")), payload(i)).unwrap();
    }
    let mut kills = 0;
    while kills < 8 && sandbox.files("cart/in").len() < FILES {
        let before = sandbox.files("cart/in").len();
        let agent = sandbox.spawn();
        wait_until(std::time::Duration::from_secs(10), || {
            sandbox.files("cart/in").len() > before
        });
        std::thread::sleep(std::time::Duration::from_millis(rng.u64(0..40)));
        agent.kill();
        kills += 1;
    }
    sandbox.once_expecting(0);
    let delivered = sandbox.files("cart/in");
    assert_eq!(delivered.len(), FILES, "seed {seed}: {delivered:?}");
    for i in 0..FILES {
        assert_eq!(
            fs::read_to_string(sandbox.path(&format!("cart/in/f{i:02}.csv"))).unwrap(),
            payload(i),
            "seed {seed}"
        );
    }
    assert!(
        list_files(&out).is_empty(),
        "seed {seed}: every remote file removed"
    );
    assert_eq!(
        sandbox.all_files_below("var/archive/down").len(),
        FILES,
        "seed {seed}: archived once each"
    );
    assert!(
        sandbox.all_files_below("var/state/inbound").is_empty(),
        "seed {seed}: no download left behind"
    );
    assert!(
        kills >= 3,
        "seed {seed}: the agent finished before it could be killed enough"
    );
}

#[test]
fn a_remote_file_waits_for_its_done_marker_which_is_removed_with_it() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, ", done_marker = \"{stem}.ok\"");
    fs::write(sshd.path("root/out/batch.csv"), b"complete\n").unwrap();
    sandbox.once_expecting(0);
    assert!(
        sandbox.files("cart/in").is_empty(),
        "taken without its marker"
    );
    fs::write(sshd.path("root/out/batch.ok"), b"").unwrap();
    sandbox.once_expecting(0);
    assert_eq!(
        fs::read(sandbox.path("cart/in/batch.csv")).unwrap(),
        b"complete\n"
    );
    assert!(
        list_files(&sshd.path("root/out")).is_empty(),
        "file and marker removed"
    );
}

#[test]
fn a_key_held_by_ssh_agent_logs_in() {
    let sshd = Sshd::start();
    let socket = sshd.path("agent.sock");
    let mut agent_process = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (Debian: apt-get install openssh-client)");
    assert!(wait_until(std::time::Duration::from_secs(10), || socket.exists()));
    let added = std::process::Command::new("ssh-add")
        .arg(sshd.path("user_key"))
        .env("SSH_AUTH_SOCK", &socket)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(added.success());
    let endpoint = sshd
        .endpoint("warehouse", "user_key", "known_hosts")
        .lines()
        .filter(|l| !l.starts_with("private_key"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\nagent = true\n";
    let sandbox = sandbox_with(&endpoint);
    sandbox.drop_file("cart/out", "via-agent.csv", b"agent");
    let out = std::process::Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    let _ = agent_process.kill();
    let _ = agent_process.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read(sshd.path("root/in/orders/via-agent.csv")).unwrap(),
        b"agent"
    );
}

#[test]
fn a_password_from_the_environment_logs_in_and_a_wrong_one_from_a_file_is_refused() {
    let account = support::sshd::PasswordUser::create();
    let sshd = Sshd::start_with(&account.sshd_match());
    let endpoint = |password: &str| {
        format!(
            "[endpoints.warehouse]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n{password}\nknown_hosts = \"{}\"\nroot = \"{}\"\ntimeout = \"10s\"\ncreate_dirs = true\n",
            sshd.port,
            account.name,
            sshd.path("known_hosts").display(),
            account.home.path().display()
        )
    };

    let wrong = Sandbox::new(&format!(
        "{AGENT}\n{}",
        endpoint("password_file = \"wrong-password.txt\"")
    ));
    fs::write(wrong.path("wrong-password.txt"), "not-the-password\n").unwrap();
    wrong.drop_file("cart/out", "x.csv", b"data");
    let out = wrong.once_expecting_errors(75, &[REFUSED]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("refused the login"), "{log}");
    assert!(
        !log.contains("not-the-password"),
        "a password reached the log: {log}"
    );
    assert!(!account.home.path().join("in").exists(), "nothing was sent");

    let right = Sandbox::new(&format!(
        "{AGENT}\n{}",
        endpoint("password_env = \"CARTFERRY_TEST_PASSWORD\"")
    ));
    right.drop_file("cart/out", "by-password.csv", b"password login");
    let out = std::process::Command::new(binary())
        .arg("--config")
        .arg(right.config())
        .arg("once")
        .env("CARTFERRY_TEST_PASSWORD", &account.password)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        !log.contains(&account.password),
        "the password reached the log: {log}"
    );
    let delivered = account.home.path().join("in/orders/by-password.csv");
    assert_eq!(fs::read(&delivered).unwrap(), b"password login");
    use std::os::unix::fs::MetadataExt;
    let account_uid = std::process::Command::new("id")
        .args(["-u", &account.name])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        fs::metadata(&delivered).unwrap().uid().to_string(),
        String::from_utf8_lossy(&account_uid).trim(),
        "written by the password account"
    );
}

#[test]
fn killed_after_delivery_before_the_remote_file_is_removed_it_is_not_delivered_again() {
    use std::os::unix::fs::PermissionsExt;
    let account = support::sshd::PasswordUser::create();
    let sshd = Sshd::start_with(&account.sshd_match());
    let config = format!(
        "{}\n[[routes]]\nname = \"down\"\nfrom = {{ endpoint = \"warehouse\", dir = \"out\", pattern = \"*.csv\" }}\nreader = \"passthrough\"\nwriter = \"passthrough\"\nto = {{ endpoint = \"cart\", dir = \"in\" }}\n[endpoints.warehouse]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\npassword_env = \"CARTFERRY_TEST_PASSWORD\"\nknown_hosts = \"{}\"\nroot = \"{}\"\ntimeout = \"10s\"\n",
        AGENT.replace("[agent]", "[agent]\npoll_interval = \"200ms\""),
        sshd.port,
        account.name,
        sshd.path("known_hosts").display(),
        account.home.path().display()
    );
    let sandbox = Sandbox::new(&config);
    fs::create_dir_all(sandbox.path("cart/out")).unwrap();
    // The account may read `out/` but not remove from it: every removal after delivery fails.
    let out = account.home.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("confirm.csv"), b"1001,1Z999\n").unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o555)).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(binary())
            .arg("--config")
            .arg(sandbox.config())
            .args(args)
            .env("CARTFERRY_TEST_PASSWORD", &account.password)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    let mut agent = run(&["run"]);
    let delivered = sandbox.path("cart/in/confirm.csv");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || delivered.exists()),
        "never delivered"
    );
    std::thread::sleep(std::time::Duration::from_millis(500)); // a removal or two fail
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert_eq!(list_files(&out), ["confirm.csv"], "still on the server");

    // Restarted while the server still refuses the removal: nothing is delivered again.
    let blocked = run(&["once"]).wait_with_output().unwrap();
    assert_eq!(
        blocked.status.code(),
        Some(75),
        "the removal waits for a retry"
    );
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("could not delete"));
    assert_eq!(sandbox.files("cart/in"), ["confirm.csv"]);

    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let fixed = run(&["once"]).wait_with_output().unwrap();
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert_eq!(sandbox.files("cart/in"), ["confirm.csv"], "delivered once");
    assert_eq!(fs::read(&delivered).unwrap(), b"1001,1Z999\n");
    assert!(
        list_files(&out).is_empty(),
        "removed from the server at last"
    );
    assert!(sandbox.files("var/errors/down").is_empty());
}

#[test]
fn a_missing_passphrase_variable_is_this_machines_fault_not_a_refusal_by_the_server() {
    let sshd = Sshd::start();
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "open sesame", "-t", "ed25519", "-f"])
        .arg(sshd.path("locked_key"))
        .status()
        .unwrap();
    assert!(status.success());
    let public = fs::read_to_string(sshd.path("locked_key.pub")).unwrap();
    let authorized = fs::read_to_string(sshd.path("authorized_keys")).unwrap() + &public;
    fs::write(sshd.path("authorized_keys"), authorized).unwrap();
    let endpoint = sshd.endpoint("warehouse", "locked_key", "known_hosts")
        + "passphrase_env = \"CARTFERRY_TEST_NEVER_SET\"\n";
    let sandbox = sandbox_with(&endpoint);
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = std::process::Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env_remove("CARTFERRY_TEST_NEVER_SET")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "waits for a retry: {log}");
    assert!(
        log.contains("could not read the login secret for")
            && log.contains("the environment variable CARTFERRY_TEST_NEVER_SET is not set"),
        "{log}"
    );
    assert!(
        !log.contains("refused cartferry"),
        "not the server's refusal: {log}"
    );
    assert!(
        !log.contains("not trying again for"),
        "no pause for the server: {log}"
    );
}

#[test]
fn files_wait_out_a_paused_endpoint_without_using_up_their_attempts() {
    let sshd = Sshd::start();
    // Two attempts only: a file counting the pause's retries would be in the error folder at once.
    let sandbox = sandbox(&sshd, "other_key", "known_hosts");
    let config = fs::read_to_string(sandbox.config())
        .unwrap()
        .replace("max_attempts = 3", "max_attempts = 2");
    fs::write(sandbox.config(), config).unwrap();
    let agent = sandbox.start();
    sandbox.drop_file("cart/out", "x.csv", b"data");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            agent.log_text().matches("not trying again for").count() >= 4
        }),
        "log:\n{}",
        agent.log_text()
    );
    assert!(
        sandbox.all_files_below("var/errors").is_empty(),
        "a paused endpoint is not the file's fault; log:\n{}",
        agent.log_text()
    );
    assert_eq!(agent.stop_expecting_errors(&[REFUSED]), 0);
}

#[test]
fn an_untrusted_host_key_is_said_once_by_check_and_as_cartferrys_refusal_in_the_log() {
    let sshd = Sshd::start();
    fs::write(sshd.path("empty_known_hosts"), "").unwrap();
    let sandbox = sandbox(&sshd, "user_key", "empty_known_hosts");
    let second = "\n[[routes]]\nname = \"down\"\nfrom = { endpoint = \"warehouse\", dir = \"out\", pattern = \"*\" }\nreader = \"passthrough\"\nwriter = \"passthrough\"\nto = { endpoint = \"cart\", dir = \"in\" }\n";
    let config = fs::read_to_string(sandbox.config()).unwrap() + second;
    fs::write(sandbox.config(), config).unwrap();
    let check = sandbox.cmd(&["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert_eq!(
        text.matches("host key is not in").count(),
        1,
        "said once: {text}"
    );
    assert!(
        text.contains("skip  route down from: endpoint warehouse failed above"),
        "{text}"
    );
    let log = String::from_utf8_lossy(&check.stderr);
    assert!(
        log.contains("cartferry refused the SFTP server")
            && !log.contains("the SFTP server refused cartferry"),
        "{log}"
    );
}

#[test]
fn a_pause_after_a_refused_login_is_kept_by_the_next_process_too() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "other_key", "known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let first = sandbox.cmd(&["once"]);
    let log = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        log.matches("the SFTP server refused cartferry").count(),
        1,
        "{log}"
    );
    // A second process (a `once` from cron) must not ask the server again before the pause ends.
    let second = sandbox.cmd(&["once"]);
    let log = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{log}");
    assert!(
        !log.contains("the SFTP server refused cartferry") && log.contains("not trying again for"),
        "the second process asked the server again: {log}"
    );
    let status = sandbox.cmd(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("endpoint warehouse") && text.contains("is paused until"),
        "status says why the files wait: {text}"
    );
    // The server's own count: the two processes made one login attempt in all.
    assert_eq!(sshd.refused_logins(), 1, "sshd's log:\n{}", sshd.log());
}

#[test]
fn a_session_stalled_past_the_timeout_never_writes_into_the_file_delivered_after_it() {
    use std::os::unix::fs::MetadataExt;
    let sshd = Sshd::start();
    let endpoint = sshd
        .endpoint("warehouse", "user_key", "known_hosts")
        .replace("timeout = \"10s\"", "timeout = \"2s\"");
    let sandbox = Sandbox::new(
        &format!("{AGENT}\n{endpoint}").replace("max_attempts = 3", "max_attempts = 20"),
    );
    fs::create_dir_all(sandbox.path("cart/out")).unwrap();
    let agent = sandbox.start();
    let (data, _) = start_big_upload(&sandbox, &sshd, &agent);
    // The session writing the upload stops (as a stalled server process does) with writes
    // still queued to it; the upload times out and a new session delivers the file.
    let stalled = sshd.signal_sessions("STOP");
    let remote = sshd.path("root/in/orders");
    let delivered = remote.join("big.bin");
    assert!(
        wait_until(std::time::Duration::from_secs(90), || fs::read(&delivered)
            .is_ok_and(|b| b == data)),
        "not delivered by a new session; log:\n{}",
        agent.log_text()
    );
    let before = fs::metadata(&delivered).unwrap();
    support::sshd::signal_all(&stalled, "CONT");
    // Bounded: long enough for the woken session to apply the writes queued to it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let after = fs::metadata(&delivered).unwrap();
    assert_eq!(
        (after.mtime(), after.mtime_nsec(), after.len()),
        (before.mtime(), before.mtime_nsec(), before.len()),
        "the stalled session wrote into the delivered file"
    );
    assert_eq!(fs::read(&delivered).unwrap(), data);
    assert_eq!(agent.stop(), 0);
}

#[test]
fn remote_entries_the_route_cannot_take_are_said_with_their_reason() {
    use std::os::unix::ffi::OsStrExt;
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    let out = sshd.path("root/out");
    fs::write(
        out.join(std::ffi::OsStr::from_bytes(b"r\xe9sum\xe9.csv")),
        b"x\n",
    )
    .unwrap();
    fs::create_dir(out.join("folder.csv")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", out.join("link.csv")).unwrap();
    fs::write(out.join("good.csv"), b"1001,1Z999\n").unwrap();
    let run = sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/in"), ["good.csv"]);
    let log = String::from_utf8_lossy(&run.stderr);
    let status = sandbox.cmd(&["status"]);
    let shown = String::from_utf8_lossy(&status.stdout);
    for (name, why) in [
        ("r\u{FFFD}sum\u{FFFD}.csv", "its name is not valid UTF-8"),
        ("folder.csv", "it is a folder"),
        ("link.csv", "it is a symbolic link"),
    ] {
        assert!(
            log.lines().any(|l| l.contains("WARN")
                && l.contains(&format!("file=\"{name}\""))
                && l.contains(why)),
            "{name} in the log:\n{log}"
        );
        assert!(
            shown.contains(&format!("down: {name}: {why}")),
            "{name} in status:\n{shown}"
        );
    }
}

#[test]
fn explain_finds_a_remote_file_by_its_name_before_and_after_it_is_taken() {
    let sshd = Sshd::start();
    let sandbox = download_sandbox(&sshd, "");
    fs::write(sshd.path("root/out/remote.csv"), b"1001,1Z999\n").unwrap();
    let explain = || {
        let out = sandbox.cmd(&["explain", "remote.csv"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = explain();
    assert!(
        before.contains("remote.csv: in the inbox of route down (SFTP folder")
            && before.contains("waiting to be taken (11 bytes"),
        "{before}"
    );
    sandbox.once_expecting(0);
    let after = explain();
    assert!(
        after.contains("remote.csv: taken by route down")
            && after.contains("delivered as remote.csv, and archived")
            && !after.contains("in the inbox"),
        "{after}"
    );
}

#[test]
fn four_files_in_flight_on_four_sessions_killed_arrive_once_and_whole() {
    const FILES: usize = 4;
    let sshd = Sshd::start();
    // Half-second round trips: each upload stays in flight for seconds (a channel's 2 MiB
    // window per round trip), longer than the files' claims differ by, even in a debug build.
    let proxy = support::sshd::DelayProxy::start(sshd.port, std::time::Duration::from_millis(250));
    let sandbox = sandbox_with(&sshd.endpoint_through("warehouse", proxy.port));
    let agent = sandbox.start();
    let data: Vec<Vec<u8>> = (0..FILES as u32)
        .map(|f| (0..8u32 << 20).map(|i| ((i + f) % 239) as u8).collect())
        .collect();
    let remote = sshd.path("root/in/orders");
    // Four small files first, together: the four workers log in their four sessions, which
    // then wait in the pool, so that the big files start side by side.
    for i in 0..FILES {
        sandbox.drop_file(
            "cart/out",
            &format!("w{i}.csv"),
            format!("{i}\n").as_bytes(),
        );
    }
    assert!(
        wait_until(std::time::Duration::from_secs(60), || list_files(&remote)
            .len()
            == FILES),
        "the small files were not delivered; log:\n{}",
        agent.log_text()
    );
    // Written aside, then moved in together, so that the four are taken together.
    fs::create_dir_all(sandbox.path("cart/aside")).unwrap();
    for (i, bytes) in data.iter().enumerate() {
        fs::write(sandbox.path(&format!("cart/aside/f{i}.bin")), bytes).unwrap();
    }
    for i in 0..FILES {
        let name = format!("f{i}.bin");
        fs::rename(
            sandbox.path(&format!("cart/aside/{name}")),
            sandbox.path(&format!("cart/out/{name}")),
        )
        .unwrap();
    }
    let in_flight = || {
        fs::read_dir(&remote).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                .count()
        })
    };
    assert!(
        wait_until(std::time::Duration::from_secs(60), || in_flight() == FILES),
        "the four uploads were never in flight together (the route's workers follow the endpoint's 4 connections); log:\n{}",
        agent.log_text()
    );
    agent.kill();
    // Nothing partial under a final name.
    for (i, bytes) in data.iter().enumerate() {
        if let Ok(found) = fs::read(remote.join(format!("f{i}.bin"))) {
            assert!(
                found == *bytes,
                "f{i}.bin is under its final name, but not whole"
            );
        }
    }
    // The next run finishes the claimed files' journeys.
    sandbox.once_expecting(0);
    let names: Vec<String> = (0..FILES)
        .map(|i| format!("f{i}.bin"))
        .chain((0..FILES).map(|i| format!("w{i}.csv")))
        .collect();
    assert_eq!(list_files(&remote), names, "each once, and no .part left");
    for (i, bytes) in data.iter().enumerate() {
        assert!(
            fs::read(remote.join(format!("f{i}.bin"))).unwrap() == *bytes,
            "f{i}.bin differs"
        );
    }
    assert_eq!(sandbox.all_files_below("var/archive/up").len(), 2 * FILES);
    sandbox.once_expecting(0);
    assert_eq!(list_files(&remote), names, "delivered again by another run");
}

#[test]
fn a_server_that_takes_fewer_sessions_gets_every_file_over_those_it_takes() {
    const FILES: usize = 12;
    let sshd = Sshd::start();
    let proxy = support::sshd::LimitingProxy::start(sshd.port, 2);
    let sandbox = sandbox_with(&sshd.endpoint_through("warehouse", proxy.port));
    for i in 0..FILES {
        sandbox.drop_file(
            "cart/out",
            &format!("f{i:02}.csv"),
            format!("{i}\n").as_bytes(),
        );
    }
    // The route takes 4 files at a time (the endpoint's default connections); the server lets
    // 2 sessions in. Should the first session's own connect lose the race to the proxy, its
    // file waits for the next pass: a few passes are allowed.
    let mut log = String::new();
    for _ in 0..3 {
        let out = sandbox.cmd(&["once"]);
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if sandbox.files("cart/out").is_empty() {
            break;
        }
    }
    let remote = sshd.path("root/in/orders");
    assert_eq!(
        list_files(&remote).len(),
        FILES,
        "every file once; log:\n{log}"
    );
    assert!(
        proxy.refused() >= 1,
        "the proxy never refused a session: the test proves nothing"
    );
    assert!(
        log.contains("refused one more session"),
        "the limit is said; log:\n{log}"
    );
    assert_no_unexpected_errors(&log, &[]);
}

#[test]
fn a_big_file_to_a_far_server_goes_in_ranges_over_several_sessions_and_arrives_whole() {
    let sshd = Sshd::start();
    // A 100 ms round trip: far enough for ranges (from 40 ms).
    let proxy = support::sshd::DelayProxy::start(sshd.port, std::time::Duration::from_millis(50));
    let sandbox = sandbox_with(&sshd.endpoint_through("warehouse", proxy.port));
    // 20 MiB and 5 bytes: ranges of whole MiB, and a last one that is not.
    let big: Vec<u8> = (0..(20u32 << 20) + 5)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    sandbox.drop_file("cart/out", "big.bin", &big);
    sandbox.once_expecting(0);
    let remote = sshd.path("root/in/orders");
    assert_eq!(list_files(&remote), ["big.bin"], "delivered, no .part left");
    assert!(
        fs::read(remote.join("big.bin")).unwrap() == big,
        "delivered bytes differ"
    );
    let logins = sshd.log().matches("Accepted publickey").count();
    assert!(
        logins >= 2,
        "one session only ({logins} logins): the file did not go in ranges"
    );
    // Sent out of order, the file is hashed in order beside its ranges: the ledger has the hash
    // of its bytes, so the same bytes again are known as a duplicate.
    let ledger = rusqlite::Connection::open(sandbox.path("var/state/ledger.sqlite3")).unwrap();
    let recorded: String = ledger
        .query_row("SELECT sha256 FROM files WHERE name = 'big.bin'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(recorded, cartferry::fsutil::sha256_of(&big[..]).unwrap().1);
}

/// Sizes around the block (16 bytes), the first block's 12 encrypted bytes, libssh2's SFTP
/// write (30,000 bytes) and the SSH channel packet (32 KiB).
const PACKET_EDGES: [usize; 11] = [
    0, 1, 12, 16, 17, 29_999, 30_000, 30_001, 32_768, 65_537, 1_048_583,
];

#[test]
fn files_go_up_and_down_whole_with_each_cipher_a_server_may_insist_on() {
    // AES-GCM is what cartferry asks for first on a processor with AES instructions, and its
    // patched libssh2 encrypts and decrypts each such packet in one call; a server that offers
    // only ChaCha20-Poly1305 gets that instead. One server renews the session's keys every
    // 256 KiB, so that new cipher contexts take over mid-file, both ways.
    for (cipher, rekey) in [
        ("aes128-gcm@openssh.com", ""),
        ("aes256-gcm@openssh.com", ""),
        ("chacha20-poly1305@openssh.com", ""),
        ("aes128-gcm@openssh.com", "RekeyLimit 256K\n"),
    ] {
        let sshd = Sshd::start_with(&format!("Ciphers {cipher}\n{rekey}"));
        let sandbox = download_sandbox(&sshd, "");
        let contents =
            |size: usize| -> Vec<u8> { (0..size).map(|i| ((i * 31 + size) % 251) as u8).collect() };
        for size in PACKET_EDGES {
            sandbox.drop_file("cart/out", &format!("up-{size}.bin"), &contents(size));
            fs::write(
                sshd.path(&format!("root/out/down-{size}.csv")),
                contents(size + 1),
            )
            .unwrap();
        }
        sandbox.once_expecting(0);
        for size in PACKET_EDGES {
            let up = fs::read(sshd.path(&format!("root/in/orders/up-{size}.bin"))).unwrap();
            assert!(up == contents(size), "{cipher}: up-{size}.bin differs");
            let down = fs::read(sandbox.path(&format!("cart/in/down-{size}.csv"))).unwrap();
            assert!(
                down == contents(size + 1),
                "{cipher}: down-{size}.csv differs"
            );
        }
        let logins = sshd.log();
        assert!(
            logins.contains("Accepted publickey"),
            "{cipher}: the server logged no login:\n{logins}"
        );
    }
}

#[test]
fn sessions_ask_for_aes_gcm_both_ways_where_the_processor_has_aes() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "user_key", "known_hosts");
    sandbox.drop_file("cart/out", "a.csv", b"1001,2\n");
    let out = std::process::Command::new(binary())
        .arg("--config")
        .arg(sandbox.config())
        .arg("once")
        .env("RUST_LOG", "info,cartferry::endpoint::sftp=debug")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let expected = if cartferry::platform::aes_gcm_in_hardware() {
        "aes128-gcm@openssh.com"
    } else {
        "chacha20-poly1305@openssh.com"
    };
    for direction in ["upstream", "downstream"] {
        assert!(
            log.contains(&format!("{direction}_cipher=\"{expected}\"")),
            "{log}"
        );
    }
    assert!(sshd.path("root/in/orders/a.csv").exists());
}

#[test]
fn a_server_that_never_starts_sftp_is_a_timeout_said_in_the_log_and_the_file_waits() {
    // The login succeeds, but what runs instead of the SFTP server never answers.
    let sshd = Sshd::start_with("Match all\n    ForceCommand /bin/sleep 30\n");
    let endpoint = sshd
        .endpoint("warehouse", "user_key", "known_hosts")
        .replace("timeout = \"10s\"", "timeout = \"1s\"");
    let sandbox = sandbox_with(&endpoint);
    sandbox.drop_file("cart/out", "a.csv", b"1001,2\n");
    let out = sandbox.cmd(&["once"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("transient fault")
            && log.contains("did not start SFTP in time")
            && log.contains("1 waiting to retry"),
        "{log}"
    );
    assert!(sandbox.all_files_below("var/errors").is_empty(), "{log}");
    assert!(
        list_files(&sshd.path("root")).is_empty(),
        "nothing reached the server"
    );
}
