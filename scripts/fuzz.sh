#!/usr/bin/env bash
# Fuzzes every reader for a bounded time: FUZZ_SECONDS per target (default 60), at most 256 MiB of
# memory and 64 KiB inputs. Built without a sanitizer (the readers are safe Rust; AddressSanitizer's
# quarantine alone would exceed the memory cap) so the cap measures cartferry's own memory.
# Seeds come from fixtures/. Installs the nightly toolchain and cargo-fuzz when missing. A crash
# stops the script with the crasher's path; add the crasher to HOSTILE in
# tests/fuzz_regressions.rs (or give it a test of its own there).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi

seed() { # target, fixture files...
    local dir="fuzz/corpus/$1"
    shift
    mkdir -p "$dir"
    for f in "$@"; do cp "$f" "$dir/"; done
}
seed canonical_orders_csv fixtures/canonical-orders-csv/*.csv
seed shopify_orders_csv fixtures/shopify-orders-csv/*.csv
seed woocommerce_orders_csv fixtures/woocommerce-orders-csv/*.csv
seed mapped_csv fixtures/mapped-csv/*.csv
seed mapped_xml fixtures/mapped-xml/*.xml
mkdir -p fuzz/corpus/x12
# The first byte picks the reader: 0 = x12-945, 1 = x12-846, 2 = x12-940, 3 = x12-180, 4 = x12-947,
# 5 = x12-997.
for f in fixtures/x12/945/*.edi; do { printf '\000'; cat "$f"; } > "fuzz/corpus/x12/$(basename "$f")"; done
for f in fixtures/x12/846/*.edi; do { printf '\001'; cat "$f"; } > "fuzz/corpus/x12/$(basename "$f")"; done
for f in fixtures/x12/940/*.edi; do { printf '\002'; cat "$f"; } > "fuzz/corpus/x12/940-$(basename "$f")"; done
for f in fixtures/x12/947/*.edi; do { printf '\004'; cat "$f"; } > "fuzz/corpus/x12/947-$(basename "$f")"; done
for f in fixtures/x12/997/*.edi; do { printf '\005'; cat "$f"; } > "fuzz/corpus/x12/997-$(basename "$f")"; done
mkdir -p fuzz/corpus/canonical_kinds_csv fuzz/corpus/canonical_xml
# The first byte picks the reader: 1 = shipments, 2 = inventory.
{ printf '\001'; cat fixtures/canonical-shipments-csv/shipments.csv; } > fuzz/corpus/canonical_kinds_csv/shipments
{ printf '\002'; cat fixtures/canonical-inventory-csv/inventory.csv; } > fuzz/corpus/canonical_kinds_csv/inventory
printf '\003<inventory><record><sku>A &amp; B</sku><on_hand>3</on_hand></record></inventory>' > fuzz/corpus/canonical_xml/inventory
printf '\000<orders><order><order_id>1</order_id><shipping_method>G</shipping_method><ship_to><first_name>A</first_name><last_name>B</last_name><address1>1 St</address1><city>C</city><postal_code>1</postal_code><country>GB</country></ship_to><line><line_number>1</line_number><sku>S</sku><quantity>1</quantity></line></order></orders>' > fuzz/corpus/canonical_xml/order

cd fuzz
for target in canonical_orders_csv shopify_orders_csv woocommerce_orders_csv canonical_kinds_csv canonical_xml mapped_csv mapped_xml x12; do
    echo "== $target: ${seconds}s"
    rm -rf "artifacts/$target"
    cargo +nightly fuzz run "$target" -O --sanitizer none -- \
        -max_total_time="$seconds" -rss_limit_mb=256 -max_len=65536 -print_final_stats=1 2>&1 \
        | grep -E '^(==|#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|.*(panicked|ERROR))' || true
    if ls "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/leak-* >/dev/null 2>&1; then
        echo "crashers in fuzz/artifacts/$target:" && ls "artifacts/$target"
        exit 1
    fi
done
