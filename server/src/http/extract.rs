//! Request parsing that answers every failure with an `ErrorBody`: JSON bodies, ids in paths,
//! the `wait` query parameter, a cancel's `reason`.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use push_proto::api::CancelReason;
use serde::de::DeserializeOwned;

/// A JSON body of type `T` (bounded by `limits::MAX_BODY`, unknown fields refused).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request("unreadable body")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        push_proto::api::errors::BAD_REQUEST,
        "body too large",
    )
}

/// A body of at most `limits::MAX_BODY` bytes.
pub async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, push_proto::limits::MAX_BODY).await.map_err(|_| too_large())
}

/// `bytes` as JSON of type `T` (unknown fields refused).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed body: {e}")))
}

/// A protocol id (transaction, pairing) from the path; anything else is 404.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        if !push_proto::limits::is_id(&id) {
            return Err(ApiError::not_found());
        }
        Ok(IdPath(id))
    }
}

/// The `wait` query parameter in seconds (0 when absent), capped at `max`. Other parameters
/// are refused.
pub fn wait_secs(parts_query: Option<&str>, max: u64) -> Result<u64, ApiError> {
    let mut wait = 0;
    for pair in parts_query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("wait", v)) if v.len() <= 10 => {
                wait =
                    v.parse::<u64>().map_err(|_| ApiError::bad_request("wait must be seconds"))?;
            }
            _ => return Err(ApiError::bad_request("unknown query parameter")),
        }
    }
    Ok(wait.min(max))
}

/// The `reason` query parameter of a cancel (absent: none). Other parameters and unknown
/// reasons are refused.
pub fn cancel_reason(query: Option<&str>) -> Result<Option<CancelReason>, ApiError> {
    let mut reason = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("reason", v)) => {
                reason = Some(
                    CancelReason::parse(v)
                        .ok_or_else(|| ApiError::bad_request("unknown reason"))?,
                );
            }
            _ => return Err(ApiError::bad_request("unknown query parameter")),
        }
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_parameter() {
        assert_eq!(wait_secs(None, 25).unwrap(), 0);
        assert_eq!(wait_secs(Some("wait=5"), 25).unwrap(), 5);
        assert_eq!(wait_secs(Some("wait=500"), 25).unwrap(), 25);
        assert!(wait_secs(Some("wait=-1"), 25).is_err());
        assert!(wait_secs(Some("wait=99999999999999"), 25).is_err());
        assert!(wait_secs(Some("x=1"), 25).is_err());
    }

    #[test]
    fn reason_parameter() {
        assert_eq!(cancel_reason(None).unwrap(), None);
        assert_eq!(
            cancel_reason(Some("reason=code_typed")).unwrap(),
            Some(CancelReason::CodeTyped)
        );
        assert!(cancel_reason(Some("reason=timeout")).is_err());
        assert!(cancel_reason(Some("wait=1")).is_err());
    }
}
