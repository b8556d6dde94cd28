//! A small typed harness for the vector files under `tests/vectors/` (style.md habit 6).
//!
//! Each file is embedded with `include_str!`, so a missing file fails the build rather than
//! skipping a test; every vector names its provenance in a [`Source`].

use serde::Deserialize;

/// Where a vector comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `owner/name` of the upstream repository.
    pub repo: String,
    /// The commit read.
    pub commit: String,
    /// The file inside the repository.
    pub file: String,
    /// The lines of `file` the values were read from, e.g. `"174-327"`.
    #[serde(default)]
    pub lines: Option<String>,
    /// How the value was obtained when it is not copied from the file.
    #[serde(default)]
    pub note: Option<String>,
}

impl Source {
    /// Fails when provenance is missing.
    pub fn check(&self) {
        assert!(self.repo.contains('/'), "source repo must be owner/name");
        assert_eq!(self.commit.len(), 40, "source commit must be a full hash");
        assert!(!self.file.is_empty(), "source file must be named");
        if let Some(note) = &self.note {
            assert!(!note.is_empty(), "an empty note says nothing");
        }
    }
}

/// Decodes hex of a fixed length.
pub fn hex_array<const N: usize>(text: &str) -> [u8; N] {
    let bytes = hex::decode(text).unwrap();
    bytes.try_into().unwrap()
}

/// Decodes hex of any length.
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

/// Parses a vector file.
pub fn load<T: for<'de> Deserialize<'de>>(text: &str) -> T {
    serde_json::from_str(text).unwrap()
}
