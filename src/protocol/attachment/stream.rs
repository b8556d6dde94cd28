//! Decryption of 'S' attachments: libsession `attachment::encrypt` output (messages.md §5.2,
//! LSU-new `src/attachments.cpp` `decrypt`).
//!
//! ```text
//! blob   = 'S' (0x53) ‖ header(24) ‖ chunk₁ ‖ … ‖ chunkₙ
//! chunkᵢ = crypto_secretstream_xchacha20poly1305 push of ≤ 32 768 plaintext bytes (+17 bytes:
//!          1 encrypted tag byte and a 16-byte MAC); only chunkₙ is tagged FINAL
//! stream plaintext = 0x00 × (P−1) ‖ 0x01 ‖ file data          (P ≥ 1)
//! ```
//!
//! Every chunk but the last carries exactly 32 768 plaintext bytes, so chunk boundaries follow
//! from the blob length alone.

use crypto_secretstream::{Header, Key, PullStream, Tag};

use super::AttachmentError;

/// Length of an 'S' attachment key.
pub const STREAM_KEY_LEN: usize = 32;

/// The largest 'S' blob we read: libsession's `encrypted_size(10 218 286)`, the encrypted size
/// of its largest regular attachment (§5.2).
pub const MAX_STREAM_BLOB: usize = 10_223_616;

const FORMAT: u8 = b'S';
const HEADER_LEN: usize = 24;
const CHUNK: usize = 32_768;
const OVERHEAD: usize = 17;

/// Decrypts an 'S' attachment with its 32-byte key, removing the leading padding.
pub fn decrypt_stream_attachment(
    blob: &[u8],
    key: &[u8; STREAM_KEY_LEN],
) -> Result<Vec<u8>, AttachmentError> {
    if blob.len() > MAX_STREAM_BLOB {
        return Err(AttachmentError::TooLarge(blob.len()));
    }
    let (&format, rest) = blob
        .split_first()
        .ok_or(AttachmentError::Truncated(blob.len()))?;
    if format != FORMAT {
        return Err(AttachmentError::UnknownFormat(format));
    }
    let header = rest
        .get(..HEADER_LEN)
        .and_then(|h| Header::try_from(h).ok())
        .ok_or(AttachmentError::Truncated(blob.len()))?;
    let mut chunks = rest.get(HEADER_LEN..).unwrap_or_default();
    let mut stream = PullStream::init(header, &Key::from(*key));
    let mut out = Vec::with_capacity(chunks.len());
    let mut in_padding = true;
    loop {
        // Each chunk must hold at least one plaintext byte (LSU: `inpos + OVERHEAD >= inend`).
        if chunks.len() <= OVERHEAD {
            return Err(if in_padding {
                AttachmentError::BadStreamPadding
            } else {
                AttachmentError::BadStreamEnd
            });
        }
        let (chunk, rest) = chunks.split_at(chunks.len().min(CHUNK + OVERHEAD));
        chunks = rest;
        let mut buffer = chunk.to_vec();
        let tag = stream
            .pull(&mut buffer, &[])
            .map_err(|_| AttachmentError::StreamAuthentication)?;
        if in_padding {
            match buffer.iter().position(|&b| b != 0) {
                Some(start) if buffer.get(start) == Some(&0x01) => {
                    out.extend_from_slice(buffer.get(start + 1..).unwrap_or_default());
                    in_padding = false;
                }
                Some(_) => return Err(AttachmentError::BadStreamPadding),
                None if tag == Tag::Final => return Err(AttachmentError::BadStreamPadding),
                None => {}
            }
        } else {
            out.extend_from_slice(&buffer);
        }
        match (tag == Tag::Final, chunks.is_empty()) {
            (true, true) if !in_padding => return Ok(out),
            (false, false) => {}
            _ => return Err(AttachmentError::BadStreamEnd),
        }
    }
}
