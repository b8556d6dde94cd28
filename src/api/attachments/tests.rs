//! Unit tests of the send-body checks: size limits on decoded bytes, names and types, junk.

use base64::Engine as _;
use proptest::prelude::*;

use super::files::{check_file, decode_json_files, AttachmentInput};
use super::send_body::has_attachments_key;
use crate::api::ApiError;
use crate::protocol::attachment::MAX_ATTACHMENT_BYTES;

fn input(data_base64: String) -> AttachmentInput {
    AttachmentInput {
        content_type: "application/octet-stream".into(),
        file_name: None,
        data_base64,
    }
}

#[test]
fn the_limit_is_on_decoded_bytes() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let at_limit = b64.encode(vec![0u8; MAX_ATTACHMENT_BYTES]);
    assert_eq!(
        decode_json_files(&[input(at_limit)]).unwrap()[0].data.len(),
        MAX_ATTACHMENT_BYTES
    );
    let over = b64.encode(vec![0u8; MAX_ATTACHMENT_BYTES + 1]);
    let error = decode_json_files(&[input(over)]).unwrap_err();
    assert!(matches!(
        error,
        ApiError::TooLarge {
            code: "attachment_too_large",
            ..
        }
    ));
    let bad = decode_json_files(&[input("not base64!".into())]).unwrap_err();
    assert!(matches!(error_code(&bad), "invalid_attachment"));
}

fn error_code(error: &ApiError) -> &'static str {
    match error {
        ApiError::BadRequest { code, .. } => code,
        _ => "other",
    }
}

#[test]
fn file_names_and_types_are_checked() {
    assert!(check_file("image/png", Some("a.png"), 1).is_ok());
    assert!(check_file("", None, 1).is_err());
    assert!(check_file("image/png", Some("a\nb"), 1).is_err());
    assert!(check_file("image/png", Some(""), 1).is_err());
}

#[test]
fn attachments_key_precheck() {
    assert!(has_attachments_key(br#"{"to":"05","attachments":[]}"#));
    assert!(!has_attachments_key(br#"{"to":"05","text":"files"}"#));
}

proptest! {
    /// Junk base64 and MIME types give errors, never panics.
    #[test]
    fn decoding_junk_never_panics(data in ".{0,64}", content_type in ".{0,16}") {
        let _ = decode_json_files(&[AttachmentInput {
            content_type,
            file_name: None,
            data_base64: data,
        }]);
    }
}
