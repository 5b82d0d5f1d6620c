//! Fuzzes the `shopify-orders-csv` reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise("shopify-orders-csv", data));
