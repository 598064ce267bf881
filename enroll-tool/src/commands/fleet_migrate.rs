//! `mfa-enroll migrate-to-fleet [--user U | --all] [--dry-run]` (root, issue 20): uploads a
//! standalone host's records to the fleet's service (`[fleet]` in the configuration) as one
//! [`Change::Migrate`] per user: the TOTP secret with its parameters and watermark, the unused
//! recovery codes' Argon2id hashes, and the security keys registered for the fleet's RP id
//! (`[fleet] rp_id`). The service applies it only to a user without factors there (a conflict
//! otherwise: nothing sent into the record, nothing overwritten). Push devices, keys for
//! another RP id and imported scratch codes cannot move; they are reported. The records are
//! read through the store's API under each user's lock and stay on the host.

use crate::cli::{Cli, MigrateArgs};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use mfa_login::fleet::FleetConfig;
use mfa_login::login::{Clock, SystemClock};
use mfa_login::push::PushError;
use mfa_login::store::{Store, UserRecord};
use mfa_login::username::{UserName, log_safe};
use mfa_remote::fleet::FleetClient;
use push_proto::api::errors as api_errors;
use push_proto::fleet_enroll::{Change, EnrollRequest, TotpAlgorithm, errors};
use push_proto::fleet_migrate::{
    MigratedCode, MigratedKey, MigratedTotp, Migration, errors as migrate_errors,
};
use std::io::Write;

/// What became of one user.
enum Outcome {
    /// Sent and applied (or, with `--dry-run`, would be sent): what, and what stays behind.
    Migrated { what: String, dry_run: bool },
    /// The user has factors at the service already: nothing sent into the record.
    Conflict,
    /// The service (or the local record) refused: why.
    Refused(String),
    /// The service could not be reached or did not answer.
    Outage(String),
}

/// One user's migration and what cannot move.
struct Planned {
    migration: Migration,
    left: Vec<String>,
}

fn plan(record: &UserRecord, rp_id: Option<&str>) -> Planned {
    let mut left = Vec::new();
    let totp = record.totp.as_ref().map(|t| MigratedTotp {
        secret: t.secret.to_base32().to_string(),
        algorithm: match t.params.algorithm.name() {
            "SHA256" => TotpAlgorithm::Sha256,
            "SHA512" => TotpAlgorithm::Sha512,
            _ => TotpAlgorithm::Sha1,
        },
        digits: t.params.digits,
        step: t.params.step,
        last_step: t.last_used_step,
    });
    let mut recovery = Vec::new();
    if let Some(r) = &record.recovery {
        for (slot, hash) in r.slots.iter().enumerate() {
            if let (Some(hash), Ok(slot)) = (hash, u8::try_from(slot)) {
                recovery.push(MigratedCode { slot, hash: hash.clone() });
            }
        }
        if r.legacy.as_ref().is_some_and(|l| l.macs.iter().flatten().next().is_some()) {
            left.push("imported scratch codes: make new recovery codes".into());
        }
    }
    let mut keys = Vec::new();
    for k in &record.fido2 {
        if Some(k.rp_id.as_str()) == rp_id {
            keys.push(MigratedKey {
                name: k.name.clone(),
                credential_id: k.credential_id.clone(),
                public_key: k.public_key.clone(),
                rp_id: k.rp_id.clone(),
                sign_count: k.sign_count,
                user_verification: k.user_verification,
                created: k.created,
            });
        } else {
            left.push(format!(
                "security key {} (RP id {}): register again on the fleet",
                log_safe(&k.name),
                log_safe(&k.rp_id)
            ));
        }
    }
    if !record.push.is_empty() {
        left.push(format!("{} push device(s): pair again", record.push.len()));
    }
    Planned { migration: Migration { totp, recovery, keys }, left }
}

fn what(m: &Migration) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &m.totp {
        let mark = t.last_step.map_or_else(|| "none used".into(), |s| format!("step {s}"));
        parts.push(format!("TOTP (watermark {mark})"));
    }
    parts.push(format!("{} recovery code(s)", m.recovery.len()));
    parts.push(format!("{} security key(s)", m.keys.len()));
    parts.join(", ")
}

fn send(client: &FleetClient, user: &UserName, m: Migration) -> Result<Outcome> {
    let req = EnrollRequest {
        user: user.as_str().into(),
        time: SystemClock.now()?,
        nonce: push_proto::random_token(32).map_err(|e| Error::Aborted(format!("random: {e}")))?,
        proof: None,
        change: Change::Migrate(m),
    };
    Ok(match client.migrate(&req) {
        Ok(_) => Outcome::Migrated { what: String::new(), dry_run: false },
        Err(PushError::Refused { code, .. }) if code == migrate_errors::ALREADY_ENROLLED => {
            Outcome::Conflict
        }
        Err(PushError::Refused { code, message }) => Outcome::Refused(match code.as_str() {
            errors::HOST_NOT_ALLOWED => "this host is outside the user's host groups".into(),
            errors::NOT_OPTED_IN => "the admin has not opted the user in at the service".into(),
            api_errors::RATE_LIMITED => "rate limited at the service: run again in a minute".into(),
            _ => format!("{code}: {}", log_safe(&message)),
        }),
        Err(PushError::Outage(m) | PushError::Unavailable(m)) => Outcome::Outage(m),
    })
}

