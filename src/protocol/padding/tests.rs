use super::*;
use crate::protocol::vectors::{load, unhex, Source};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    description: String,
    pad: Vec<PadVector>,
    unpad: Vec<UnpadVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PadVector {
    source: Source,
    content: String,
    padded_len: usize,
    padded: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnpadVector {
    source: Source,
    input: String,
    output: String,
}

fn vectors() -> File {
    load(include_str!("../../../tests/vectors/padding.json"))
}

#[test]
fn pad_vectors() {
    let file = vectors();
    assert!(!file.pad.is_empty());
    for v in file.pad {
        v.source.check();
        let padded = pad(&unhex(&v.content));
        assert_eq!(padded.len(), v.padded_len);
        assert_eq!(hex::encode(&padded), v.padded);
    }
}

#[test]
fn unpad_vectors() {
    let file = vectors();
    assert!(!file.unpad.is_empty());
    for v in file.unpad {
        v.source.check();
        assert_eq!(
            hex::encode(unpad(&unhex(&v.input))),
            v.output,
            "{}",
            v.input
        );
    }
}

#[test]
fn section_3_4_examples() {
    assert_eq!(pad(&[1; 5]).len(), 160);
    assert_eq!(pad(&[1; 159]).len(), 320);
}

proptest! {
    #[test]
    fn pad_is_block_multiple_and_unpads(content in proptest::collection::vec(any::<u8>(), 0..1000)) {
        let padded = pad(&content);
        prop_assert_eq!(padded.len() % PADDING_BLOCK, 0);
        let zeros = padded.len() - content.len() - 1;
        prop_assert!((1..=PADDING_BLOCK).contains(&zeros));
        prop_assert_eq!(padded[content.len()], PADDING_TERMINATOR);
        prop_assert_eq!(unpad(&padded), &content[..]);
    }

    #[test]
    fn unpad_never_panics_and_returns_a_prefix(junk in proptest::collection::vec(any::<u8>(), 0..600)) {
        let out = unpad(&junk);
        prop_assert!(junk.starts_with(out));
    }
}
