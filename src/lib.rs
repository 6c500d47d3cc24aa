//! snaprescue: a keyboard-driven guide that gets deleted files back from snapshots.
//!
//! The library holds everything so that integration tests can drive each layer directly;
//! `main.rs` only parses the command line and hands over to [`cli`].

/// What `--version` prints and the report records: version, git commit, build target.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SNAPRESCUE_COMMIT"),
    ", ",
    env!("SNAPRESCUE_TARGET"),
    ")"
);

pub mod cli;
pub mod drill;
pub mod drill_fixtures;
pub mod drill_prereqs;
pub mod engine;
pub mod pinning;
pub mod ports;
pub mod protect;
pub mod providers;
pub mod rescue;
pub mod runtime;
pub mod session;
pub mod sources;
pub mod ui;
pub mod wizard;
