//! Fuzzes the X12 envelope reader and the `x12-945` reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise("x12-945", data));
