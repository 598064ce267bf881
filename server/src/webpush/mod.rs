//! Web Push: waking the phone web app through its browser's push service (RFC 8030) when a
//! challenge is created, with the message encrypted for the browser (RFC 8291, aes128gcm, by
//! `web-push-native`) and the service identified by VAPID (RFC 8292, [`vapid`]).
//!
//! A message carries only what a notification shows ([`push_proto::api::PushMessage`]): no
//! nonce, no number. Sending happens in background tasks after the host has its answer, each
//! bounded by `web_push.timeout` and by `web_push.max_in_flight` messages at once, so a slow or
//! hostile push service delays nothing; the long-poll of the open app is the fallback anyway.
//! A push service answering 404/410 ends the subscription.

pub mod address;
pub mod config;
pub mod endpoint;
pub mod send;
pub mod vapid;

pub use config::WebPushConfig;

use crate::audit::Event;
use crate::http::Shared;
use crate::store::Challenge;
use axum::http::{HeaderValue, header};
use push_proto::SecretKey;
use push_proto::api::{PushMessage, PushSubscription};
use send::Outcome;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The Web Push sender.
pub struct WebPush {
    key: SecretKey,
    subject: String,
    timeout: Duration,
    allow_http_loopback: bool,
    agent: ureq::Agent,
    slots: Arc<Semaphore>,
}

/// Who a message is about, for the audit log.
#[derive(Clone)]
struct Context {
    host: String,
    user: String,
    txid: String,
}

impl WebPush {
    /// Loads (creating it on first start, mode 0600) the VAPID key at `key_path` and prepares
    /// the HTTP agent.
    pub fn open(config: &WebPushConfig, key_path: &Path) -> Result<WebPush, String> {
        let key = crate::service_key::load_or_create(key_path)?;
        Ok(WebPush {
            key,
            subject: config.subject.clone(),
            timeout: Duration::from_secs(config.timeout),
            allow_http_loopback: config.allow_http_loopback,
            agent: send::agent(&config.ca_file, config.allow_http_loopback)?,
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
        })
    }

    /// The VAPID public key (uncompressed point, base64url).
    pub fn public_key(&self) -> String {
        self.key.public().encode()
    }

    /// Checks a subscription a device wants to register: its form, and that its host resolves
    /// to global addresses only (checked again, on the addresses connected to, for every
    /// message).
    pub async fn check_resolved(&self, sub: &PushSubscription) -> Result<(), &'static str> {
        let (endpoint, _) = endpoint::check(sub, self.allow_http_loopback)?;
        if endpoint.loopback_literal {
            // Only reachable with `allow_http_loopback` (tests).
            return Ok(());
        }
        let host = endpoint.uri.host().unwrap_or("").to_string();
        let port = endpoint.uri.port_u16().unwrap_or(443);
        let lookup = tokio::net::lookup_host((host, port));
        let addrs: Vec<_> = match tokio::time::timeout(self.timeout, lookup).await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(_)) | Err(_) => return Err("endpoint host does not resolve"),
        };
        if !address::all_global(&addrs) {
            return Err("endpoint resolves to a private, loopback or other non-global address");
        }
        Ok(())
    }

    /// The encrypted, VAPID-signed POST of `body` to `sub`, valid for `ttl` seconds.
    fn request(
        &self,
        sub: &PushSubscription,
        body: &[u8],
        ttl: u64,
        now: u64,
    ) -> Result<ureq::http::Request<Vec<u8>>, &'static str> {
        // Checked again at sending: the configuration may have changed since it was stored.
        let (endpoint, keys) = endpoint::check(sub, self.allow_http_loopback)?;
        let auth = web_push_native::Auth::clone_from_slice(&keys.auth);
        let mut request = web_push_native::WebPushBuilder::new(endpoint.uri, keys.p256dh, auth)
            .with_valid_duration(Duration::from_secs(ttl))
            .build(body.to_vec())
            .map_err(|_| "cannot encrypt the message")?;
        let vapid = vapid::authorization(&self.key, &endpoint.origin, &self.subject, now);
        let headers = request.headers_mut();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&vapid).map_err(|_| "cannot build the VAPID header")?,
        );
        headers.insert("urgency", HeaderValue::from_static("high"));
        // The HTTP client frames the body itself.
        headers.remove(header::CONTENT_LENGTH);
        Ok(request)
    }

    /// Sends a message about the new challenge `c` to each of `devices` that has a
    /// subscription, in background tasks; returns at once.
    pub fn notify(self: &Arc<Self>, state: &Shared, c: &Challenge, devices: &[String]) {
        let message = PushMessage {
            kind: "challenge".into(),
            txid: c.txid.clone(),
            user: c.user.clone(),
            hostname: c.hostname.clone(),
            service: c.service.clone(),
            expires_at: c.expires_at,
        };
        let Ok(body) = serde_json::to_vec(&message) else { return };
        let body: Arc<[u8]> = body.into();
        let ctx = Context { host: c.host_id.clone(), user: c.user.clone(), txid: c.txid.clone() };
        for device in devices {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                audit(
                    state,
                    &ctx,
                    device,
                    "web_push.dropped",
                    "dropped",
                    "too many messages in flight",
                );
                continue;
            };
            let task = Task {
                push: self.clone(),
                state: state.clone(),
                ctx: ctx.clone(),
                device: device.clone(),
                body: body.clone(),
                expires_at: c.expires_at,
            };
            tokio::spawn(task.run(permit));
        }
    }
}

