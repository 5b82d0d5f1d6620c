//! ANSI X12: the syntax (`syntax.rs`: separators and segments) and the envelopes around
//! transaction sets (`envelope.rs`: ISA/GS/ST … SE/GE/IEA with their counts and control numbers),
//! and one file per transaction set mapping it to the canonical model (`reader.rs` runs them).
//! The `x12-types` crate was evaluated and is not used; ARCHITECTURE.md says why.

pub mod acknowledgment_997;
pub mod envelope;
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