/// Migrates one user (or reports what would be sent); the record is read under its lock and
/// the lock held while the service applies it, so no login here moves the watermark meanwhile.
fn one(store: &Store, fc: &FleetConfig, client: Option<&FleetClient>, user: &UserName) -> Outcome {
    let lock = match store.lock(user) {
        Ok(lock) => lock,
        Err(e) => return Outcome::Refused(format!("the local record cannot be locked: {e}")),
    };
    let record = match lock.load() {
        Ok(Some(r)) => r,
        Ok(None) => return Outcome::Refused("no standalone record".into()),
        Err(e) => return Outcome::Refused(format!("malformed local record: {e}")),
    };
    let Planned { migration, left } = plan(&record, fc.rp_id.as_deref());
    if let Err(why) = migration.validate() {
        return Outcome::Refused(format!("local record: {why}; {}", left.join("; ")));
    }
    let mut text = what(&migration);
    if !left.is_empty() {
        text.push_str(&format!("; not moved: {}", left.join("; ")));
    }
    let Some(client) = client else { return Outcome::Migrated { what: text, dry_run: true } };
    match send(client, user, migration) {
        Ok(Outcome::Migrated { dry_run, .. }) => Outcome::Migrated { what: text, dry_run },
        Ok(other) => other,
        Err(e) => Outcome::Outage(e.to_string()),
    }
}

fn line(user: &UserName, o: &Outcome) -> String {
    match o {
        Outcome::Migrated { what, dry_run: false } => format!("{user}: migrated ({what})"),
        Outcome::Migrated { what, dry_run: true } => format!("{user}: would migrate ({what})"),
        Outcome::Conflict => format!(
            "{user}: conflict (the user already has factors at the service: nothing sent, \
             nothing overwritten)"
        ),
        Outcome::Refused(why) => format!("{user}: refused ({why})"),
        Outcome::Outage(why) => format!("{user}: outage ({why}); nothing changed at the service"),
    }
}

/// Runs `migrate-to-fleet`: one line per user on standard output; exit status 1 if any user
/// was not migrated (with `--dry-run`: would not be).
pub(crate) fn run(cli: &Cli, args: &MigrateArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    if args.all == cli.user.is_some() {
        return Err(Error::Usage("name one user with --user, or --all".into()));
    }
    let cfg = load_config(cli)?;
    let fc = cfg.fleet.as_ref().ok_or_else(|| {
        Error::Usage("no [fleet] table in the configuration: add it first (docs/fleet.md)".into())
    })?;
    let store = open_store(&cfg)?;
    let users = if args.all {
        let names = store.users()?;
        names.iter().map(|n| UserName::parse(n)).collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        vec![target_user(cli)?]
    };
    let client = if args.dry_run {
        None
    } else {
        Some(FleetClient::new(fc).map_err(|e| Error::Aborted(format!("the fleet service: {e}")))?)
    };
    let mut failed = 0usize;
    for user in &users {
        let outcome = one(&store, fc, client.as_ref(), user);
        failed += usize::from(!matches!(outcome, Outcome::Migrated { .. }));
        writeln!(out, "{}", line(user, &outcome)).map_err(Error::stdout)?;
    }
    if failed > 0 {
        return Err(Error::Partial(format!("{failed} of {} user(s) not migrated", users.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_login::fido2::Fido2Credential;
    use mfa_login::push::PushDevice;
    use mfa_login::recovery::RecoveryCodes;
    use mfa_login::secret::SecretBytes;
    use mfa_login::store::TotpFactor;
    use mfa_login::totp::Params;

    fn key(name: &str, rp_id: &str) -> Fido2Credential {
        Fido2Credential {
            name: name.into(),
            credential_id: "AAEC".into(),
            public_key: "pQECAyYg".into(),
            rp_id: rp_id.into(),
            sign_count: 7,
            user_verification: true,
            created: 5,
        }
    }

    #[test]
    fn plan_sends_watermark_unused_codes_and_fleet_keys_and_reports_the_rest() {
        let user = UserName::parse("alice").unwrap();
        let mut r = UserRecord::new(&user, 1);
        r.totp = Some(TotpFactor {
            secret: SecretBytes::new(vec![7; 20]),
            params: Params::default(),
            enrolled: 1,
            last_used_step: Some(42),
            window: None,
        });
        let mut codes = RecoveryCodes { generated: 1, slots: vec![None; 10], legacy: None };
        codes.slots[0] = Some("$argon2id$a".into());
        codes.slots[7] = Some("$argon2id$b".into());
        r.recovery = Some(codes);
        r.fido2 = vec![key("blue", "pam://fleet"), key("red", "pam://web1")];
        r.push = vec![PushDevice {
            id: "d".into(),
            name: "phone".into(),
            public_key: "k".into(),
            added: 1,
            passkey: None,
        }];
        let p = plan(&r, Some("pam://fleet"));
        assert_eq!(p.migration.totp.as_ref().unwrap().last_step, Some(42));
        let slots: Vec<u8> = p.migration.recovery.iter().map(|c| c.slot).collect();
        assert_eq!(slots, [0, 7]);
        assert_eq!(p.migration.keys.len(), 1);
        assert_eq!(
            (p.migration.keys[0].name.as_str(), p.migration.keys[0].sign_count),
            ("blue", 7)
        );
        assert!(p.left.iter().any(|l| l.contains("red") && l.contains("register again")));
        assert!(p.left.iter().any(|l| l.contains("pair again")));
        assert!(what(&p.migration).contains("watermark step 42"));
        // Without the fleet's RP id on the host, no key is sent.
        assert!(plan(&r, None).migration.keys.is_empty());
    }
}
