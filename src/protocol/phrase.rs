//! Recovery phrases: the Electrum/Monero-style mnemonic Session uses for its 16-byte seeds.
//!
//! Facts: `../shared/protocol/messages.md` §1.2. Word list: `wordlists/english.txt` (see the
//! README beside it for its source). Vectors: `tests/vectors/identity.json` (`phrases`).
//!
//! Encoding, per 4-byte group read as a little-endian `x`, with `n = 1626`:
//! `w1 = x mod n`, `w2 = (x/n + w1) mod n`, `w3 = (x/n² + w2) mod n`. With a checksum, one more
//! word follows: a repeat of data word `CRC-32(concatenated 3-letter prefixes) mod word_count`.
//! Words are matched on their first 3 letters, case-insensitively.

use std::fmt;
use std::sync::OnceLock;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keys::Seed;

/// Number of words in the English list.
const N: u32 = 1626;
/// Words are identified by this many leading characters.
const PREFIX_LEN: usize = 3;
/// Number of words in a Session recovery phrase: 12 data words and a checksum word.
pub const PHRASE_WORDS: usize = 13;

const ENGLISH: &str = include_str!("wordlists/english.txt");

/// Why a phrase or word sequence could not be decoded.
///
/// Variants carry word positions (0-based), never the words, which are secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhraseError {
    /// A recovery phrase must have exactly 13 words.
    #[error("a recovery phrase has 13 words, got {got}")]
    WrongWordCount {
        /// The number of words given.
        got: usize,
    },
    /// 12 words: the checksum word is missing (Session Desktop rejects these for English too).
    #[error("the 13th (checksum) word is missing")]
    MissingChecksum,
    /// A word does not match any word of the list on its first 3 letters.
    #[error("word {position} is not in the word list")]
    UnknownWord {
        /// Position of the word in the phrase.
        position: usize,
    },
    /// Three words that no 4-byte value encodes to.
    #[error("words {position}..{end} do not form a valid group", end = position + 3)]
    InvalidGroup {
        /// Position of the first word of the group.
        position: usize,
    },
    /// The last word is not the checksum word the others require.
    #[error("the checksum word does not match")]
    BadChecksum,
    /// Bytes to encode must be a non-empty multiple of 4.
    #[error("cannot encode {0} bytes: need a non-empty multiple of 4")]
    InvalidLength(usize),
}

/// The English list, one word per line, checked by a unit test to be 1626 words with unique,
/// sorted 3-letter prefixes (which [`index_of`] relies on for binary search).
fn wordlist() -> &'static [&'static str; N as usize] {
    static WORDS: OnceLock<[&'static str; N as usize]> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words = [""; N as usize];
        for (slot, line) in words.iter_mut().zip(ENGLISH.lines()) {
            *slot = line.trim();
        }
        words
    })
}

fn word(index: u32) -> &'static str {
    wordlist().get(index as usize).copied().unwrap_or_default()
}

fn prefix(word: &str) -> &str {
    match word.char_indices().nth(PREFIX_LEN) {
        Some((end, _)) => &word[..end],
        None => word,
    }
}

/// The list index of a typed word: its first 3 letters, lowercased, must match a word's.
fn index_of(typed: &str) -> Option<u32> {
    let lower = Zeroizing::new(typed.to_lowercase());
    let wanted = prefix(&lower);
    if wanted.chars().count() != PREFIX_LEN {
        return None;
    }
    let found = wordlist()
        .binary_search_by(|candidate| prefix(candidate).cmp(wanted))
        .ok()?;
    u32::try_from(found).ok()
}

/// The position of the checksum word among the data words (§1.2).
fn checksum_index(indices: &[u32]) -> usize {
    let mut hasher = crc32fast::Hasher::new();
    for &index in indices {
        hasher.update(prefix(word(index)).as_bytes());
    }
    let count = u32::try_from(indices.len()).unwrap_or(u32::MAX).max(1);
    (hasher.finalize() % count) as usize
}

fn encode_group(group: [u8; 4]) -> [u32; 3] {
    let x = u32::from_le_bytes(group);
    let w1 = x % N;
    let w2 = (x / N + w1) % N;
    let w3 = (x / N / N + w2) % N;
    [w1, w2, w3]
}

fn decode_group([w1, w2, w3]: [u32; 3]) -> Option<[u8; 4]> {
    let n = u64::from(N);
    let (w1, w2, w3) = (u64::from(w1), u64::from(w2), u64::from(w3));
    let x = w1 + n * ((n - w1 + w2) % n) + n * n * ((n - w2 + w3) % n);
    if x % n != w1 {
        return None;
    }
    // n³ > 2³²: a triple can name a value no 4 bytes encode to.
    u32::try_from(x).ok().map(u32::to_le_bytes)
}

