//! Message padding for 1:1, blinded-inbox and community `Content` (messages.md §3.4).
//!
//! Wire layout written by [`pad`] (LSU-new `pad_message`, what current clients send):
//!
//! ```text
//! content ‖ 0x80 ‖ 0x00 × n      total length = L + 1 + (160 − ((L + 1) mod 160))
//! ```
//!
//! so the output is always a multiple of 160 and 1..=160 zero bytes follow the `0x80` (a whole
//! extra block when `L + 1` is already a multiple of 160). Older desktop produced
//! `ceil((L + 2) / 160) · 160 − 1` bytes with the same terminator; [`unpad`] accepts both, and
//! unpadded input, exactly as every client does.

/// Padding block size (LSU `COMMUNITY_OR_1O1_MSG_PADDING`).
pub const PADDING_BLOCK: usize = 160;

/// The byte that ends the content and starts the padding.
pub const PADDING_TERMINATOR: u8 = 0x80;

/// Pads serialized `Content` with the LSU-new scheme (§3.4).
pub fn pad(content: &[u8]) -> Vec<u8> {
    let with_terminator = content.len() + 1;
    let total = with_terminator + (PADDING_BLOCK - with_terminator % PADDING_BLOCK);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(content);
    out.push(PADDING_TERMINATOR);
    out.resize(total, 0);
    out
}

/// Removes padding as §3.4 says all clients do: scanning from the end, skip `0x00` bytes; on
/// `0x80` cut just before it; on any other byte (or on running out of bytes) take the buffer as
/// unpadded and keep it whole (clients do not enforce padding).
///
/// Never fails: every byte string is either padded or taken as unpadded. For unterminated input
/// this follows DESKTOP (keep whole); LSU-new's loop instead also drops the trailing zeros. The
/// two differ only for content that was never padded, which no current client sends, and keeping
/// it whole is the choice that cannot truncate a protobuf ending in a zero-valued varint.
pub fn unpad(padded: &[u8]) -> &[u8] {
    for (index, &byte) in padded.iter().enumerate().rev() {
        match byte {
            0x00 => continue,
            PADDING_TERMINATOR => return padded.get(..index).unwrap_or(padded),
            _ => return padded,
        }
    }
    padded
}

#[cfg(test)]
mod tests;
