//! X12 functional acknowledgments (997s), both ways:
//! - `sent_groups.rs`: every group cartferry sends is recorded when its file is staged (partner,
//!   GS06, each set's ST02 and the order it carries) and waits for the partner's 997;
//! - `partner_997s.rs`: a route reading `x12-997` matches each 997 against those records, and
//!   sends the orders a partner rejected to the error folder;
//! - `answers.rs`: a route with `acknowledge` answers every group it receives with a 997 of its
//!   own, staged and then written into a local folder as a side output, so a redo never sends a
//!   second one.

pub mod answers;
pub mod partner_997s;
pub mod sent_groups;
