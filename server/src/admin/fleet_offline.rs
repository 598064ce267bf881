//! `fleet offline ...` (issue 21): the offline bundles the service issued, revoking them, and
//! marking a host eligible for a user's bundle without a login there. Nothing secret is kept
//! about a bundle, so nothing secret is printed.

use super::fleet::check_user;
use super::{Admin, e, when};
use crate::fleet::offline::Offline;
use crate::fleet::offline_windows::{Refreshed, WindowOf, refresh};
use crate::store::Host;
use serde_json::{Value, json};
use std::sync::Arc;

/// `fleet user show`'s line of bundles: `host until time, ...`, or `none`.
pub(super) fn bundles_text(v: &Value) -> String {
    let held: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            format!(
                "{} until {}",
                b["host"].as_str().unwrap_or_default(),
                when(b["expires_at"].as_u64())
            )
        })
        .collect();
    if held.is_empty() { "none".into() } else { held.join(", ") }
}

impl Admin {
    /// Any host (active or revoked) named `name`.
    async fn host_named(&self, name: &str) -> Result<Host, String> {
        let hosts = self.store.hosts().await.map_err(e)?;
        hosts.into_iter().find(|h| h.name == name).ok_or_else(|| format!("no host named {name:?}"))
    }

    /// The bundles issued in `scope` (of `user`, to host id `host_id`) as JSON.
    pub(super) async fn offline_json(
        &self,
        scope: &str,
        user: Option<&str>,
        host_id: Option<&str>,
    ) -> Result<Value, String> {
        let bundles = self.store.offline_bundles(scope, user, host_id).await.map_err(e)?;
        if bundles.is_empty() {
            // `fleet user list` asks for every user: no host list read for most of them.
            return Ok(Value::Array(Vec::new()));
        }
        let hosts = self.store.hosts().await.map_err(e)?;
        let now = crate::time::now();
        let list: Vec<Value> = bundles
            .iter()
            .map(|b| {
                let name = hosts.iter().find(|h| h.id == b.host_id).map(|h| h.name.as_str());
                json!({
                    "user": b.user, "host": name.unwrap_or(&b.host_id), "host_id": b.host_id,
                    "issued_at": b.issued_at, "expires_at": b.expires_at,
                    "last_step": b.last_step, "expired": b.expires_at <= now,
                })
            })
            .collect();
        Ok(Value::Array(list))
    }

    /// `fleet offline list`.
    pub async fn offline_list(
        &self,
        scope: &str,
        user: Option<&str>,
        host: Option<&str>,
        as_json: bool,
    ) -> Result<String, String> {
        super::fleet::check_scope(scope)?;
        if let Some(u) = user {
            check_user(scope, u)?;
        }
        let host_id = match host {
            Some(name) => Some(self.host_named(name).await?.id),
            None => None,
        };
        let v = self.offline_json(scope, user, host_id.as_deref()).await?;
        if as_json {
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out = format!(
            "{:<24} {:<24} {:<20} {:<20} {}\n",
            "USER", "HOST", "ISSUED", "EXPIRES", "STEP"
        );
        for b in v.as_array().into_iter().flatten() {
            out += &format!(
                "{:<24} {:<24} {:<20} {:<20} {}\n",
                b["user"].as_str().unwrap_or_default(),
                b["host"].as_str().unwrap_or_default(),
                when(b["issued_at"].as_u64()),
                when(b["expires_at"].as_u64()),
                b["last_step"].as_u64().map_or_else(|| "-".to_string(), |s| s.to_string())
            );
        }
        Ok(out)
    }

    /// `fleet offline revoke`.
    pub async fn offline_revoke(
        &self,
        scope: &str,
        user: &str,
        host: Option<&str>,
    ) -> Result<String, String> {
        check_user(scope, user)?;
        let h = match host {
            Some(name) => Some(self.host_named(name).await?),
            None => None,
        };
        let id = h.as_ref().map(|h| h.id.as_str());
        let n = self.store.revoke_offline(scope, user, id).await.map_err(e)?;
        let on = host.map_or_else(|| "every host".to_string(), |name| format!("host {name}"));
        self.audit_admin("fleet.offline.revoked", Some(user), id, &format!("{scope}: {on}"));
        Ok(format!(
            "offline bundles of {user} revoked on {on} ({n} issued): dropped at each host's next \
             contact, none until the user's next online login there"
        ))
    }

    /// `fleet offline mark`: then makes the user's TOTP window for the host (waiting for
    /// it, seconds), so that the host's next request gets a fresh bundle at once. A window
    /// not made is said, and not an error: the host's next request starts one.
    pub async fn offline_mark(
        &self,
        scope: &str,
        user: &str,
        host: &str,
    ) -> Result<String, String> {
        check_user(scope, user)?;
        let h = self.active_host(host).await?;
        self.store.mark_offline(&h.id, scope, user, crate::time::now()).await.map_err(e)?;
        self.audit_admin("fleet.offline.marked", Some(user), Some(&h.id), scope);
        let window = match self.offline_window(&WindowOf::new(&h.id, scope, user)).await {
            Ok(Refreshed::Made) => "; its TOTP window is made".to_string(),
            Ok(_) => String::new(),
            Err(why) => format!(
                "; its TOTP window is not made yet ({why}): the host's next request starts it"
            ),
        };
        Ok(format!(
            "host {host} may fetch the offline bundle of {user} (fleet scope {scope}){window}"
        ))
    }

    /// Makes `of`'s TOTP window if due, as the service would in the background.
    async fn offline_window(&self, of: &WindowOf) -> Result<Refreshed, String> {
        let offline = Offline::new(self.config.offline.clone());
        let master = Arc::new(self.master()?);
        refresh(&*self.store, &master, &offline, of).await.map_err(|e| e.0)
    }
}
