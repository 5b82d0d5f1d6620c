//! Fuzzes the canonical XML readers of the six kinds; the first byte picks the reader.
#![no_main]

const READERS: [&str; 6] = [
    "canonical-orders-xml",
    "canonical-holds-xml",
    "canonical-shipments-xml",
    "canonical-inventory-xml",
    "canonical-rmas-xml",
    "canonical-returns-xml",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((selector, rest)) = data.split_first() {
        cartferry_fuzz::exercise(cartferry_fuzz::pick(&READERS, *selector), rest);
    }
});
