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

use super::catalog::Format;
use reader::X12Reader;

/// The X12 formats (partners' 997s are read by routes of their own: see
/// [`X12_997`](super::X12_997)).
pub(crate) static FORMATS: [Format; 5] = [
    Format {
        name: "x12-940",
        reader: Some(|o| {
            let orders = shipping_order_reader_940::orders;
            Ok(Box::new(X12Reader::new(
                shipping_order_reader_940::SET,
                orders,
                o,
            )?))
        }),
        writer: Some(|o| Ok(Box::new(shipping_order_940::writer(o)?))),
    },
    Format {
        name: "x12-945",
        reader: Some(|o| {
            let shipments = shipping_advice_945::shipments;
            Ok(Box::new(X12Reader::new(
                shipping_advice_945::SET,
                shipments,
                o,
            )?))
        }),
        writer: Some(|o| Ok(Box::new(shipping_advice_writer_945::writer(o)?))),
    },
    Format {
        name: "x12-846",
        reader: Some(|o| {
            let inventory = inventory_advice_846::inventory;
            Ok(Box::new(X12Reader::new(
                inventory_advice_846::SET,
                inventory,
                o,
            )?))
        }),
        writer: Some(|o| {
            let writer = inventory_advice_writer_846::InventoryAdvice846::writer(o)?;
            Ok(Box::new(writer))
        }),
    },
    Format {
        name: "x12-180",
        reader: Some(|o| {
            let receipts = return_authorization_180::receipts;
            Ok(Box::new(X12Reader::new(
                return_authorization_180::SET,
                receipts,
                o,
            )?))
        }),
        writer: Some(|o| Ok(Box::new(return_authorization_180::writer(o)?))),
    },
    Format {
        name: "x12-947",
        reader: Some(|o| {
            let receipts = inventory_adjustment_947::receipts;
            Ok(Box::new(X12Reader::new(
                inventory_adjustment_947::SET,
                receipts,
                o,
            )?))
        }),
        writer: None,
    },
];
