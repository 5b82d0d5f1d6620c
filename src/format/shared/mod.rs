//! What the readers and writers of several families share: text decoding (`text.rs`), tables
//! (`table.rs`), grouping adjacent rows into documents (`grouped.rs`), what order readers share
//! (`orders.rs`) and the checks every order passes (`validate.rs`), a route's shipping methods
//! (`shipping.rs`), and carriers as carts know them (`carriers.rs`).

pub mod carriers;
pub mod grouped;
pub(crate) mod orders;
pub mod shipping;
pub mod table;
pub mod text;
pub mod validate;
