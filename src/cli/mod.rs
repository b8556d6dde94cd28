//! Subcommands of the `session-gateway` binary.

pub mod serve;
