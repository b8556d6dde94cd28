//! Attachment pointers and file-server URLs (messages.md §5.1, §5.3).
//!
//! ```text
//! AttachmentPointer {
//!   id          (1)   fixed64  numeric file id from the URL's last path segment, else 0
//!   contentType (2)   string   MIME type
//!   key         (3)   bytes    64 B legacy (aesKey ‖ macKey) or 32 B 'S' stream key
//!   size        (4)   uint32   unpadded plaintext size
//!   digest      (6)   bytes    SHA-256 of the uploaded blob (legacy only; required to fetch)
//!   fileName    (7)   string
//!   flags       (8)   uint32   VOICE_MESSAGE = 1
//!   width (9), height (10) uint32; caption (11) string
//!   url         (101) string   http(s)://<server>/file/<id>[#p=<server ed25519 hex>][&d]
//! }
//! ```

use std::fmt;

use super::ChatError;
use crate::protocol::attachment::{
    decrypt_for_pointer, AttachmentError, AttachmentKey, EncryptedAttachment, LEGACY_KEY_LEN,
    MAX_ATTACHMENT_BYTES, STREAM_KEY_LEN,
};
use crate::protocol::protos::AttachmentPointer;

/// The default file server (§5.1); its URLs carry no `p=` fragment.
pub const DEFAULT_FILE_SERVER_URL: &str = "http://filev2.getsession.org";

/// The default file server's X25519 key, the target of its onion requests (§5.1).
pub const DEFAULT_FILE_SERVER_X25519: &str =
    "09324794aa9c11948189762d198c618148e9136ac9582068180661208927ef34";

/// The default file server's Ed25519 key (§5.1).
pub const DEFAULT_FILE_SERVER_ED25519: &str =
    "b8eef9821445ae16e2e97ef8aa6fe782fd11ad5253cd6723b281341dba22e371";

/// Refuses a file over the 10,000,000-byte limit before it is encrypted or uploaded (§5.1:
/// "10MB is still ok, one byte more is not"). Like DESKTOP, the limit applies to the plaintext:
/// legacy encryption then pads to at most 10,000,000 and adds 64 bytes (IV, PKCS#7 block, MAC),
/// so the largest blob uploaded is 10,000,064 bytes.
pub fn check_upload_size(len: usize) -> Result<(), AttachmentError> {
    if len > MAX_ATTACHMENT_BYTES {
        return Err(AttachmentError::TooLarge(len));
    }
    Ok(())
}

/// `AttachmentPointer.id` for a URL as DESKTOP computes it (`attachmentIdAsLongFromUrl`): the
/// last path segment (fragment and query removed) as a decimal number, or 0.
pub fn file_id_from_url(url: &str) -> u64 {
    let path = url.split(['#', '?']).next().unwrap_or("");
    path.rsplit('/')
        .next()
        .and_then(|segment| segment.parse().ok())
        .unwrap_or(0)
}

/// A file server: its base URL and, unless it is the default one, its Ed25519 key (written
/// into URLs as `#p=<hex>` so receivers know whom to ask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileServer {
    base: String,
    ed25519: Option<[u8; 32]>,
}

impl FileServer {
    /// `http://filev2.getsession.org`.
    pub fn default_server() -> Self {
        Self {
            base: DEFAULT_FILE_SERVER_URL.to_string(),
            ed25519: None,
        }
    }

    /// Another server (e.g. the devnet's), with the Ed25519 key its URLs advertise.
    pub fn custom(base: &str, ed25519: [u8; 32]) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            ed25519: Some(ed25519),
        }
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of an uploaded file: `<base>/file/<id>` plus `#p=<hex>` for a non-default server.
    pub fn file_url(&self, id: &str) -> String {
        match &self.ed25519 {
            None => format!("{}/file/{id}", self.base),
            Some(key) => format!("{}/file/{id}#p={}", self.base, hex::encode(key)),
        }
    }
}

