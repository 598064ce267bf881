//! Administration commands: hosts, users, devices, straight on the store.

pub mod audit_log;
pub mod fleet;
mod fleet_access;
pub mod fleet_enroll;
pub mod fleet_keys;
mod fleet_offline;

use crate::audit::{Audit, Event};
use crate::config::Config;
use crate::store::{Device, Host, Store, StoreError};
use crate::time::rfc3339;
use push_proto::api::HostCredential;
use serde_json::json;
use std::path::Path;

/// An open store with its audit log and config.
pub struct Admin {
    store: std::sync::Arc<dyn Store>,
    audit: Audit,
    config: Config,
}

fn e(err: StoreError) -> String {
    err.to_string()
}

fn when(t: Option<u64>) -> String {
    t.map_or_else(|| "-".to_string(), rfc3339)
}

impl Admin {
    /// Opens the store named by `config`.
    pub async fn open(config: Config) -> Result<Admin, String> {
        let store = crate::server::open_store(&config).await?;
        let audit = Audit::open(&config.audit_log)?;
        Ok(Admin { store, audit, config })
    }

    /// `host add NAME --out FILE`.
    pub async fn host_add(&self, name: &str, out: &Path) -> Result<String, String> {
        if !push_proto::limits::is_text(name, push_proto::limits::MAX_NAME) {
            return Err("the host name must be 1 to 64 printable characters".into());
        }
        let to_stdout = out == Path::new("-");
        if !to_stdout && (out.exists() || out.symlink_metadata().is_ok()) {
            return Err(format!("{} exists; refusing to overwrite", out.display()));
        }
        let key = crate::service_key::load_or_create(&self.config.key_path())?;
        let token = zeroize::Zeroizing::new(push_proto::random_token(32).map_err(|e| e.0)?);
        let host = Host {
            id: push_proto::random_token(16).map_err(|e| e.0)?,
            name: name.to_string(),
            token_hash: crate::http::auth::secret_hash(&token),
            created_at: crate::time::now(),
            revoked_at: None,
        };
        self.store.add_host(&host).await.map_err(|err| match err {
            StoreError::Conflict(_) => format!("a host named {name:?} exists"),
            other => other.to_string(),
        })?;
        let cred = HostCredential {
            version: 1,
            host_id: host.id.clone(),
            hostname: host.name.clone(),
            token: token.to_string(),
            service_key: key.public().encode(),
        };
        let mut text = zeroize::Zeroizing::new(
            serde_json::to_string_pretty(&cred).map_err(|err| err.to_string())?,
        );
        text.push('\n');
        drop(cred);
        if to_stdout {
            self.audit.record(&Event {
                event: "host.added",
                host: Some(&host.id),
                outcome: "ok",
                reason: Some(name),
                ..Event::default()
            });
            // The credential is the whole output, for `> file` on the host (as root, 0600).
            return Ok(text.trim_end().to_string());
        }
        if let Err(err) = crate::files::write_new_private(out, text.as_bytes()) {
            // Nobody holds the token: revoke the host rather than leave it usable.
            let _ = self.store.revoke_host(name, crate::time::now()).await;
            return Err(format!("{}: {err} (host {name} was revoked again)", out.display()));
        }
        self.audit.record(&Event {
            event: "host.added",
            host: Some(&host.id),
            outcome: "ok",
            reason: Some(name),
            ..Event::default()
        });
        Ok(format!("host {name} added (id {}); credential written to {}", host.id, out.display()))
    }

    /// `host revoke NAME`.
    pub async fn host_revoke(&self, name: &str) -> Result<String, String> {
        let hosts = self.store.hosts().await.map_err(e)?;
        let id = hosts.iter().find(|h| h.name == name).map(|h| h.id.clone());
        if !self.store.revoke_host(name, crate::time::now()).await.map_err(e)? {
            return Err(format!("no active host named {name:?}"));
        }
        self.audit.record(&Event {
            event: "host.revoked",
            host: id.as_deref(),
            outcome: "ok",
            reason: Some(name),
            ..Event::default()
        });
        Ok(format!("host {name} revoked"))
    }

    /// `host list`.
    pub async fn host_list(&self, as_json: bool) -> Result<String, String> {
        let hosts = self.store.hosts().await.map_err(e)?;
        let groups = self.host_groups().await?;
        let groups_of = |h: &Host| -> Vec<&str> {
            groups.iter().filter(|g| g.hosts.contains(&h.id)).map(|g| g.name.as_str()).collect()
        };
        if as_json {
            let v: Vec<_> = hosts
                .iter()
                .map(|h| {
                    json!({"id": h.id, "name": h.name, "created_at": h.created_at,
                           "revoked_at": h.revoked_at, "groups": groups_of(h)})
                })
                .collect();
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out = format!(
            "{:<24} {:<22} {:<20} {:<20} {}\n",
            "NAME", "ID", "CREATED", "REVOKED", "GROUPS"
        );
        for h in &hosts {
            out += &format!(
                "{:<24} {:<22} {:<20} {:<20} {}\n",
                h.name,
                h.id,
                rfc3339(h.created_at),
                when(h.revoked_at),
                groups_of(h).join(",")
            );
        }
        Ok(out)
    }

    /// `user list`.
    pub async fn user_list(&self, as_json: bool) -> Result<String, String> {
        let users = self.store.users().await.map_err(e)?;
        let now = crate::time::now();
        if as_json {
            let v: Vec<_> = users
                .iter()
                .map(|u| {
                    json!({"user": u.user, "active_devices": u.active_devices,
                           "revoked_devices": u.revoked_devices,
                           "cooldown_until": u.cooldown_until.filter(|t| *t > now)})
                })
                .collect();
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out = format!("{:<24} {:>7} {:>8} {}\n", "USER", "DEVICES", "REVOKED", "COOLDOWN");
        for u in users {
            let cd = u.cooldown_until.filter(|t| *t > now);
            out += &format!(
                "{:<24} {:>7} {:>8} {}\n",
                u.user,
                u.active_devices,
                u.revoked_devices,
                when(cd)
            );
        }
        Ok(out)
    }

    /// `device list [--user U]`.
    pub async fn device_list(&self, user: Option<&str>, as_json: bool) -> Result<String, String> {
        let devices: Vec<Device> = self.store.devices(user).await.map_err(e)?;
        if as_json {
            let v: Vec<_> = devices
                .iter()
                .map(|d| {
                    json!({"id": d.id, "user": d.user, "name": d.name,
                           "public_key": d.public_key, "created_at": d.created_at,
                           "revoked_at": d.revoked_at})
                })
                .collect();
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out =
            format!("{:<22} {:<16} {:<20} {:<20} {}\n", "ID", "USER", "NAME", "PAIRED", "REVOKED");
        for d in devices {
            out += &format!(
                "{:<22} {:<16} {:<20} {:<20} {}\n",
                d.id,
                d.user,
                d.name,
                rfc3339(d.created_at),
                when(d.revoked_at)
            );
        }
        Ok(out)
    }

    /// `device revoke ID`.
    pub async fn device_revoke(&self, id: &str) -> Result<String, String> {
        let device = self.store.device(id).await.map_err(e)?;
        if !self.store.revoke_device(id, crate::time::now()).await.map_err(e)? {
            return Err(format!("no active device with id {id:?}"));
        }
        self.audit.record(&Event {
            event: "device.revoked",
            user: device.as_ref().map(|d| d.user.as_str()),
            device: Some(id),
            outcome: "ok",
            ..Event::default()
        });
        Ok(format!("device {id} revoked"))
    }
}
