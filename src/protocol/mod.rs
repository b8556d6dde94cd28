//! Session's wire protocol: pure code, no I/O, no async, no clock reads (style.md habit 1).
//!
//! Facts come from `../shared/protocol/messages.md` and `../shared/protocol/network.md`; every
//! module cites the section it implements and carries its test vectors.

pub mod attachment;
pub mod envelope;
pub mod padding;
pub mod protos;
#[cfg(test)]
pub(crate) mod test_vectors;