/// A parsed file-server URL (§5.1): `http(s)://host[:port][/prefix]/file/<id>[#frag]` with the
/// fragment's `&`-separated parameters `p=<64 hex>` (server Ed25519 key) and `d`
/// (deterministic 'S' encryption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUrl {
    base: String,
    id: String,
    server_ed25519: Option<[u8; 32]>,
    deterministic: bool,
}

impl FileUrl {
    /// Parses a pointer or avatar URL; anything else is [`ChatError::BadUrl`].
    pub fn parse(url: &str) -> Result<Self, ChatError> {
        let (main, fragment) = url.split_once('#').unwrap_or((url, ""));
        let (base, id) = main.rsplit_once("/file/").ok_or(ChatError::BadUrl)?;
        let host = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or(ChatError::BadUrl)?;
        let valid_id = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if host.is_empty() || host.starts_with('/') || id.is_empty() || !id.chars().all(valid_id) {
            return Err(ChatError::BadUrl);
        }
        let mut parsed = Self {
            base: base.to_string(),
            id: id.to_string(),
            server_ed25519: None,
            deterministic: false,
        };
        for param in fragment.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("p", key)) => {
                    let mut bytes = [0u8; 32];
                    hex::decode_to_slice(key, &mut bytes).map_err(|_| ChatError::BadUrl)?;
                    parsed.server_ed25519 = Some(bytes);
                }
                Some(("d", _)) => parsed.deterministic = true,
                None if param == "d" => parsed.deterministic = true,
                _ => {} // other parameters (e.g. DESKTOP's internal `e=`) are not ours to read
            }
        }
        Ok(parsed)
    }

    /// `http(s)://host[/prefix]`, without the `/file/<id>` part.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The file id, for `GET /file/<id>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The server's Ed25519 key from `#p=`, when the URL names a non-default server.
    pub fn server_ed25519(&self) -> Option<&[u8; 32]> {
        self.server_ed25519.as_ref()
    }

    /// Whether `#d` marks deterministic ('S') encryption.
    pub fn is_deterministic(&self) -> bool {
        self.deterministic
    }

    /// Whether this is the default file server.
    pub fn is_default_server(&self) -> bool {
        self.base == DEFAULT_FILE_SERVER_URL && self.server_ed25519.is_none()
    }
}

/// The key an attachment pointer carries, by format (§5.2).
#[derive(Clone, PartialEq, Eq)]
pub enum PointerKey {
    /// 64 bytes: AES-256-CBC key ‖ HMAC-SHA256 key.
    Legacy(AttachmentKey),
    /// 32 bytes: the secretstream key of an 'S' blob.
    Stream(zeroize::Zeroizing<[u8; STREAM_KEY_LEN]>),
    /// No key: a community room's file, stored in plaintext on the room's server and fetched
    /// with the reader's own room credentials (communities.md §5).
    None,
}

impl PointerKey {
    /// The key bytes, to put into `AttachmentPointer.key` (empty for [`Self::None`]).
    pub fn expose_secret(&self) -> &[u8] {
        match self {
            Self::Legacy(key) => key.expose_secret(),
            Self::Stream(key) => key.as_slice(),
            Self::None => &[],
        }
    }
}

impl fmt::Debug for PointerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Legacy(_) => f.write_str("PointerKey::Legacy(<redacted>)"),
            Self::Stream(_) => f.write_str("PointerKey::Stream(<redacted>)"),
            Self::None => f.write_str("PointerKey::None"),
        }
    }
}

/// What the sender knows about a file besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachmentMeta {
    /// MIME type.
    pub content_type: Option<String>,
    /// Original file name.
    pub file_name: Option<String>,
    /// `AttachmentPointer.flags` (`VOICE_MESSAGE = 1`).
    pub flags: u32,
    /// Image width, pixels.
    pub width: Option<u32>,
    /// Image height, pixels.
    pub height: Option<u32>,
    /// Caption.
    pub caption: Option<String>,
}

