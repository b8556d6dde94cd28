//! `unpad` on any bytes (decrypted 1:1, blinded-inbox and community Content, messages.md §3.4),
//! and `pad` → `unpad` round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::padding::{pad, unpad, PADDING_BLOCK, PADDING_TERMINATOR};

fuzz_target!(|data: &[u8]| {
    let content = unpad(data);
    // Unpadding only ever cuts a suffix.
    assert!(data.starts_with(content));

    let padded = pad(data);
    assert_eq!(padded.len() % PADDING_BLOCK, 0);
    assert_eq!(padded.get(data.len()), Some(&PADDING_TERMINATOR));
    assert_eq!(
        unpad(&padded),
        data,
        "pad then unpad must give the content back"
    );
});
