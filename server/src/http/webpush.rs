//! Web Push endpoints: the VAPID public key for browsers, and a device's push subscription.

use super::auth::SignedDevice;
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::webpush::WebPush;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use push_proto::api::{PushSubscription, WebPushKey};
use std::sync::Arc;

fn enabled(state: &Shared) -> Result<&Arc<WebPush>, ApiError> {
    state.web_push.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            push_proto::api::errors::NOT_FOUND,
            "Web Push is not enabled on this service",
        )
    })
}

/// `GET /v2/web-push/key` (no authentication).
pub async fn key(State(state): State<Shared>) -> Result<Response, ApiError> {
    let push = enabled(&state)?;
    Ok(json(StatusCode::OK, &WebPushKey { vapid_public_key: push.public_key() }))
}

/// `PUT /v2/device/push-subscription`.
pub async fn subscribe(
    State(state): State<Shared>,
    signed_request: SignedDevice,
) -> Result<Response, ApiError> {
    let push = enabled(&state)?;
    let sub: PushSubscription = signed_request.json()?;
    let device = signed_request.device;
    push.check_resolved(&sub).await.map_err(ApiError::bad_request)?;
    state.store.set_push_subscription(&device.id, &sub, crate::time::now()).await?;
    state.audit.record(&Event {
        event: "web_push.subscribed",
        user: Some(&device.user),
        device: Some(&device.id),
        outcome: "ok",
        ..Event::default()
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v2/device/push-subscription` (also when none is stored, or Web Push is off).
pub async fn unsubscribe(
    State(state): State<Shared>,
    SignedDevice { device, .. }: SignedDevice,
) -> Result<Response, ApiError> {
    if state.store.delete_push_subscription(&device.id, None).await? {
        state.audit.record(&Event {
            event: "web_push.unsubscribed",
            user: Some(&device.user),
            device: Some(&device.id),
            outcome: "removed",
            reason: Some("device removed its subscription"),
            ..Event::default()
        });
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
