//! The API's string formats (issue 15: an exact contract): one type per kind of identifier or
//! bounded text, each with the regular expression the OpenAPI document declares as its
//! `pattern` (and its length bounds). A handler checks an input against the same type
//! ([`Format::check`]), or against a parser the unit tests prove equivalent, so a value the
//! document calls valid is one the handler takes, and one it calls invalid is a 400.
//!
//! Patterns use only what ECMA-262, Python `re` and the `regex` crate read alike: anchors,
//! explicit character classes (no `\d`, `\w`, `\s`: their Unicode meanings differ), `\uXXXX`
//! escapes, groups, alternation and counted repetition; no look-around.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

use super::ApiError;

/// A port 1..=65535, without leading zeros.
macro_rules! port {
    () => {
        "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    };
}

/// A community room's conversation ID (`ids::RoomRef`): `http(s)://host[:port]/room`.
macro_rules! room_url {
    () => {
        concat!(
            "https?://[a-z0-9.-]+(?::",
            port!(),
            ")?/[A-Za-z0-9_-]{1,64}"
        )
    };
}

/// A dotted-quad IPv4 address.
macro_rules! ipv4 {
    () => {
        "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}

/// An IPv6 address (RFC 4291 text forms, with an IPv4 tail where allowed; no zone index).
macro_rules! ipv6 {
    () => {
        concat!(
            "(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,7}:",
            "|(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,5}(?::[0-9a-fA-F]{1,4}){1,2}",
            "|(?:[0-9a-fA-F]{1,4}:){1,4}(?::[0-9a-fA-F]{1,4}){1,3}",
            "|(?:[0-9a-fA-F]{1,4}:){1,3}(?::[0-9a-fA-F]{1,4}){1,4}",
            "|(?:[0-9a-fA-F]{1,4}:){1,2}(?::[0-9a-fA-F]{1,4}){1,5}",
            "|[0-9a-fA-F]{1,4}:(?::[0-9a-fA-F]{1,4}){1,6}",
            "|:(?:(?::[0-9a-fA-F]{1,4}){1,7}|:)",
            "|(?:[0-9a-fA-F]{1,4}:){6}",
            ipv4!(),
            "|::(?:ffff(?::0{1,4})?:)?",
            ipv4!(),
            "|(?:[0-9a-fA-F]{1,4}:){1,4}:",
            ipv4!(),
            ")"
        )
    };
}

/// A community server's X25519 key in a join URL: 64 hex, 43/44 base64 (unused bits zero) or
/// 52 z-base-32 characters (the last 4 bits zero).
macro_rules! server_key {
    () => {
        concat!(
            "(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=?",
            "|[ybndrfg8ejkmcpqxot1uwisza345h769YBNDRFG8EJKMCPQXOT1UWISZA345H769]{51}[yoYO])"
        )
    };
}

/// A room's conversation ID, or its join URL (`?public_key=`, which is not part of the ID).
macro_rules! room_ref {
    () => {
        concat!(room_url!(), "(?:\\?public_key=", server_key!(), ")?")
    };
}

/// Characters Rust's `char::is_control` refuses (Unicode `Cc`).
macro_rules! control {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f"
    };
}

/// `control!()` plus Rust's `char::is_whitespace` (Unicode `White_Space`).
macro_rules! space_or_control {
    () => {
        "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}

/// Canonical standard base64 (padded, unused bits zero): what `base64`'s `STANDARD` engine
/// decodes.
macro_rules! base64 {
    () => {
        "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?"
    };
}

/// What every format is: its pattern, length bounds and description, as the document shows
/// them, and the check a handler applies.
pub trait Format {
    /// The component name in the OpenAPI document.
    const NAME: &'static str;
    /// The `pattern`, anchored at both ends.
    const PATTERN: &'static str;
    /// `minLength`, in characters.
    const MIN_LENGTH: Option<usize> = None;
    /// `maxLength`, in characters.
    const MAX_LENGTH: Option<usize> = None;
    /// A custom `format` naming a rule JSON Schema cannot state (a checksum, a length in
    /// bytes); `.ci/schemathesis_hooks.py` teaches schemathesis to generate such values.
    const FORMAT: Option<&'static str> = None;
    /// What it is.
    const DESCRIPTION: &'static str;
    /// One valid value (the document's example).
    const EXAMPLE: &'static str;

    /// The compiled pattern.
    fn regex() -> &'static Regex;

    /// Whether `text` is valid: the pattern matches and the length is within bounds.
    fn is_valid(text: &str) -> bool {
        let chars = text.chars().count();
        Self::MIN_LENGTH.is_none_or(|min| chars >= min)
            && Self::MAX_LENGTH.is_none_or(|max| chars <= max)
            && Self::regex().is_match(text)
    }

    /// `text` if valid, else a 400 with `code` naming `field`.
    fn check<'t>(text: &'t str, field: &str, code: &'static str) -> Result<&'t str, ApiError> {
        if Self::is_valid(text) {
            Ok(text)
        } else {
            Err(ApiError::bad_request(
                code,
                format!(
                    "{field}: not a valid {} ({})",
                    Self::NAME,
                    Self::DESCRIPTION
                ),
            ))
        }
    }

    /// The schema the document shows.
    fn string_schema() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .min_length(Self::MIN_LENGTH)
            .max_length(Self::MAX_LENGTH)
            .format(Self::FORMAT.map(|f| SchemaFormat::Custom(f.to_owned())))
            .description(Some(Self::DESCRIPTION))
            .examples([serde_json::Value::from(Self::EXAMPLE)])
            .into()
    }
}

/// Declares format types: a unit struct per format, its [`Format`] impl and its schema.
macro_rules! formats {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            pattern: $pattern:expr,
            $(min: $min:expr,)?
            $(max: $max:expr,)?
            $(format: $format:expr,)?
            description: $description:expr,
            example: $example:expr $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Format for $name {
                const NAME: &'static str = stringify!($name);
                const PATTERN: &'static str = concat!("^", $pattern, "$");
                $(const MIN_LENGTH: Option<usize> = Some($min);)?
                $(const MAX_LENGTH: Option<usize> = Some($max);)?
                $(const FORMAT: Option<&'static str> = Some($format);)?
                const DESCRIPTION: &'static str = $description;
                const EXAMPLE: &'static str = $example;

                fn regex() -> &'static Regex {
                    static REGEX: LazyLock<Regex> = LazyLock::new(|| {
                        #[allow(clippy::expect_used)] // a constant, compiled by the unit tests
                        Regex::new(<$name as Format>::PATTERN).expect("format patterns compile")
                    });
                    &REGEX
                }
            }

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    <$name as Format>::string_schema().into()
                }
            }

            impl utoipa::ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )*

        /// Every format: name, pattern, check, example (for the tests and the contract).
        pub const ALL: &[(&str, &str, fn(&str) -> bool, &str)] = &[
            $((
                stringify!($name),
                <$name as Format>::PATTERN,
                <$name as Format>::is_valid,
                <$name as Format>::EXAMPLE,
            ),)*
        ];

        /// Registers every format as a component schema.
        pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
            vec![$((
                stringify!($name).to_owned(),
                <$name as utoipa::PartialSchema>::schema(),
            ),)*]
        }
    };
}

