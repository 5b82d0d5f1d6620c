//! cartferry: an agent that ferries business files between an online store and its fulfillment
//! warehouse. See ARCHITECTURE.md for the map of these modules and the invariants they keep.
#![deny(missing_docs)]

pub mod agent;
pub mod cli;
pub mod config;
pub mod endpoint;
pub mod format;
pub mod fsutil;
pub mod journey;
pub mod ledger;
pub mod logging;
pub mod model;
pub mod naming;
pub mod outcome;
pub mod platform;
pub mod plugins;
pub mod report;
pub mod route;
pub mod state_lock;
