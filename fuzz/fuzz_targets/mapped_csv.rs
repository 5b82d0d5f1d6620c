//! Fuzzes the `mapped-csv` reader with the mapping of `fixtures/mapped-csv/shop-orders-de.toml`.
#![no_main]

use std::sync::LazyLock;

static OPTIONS: LazyLock<cartferry::format::Options> = LazyLock::new(|| {
    cartferry_fuzz::options(include_str!(
        "../../fixtures/mapped-csv/shop-orders-de.toml"
    ))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise_with(
    "mapped-csv",
    &OPTIONS,
    data
));
