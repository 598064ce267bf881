//! API errors: every failure leaves as an `api::ErrorBody` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use push_proto::api::{ErrorBody, errors};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code from `push_proto::api::errors` (or `internal`).
    pub code: &'static str,
    /// Explanation for the caller (no secrets).
    pub message: String,
}

/// Code of unexpected server-side failures (500); details go to stderr only.
pub const INTERNAL: &str = "internal";

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, errors::BAD_REQUEST, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, errors::UNAUTHORIZED, "not authorized")
    }

    /// 404 `not_found`.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, errors::NOT_FOUND, "no such object")
    }

    /// 410 `expired`.
    pub fn expired(what: &str) -> ApiError {
        ApiError::new(StatusCode::GONE, errors::EXPIRED, format!("the {what} expired"))
    }

    /// 409 `already_used`.
    pub fn already_used(what: &str) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, errors::ALREADY_USED, format!("the {what} was used"))
    }

    /// 500 `internal`; `detail` goes to stderr, not to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        eprintln!("mfa-server: internal error: {detail}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, "internal error")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_string(), message: self.message };
        crate::http::json(self.status, &body)
    }
}
