//! pam_u2f authfiles (`user:cred1:cred2…`), so existing keys keep working after migrating.
//!
//! Credentials in the current format (pamu2fcfg ≥ 1.1) are
//! `keyHandle,publicKey,coseType,options` with standard base64 (`es256` keys are the raw
//! 64-byte point, `eddsa` keys 32 bytes) and options such as `+presence`, `+verification`,
//! `+pin`; older files have `keyHandle,publicKey` with a web-safe base64 key handle and a hex
//! 65-byte point. Resident credentials (`*` key handle) are not supported.

use super::cose::PublicKey;
use super::{Fido2Credential, Fido2Error, b64};

/// One credential from an authfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct U2fCredential {
    /// The key handle (credential id).
    pub key_handle: Vec<u8>,
    /// The public key.
    pub public_key: PublicKey,
    /// `+verification` or `+pin`: user verification required.
    pub user_verification: bool,
}

fn bad(m: impl Into<String>) -> Fido2Error {
    Fido2Error::Malformed(format!("pam_u2f authfile: {}", m.into()))
}

fn base64_any(text: &str) -> Result<Vec<u8>, Fido2Error> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .or_else(|_| data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()))
        .or_else(|_| data_encoding::BASE64URL.decode(text.as_bytes()))
        .or_else(|_| data_encoding::BASE64_NOPAD.decode(text.as_bytes()))
        .map_err(|_| bad("bad base64"))
}

fn credential(field: &str) -> Result<U2fCredential, Fido2Error> {
    let parts: Vec<&str> = field.split(',').collect();
    match parts.as_slice() {
        [handle, key] => {
            let key_handle = base64_any(handle)?;
            let point = data_encoding::HEXLOWER_PERMISSIVE
                .decode(key.as_bytes())
                .map_err(|_| bad("bad hex public key"))?;
            Ok(U2fCredential {
                key_handle,
                public_key: PublicKey::from_raw("es256", &point)?,
                user_verification: false,
            })
        }
        [handle, key, cose_type, options] => {
            if *handle == "*" {
                return Err(Fido2Error::Unsupported(
                    "resident credentials (key handle '*')".into(),
                ));
            }
            let key_handle = base64_any(handle)?;
            let public_key = PublicKey::from_raw(cose_type, &base64_any(key)?)?;
            let mut uv = false;
            for opt in options.split('+').filter(|o| !o.is_empty()) {
                match opt {
                    "presence" => {} // presence is always required by pam_mfa
                    "verification" | "pin" => uv = true,
                    other => {
                        return Err(bad(format!(
                            "unknown option '+{}'",
                            other.chars().take(20).collect::<String>()
                        )));
                    }
                }
            }
            Ok(U2fCredential { key_handle, public_key, user_verification: uv })
        }
        _ => Err(bad("a credential has 2 or 4 comma-separated fields")),
    }
}

/// The credentials of `user` in an authfile's text (none if the user has no line).
pub fn parse(text: &str, user: &str) -> Result<Vec<U2fCredential>, Fido2Error> {
    if text.len() > 1 << 20 {
        return Err(bad("larger than 1 MiB"));
    }
    let mut found = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut fields = line.split(':');
        if fields.next() != Some(user) {
            continue;
        }
        for field in fields.filter(|f| !f.is_empty()) {
            found.push(credential(field)?);
        }
    }
    Ok(found)
}

impl U2fCredential {
    /// The credential as pam_mfa stores it, registered for `rp_id` (pam_u2f's origin, by default
    /// `pam://<hostname>`).
    pub fn into_stored(self, name: String, rp_id: &str, now: u64) -> Fido2Credential {
        Fido2Credential {
            name,
            credential_id: b64(&self.key_handle),
            public_key: b64(&self.public_key.to_cose()),
            rp_id: rp_id.to_string(),
            sign_count: 0,
            user_verification: self.user_verification,
            created: now,
        }
    }
}
