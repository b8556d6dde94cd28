//! session-gateway: run many Session messenger accounts as infrastructure.
//!
//! Layers (see `../shared/design.md` §3), each depending only on those listed after it:
//!
//! * [`devnet`]: a local Session network (seed, service nodes, file server) built from `protocol`.
//! * [`network`]: the onion network client (pool, paths, swarms, clock, storage operations).
//! * [`protocol`]: pure wire formats and cryptography. No I/O, no async, no clock reads.

pub mod cli;
pub mod devnet;
pub mod network;
pub mod protocol;
