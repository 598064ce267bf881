//! `fleet user add-key` / `remove-key`: put a user's security key at the service without
//! enrollment (a credential as pam_mfa stores it on a host), or take it away. Nothing secret
//! exists here (public keys and counters only).

use super::{Admin, e};
use crate::fleet::keys::fleet_key;
use mfa_factors::fido2::Fido2Credential;
use serde::Deserialize;
use std::path::Path;

/// A credential file: one credential as in a user record's `fido2` list, or that list.
#[derive(Deserialize)]
#[serde(untagged)]
enum CredentialFile {
    One(Fido2Credential),
    Many(Vec<Fido2Credential>),
}

impl Admin {
    /// `fleet user add-key`: registers every credential of `file` for the user; none if one is
    /// refused (another RP id, a malformed key, one the user has already).
    pub async fn fleet_add_key(
        &self,
        scope: &str,
        user: &str,
        file: &Path,
    ) -> Result<String, String> {
        super::fleet::check_user(scope, user)?;
        let bytes = crate::files::read_private(file, 256 * 1024)?;
        let creds = match serde_json::from_slice(&bytes)
            .map_err(|err| format!("{}: {err}", file.display()))?
        {
            CredentialFile::One(c) => vec![c],
            CredentialFile::Many(v) => v,
        };
        let have = self.store.fleet_keys(scope, user).await.map_err(e)?;
        if creds.is_empty() || have.len() + creds.len() > push_proto::fleet_keys::MAX_KEYS {
            return Err(format!(
                "{}: no credential, or more than {} keys for the user",
                file.display(),
                push_proto::fleet_keys::MAX_KEYS
            ));
        }
        let now = crate::time::now();
        let rp_id = &self.config.fleet.rp_id;
        let keys = creds
            .iter()
            .map(|c| fleet_key(c, scope, user, rp_id, now))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(k) =
            keys.iter().find(|k| have.iter().any(|h| h.credential_id == k.credential_id))
        {
            return Err(format!("{user} has the key {} already", k.credential_id));
        }
        for k in &keys {
            self.store.add_fleet_key(k).await.map_err(e)?;
            self.audit_fleet("fleet.user.key_added", user, &k.credential_id);
        }
        Ok(format!("{} security key(s) added for {user} in fleet scope {scope}", keys.len()))
    }

    /// `fleet user remove-key`.
    pub async fn fleet_remove_key(
        &self,
        scope: &str,
        user: &str,
        credential_id: &str,
    ) -> Result<String, String> {
        super::fleet::check_user(scope, user)?;
        if !self.store.remove_fleet_key(scope, user, credential_id).await.map_err(e)? {
            return Err(format!("{user} has no key {credential_id} in fleet scope {scope}"));
        }
        self.audit_fleet("fleet.user.key_removed", user, credential_id);
        Ok(format!("key {credential_id} removed for {user} in fleet scope {scope}"))
    }

    /// `fleet host join` / `leave`: puts the active host `name` into the fleet's push scope
    /// or takes it out ([`crate::scope::push_scope`]).
    pub async fn fleet_host_push(&self, name: &str, join: bool) -> Result<String, String> {
        let hosts = self.store.hosts().await.map_err(e)?;
        let host = hosts
            .iter()
            .find(|h| h.name == name && h.revoked_at.is_none())
            .ok_or_else(|| format!("no active host named {name}"))?;
        let now = crate::time::now();
        let changed = self.store.set_fleet_push_host(&host.id, join, now).await.map_err(e)?;
        let (event, what) = if join {
            ("fleet.host.push_joined", "joined the fleet's push scope")
        } else {
            ("fleet.host.push_left", "is its own push scope")
        };
        self.audit.record(&crate::audit::Event {
            event,
            host: Some(&host.id),
            outcome: if changed { "ok" } else { "unchanged" },
            ..crate::audit::Event::default()
        });
        Ok(format!("host {name} {what}{}", if changed { "" } else { " (already)" }))
    }
}
