#!/usr/bin/env bash
# Runs every file in ../shared/realworld-samples (other people's software's files, kept out of
# this repository) through its reader, for checking by hand: cart exports and X12 sets through
# `convert`, partners' 997s through a route reading x12-997. Not part of the tests.
# Usage: scripts/try-realworld-samples.sh [SAMPLES_DIR]
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$here/../shared/realworld-samples}
[ -d "$samples" ] || { echo "no samples at $samples" >&2; exit 2; }
cargo build --quiet --manifest-path "$here/Cargo.toml" || exit 1
bin="$here/target/debug/cartferry"
declare -A reader=([shopify]=shopify-orders-csv [woocommerce]=woocommerce-orders-csv
  [x12-180]=x12-180 [x12-846]=x12-846 [x12-940]=x12-940 [x12-945]=x12-945)
declare -A writer=([shopify]=canonical-orders-csv [woocommerce]=canonical-orders-csv
  [x12-180]=canonical-returns-csv [x12-846]=canonical-inventory-csv
  [x12-940]=canonical-orders-csv [x12-945]=canonical-shipments-csv)
for kind in shopify woocommerce x12-180 x12-846 x12-940 x12-945; do
  for file in "$samples/$kind"/*; do
    out=$("$bin" convert --config /dev/null --reader "${reader[$kind]}" \
      --writer "${writer[$kind]}" "$file" 2>&1 >/dev/null)
    rc=$?
    echo "=== $kind/$(basename "$file") (exit $rc)"
    printf '%s\n' "$out" | head -4 | cut -c1-300
  done
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
cp "$samples"/x12-997/* "$work/in/"
cat > "$work/cartferry.toml" <<TOML
[agent]
state_dir = "state"
archive_dir = "archive"
errors_dir = "errors"
stable_for = "0s"
[endpoints.local]
kind = "local"
root = "."
[[routes]]
name = "997-in"
from = { endpoint = "local", dir = "in", pattern = "*" }
reader = "x12-997"
TOML
echo "=== x12-997 (a route reading x12-997)"
"$bin" --config "$work/cartferry.toml" once 2>&1 | grep -E "outcome=|^once" | cut -c1-300
