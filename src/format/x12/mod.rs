//! ANSI X12: the syntax (`syntax.rs`: separators and segments) and the envelopes around
//! transaction sets (`envelope.rs`: ISA/GS/ST … SE/GE/IEA with their counts and control numbers),
//! and one file per transaction set mapping it to the canonical model (`reader.rs` runs them).
//! The `x12-types` crate was evaluated and is not used; ARCHITECTURE.md says why.

pub mod acknowledgment_997;
pub mod envelope;
pub mod findings;
pub mod inventory_adjustment_947;
pub mod inventory_advice_846;
pub mod inventory_advice_writer_846;
pub mod reader;
pub mod return_authorization_180;
pub mod shipping_advice_945;
pub mod shipping_advice_writer_945;
pub mod shipping_order_940;
pub mod shipping_order_reader_940;
pub mod syntax;
pub mod writer;

use super::family::Format;
use reader::X12Reader;

/// The reader of the sets `SET` of module `$set`, mapped by its function `$map`.
macro_rules! set_reader {
    ($set:ident, $map:ident) => {
        |o| Ok(Box::new(X12Reader::new($set::SET, $set::$map, o)?))
    };
}

/// The X12 formats (partners' 997s are read by routes of their own: see
/// [`X12_997`](super::X12_997)).
pub(crate) static FORMATS: [Format; 5] = [
    Format::both(
        "x12-940",
        |o| Ok(Box::new(shipping_order_reader_940::reader(o)?)),
        |o| Ok(Box::new(shipping_order_940::writer(o)?)),
    ),
    Format::both(
        "x12-945",
        set_reader!(shipping_advice_945, shipments),
        |o| Ok(Box::new(shipping_advice_writer_945::writer(o)?)),
    ),
    Format::both(
        "x12-846",
        set_reader!(inventory_advice_846, inventory),
        |o| {
            Ok(Box::new(
                inventory_advice_writer_846::InventoryAdvice846::writer(o)?,
            ))
        },
    ),
    Format::both(
        "x12-180",
        |o| Ok(Box::new(return_authorization_180::reader(o)?)),
        |o| Ok(Box::new(return_authorization_180::writer(o)?)),
    ),
    Format::reads("x12-947", set_reader!(inventory_adjustment_947, receipts)),
];
