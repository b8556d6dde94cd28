//! The bencode decoder (`protocol::bencode`) under every bt-encoded thing a peer sends: v4
//! onion requests and responses, the OMQ relay dict, config and keys messages, multipart
//! parts, group messages.
//!
//! Properties: the decoder is strict (canonical integers, sorted unique keys, no trailing
//! bytes), so whatever it accepts re-encodes to exactly the input; and decode ∘ encode is the
//! identity on values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::bencode::BtValue;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = BtValue::decode(data) {
        let encoded = value.encode();
        assert_eq!(encoded, data, "accepted input is not canonical");
        assert_eq!(BtValue::decode(&encoded), Ok(value));
    }
});
