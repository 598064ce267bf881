//! The HTTP API (`docs/openapi.yaml`): routes, shared state and JSON answers.

pub mod auth;
pub mod device;
pub mod extract;
pub mod fleet;
pub mod fleet_enroll;
pub mod fleet_key_enroll;
pub mod fleet_keys;
pub mod fleet_offline;
pub mod fleet_push;
pub mod host;
pub mod pairing;
pub mod passkey;
pub mod web;
pub mod webpush;

use crate::audit::Audit;
use crate::config::Limits;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use push_proto::SecretKey;
use push_proto::api::{Health, path};
use serde::Serialize;
use std::sync::Arc;

/// Everything handlers share.
pub struct AppState {
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// Long-poll wake-ups.
    pub hub: Hub,
    /// The audit log.
    pub audit: Audit,
    /// The service signing key.
    pub key: SecretKey,
    /// `[limits]`.
    pub limits: Limits,
    /// `[fleet]`.
    pub fleet: crate::config::FleetLimits,
    /// `[offline]` and the permits of offline window builds.
    pub offline: crate::fleet::offline::Offline,
    /// The fleet master key (TOTP secrets at rest).
    pub master: Arc<crate::fleet::master_key::MasterKey>,
    /// `public_url` without a trailing slash.
    pub base_url: String,
    /// The Web Push sender, when `[web_push]` is enabled.
    pub web_push: Option<Arc<crate::webpush::WebPush>>,
}

/// Shared state handle.
pub type Shared = Arc<AppState>;

/// A JSON answer with `status`.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The router of every endpoint.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route(path::HEALTH, get(health))
        .route(path::CHALLENGES, post(host::create_challenge))
        .route(path::CHALLENGE_ROUTE, get(host::get_challenge).delete(host::cancel_challenge))
        .route(path::PAIRINGS, post(pairing::create_pairing))
        .route(path::PAIRING_ROUTE, get(pairing::get_pairing))
        .route(path::DEVICE_PAIR, post(pairing::pair))
        .route(path::DEVICE_CHALLENGES, get(device::pending))
        .route(path::DEVICE_ANSWER_ROUTE, post(device::answer))
        .route(path::WEB_PUSH_KEY, get(webpush::key))
        .route(path::FLEET_VERIFY, post(fleet::verify))
        .route(push_proto::fleet_keys::CHALLENGE, post(fleet_keys::challenge))
        .route(push_proto::fleet_keys::VERIFY, post(fleet_keys::verify))
        .route(push_proto::fleet_enroll::ENROLL, post(fleet_enroll::enroll))
        .route(push_proto::fleet_enroll::STATUS, post(fleet_enroll::status))
        .route(push_proto::fleet_key_enroll::CHALLENGE, post(fleet_key_enroll::challenge))
        .route(push_proto::fleet_push::DEVICES, post(fleet_push::devices))
        .route(push_proto::offline::BUNDLE, post(fleet_offline::bundle))
        .route(push_proto::offline::REPORT, post(fleet_offline::report))
        .route(path::PUSH_SUBSCRIPTION, put(webpush::subscribe).delete(webpush::unsubscribe))
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(push_proto::limits::MAX_BODY))
        .with_state(state)
}

async fn health() -> Response {
    json(StatusCode::OK, &Health { status: "ok".into(), protocol: push_proto::api::VERSION })
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        push_proto::api::errors::BAD_REQUEST,
        "method not allowed",
    )
}