const SID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

formats! {
    /// An account's Session ID: `05` and 64 lowercase hex digits (`ids::SessionIdText`).
    SessionId {
        pattern: "05[0-9a-f]{64}",
        description: "An account's Session ID: 05 and 64 lowercase hex digits",
        example: SID,
    }
    /// A closed group's ID: `03` and 64 lowercase hex digits (`ids::GroupId`).
    GroupId {
        pattern: "03[0-9a-f]{64}",
        description: "A closed group's ID: 03 and 64 lowercase hex digits",
        example: "03e2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    }
    /// A community user as a moderator names one: a blinded `15…`/`25…` ID or a `05…` ID.
    UserId {
        pattern: "(?:05|15|25)[0-9a-f]{64}",
        description: "A community user: a blinded 15… or 25… ID, or a 05… Session ID",
        example: "15d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    }
    /// A community room's conversation ID (`ids::RoomRef`).
    RoomUrl {
        pattern: room_url!(),
        description: "A community room's conversation ID: http(s)://host[:port]/room \
            (percent-encoded in a path)",
        example: "http://open.example.org/lobby",
    }
    /// A room as a path or a message names it: its conversation ID, or its join URL.
    RoomRef {
        pattern: room_ref!(),
        description: "A community room: its conversation ID http(s)://host[:port]/room, or its \
            join URL (…?public_key=<key>); percent-encoded in a path",
        example: "http://open.example.org/lobby",
    }
    /// Where a message goes, or whose history to list: a peer (`05…`), a group (`03…`), a
    /// blinded community user (`15…`, a DM through the room's server) or a room.
    ConversationRef {
        pattern: concat!("(?:(?:05|03|15)[0-9a-f]{64}|", room_ref!(), ")"),
        description: "A peer's 05… Session ID, a 03… group ID, a blinded 15… ID met in a room, \
            or a community room's http(s)://host[:port]/room",
        example: SID,
    }
    /// A community join URL (`protocol::community::CommunityUrl`) with its scheme and the
    /// server's X25519 key (64 hex, 43/44 base64 or 52 z-base-32 characters).
    JoinUrl {
        pattern: concat!(
            "https?://",
            // Host: dot-separated labels, at least one dot, 4 characters or more, the whole
            // base URL within 267 characters (at most 5 labels of up to 49).
            "(?:[A-Za-z0-9-]{2,49}\\.[A-Za-z0-9-]{1,49}|[A-Za-z0-9-]\\.[A-Za-z0-9-]{2,49}",
            "|[A-Za-z0-9-]\\.[A-Za-z0-9-]\\.[A-Za-z0-9-]{1,49})(?:\\.[A-Za-z0-9-]{1,49}){0,2}",
            "(?::", port!(), ")?",
            "/(?:r/)?[A-Za-z0-9_-]{1,64}",
            "\\?public_key=", server_key!()
        ),
        description: "A community join URL: http(s)://host[:port]/room?public_key=<the server's \
            X25519 key: 64 hex, 43/44 base64 or 52 z-base-32 characters>",
        example: "http://open.example.org/lobby?public_key=a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238",
    }
    /// A recovery phrase as the gateway shows it: 13 lowercase words of Session's English
    /// list separated by single spaces, the last a checksum (`protocol::phrase`).
    RecoveryPhrase {
        pattern: "[a-z]{3,}(?: [a-z]{3,}){12}",
        format: "session-recovery-phrase",
        description: "A Session recovery phrase: 13 lowercase words of Session's English word \
            list separated by single spaces, the last a checksum of the others",
        example: "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept",
    }
    /// A group's name: not blank, at most 100 bytes of UTF-8 (so at most 100 characters).
    GroupName {
        pattern: concat!(
            "[^", control!(), "]*[^", space_or_control!(), "][^", control!(), "]*"
        ),
        min: 1,
        max: 100,
        format: "utf8-max-100-bytes",
        description: "A group's name: not blank, at most 100 bytes of UTF-8, no control \
            characters",
        example: "Support team",
    }
    /// A group's description: at most 2000 bytes of UTF-8.
    GroupDescription {
        pattern: "[^\\u0000]*",
        max: 2000,
        format: "utf8-max-2000-bytes",
        description: "At most 2000 bytes of UTF-8, no NUL",
        example: "Where support questions go",
    }
    /// A webhook target: an `http(s)://` URL with a host name or an IP address, any port,
    /// optional user information, path and query (what `reqwest::Url` parses as such).
    WebhookUrl {
        pattern: concat!(
            "https?://",
            "(?:[A-Za-z0-9._~!$&'()*+,;=%-]+(?::[A-Za-z0-9._~!$&'()*+,;=%-]*)?@)?",
            "(?:",
            // A host name whose labels have no `--` (no punycode) and whose last label starts
            // with a letter (so it is never read as an IPv4 number).
            "(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*",
            "|", ipv4!(),
            "|\\[", ipv6!(), "\\]",
            ")",
            "(?::", port!(), ")?",
            "(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?",
            "(?:\\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?"
        ),
        max: 2048,
        description: "An http:// or https:// URL with a host name, an IPv4 address or a \
            bracketed IPv6 address, up to 2048 characters",
        example: "https://hooks.example.com/session",
    }
    /// A message id.
    MessageId {
        pattern: "msg_[0-9a-f]{32}",
        description: "A message id: msg_ and 32 lowercase hex digits",
        example: "msg_0190f8a2b7c47d01a2b3c4d5e6f70819",
    }
    /// An attachment id.
    AttachmentId {
        pattern: "att_[0-9a-f]{32}",
        description: "An attachment id: att_ and 32 lowercase hex digits",
        example: "att_0190f8a2b7c47d01a2b3c4d5e6f70819",
    }
    /// A webhook id.
    WebhookId {
        pattern: "wh_[0-9a-f]{32}",
        description: "A webhook id: wh_ and 32 lowercase hex digits",
        example: "wh_4f1c2b3a4d5e6f708192a3b4c5d6e7f8",
    }
    /// An API key's id (the `<id>` of `sgk_<id>_<secret>`).
    ApiKeyId {
        pattern: "[0-9a-f]{32}",
        description: "An API key's id: 32 lowercase hex digits (the <id> of sgk_<id>_<secret>)",
        example: "4f1c2b3a4d5e6f708192a3b4c5d6e7f8",
    }
    /// An event id `evt_N`, or the bare cursor `N` (`store::events::parse_event_id`).
    EventId {
        pattern: "(?:evt_)?[0-9]{1,18}",
        description: "An event id evt_N, or its cursor N",
        example: "evt_42",
    }
    /// One emoji as a reaction (`chat::Emoji`): 1 to 16 characters, no whitespace or control
    /// characters, not plain ASCII.
    Emoji {
        pattern: concat!(
            "[^", space_or_control!(), "]*",
            "[^", space_or_control!(), "\\u0021-\\u007e]",
            "[^", space_or_control!(), "]*"
        ),
        min: 1,
        max: 16,
        description: "One emoji: 1 to 16 characters, not plain ASCII, no whitespace or control \
            characters",
        example: "👍",
    }
    /// A display name: up to 100 characters, no control characters.
    DisplayName {
        pattern: concat!("[^", control!(), "]*"),
        max: 100,
        description: "Up to 100 characters, no control characters",
        example: "Support bot",
    }
    /// A file name: 1 to 255 characters, no control characters.
    FileName {
        pattern: concat!("[^", control!(), "]+"),
        min: 1,
        max: 255,
        description: "1 to 255 characters, no control characters",
        example: "report.pdf",
    }
    /// A MIME type as given: 1 to 255 visible ASCII characters or spaces.
    ContentType {
        pattern: "[ -~]+",
        min: 1,
        max: 255,
        description: "A MIME type: 1 to 255 visible ASCII characters or spaces",
        example: "image/png",
    }
    /// Bytes as canonical standard base64 (padded).
    Base64 {
        pattern: base64!(),
        description: "Standard base64, padded",
        example: "aGVsbG8=",
    }
    /// A non-empty image as canonical standard base64 (at most 10,000,000 bytes decoded).
    ImageBase64 {
        pattern: base64!(),
        min: 4,
        description: "An image: standard base64, padded, not empty, at most 10,000,000 bytes \
            decoded",
        example: "iVBORw0KGgo=",
    }
    /// A webhook signing secret: `whsec_` and the base64 of 24 to 64 bytes.
    WebhookSecret {
        pattern: concat!(
            "whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}",
            "(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?",
            "|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)"
        ),
        description: "whsec_ and the standard base64 of 24 to 64 bytes",
        example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    /// An API key scope.
    ScopeText {
        pattern: "(?:admin|accounts:05[0-9a-f]{64}:(?:read|send))",
        description: "admin, accounts:<session_id>:read or accounts:<session_id>:send",
        example: "admin",
    }
    /// The name of a `multipart/form-data` part.
    FormPartName {
        pattern: "[A-Za-z0-9_.-]{1,64}",
        description: "A part name: 1 to 64 of A-Z a-z 0-9 _ . -",
        example: "file0",
    }
    /// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey {
        pattern: "[!-~]{1,255}",
        description: "1 to 255 visible ASCII characters",
        example: "order-42",
    }
    /// The cursor of the account list: `<created_at ms>.<session id>`.
    AccountCursor {
        pattern: "[0-9]{1,18}\\.05[0-9a-f]{64}",
        description: "The next of the previous page (opaque; built by the gateway)",
        example: "1700000000000.05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    }
    /// The cursor of the webhook list: `<created_at ms>.<webhook id>`.
    WebhookCursor {
        pattern: "[0-9]{1,18}\\.wh_[0-9a-f]{32}",
        description: "The next of the previous page (opaque; built by the gateway)",
        example: "1700000000000.wh_4f1c2b3a4d5e6f708192a3b4c5d6e7f8",
    }
    /// The cursor of the API key list: `<created_at ms>.<key id>`.
    ApiKeyCursor {
        pattern: "[0-9]{1,18}\\.[0-9a-f]{32}",
        description: "The next of the previous page (opaque; built by the gateway)",
        example: "1700000000000.4f1c2b3a4d5e6f708192a3b4c5d6e7f8",
    }
    /// The cursor of the conversation list: `<last message ms>.<conversation id>`.
    ConversationCursor {
        pattern: concat!("[0-9]{1,18}\\.(?:(?:05|03|15|25)[0-9a-f]{64}|", room_url!(), ")"),
        description: "The next of the previous page (opaque; built by the gateway)",
        example: "1700000000000.05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    }
}

/// Checks an optional query or body value against `F` (400 `code` naming `field`).
pub fn check_opt<'t, F: Format>(
    text: Option<&'t str>,
    field: &str,
    code: &'static str,
) -> Result<Option<&'t str>, ApiError> {
    text.map(|t| F::check(t, field, code)).transpose()
}

#[cfg(test)]
mod tests;
