//! SFTP destinations against a real OpenSSH server on loopback.

mod support;

use std::fs;

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

fn sandbox(sshd: &Sshd, key: &str, known_hosts: &str) -> Sandbox {
    let s = Sandbox::new(&format!(
        "{AGENT}\n{}",
        sshd.endpoint("warehouse", key, known_hosts)
    ));
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
}

#[test]
fn an_unknown_host_key_is_refused_with_its_fingerprint_and_nothing_is_sent() {
    let sshd = Sshd::start();
    fs::write(sshd.path("empty_known_hosts"), "").unwrap();
    let sandbox = sandbox(&sshd, "user_key", "empty_known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = sandbox.once_expecting(75);
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
    let out = sandbox.once_expecting(75);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("host key CHANGED"), "{log}");
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
}

#[test]
fn a_wrong_user_key_is_refused_and_nothing_is_sent() {
    let sshd = Sshd::start();
    let sandbox = sandbox(&sshd, "other_key", "known_hosts");
    sandbox.drop_file("cart/out", "x.csv", b"data");
    let out = sandbox.once_expecting(75);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("refused the login"), "{log}");
    assert!(list_files(&sshd.path("root/in/orders")).is_empty());
    assert_eq!(
        sandbox.files("cart/out").len(),
        0,
        "the file waits in processing for a retry"
    );
}
