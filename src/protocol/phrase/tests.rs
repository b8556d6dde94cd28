use super::*;
use crate::protocol::keys::tests::vectors;
use crate::protocol::keys::Identity;
use crate::protocol::vectors::hex_array;
use proptest::prelude::*;

#[test]
fn wordlist_is_the_english_list() {
    let words = wordlist();
    assert_eq!(ENGLISH.lines().count(), 1626);
    assert_eq!(words[0], "abbey");
    assert_eq!(words[1625], "zoom");
    for pair in words.windows(2) {
        assert!(prefix(pair[0]) < prefix(pair[1]), "{pair:?}");
    }
    for w in words {
        assert!(w.len() > PREFIX_LEN && w.bytes().all(|b| b.is_ascii_lowercase()));
    }
}

#[test]
fn phrase_vectors() {
    let file = vectors();
    assert_eq!(file.phrases.len(), 2);
    for v in file.phrases {
        v.source.check();
        let entropy: [u8; 16] = hex_array(&v.entropy);
        let phrase = RecoveryPhrase::from_entropy(&entropy);
        assert_eq!(phrase.expose_secret(), v.phrase);
        let parsed = RecoveryPhrase::parse(&v.phrase).unwrap();
        assert_eq!(parsed.entropy(), &entropy);
        let id = Identity::from_phrase(&v.phrase).unwrap();
        assert_eq!(id.session_id().to_string(), v.session_id);
        // Case-insensitive, whitespace tolerant, prefix matched.
        let sloppy: String = v
            .phrase
            .split(' ')
            .map(|w| format!("  {}xyz\t", w[..3].to_uppercase()))
            .collect();
        assert_eq!(RecoveryPhrase::parse(&sloppy).unwrap(), parsed);
    }
}

#[test]
fn word_encoding_vectors() {
    let file = vectors();
    assert_eq!(file.word_encodings.len(), 2);
    for v in file.word_encodings {
        v.source.check();
        let bytes = hex::decode(&v.bytes).unwrap();
        assert_eq!(bytes_to_words(&bytes, v.checksum).unwrap(), v.words);
        let words: Vec<&str> = v.words.iter().map(String::as_str).collect();
        assert_eq!(&words_to_bytes(&words).unwrap()[..], &bytes[..]);
    }
}

#[test]
fn phrase_errors() {
    let good = "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
    let words: Vec<&str> = good.split(' ').collect();
    assert_eq!(
        RecoveryPhrase::parse(&words[..12].join(" ")),
        Err(PhraseError::MissingChecksum)
    );
    assert_eq!(
        RecoveryPhrase::parse(&words[..11].join(" ")),
        Err(PhraseError::WrongWordCount { got: 11 })
    );
    assert_eq!(
        RecoveryPhrase::parse(&format!("{good} adept")),
        Err(PhraseError::WrongWordCount { got: 14 })
    );
    assert_eq!(
        RecoveryPhrase::parse(""),
        Err(PhraseError::WrongWordCount { got: 0 })
    );
    let unknown = good.replacen("pigment", "qqqqq", 1);
    assert_eq!(
        RecoveryPhrase::parse(&unknown),
        Err(PhraseError::UnknownWord { position: 2 })
    );
    let short = good.replacen("pigment", "pi", 1);
    assert_eq!(
        RecoveryPhrase::parse(&short),
        Err(PhraseError::UnknownWord { position: 2 })
    );
    let bad_check = format!("{} vexed", words[..12].join(" "));
    assert_eq!(
        RecoveryPhrase::parse(&bad_check),
        Err(PhraseError::BadChecksum)
    );
    // 0 + 1626·0 + 1626²·1625 > 2³²: no 4 bytes encode to this triple.
    assert!(matches!(
        words_to_bytes(&["abbey", "abbey", "zoom"]),
        Err(PhraseError::InvalidGroup { position: 0 })
    ));
    assert_eq!(
        bytes_to_words(&[1, 2, 3], true),
        Err(PhraseError::InvalidLength(3))
    );
    assert_eq!(
        bytes_to_words(&[], false),
        Err(PhraseError::InvalidLength(0))
    );
    assert_eq!(
        format!(
            "{:?} {}",
            RecoveryPhrase::parse(good).unwrap(),
            RecoveryPhrase::parse(good).unwrap()
        ),
        "RecoveryPhrase(<redacted>) <redacted recovery phrase>"
    );
}

proptest! {
    #[test]
    fn phrase_round_trips(entropy in any::<[u8; 16]>()) {
        let phrase = RecoveryPhrase::from_entropy(&entropy);
        prop_assert_eq!(phrase.expose_secret().split(' ').count(), 13);
        let parsed = RecoveryPhrase::parse(phrase.expose_secret()).unwrap();
        prop_assert_eq!(parsed.entropy(), &entropy);
    }

    #[test]
    fn word_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..16usize).prop_map(|mut v| { v.resize(v.len() * 4, 7); v }), checksum in any::<bool>()) {
        let words = bytes_to_words(&bytes, checksum).unwrap();
        prop_assert_eq!(&words_to_bytes(&words).unwrap()[..], &bytes[..]);
    }

    #[test]
    fn junk_phrases_return_errors(text in ".{0,200}") {
        let _ = RecoveryPhrase::parse(&text);
        let words: Vec<&str> = text.split_whitespace().collect();
        let _ = words_to_bytes(&words);
    }

    #[test]
    fn junk_word_sequences_return_errors(indices in proptest::collection::vec(0usize..1626, 0..20)) {
        let words: Vec<&str> = indices.iter().map(|&i| wordlist()[i]).collect();
        let _ = words_to_bytes(&words);
        if words.len() == 13 {
            let _ = RecoveryPhrase::parse(&words.join(" "));
        }
    }
}
