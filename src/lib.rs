//! cartferry: an agent that ferries business files between an online store and its fulfillment
//! warehouse. See ARCHITECTURE.md for the map of these modules and the invariants they keep.
#![deny(missing_docs)]

/// A point where a test build (feature `failpoints`) aborts the process when the `FAILPOINTS`
/// environment variable names it (`claim.renamed=return`), as a crash or power cut there would
/// stop it; nothing in other builds. Each marks a step boundary of the file journey, where the
/// ledger and the folders must be enough to finish the file exactly once after a restart.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {{
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |_| std::process::abort());
    }};
}

pub mod agent;
pub mod alerts;
pub mod cli;
pub mod config;
pub mod endpoint;
pub mod format;
pub mod fsutil;
pub mod journey;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod naming;
pub mod outcome;
pub mod platform;
pub mod plugins;
pub mod report;
pub mod route;
pub mod state_lock;
