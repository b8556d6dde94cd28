//! The one place where failures become HTTP responses: `{"error":{"code","message"}}` with the
//! status the code implies (design.md §4). Extractor failures (bad JSON, unknown fields, wrong
//! content type, oversized bodies, bad query strings) are routed here too, so no bad input can
//! produce a 5xx or a non-JSON error.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::chat::ChatError;
use crate::store::StoreError;

/// The `Retry-After` of a 503: a dependency outage is measured in seconds, not milliseconds.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Every error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`: no, malformed or unknown bearer key.
    #[error("missing or invalid bearer key")]
    Unauthorized,
    /// 403 `forbidden`: the key lacks the scope.
    #[error("this key does not grant {0}")]
    Forbidden(String),
    /// 403 with a specific code: authorised for the account, but the account may not do this
    /// (`not_group_admin`).
    #[error("{message}")]
    Refused {
        /// snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 `not_found`, for an item deleted through the API: a deleted message or a destroyed
    /// group is gone from its own path (lists and events still show that it was deleted).
    #[error("{0}")]
    Deleted(&'static str),
    /// 400 with a specific code (`invalid_json`, `invalid_session_id`, …).
    #[error("{message}")]
    BadRequest {
        /// snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 409 with a specific code (`already_exists`, `idempotency_conflict`).
    #[error("{message}")]
    Conflict {
        /// snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 413 with a specific code (`attachment_too_large`).
    #[error("{message}")]
    TooLarge {
        /// snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 422 with a specific code: well-formed, but names something that cannot be used or
    /// served here (`quote_not_in_conversation`, `message_deleted`, `attachment_rejected`, …).
    #[error("{message}")]
    Unprocessable {
        /// snake_case code.
        code: &'static str,
        /// Human-readable explanation (for a rejected attachment, the failure reason).
        message: String,
    },
    /// 405 `method_not_allowed`: a path the API serves, with a method it does not serve (the
    /// response carries `Allow`, see [`super::contract`]).
    #[error("{0} is not allowed here; see the Allow header")]
    MethodNotAllowed(String),
    /// 413 `payload_too_large`.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported_media_type`.
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    /// 429 `rate_limited` with `Retry-After` (issue 15): a key, address or account over its
    /// configured rate.
    #[error("too many requests: retry after {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until a request would pass (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// 503 `unavailable`: a dependency (database, network) is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 507 `storage_full`: the database has no room for the write (a full disk, or SQLite's
    /// page cap); reads still work, and the same request succeeds once space is freed.
    #[error("insufficient storage: {0}")]
    StorageFull(String),
    /// 500 `internal`: our bug or a corrupt database; details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// The error object.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable snake_case code.
    code: String,
    /// Human-readable explanation.
    message: String,
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422 with `code`.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) | Self::Deleted(_) => "not_found",
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Refused { code, .. }
            | Self::TooLarge { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::StorageFull(_) => "storage_full",
            Self::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::Deleted(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) | Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::RateLimited { retry_after_secs } = self {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        if matches!(self, Self::Unavailable(_) | Self::StorageFull(_)) {
            response.insert_header(("Retry-After", UNAVAILABLE_RETRY_AFTER_SECS.to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        // Before `is_unavailable`: PostgreSQL's disk_full is in SQLSTATE class 53 too.
        if error.is_full() {
            tracing::warn!(%error, "database full");
            return Self::StorageFull(
                "the database has no space left for this write; free disk space, then retry".into(),
            );
        }
        if error.is_unavailable() {
            // Logged as weather, not as our bug: the database is down or restarting.
            tracing::warn!(%error, "database unavailable");
            return Self::Unavailable("the database is unavailable; retry later".into());
        }
        Self::Internal(error.to_string())
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        let message = error.to_string();
        match error {
            ChatError::NotFound(what) => Self::NotFound(what),
            ChatError::InvalidEmoji => Self::bad_request("invalid_emoji", message),
            ChatError::InvalidText => Self::bad_request("invalid_text", message),
            ChatError::DisappearingSeconds | ChatError::DisappearingMode => {
                Self::bad_request("invalid_disappearing", message)
            }
            ChatError::MessageDeleted | ChatError::AlreadyDeleted => {
                Self::Deleted("the message was deleted")
            }
            ChatError::MessageNotInConversation => {
                Self::unprocessable("message_not_in_conversation", message)
            }
            ChatError::QuoteNotInConversation => {
                Self::unprocessable("quote_not_in_conversation", message)
            }
            ChatError::GroupUnsupported | ChatError::CommunityUnsupported => {
                Self::unprocessable("unsupported_conversation", message)
            }
            ChatError::IdempotencyConflict => Self::Conflict {
                code: "idempotency_conflict",
                message,
            },
            ChatError::InvalidGroup(_) => Self::bad_request("invalid_group", message),
            ChatError::NotGroupAdmin => Self::Refused {
                code: "not_group_admin",
                message,
            },
            ChatError::NotModerator => Self::Refused {
                code: "not_moderator",
                message,
            },
            ChatError::GroupState(_) => Self::Conflict {
                code: "group_state",
                message,
            },
            ChatError::GroupDestroyed => Self::Conflict {
                code: "group_destroyed",
                message,
            },
            ChatError::GroupProtocol(e) => Self::Internal(e),
            ChatError::Event(e) => Self::Internal(e.to_string()),
            ChatError::Store(e) => e.into(),
        }
    }
}

/// `JsonConfig` error handler: maps body and JSON failures to 400/413/415.
pub(crate) fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let mapped = match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) => ApiError::bad_request("invalid_json", e.to_string()),
        JsonPayloadError::Serialize(e) => ApiError::Internal(e.to_string()),
        other => ApiError::bad_request("invalid_body", other.to_string()),
    };
    mapped.into()
}

/// `QueryConfig` error handler.
pub(crate) fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_query", error.to_string()).into()
}

/// `PathConfig` error handler.
pub(crate) fn path_error(error: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_path", error.to_string()).into()
}
