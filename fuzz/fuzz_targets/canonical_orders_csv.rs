//! Fuzzes the `canonical-orders-csv` reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise("canonical-orders-csv", data));
