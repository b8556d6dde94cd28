//! Helpers the fuzz targets share: how an input is split into a mode and its bytes, and the
//! fixed keys and deterministic randomness that let a target encrypt what it then parses.
#![allow(dead_code)] // each target uses a subset

use rand::rngs::StdRng;
use rand::SeedableRng;

/// Splits an input into its first byte (which of a target's modes runs) and the rest.
/// `None` for the empty input.
pub fn mode(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(m, rest)| (*m, rest))
}

/// A big-endian `u16` from the front of `data` (missing bytes read as zero) and the rest.
pub fn take_u16(data: &[u8]) -> (u16, &[u8]) {
    let (head, rest) = data.split_at(data.len().min(2));
    let mut buf = [0u8; 2];
    buf[..head.len()].copy_from_slice(head);
    (u16::from_be_bytes(buf), rest)
}

/// A big-endian `u32` from the front of `data` (missing bytes read as zero) and the rest.
pub fn take_u32(data: &[u8]) -> (u32, &[u8]) {
    let (head, rest) = data.split_at(data.len().min(4));
    let mut buf = [0u8; 4];
    buf[..head.len()].copy_from_slice(head);
    (u32::from_be_bytes(buf), rest)
}

/// Splits `data` at every `0xFF 0xFE` pair into at most `max` pieces (the last keeps the rest):
/// how targets that take several messages read them from one input.
pub fn pieces(data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < max {
        match rest.windows(2).position(|w| w == [0xFF, 0xFE]) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + 2..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Randomness that is the same on every run, so a crash reproduces from its input alone.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5e55_1013)
}

/// Text, if the bytes are UTF-8.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
