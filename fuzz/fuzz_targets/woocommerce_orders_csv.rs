//! Fuzzes the `woocommerce-orders-csv` reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise("woocommerce-orders-csv", data));
