//! Community URLs: `<base>/<room>?public_key=<server key>` (communities.md §1.1, §1.2).
//!
//! The rules are libsession's `parse_full_url` / `canonical_url` (LSU `src/config/community.cpp`),
//! what the UserGroups config stores, with Session Desktop's one leniency: a missing scheme
//! means `http://` (`JoinOpenGroupV2.ts parseOpenGroupV2`).
//!
//! ```text
//! [http|https://]HOST[:PORT]/[r/]ROOM?public_key=KEY
//!   HOST  lower-cased; dot-separated labels of [a-z0-9-], at least one dot, ≥ 4 characters
//!         (so `localhost` is refused by every client: use an IP literal)
//!   PORT  decimal 1..=65535; :80 for http and :443 for https are dropped
//!   ROOM  1..=64 of [A-Za-z0-9_-], case kept (lookups use the lower-cased form)
//!   KEY   the server's X25519 key: 64 hex, 43/44 base64, or 52 z-base-32 characters
//! ```

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};

use crate::protocol::keys::X25519PublicKey;

/// Longest base URL libsession accepts (`BASE_URL_MAX_LENGTH`).
pub const BASE_URL_MAX: usize = 267;
/// Longest room token (`ROOM_MAX_LENGTH`).
pub const ROOM_MAX: usize = 64;

/// Decodes `%XX` escapes strictly: `None` for a broken escape or a result that is not UTF-8.
/// Used for SOGS request paths before signing (communities.md §2.2) and for room URLs that
/// reach the gateway percent-encoded.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let pair = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(pair, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a community URL was refused; the payload names the part at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A scheme other than `http`/`https`.
    #[error("community URLs use http or https")]
    Scheme,
    /// The host is missing, has no dot, or holds characters outside `[A-Za-z0-9.-]`.
    #[error("invalid community host")]
    Host,
    /// The port is not a number in 1..=65535.
    #[error("invalid community port")]
    Port,
    /// The base URL is longer than [`BASE_URL_MAX`].
    #[error("community base URL too long")]
    TooLong,
    /// The room is missing, too long, has bad characters, or is followed by more path.
    #[error("invalid community room token")]
    Room,
    /// The query is not exactly `public_key=<key>`, or the key does not decode to 32 bytes.
    #[error("invalid community public_key")]
    PublicKey,
}

/// A parsed community URL; a value is canonical by construction.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CommunityUrl {
    base: String,
    room: String,
    server_pubkey: X25519PublicKey,
}

impl CommunityUrl {
    /// Parses a full join URL with the rules in the module documentation.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (rest, query) = url.split_once('?').ok_or(UrlError::PublicKey)?;
        let (base, path) = split_base(rest)?;
        let room = path.strip_prefix("r/").unwrap_or(path);
        check_room(room)?;
        let key = query
            .strip_prefix("public_key=")
            .ok_or(UrlError::PublicKey)?;
        Ok(Self {
            base,
            room: room.to_owned(),
            server_pubkey: decode_server_key(key)?,
        })
    }

    /// Builds from parts, checking each as [`CommunityUrl::parse`] does.
    pub fn new(base: &str, room: &str, server_pubkey: X25519PublicKey) -> Result<Self, UrlError> {
        let with_slash = format!("{base}/");
        let (base, path) = split_base(&with_slash)?;
        if !path.is_empty() {
            return Err(UrlError::Host);
        }
        check_room(room)?;
        Ok(Self {
            base,
            room: room.to_owned(),
            server_pubkey,
        })
    }

    /// `scheme://host[:port]`, lower-case, default port dropped, no trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The room token as given (case kept, for display and request paths).
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The room token lower-cased: servers match rooms case-insensitively, so this is the key
    /// for lookups and de-duplication.
    pub fn room_key(&self) -> String {
        self.room.to_ascii_lowercase()
    }

    /// The server's X25519 key: the onion destination, the key signed in X-SOGS requests and the
    /// input to blinding.
    pub fn server_pubkey(&self) -> &X25519PublicKey {
        &self.server_pubkey
    }
}

/// The canonical join URL, `base/room?public_key=<64 lower-case hex>`.
impl fmt::Display for CommunityUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}?public_key={}",
            self.base, self.room, self.server_pubkey
        )
    }
}

