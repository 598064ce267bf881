//! `fleet user ...`: put a user's TOTP secret and recovery-code hashes into the service (tests
//! today, the migration command later), show and unlock. Nothing secret is printed or audited.

use super::{Admin, e, when};
use crate::audit::Event;
use crate::fleet::master_key::MasterKey;
use mfa_factors::recovery::RecoveryCodes;
use mfa_factors::secret::SecretBytes;
use mfa_factors::totp::{Algorithm, Params};
use std::path::Path;
use zeroize::Zeroizing;

/// The TOTP parameters of `fleet user set-totp`.
#[derive(Clone, Debug)]
pub struct TotpParams {
    /// Code length (6 or 8).
    pub digits: u8,
    /// Seconds per step.
    pub step: u64,
    /// HMAC algorithm name.
    pub algorithm: String,
    /// The watermark to start from.
    pub last_step: Option<u64>,
}

/// Checks a user name and fleet scope from the command line.
pub(super) fn check_user(scope: &str, user: &str) -> Result<(), String> {
    if !push_proto::limits::is_user(user) {
        return Err("the user name is malformed".into());
    }
    check_scope(scope)
}

/// Checks a fleet scope from the command line.
pub(super) fn check_scope(scope: &str) -> Result<(), String> {
    if !push_proto::limits::is_text(scope, push_proto::limits::MAX_NAME) {
        return Err("the scope must be 1 to 64 printable characters".into());
    }
    Ok(())
}

impl Admin {
    pub(super) fn master(&self) -> Result<MasterKey, String> {
        let path = self.config.fleet_key_path();
        if !path.exists() {
            return Err(format!(
                "{} does not exist yet: start the service once (it creates the key)",
                path.display()
            ));
        }
        MasterKey::load(&path)
    }

    pub(super) fn audit_fleet(&self, event: &str, user: &str, reason: &str) {
        self.audit.record(&Event {
            event,
            user: Some(user),
            outcome: "ok",
            reason: Some(reason),
            ..Event::default()
        });
    }

    /// `fleet user set-totp`.
    pub async fn fleet_set_totp(
        &self,
        scope: &str,
        user: &str,
        secret_file: &Path,
        p: &TotpParams,
    ) -> Result<String, String> {
        check_user(scope, user)?;
        let algorithm = Algorithm::from_name(&p.algorithm)
            .ok_or_else(|| "--algorithm must be SHA1, SHA256 or SHA512".to_string())?;
        if !matches!(p.digits, 6 | 8) || !(15..=300).contains(&p.step) {
            return Err("--digits must be 6 or 8 and --step 15 to 300 seconds".into());
        }
        let text = Zeroizing::new(crate::files::read_private(secret_file, 4096)?);
        let text = std::str::from_utf8(&text)
            .map_err(|_| format!("{}: not UTF-8", secret_file.display()))?;
        let secret =
            SecretBytes::from_base32(text.trim()).filter(|s| s.len() >= 10).ok_or_else(|| {
                format!("{}: not a base32 secret of 10 bytes or more", secret_file.display())
            })?;
        let params = Params { algorithm, digits: p.digits, step: p.step };
        let now = crate::time::now();
        let rec = crate::fleet::totp_record(
            &self.master()?,
            scope,
            user,
            secret.expose(),
            params,
            p.last_step,
            now,
        )?;
        self.store.set_totp(&rec).await.map_err(e)?;
        self.audit_fleet("fleet.user.totp_set", user, scope);
        Ok(format!("TOTP set for {user} in fleet scope {scope}"))
    }

    /// `fleet user set-recovery`.
    pub async fn fleet_set_recovery(
        &self,
        scope: &str,
        user: &str,
        hashes_file: &Path,
    ) -> Result<String, String> {
        check_user(scope, user)?;
        let bytes = crate::files::read_private(hashes_file, 64 * 1024)?;
        let set: RecoveryCodes = serde_json::from_slice(&bytes)
            .map_err(|err| format!("{}: {err}", hashes_file.display()))?;
        if set.legacy.is_some() {
            return Err(
                "imported scratch codes (legacy) are not supported in fleet mode yet".into()
            );
        }
        if set.slots.len() > usize::from(u8::MAX) {
            return Err("too many recovery codes".into());
        }
        if !set.slots.iter().flatten().all(|h| h.starts_with("$argon2id$")) {
            return Err("every slot must be an Argon2id hash ($argon2id$...) or null".into());
        }
        let n = set.remaining();
        self.store.set_recovery(scope, user, &set.slots, crate::time::now()).await.map_err(e)?;
        self.audit_fleet("fleet.user.recovery_set", user, scope);
        Ok(format!("{n} recovery codes set for {user} in fleet scope {scope}"))
    }

    /// `fleet user show`.
    pub async fn fleet_show(
        &self,
        scope: &str,
        user: &str,
        as_json: bool,
    ) -> Result<String, String> {
        check_user(scope, user)?;
        let v = self.fleet_user_json(scope, user).await?;
        if as_json {
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let totp = if v["totp"].is_null() {
            "none".to_string()
        } else {
            let t = &v["totp"];
            format!(
                "{} {} digits {} s, last step {}",
                t["algorithm"].as_str().unwrap_or_default(),
                t["digits"],
                t["step"],
                t["last_step"]
            )
        };
        Ok(format!(
            "user {user} (fleet scope {scope})\ntotp: {totp}\nrecovery codes: {} unused, {} used\n\
             security keys: {}\npush devices: {}\nfailures: {}\nlocked until: {}\nhost groups: {}\n\
             offline bundles: {}",
            v["recovery_codes"]["unused"],
            v["recovery_codes"]["used"],
            v["security_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| format!(
                    "{} ({})",
                    k["name"].as_str().unwrap_or_default(),
                    k["credential_id"].as_str().unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", "),
            v["push_devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            v["failures"],
            when(v["locked_until"].as_u64()),
            super::fleet_access::groups_text(&v["groups"]),
            super::fleet_offline::bundles_text(&v["offline_bundles"])
        ))
    }

    /// `fleet user unlock`.
    pub async fn fleet_unlock(&self, scope: &str, user: &str) -> Result<String, String> {
        check_user(scope, user)?;
        self.store.unlock(scope, user).await.map_err(e)?;
        self.audit_fleet("fleet.user.unlocked", user, scope);
        Ok(format!("{user} unlocked in fleet scope {scope}"))
    }
}
