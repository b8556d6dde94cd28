//! A small typed harness for this module group's vector files under `tests/vectors/`
//! (style.md habit 6). Files are embedded with `include_str!`, so a missing file fails the build
//! instead of skipping; every vector names its provenance in a [`Source`]. Same shape as the
//! identity harness (`protocol::vectors`); the two can be folded into one after merging.

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

/// Parses a vector file.
pub fn load<T: for<'de> Deserialize<'de>>(text: &str) -> T {
    serde_json::from_str(text).unwrap()
}

/// Decodes hex.
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}
