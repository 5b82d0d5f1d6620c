//! The example configs in config/examples/ are valid, and `cartferry init --example NAME` writes
//! one with its folder tree and says what is left to do.

mod support;

use std::path::Path;

const EXAMPLES: [&str; 3] = ["shopify-x12", "woocommerce-csv", "cart-sftp"];

/// Puts stand-in key files where an example expects them, so only their content is fake.
fn fake_keys(dir: &Path) {
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for name in [
        "id_ed25519",
        "cart_ed25519",
        "threepl_ed25519",
        "known_hosts",
    ] {
        std::fs::write(dir.join("keys").join(name), "").unwrap();
    }
}

#[test]
fn every_example_config_is_valid_once_its_keys_exist() {
    for name in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("config/examples/{name}.toml")),
        )
        .unwrap();
        let path = dir.path().join("cartferry.toml");
        std::fs::write(&path, text).unwrap();
        fake_keys(dir.path());
        if let Err(e) = cartferry::config::Config::load(&path) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn init_writes_an_example_with_its_folders_and_the_steps_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::binary())
        .args(["init", "--example", "shopify-x12"])
        .arg(dir.path())
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(dir.path().join("cartferry.toml").is_file());
    for folder in [
        "var/cart/outbox/orders",
        "var/cart/inbox/status",
        "var/outbox/997",
        "var/state",
        "keys",
    ] {
        assert!(dir.path().join(folder).is_dir(), "{folder}; {said}");
    }
    assert!(
        said.contains("keys/id_ed25519"),
        "the missing key is named: {said}"
    );

    let unknown = std::process::Command::new(support::binary())
        .args(["init", "--example", "magento"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("shopify-x12, woocommerce-csv, cart-sftp"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn the_systemd_unit_is_taken_by_systemd_without_a_warning() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/cartferry.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/cartferry "));
    // systemd checks that the program exists: this build's stands in for the installed one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cartferry.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/cartferry", support::binary()),
    )
    .unwrap();
    let checked = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect(
            "systemd-analyze is needed: apt-get install systemd (the test command installs it)",
        );
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}
