//! A standalone host's records as the service keeps them (`mfa-enroll migrate-to-fleet`,
//! [`push_proto::fleet_migrate`]): checked and sealed before anything is counted; stored by
//! [`crate::store::fleet_enroll::FleetEnrollStore::enroll`] only for a user without factors.

use super::keys::fleet_key;
use super::master_key::MasterKey;
use crate::store::fleet_enroll::Migrated;
use mfa_factors::fido2::Fido2Credential;
use mfa_factors::recovery::is_standard_hash;
use mfa_factors::secret::SecretBytes;
use mfa_factors::totp::{Algorithm, Params};
use push_proto::fleet_enroll::{MIN_SECRET_BYTES, TotpAlgorithm};
use push_proto::fleet_migrate::{MigratedTotp, Migration};

/// Steps a migrated watermark may be ahead of the service's clock (a host's clock a little
/// ahead, plus its window); a later one is refused rather than locking the secret for long.
pub const MAX_WATERMARK_AHEAD: u64 = 20;

/// Who the records are for.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// Fleet scope.
    pub scope: &'a str,
    /// User.
    pub user: &'a str,
    /// The fleet's RP id.
    pub rp_id: &'a str,
}

fn totp(
    master: &MasterKey,
    who: Owner<'_>,
    t: &MigratedTotp,
    now: u64,
) -> Result<crate::store::fleet::TotpRecord, String> {
    let secret = SecretBytes::from_base32(&t.secret)
        .filter(|s| s.len() >= MIN_SECRET_BYTES)
        .ok_or("secret must be base32 of 16 bytes or more")?;
    let algorithm = match t.algorithm {
        TotpAlgorithm::Sha1 => Algorithm::Sha1,
        TotpAlgorithm::Sha256 => Algorithm::Sha256,
        TotpAlgorithm::Sha512 => Algorithm::Sha512,
    };
    if t.last_step.is_some_and(|s| s > now / t.step + MAX_WATERMARK_AHEAD) {
        return Err("last_step is ahead of the service's clock".into());
    }
    let params = Params { algorithm, digits: t.digits, step: t.step };
    super::totp_record(master, who.scope, who.user, secret.expose(), params, t.last_step, now)
}

/// Checks a migration (secret, watermark, hashes with pam_mfa's Argon2id parameters, keys for
/// the fleet's RP id with a usable public key) and seals the secret. `Err`: what is wrong, for
/// a 400 (nothing secret in it).
pub fn migrated(
    master: &MasterKey,
    who: Owner<'_>,
    m: &Migration,
    now: u64,
) -> Result<Migrated, String> {
    let totp = m.totp.as_ref().map(|t| totp(master, who, t, now)).transpose()?;
    if !m.recovery.iter().all(|c| is_standard_hash(&c.hash)) {
        return Err("a recovery hash is not pam_mfa's Argon2id".into());
    }
    let recovery = m.recovery.iter().map(|c| (c.slot, c.hash.clone())).collect();
    let keys = m
        .keys
        .iter()
        .map(|k| {
            let cred = Fido2Credential {
                name: k.name.clone(),
                credential_id: k.credential_id.clone(),
                public_key: k.public_key.clone(),
                rp_id: k.rp_id.clone(),
                sign_count: k.sign_count,
                user_verification: k.user_verification,
                created: k.created,
            };
            fleet_key(&cred, who.scope, who.user, who.rp_id, now)
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Migrated { totp, recovery, keys })
}
