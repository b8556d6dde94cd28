//! Command-line front ends. `main.rs` parses arguments; each subcommand lives here in its own
//! module so that the binary stays a thin dispatcher.

pub mod admin;
pub mod offline;
pub mod serve;
