//! Fuzzes the `mapped-xml` reader with the mapping of `fixtures/mapped-xml/shop-orders.toml`.
#![no_main]

use std::sync::LazyLock;

static OPTIONS: LazyLock<cartferry::format::Options> = LazyLock::new(|| {
    cartferry_fuzz::options(include_str!("../../fixtures/mapped-xml/shop-orders.toml"))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartferry_fuzz::exercise_with(
    "mapped-xml",
    &OPTIONS,
    data
));
