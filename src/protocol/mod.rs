//! Session's wire protocol: pure code, no I/O, no async, no clock reads (style.md habit 1).
//!
//! Facts come from `../shared/protocol/{messages,network,communities,groups}.md`; every
//! module cites the section it implements and carries its test vectors.

pub mod attachment;
pub mod bencode;
pub mod blinding;
pub mod chat;
pub mod community;
pub mod dm;
pub mod envelope;
pub mod groups;
pub mod key_agreement;
pub mod key_cache;
pub mod keys;
pub mod onion;
pub mod padding;
pub mod phrase;
pub mod protos;
pub mod storage;
pub mod swarm;

#[cfg(test)]
pub(crate) mod vectors;
