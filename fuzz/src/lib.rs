//! What every fuzz target does with its input: reads it with a reader to the end, converts it in
//! split mode, and copies the rejected rows back out, as the agent would. Nothing may panic, and
//! every error must be an error value.

use cartferry::format::x12::acknowledgment_997::{self, Acknowledger};
use cartferry::format::x12::envelope::Envelopes;
use cartferry::format::x12::writer::Partner;
use cartferry::format::{self, Conversion, Item, OnInvalid, Options, convert};

/// Runs `data` through the reader `reader` every way the agent uses a reader.
pub fn exercise(reader: &str, data: &[u8]) {
    exercise_with(reader, &Options::new(), data);
}

/// A route's `reader_options` written as TOML (a fixture's mapping).
pub fn options(toml_text: &str) -> Options {
    toml::from_str(toml_text).expect("the options are valid TOML")
}

/// Runs `data` through the reader `reader`, with these options, every way the agent uses a
/// reader.
pub fn exercise_with(reader: &str, options: &Options, data: &[u8]) {
    if reader == format::X12_997 {
        return exercise_997(data);
    }
    let format = format::reader(reader, options).expect("a known reader");
    for item in format.read(Box::new(data)) {
        if let Ok(Item::Document(d, _)) = item {
            let _ = d.id();
        }
    }
    let mut answer = Vec::new();
    let mut acknowledger = Acknowledger::new(
        Box::new(&mut answer),
        partner(),
        &format::WriteContext::now(),
    );
    if let Some(Ok(whole)) = format.acknowledge(Box::new(data), &mut acknowledger) {
        let _ = acknowledger.finish(whole);
    }
    // Each canonical reader pairs with its own writer, the X12 readers with their kinds; the cart
    // readers and the fixtures' mappings give orders.
    let writer = match reader {
        r if r.starts_with("canonical-") => r,
        "x12-945" => "canonical-shipments-csv",
        "x12-846" => "canonical-inventory-csv",
        "x12-180" | "x12-947" => "canonical-returns-csv",
        _ => "canonical-orders-csv",
    };
    let conversion = Conversion {
        reader: format,
        writer: format::writer(writer, &Options::new()).expect("a known writer"),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    let mut out = Vec::new();
    if let Ok(converted) = convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(data),
        Some(data.len() as u64),
        Box::new(&mut out),
        20,
    ) && let Some(rejected) = converted.rejected
    {
        let mut rows = Vec::new();
        let _ = conversion.reader.copy_rows(
            Box::new(data),
            rejected.header,
            &rejected.spans,
            &mut rows,
        );
    }
}

/// The reader a selector byte picks from `names`.
pub fn pick<'a>(names: &[&'a str], selector: u8) -> &'a str {
    names[usize::from(selector) % names.len()]
}

/// A trading partner to answer for.
fn partner() -> Partner {
    Partner::from_options(&options("sender_id = \"US\"\nreceiver_id = \"THEM\"\n"))
        .expect("a valid partner")
}

/// Reads every set of `data` as a partner's 997, as a route reading `x12-997` does.
fn exercise_997(data: &[u8]) {
    for set in Envelopes::new(Box::new(data)).flatten() {
        let _ = acknowledgment_997::read(&set);
        let _ = acknowledgment_997::document_reference(&set);
    }
}
