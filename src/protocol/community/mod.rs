//! Session Communities (SOGS), the pure parts a client and a local test server share
//! (`../shared/protocol/communities.md`).
//!
//! * [`CommunityUrl`]: join URLs and the server key (§1.1, §1.2).
//! * [`SogsAuth`]: the X-SOGS request headers, signed bytes and the server's checks (§2).
//! * [`CommunityPost`]: the posting body with its padded, blind15-signed `Content` (§4.5).
//!
//! Blinded IDs, blind15/blind25 signing and blinded DMs (§2.3, §6) live in
//! [`crate::protocol::blinding`]. Vectors (§9) are in `tests/vectors/communities.json`.

mod auth;
mod post;
mod url;

pub use auth::{
    bytes_to_sign, signing_path, AuthError, SogsAuth, SogsKey, SogsNonce, HEADER_NONCE,
    HEADER_PUBKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, TIMESTAMP_WINDOW_S,
};
pub use post::{verify_post_signature, CommunityPost, PostError};
pub use url::{percent_decode, CommunityUrl, UrlError, BASE_URL_MAX, ROOM_MAX};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_junk;