fn encode_indices(bytes: &[u8], checksum: bool) -> Result<Vec<u32>, PhraseError> {
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return Err(PhraseError::InvalidLength(bytes.len()));
    }
    let mut indices: Vec<u32> = bytes
        .chunks_exact(4)
        .flat_map(|chunk| encode_group([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    if checksum {
        let repeat = indices.get(checksum_index(&indices)).copied();
        indices.extend(repeat);
    }
    Ok(indices)
}

/// Encodes bytes (a non-empty multiple of 4) as words, optionally with a checksum word.
///
/// 16 bytes with a checksum make a Session recovery phrase; the libsession vector encodes 64
/// bytes without one (48 words).
pub fn bytes_to_words(bytes: &[u8], checksum: bool) -> Result<Vec<&'static str>, PhraseError> {
    Ok(encode_indices(bytes, checksum)?
        .into_iter()
        .map(word)
        .collect())
}

/// Decodes words to bytes. A count that is a multiple of 3 has no checksum; one more than a
/// multiple of 3 ends in a checksum word, which is verified.
pub fn words_to_bytes(words: &[&str]) -> Result<Zeroizing<Vec<u8>>, PhraseError> {
    let has_checksum = match words.len() % 3 {
        _ if words.is_empty() => return Err(PhraseError::WrongWordCount { got: 0 }),
        0 => false,
        1 if words.len() > 1 => true,
        _ => return Err(PhraseError::WrongWordCount { got: words.len() }),
    };
    let indices = Zeroizing::new(
        words
            .iter()
            .enumerate()
            .map(|(position, w)| index_of(w).ok_or(PhraseError::UnknownWord { position }))
            .collect::<Result<Vec<u32>, _>>()?,
    );
    let (data, check) = match (has_checksum, indices.split_last()) {
        (true, Some((check, data))) => (data, Some(*check)),
        _ => (&indices[..], None),
    };
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() / 3 * 4));
    for (group, triple) in data.chunks_exact(3).enumerate() {
        let bytes =
            decode_group([triple[0], triple[1], triple[2]]).ok_or(PhraseError::InvalidGroup {
                position: group * 3,
            })?;
        out.extend_from_slice(&bytes);
    }
    if let Some(check) = check {
        if data.get(checksum_index(data)).map(|&i| prefix(word(i))) != Some(prefix(word(check))) {
            return Err(PhraseError::BadChecksum);
        }
    }
    Ok(out)
}

/// A validated 13-word recovery phrase, in canonical form (full lowercase words, single spaces).
///
/// `Debug` and `Display` never print the words; use [`RecoveryPhrase::expose_secret`].
#[derive(Clone)]
pub struct RecoveryPhrase {
    text: Zeroizing<String>,
    entropy: Zeroizing<[u8; 16]>,
}

impl RecoveryPhrase {
    /// The phrase for 16 bytes of seed entropy.
    pub fn from_entropy(entropy: &[u8; 16]) -> Self {
        let words = encode_indices(entropy, true).unwrap_or_default();
        let text = Zeroizing::new(words.into_iter().map(word).collect::<Vec<_>>().join(" "));
        Self {
            text,
            entropy: Zeroizing::new(*entropy),
        }
    }

    /// Parses a phrase as a user types it: whitespace-separated, case-insensitive, each word
    /// matched on its first 3 letters. Exactly 13 words; 12 is rejected as missing its checksum.
    pub fn parse(text: &str) -> Result<Self, PhraseError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.len() {
            PHRASE_WORDS => {}
            12 => return Err(PhraseError::MissingChecksum),
            got => return Err(PhraseError::WrongWordCount { got }),
        }
        let bytes = words_to_bytes(&words)?;
        let mut entropy = Zeroizing::new([0u8; 16]);
        if bytes.len() != entropy.len() {
            return Err(PhraseError::WrongWordCount { got: words.len() });
        }
        entropy.copy_from_slice(&bytes);
        Ok(Self::from_entropy(&entropy))
    }

    /// The 16 bytes the phrase encodes.
    pub fn entropy(&self) -> &[u8; 16] {
        &self.entropy
    }

    /// The 32-byte seed: the 16 bytes right-padded with zeros (§1.2).
    pub fn to_seed(&self) -> Seed {
        Seed::from_entropy(&self.entropy)
    }

    /// The canonical phrase text. Secret: show it to the account owner only.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }
}

/// Compares in constant time (the text is a function of the entropy).
impl PartialEq for RecoveryPhrase {
    fn eq(&self, other: &Self) -> bool {
        self.entropy.ct_eq(&*other.entropy).into()
    }
}

impl Eq for RecoveryPhrase {}

impl fmt::Debug for RecoveryPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryPhrase(<redacted>)")
    }
}

impl fmt::Display for RecoveryPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted recovery phrase>")
    }
}

#[cfg(test)]
mod tests;
