//! Tests of the chat layer: byte layout of every builder against `tests/vectors/chat.json`
//! ([`wire`]), Content written by hand as DESKTOP sends it ([`desktop`]), pointers, URLs and
//! profiles ([`pointers`]), and junk that must not panic ([`fuzz`]).

mod desktop;
mod fuzz;
mod pointers;
mod wire;

use crate::protocol::keys::{Identity, Seed, SessionId};

/// The two identities of messages.md §1.4 (seed vectors): A = the gateway account, B = a peer.
pub(super) fn alice() -> SessionId {
    Identity::from_seed(Seed::from_bytes(crate::protocol::vectors::hex_array(
        "0123456789abcdef0123456789abcdef00000000000000000000000000000000",
    )))
    .session_id()
}

pub(super) fn bob() -> SessionId {
    Identity::from_seed(Seed::from_bytes(crate::protocol::vectors::hex_array(
        "00112233445566778899aabbccddeeff00000000000000000000000000000000",
    )))
    .session_id()
}