/// A validated attachment pointer: built from an upload, or parsed from a received one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// `id` (1): numeric file id from the URL, or 0.
    pub id: u64,
    /// `url` (101).
    pub url: String,
    /// `key` (3).
    pub key: PointerKey,
    /// `digest` (6): SHA-256 of the blob; always present for legacy keys.
    pub digest: Option<[u8; 32]>,
    /// `size` (4): unpadded plaintext length.
    pub size: Option<u32>,
    /// Content type, file name, flags, dimensions, caption.
    pub meta: AttachmentMeta,
}

impl AttachmentInfo {
    /// The pointer for a legacy-encrypted blob the file server stored at `url`.
    pub fn from_upload(url: &str, encrypted: &EncryptedAttachment, meta: AttachmentMeta) -> Self {
        Self {
            id: file_id_from_url(url),
            url: url.to_string(),
            key: PointerKey::Legacy(encrypted.key.clone()),
            digest: Some(encrypted.digest),
            size: Some(encrypted.size),
            meta,
        }
    }

    /// Reads a received pointer: a non-empty `url`, a 64-byte key with a 32-byte digest, a
    /// 32-byte key (any digest ignored; 'S' blobs authenticate themselves), or no key at all (a
    /// community room's plaintext file; only a room's server is asked for one).
    pub fn parse(pointer: &AttachmentPointer) -> Result<Self, ChatError> {
        let url = pointer
            .url
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or(ChatError::MissingUrl)?;
        let key_bytes = pointer.key.as_deref().unwrap_or_default();
        let (key, digest) = match key_bytes.len() {
            LEGACY_KEY_LEN => {
                let digest: [u8; 32] = pointer
                    .digest
                    .as_deref()
                    .and_then(|d| d.try_into().ok())
                    .ok_or(ChatError::BadDigest)?;
                (
                    PointerKey::Legacy(AttachmentKey::from_slice(key_bytes)?),
                    Some(digest),
                )
            }
            STREAM_KEY_LEN => {
                let mut key = zeroize::Zeroizing::new([0u8; STREAM_KEY_LEN]);
                key.copy_from_slice(key_bytes);
                (PointerKey::Stream(key), None)
            }
            0 => (PointerKey::None, None),
            other => return Err(ChatError::BadKeyLength(other)),
        };
        Ok(Self {
            id: pointer.id,
            url,
            key,
            digest,
            size: pointer.size,
            meta: AttachmentMeta {
                content_type: pointer.content_type.clone(),
                file_name: pointer.file_name.clone(),
                flags: pointer.flags.unwrap_or(0),
                width: pointer.width,
                height: pointer.height,
                caption: pointer.caption.clone(),
            },
        })
    }

    /// The `AttachmentPointer` to send.
    pub fn to_pointer(&self) -> AttachmentPointer {
        AttachmentPointer {
            id: self.id,
            content_type: self.meta.content_type.clone(),
            key: (self.key != PointerKey::None).then(|| self.key.expose_secret().to_vec()),
            size: self.size,
            thumbnail: None,
            digest: self.digest.map(|d| d.to_vec()),
            file_name: self.meta.file_name.clone(),
            flags: (self.meta.flags != 0).then_some(self.meta.flags),
            width: self.meta.width,
            height: self.meta.height,
            caption: self.meta.caption.clone(),
            url: Some(self.url.clone()),
        }
    }

    /// Where to fetch the blob from.
    pub fn file_url(&self) -> Result<FileUrl, ChatError> {
        FileUrl::parse(&self.url)
    }

    /// Verifies and decrypts the fetched blob (legacy: HMAC, then digest; 'S': stream tags) and
    /// truncates legacy plaintext to `size`.
    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>, AttachmentError> {
        if self.key == PointerKey::None {
            // A room file is its plaintext; `size` (when smaller) drops any padding (§5).
            let size = self.size.map_or(blob.len(), |s| s as usize).min(blob.len());
            return Ok(blob[..size].to_vec());
        }
        let digest = self.digest.as_ref().map(|d| d.as_slice());
        decrypt_for_pointer(blob, self.key.expose_secret(), digest, self.size)
    }
}