impl fmt::Debug for CommunityUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommunityUrl({self})")
    }
}

/// Splits `scheme://host[:port]/path` into the canonical base and the path after the first `/`.
fn split_base(url: &str) -> Result<(String, &str), UrlError> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
        Some(_) => return Err(UrlError::Scheme),
        None => ("http", url),
    };
    let (authority, path) = rest.split_once('/').ok_or(UrlError::Room)?;
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    check_host(&host)?;
    let default_port = if scheme == "http" { 80 } else { 443 };
    let base = match port {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    };
    if base.len() > BASE_URL_MAX {
        return Err(UrlError::TooLong);
    }
    Ok((base, path))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Port);
    }
    text.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or(UrlError::Port)
}

fn check_host(host: &str) -> Result<(), UrlError> {
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if host.len() < 4 || !host.contains('.') || !labels_ok {
        return Err(UrlError::Host);
    }
    Ok(())
}

fn check_room(room: &str) -> Result<(), UrlError> {
    let ok = (1..=ROOM_MAX).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(UrlError::Room)
    }
}

/// Standard base64, padding optional (43 or 44 characters for 32 bytes).
const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// z-base-32, the alphabet of `.loki`/oxen addresses.
const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

fn decode_server_key(text: &str) -> Result<X25519PublicKey, UrlError> {
    let mut key = [0u8; 32];
    match text.len() {
        64 => hex::decode_to_slice(text, &mut key).map_err(|_| UrlError::PublicKey)?,
        43 | 44 => {
            let bytes = BASE64_ANY_PAD
                .decode(text)
                .map_err(|_| UrlError::PublicKey)?;
            key = bytes.try_into().map_err(|_| UrlError::PublicKey)?;
        }
        52 => key = decode_zbase32(text)?,
        _ => return Err(UrlError::PublicKey),
    }
    Ok(X25519PublicKey::from_bytes(key))
}

/// 52 z-base-32 characters = 260 bits: 32 bytes and 4 bits that must be zero.
fn decode_zbase32(text: &str) -> Result<[u8; 32], UrlError> {
    let mut out = [0u8; 32];
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut written = 0usize;
    for c in text.bytes() {
        let value = ZBASE32
            .iter()
            .position(|&z| z == c.to_ascii_lowercase())
            .ok_or(UrlError::PublicKey)?;
        acc = (acc << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            let slot = out.get_mut(written).ok_or(UrlError::PublicKey)?;
            *slot = (acc >> bits) as u8;
            written += 1;
            acc &= (1 << bits) - 1;
        }
    }
    if written != 32 || acc != 0 {
        return Err(UrlError::PublicKey);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zbase32_round_trip() {
        // Encode by hand (5 bits at a time, zero-filled) and decode.
        let key: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        let mut bits = String::new();
        for b in key {
            bits.push_str(&format!("{b:08b}"));
        }
        bits.push_str("0000");
        let text: String = bits
            .as_bytes()
            .chunks(5)
            .map(|c| {
                let v = usize::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap();
                ZBASE32[v] as char
            })
            .collect();
        assert_eq!(text.len(), 52);
        assert_eq!(decode_zbase32(&text).unwrap(), key);
        let mut bad = text.into_bytes();
        bad[51] = b'n'; // value 2: a non-zero trailing bit
        assert!(decode_zbase32(std::str::from_utf8(&bad).unwrap()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,300}") {
            let _ = CommunityUrl::parse(&text);
        }

        #[test]
        fn near_urls_never_panic(
            scheme in "(https?://|ftp://|)",
            host in "[a-zA-Z0-9.:-]{0,20}",
            room in "(r/)?[a-zA-Z0-9_/-]{0,70}",
            key in "[a-zA-Z0-9+/=]{0,70}",
        ) {
            let url = format!("{scheme}{host}/{room}?public_key={key}");
            if let Ok(parsed) = CommunityUrl::parse(&url) {
                let again = CommunityUrl::parse(&parsed.to_string()).unwrap();
                proptest::prop_assert_eq!(again, parsed);
            }
        }
    }
}
