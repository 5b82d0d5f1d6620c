//! ANSI X12: the syntax (`syntax.rs`: separators and segments) and the envelopes around
//! transaction sets (`envelope.rs`: ISA/GS/ST … SE/GE/IEA with their counts and control numbers).
//! The `x12-types` crate was evaluated and is not used; ARCHITECTURE.md says why.

pub mod envelope;
pub mod syntax;
