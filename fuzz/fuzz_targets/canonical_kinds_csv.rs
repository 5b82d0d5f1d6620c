//! Fuzzes the canonical CSV readers of holds, shipments, inventory, RMAs and returns; the first
//! byte picks the reader.
#![no_main]

const READERS: [&str; 5] = [
    "canonical-holds-csv",
    "canonical-shipments-csv",
    "canonical-inventory-csv",
    "canonical-rmas-csv",
    "canonical-returns-csv",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((selector, rest)) = data.split_first() {
        cartferry_fuzz::exercise(cartferry_fuzz::pick(&READERS, *selector), rest);
    }
});
