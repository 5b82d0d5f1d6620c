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

if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all -- --check
else
    echo "note: rustfmt is not installed (rustup component add rustfmt); formatting not checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --all-targets --locked -- -D warnings
else
    echo "note: clippy is not installed (rustup component add clippy); lints not checked" >&2
fi

# Unit, integration and doc tests; the benchmarks are run by `cargo bench` only.
cargo test --locked
