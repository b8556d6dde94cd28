//! Serving attachments: the decrypted bytes of one, and the views on messages read back.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{get, web, HttpResponse};

use crate::api::account_path::{Access, AccountPath};
use crate::api::formats::{AttachmentId, Format as _};
use crate::api::{ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::store::attachments::AttachmentStatus;
use crate::store::messages::Message;

/// Fills in the attachments of messages read from the store (history, single message).
pub(crate) async fn with_attachments(
    state: &ApiState,
    account: &str,
    messages: &mut [Message],
) -> Result<(), ApiError> {
    for message in messages {
        message.attachments = state.store.attachment_views(account, &message.id).await?;
    }
    Ok(())
}

fn disposition(file_name: Option<&str>) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: file_name
            .map(|name| vec![DispositionParam::Filename(name.to_owned())])
            .unwrap_or_default(),
    }
}

/// Download an attachment's decrypted bytes (`accounts:<id>:read`).
#[utoipa::path(
    params(
        ("session_id" = crate::api::formats::SessionId, Path, description = "The account"),
        ("id" = AttachmentId, Path, description = "Attachment id (`att_…`)")
    ),
    responses(
        (status = 200, description = "The file, with its Content-Type and Content-Disposition", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = crate::api::error::ErrorBody),
        (status = 409, body = crate::api::error::ErrorBody, description = "`attachment_pending`: not fetched yet (a download that failed for network reasons is queued again by this request)"),
        (status = 422, body = crate::api::error::ErrorBody, description = "`attachment_rejected`: tampered, gone or refused, with the reason; `attachment_expired`: its bytes were dropped after `retention.attachment_bytes_days` (status `expired`)")
    ),
    security(("bearer" = [])), tag = "attachments"
)]
#[get("/accounts/{session_id}/attachments/{id}")]
pub(super) async fn get_attachment(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Read)?
        .id();
    let id = AttachmentId::check(&id, "id", "invalid_id")?;
    let stored = state
        .store
        .get_attachment(account.as_str(), id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    let view = &stored.view;
    let pending = || ApiError::Conflict {
        code: "attachment_pending",
        message: "the attachment has not been fetched yet; wait for attachment.available".into(),
    };
    match (view.status, stored.data) {
        // Network weather is not a verdict: fetch it again (tampering stays rejected).
        (AttachmentStatus::Failed, _)
            if state
                .store
                .requeue_unreachable_attachment(account.as_str(), id, now_ms())
                .await? =>
        {
            state.actors.attachments_queued(&account);
            Err(pending())
        }
        (AttachmentStatus::Expired, _) => Err(ApiError::Unprocessable {
            code: "attachment_expired",
            message: "the attachment's bytes were dropped after retention.attachment_bytes_days"
                .into(),
        }),
        (AttachmentStatus::Failed, _) => Err(ApiError::Unprocessable {
            code: "attachment_rejected",
            message: view
                .failure_reason
                .clone()
                .unwrap_or_else(|| "failed".into()),
        }),
        (_, Some(data))
            if view.status != AttachmentStatus::Queued || stored.direction == "outgoing" =>
        {
            Ok(HttpResponse::Ok()
                .content_type(view.content_type.as_str())
                .insert_header(disposition(view.file_name.as_deref()))
                .body(data))
        }
        _ => Err(pending()),
    }
}
