//! Session's wire protocol: pure code, no I/O, no async, no clock reads (style.md habit 1).
//!
//! Facts come from `../shared/protocol/messages.md` and `../shared/protocol/network.md`; every
//! module cites the section it implements and carries its test vectors.

pub mod bencode;
pub mod blinding;
pub mod dm;
pub mod keys;
pub mod onion;
pub mod phrase;
pub mod storage;
pub mod swarm;

#[cfg(test)]
pub(crate) mod vectors;
