//! Recovery phrases as a client sends them (`POST /v1/accounts` with `recovery_phrase`, the
//! CLI) and the word codec under them (`messages.md` §1.3).
//!
//! Properties: a phrase that parses prints canonically and parses back to the same entropy;
//! words that decode re-encode to words that decode to the same bytes; any 16 bytes of entropy
//! make a phrase that parses back to them.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::phrase::{bytes_to_words, words_to_bytes, RecoveryPhrase};

fuzz_target!(|data: &[u8]| {
    if let Ok(entropy) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        let phrase = RecoveryPhrase::from_entropy(&entropy);
        let again = RecoveryPhrase::parse(phrase.expose_secret()).expect("our own phrase parses");
        assert_eq!(again.entropy(), &entropy);
    }
    let Some(text) = common::text(data) else {
        return;
    };
    if let Ok(phrase) = RecoveryPhrase::parse(text) {
        let again = RecoveryPhrase::parse(phrase.expose_secret()).expect("canonical form parses");
        assert_eq!(again.entropy(), phrase.entropy());
        assert_eq!(again.expose_secret(), phrase.expose_secret());
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if let Ok(bytes) = words_to_bytes(&words) {
        let checksum = words.len() % 3 == 1;
        if !bytes.is_empty() {
            let encoded = bytes_to_words(&bytes, checksum).expect("decoded bytes re-encode");
            let decoded = words_to_bytes(&encoded).expect("our own words decode");
            assert_eq!(*decoded, *bytes);
        }
    }
});
