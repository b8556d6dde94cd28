//! The files of a send: validating name, type and size, and decoding the JSON body's inline
//! base64 files.

use base64::Engine as _;
use serde::Deserialize;
use utoipa::ToSchema;

use super::MAX_FILE_NAME_CHARS;
use crate::api::formats::{Base64, ContentType, FileName, Format as _};
use crate::api::ApiError;
use crate::protocol::attachment::MAX_ATTACHMENT_BYTES;
use crate::protocol::chat::pointer::check_upload_size;
use crate::store::attachments::NewAttachment;

/// One file of a JSON send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    /// MIME type, e.g. `image/png`.
    #[schema(value_type = crate::api::formats::ContentType)]
    pub content_type: String,
    /// Original file name.
    #[schema(value_type = Option<crate::api::formats::FileName>)]
    pub file_name: Option<String>,
    /// The bytes, standard base64; at most 10,000,000 bytes decoded.
    #[schema(value_type = crate::api::formats::Base64)]
    pub data_base64: String,
}

pub(super) fn too_large(len: usize) -> ApiError {
    ApiError::TooLarge {
        code: "attachment_too_large",
        message: format!("attachment of {len} bytes is over the {MAX_ATTACHMENT_BYTES}-byte limit"),
    }
}

pub(super) fn check_file(
    content_type: &str,
    file_name: Option<&str>,
    len: usize,
) -> Result<(), ApiError> {
    check_upload_size(len).map_err(|_| too_large(len))?;
    if !ContentType::is_valid(content_type) {
        return Err(ApiError::bad_request(
            "invalid_attachment",
            "content_type must be a MIME type",
        ));
    }
    if let Some(name) = file_name {
        if !FileName::is_valid(name) {
            return Err(ApiError::bad_request(
                "invalid_attachment",
                format!("file_name must be 1 to {MAX_FILE_NAME_CHARS} characters, no control characters"),
            ));
        }
    }
    Ok(())
}

/// Decodes the JSON body's `attachments` into files, refusing any over the limit.
pub(crate) fn decode_json_files(
    inputs: &[AttachmentInput],
) -> Result<Vec<NewAttachment>, ApiError> {
    inputs
        .iter()
        .map(|input| {
            // 4 base64 characters carry 3 bytes: refuse before decoding what cannot fit.
            let bound = input.data_base64.len() / 4 * 3;
            if bound > MAX_ATTACHMENT_BYTES + 2 {
                return Err(too_large(bound));
            }
            Base64::check(&input.data_base64, "data_base64", "invalid_attachment")?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(&input.data_base64)
                .map_err(|e| {
                    ApiError::bad_request("invalid_attachment", format!("data_base64: {e}"))
                })?;
            check_file(&input.content_type, input.file_name.as_deref(), data.len())?;
            Ok(NewAttachment {
                content_type: input.content_type.clone(),
                file_name: input.file_name.clone(),
                data,
            })
        })
        .collect()
}
