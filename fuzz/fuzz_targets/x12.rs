//! Fuzzes the X12 envelope reader and the transaction-set readers; the first byte picks one.
#![no_main]

const READERS: [&str; 5] = ["x12-945", "x12-846", "x12-940", "x12-180", "x12-947"];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((selector, rest)) = data.split_first() {
        cartferry_fuzz::exercise(cartferry_fuzz::pick(&READERS, *selector), rest);
    }
});