/// One message to one device.
struct Task {
    push: Arc<WebPush>,
    state: Shared,
    ctx: Context,
    device: String,
    body: Arc<[u8]>,
    expires_at: u64,
}

impl Task {
    async fn run(self, permit: OwnedSemaphorePermit) {
        let sub = match self.state.store.push_subscription(&self.device).await {
            Ok(Some(sub)) => sub,
            Ok(None) => return,
            Err(e) => {
                eprintln!("mfa-server: reading a push subscription: {e}");
                return self.audit("web_push.failed", "failed", "database error");
            }
        };
        let now = crate::time::now();
        let ttl = self.expires_at.saturating_sub(now);
        if ttl == 0 {
            return;
        }
        let request = match self.push.request(&sub, &self.body, ttl, now) {
            Ok(r) => r,
            Err(reason) => return self.audit("web_push.failed", "failed", reason),
        };
        let (agent, timeout) = (self.push.agent.clone(), self.push.timeout);
        let sending = tokio::task::spawn_blocking(move || {
            // The permit lives as long as the blocking thread does.
            let _permit = permit;
            send::post(&agent, request, timeout)
        });
        // ureq enforces the timeout; this is the backstop should it not.
        let outcome = match tokio::time::timeout(timeout + Duration::from_secs(5), sending).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Failed("sending task failed"),
            Err(_) => Outcome::Failed("push service did not answer in time"),
        };
        match outcome {
            Outcome::Accepted => self.audit("web_push.sent", "accepted", "push service accepted"),
            Outcome::Gone(_) => {
                match self
                    .state
                    .store
                    .delete_push_subscription(&self.device, Some(&sub.endpoint))
                    .await
                {
                    Ok(_) => {}
                    Err(e) => eprintln!("mfa-server: deleting a push subscription: {e}"),
                }
                self.audit(
                    "web_push.unsubscribed",
                    "removed",
                    "push service says the subscription is gone",
                );
            }
            Outcome::Failed(reason) => self.audit("web_push.failed", "failed", reason),
        }
    }

    fn audit(&self, event: &str, outcome: &str, reason: &str) {
        audit(&self.state, &self.ctx, &self.device, event, outcome, reason);
    }
}

fn audit(state: &Shared, ctx: &Context, device: &str, event: &str, outcome: &str, reason: &str) {
    state.audit.record(&Event {
        event,
        host: Some(&ctx.host),
        user: Some(&ctx.user),
        device: Some(device),
        txid: Some(&ctx.txid),
        outcome,
        reason: Some(reason),
    });
}
