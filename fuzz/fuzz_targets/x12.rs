//! Fuzzes the X12 envelope reader, the transaction-set readers and the 997 reader; the first
//! byte picks one.
#![no_main]

const READERS: [&str; 6] = [
    "x12-945", "x12-846", "x12-940", "x12-180", "x12-947", "x12-997",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((selector, rest)) = data.split_first() {
        cartferry_fuzz::exercise(cartferry_fuzz::pick(&READERS, *selector), rest);
    }
});
