//! Who is calling: hosts by bearer token, devices by a signed `Authorization` header that
//! covers the request's body and a single-use nonce.

use super::Shared;
use crate::audit::Event;
use crate::error::ApiError;
use crate::store::{Device, Host};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use push_proto::api::{DeviceAuth, errors};
use push_proto::limits::CLOCK_SKEW;
use push_proto::{PublicKey, signed};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a secret (host token, pairing credential): what the database keeps.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// An authenticated, active host.
pub struct HostAuth(pub Host);

impl FromRequestParts<Shared> for HostAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| push_proto::limits::is_token(t, push_proto::limits::NONCE_LEN));
        let refuse = |host: Option<&str>, reason: &str| {
            state.audit.record(&Event {
                event: "auth.host",
                host,
                outcome: "refused",
                reason: Some(reason),
                ..Event::default()
            });
            ApiError::unauthorized()
        };
        let Some(token) = token else { return Err(refuse(None, "missing or malformed token")) };
        let hash = secret_hash(token);
        let Some(host) = state.store.host_by_token_hash(&hash).await? else {
            return Err(refuse(None, "unknown token"));
        };
        // The lookup found it by hash; compare again in constant time so correctness never
        // rests on the database's comparison.
        if !bool::from(host.token_hash.ct_eq(&hash)) {
            return Err(refuse(None, "unknown token"));
        }
        if host.revoked_at.is_some() {
            return Err(refuse(Some(&host.id), "host revoked"));
        }
        Ok(HostAuth(host))
    }
}

/// A request of an authenticated, active device, with its body (which the signature covers).
///
/// The `Authorization` header must be `PamMfaDevice <id>.<time>.<nonce>.<signature>` over
/// [`signed::device_request`]: the method, the path with query, and the SHA-256 of the body,
/// within the allowed clock skew, with a nonce this device never used before (kept until the
/// timestamp could no longer pass). A captured request therefore cannot be sent again, neither
/// as it was nor with another body. As an extractor it consumes the body, so it comes last.
pub struct SignedDevice {
    /// The device.
    pub device: Device,
    /// The request body as signed.
    pub body: Bytes,
}

impl SignedDevice {
    /// The body as JSON of type `T` (unknown fields refused).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        super::extract::parse_json(&self.body)
    }
}

impl FromRequest<Shared> for SignedDevice {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, ApiError> {
        let refuse = |device: Option<&str>, reason: &str| {
            state.audit.record(&Event {
                event: "auth.device",
                device,
                outcome: "refused",
                reason: Some(reason),
                ..Event::default()
            });
            ApiError::unauthorized()
        };
        let (parts, body) = req.into_parts();
        let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(DeviceAuth::parse)
        else {
            return Err(refuse(None, "missing or malformed device authorization"));
        };
        let now = crate::time::now();
        if auth.timestamp.abs_diff(now) > CLOCK_SKEW {
            return Err(refuse(Some(&auth.device_id), "timestamp outside the allowed clock skew"));
        }
        let body = super::extract::read_body(body).await?;
        let Some(device) = state.store.device(&auth.device_id).await? else {
            return Err(refuse(None, "unknown device"));
        };
        let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str());
        let msg = signed::device_request(
            &device.id,
            auth.timestamp,
            &auth.nonce,
            parts.method.as_str(),
            path,
            &body,
        );
        let verified = PublicKey::decode(&device.public_key)
            .map(|k| k.verify(&msg, &auth.signature))
            .unwrap_or(false);
        if !verified {
            return Err(refuse(Some(&device.id), "bad request signature"));
        }
        if device.revoked_at.is_some() {
            state.audit.record(&Event {
                event: "auth.device",
                device: Some(&device.id),
                user: Some(&device.user),
                outcome: "refused",
                reason: Some("device revoked"),
                ..Event::default()
            });
            return Err(ApiError::new(StatusCode::FORBIDDEN, errors::REVOKED, "device revoked"));
        }
        // Last, so only requests this device really signed fill the table.
        let until = auth.timestamp.saturating_add(CLOCK_SKEW);
        if !state.store.use_request_nonce(&device.id, &auth.nonce, until).await? {
            state.audit.record(&Event {
                event: "auth.device",
                device: Some(&device.id),
                user: Some(&device.user),
                outcome: "refused",
                reason: Some("request nonce used before (replayed request)"),
                ..Event::default()
            });
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                errors::REPLAYED,
                "this request was sent before",
            ));
        }
        Ok(SignedDevice { device, body })
    }
}
