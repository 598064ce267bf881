//! Single-use recovery codes.
//!
//! A code looks like `3-7KQ2M-9XD4P`: a non-secret index (0–9) and ten Crockford base32
//! characters (50 bits). Only an Argon2id hash of each code is stored, in the slot named by its
//! index, so checking an attempt costs exactly one hash verification. A used code's slot is
//! emptied; regenerating replaces all ten.

use crate::error::{Error, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Number of codes in a set.
pub const CODE_COUNT: usize = 10;
const SECRET_LEN: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `intro` followed by the codes, one per indented line, for showing them once.
pub fn listing(intro: &str, codes: &[Zeroizing<String>]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(intro));
    for c in codes {
        text.push_str("\n    ");
        text.push_str(c);
    }
    text
}

/// The stored hashes of a user's recovery codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodes {
    /// When the set was made (Unix seconds).
    pub generated: u64,
    /// One Argon2id PHC string per index; `None` once used.
    pub slots: Vec<Option<String>>,
    /// Imported eight-digit scratch codes (google-authenticator), if any.
    #[serde(default)]
    pub legacy: Option<LegacyCodes>,
}

/// Imported eight-digit scratch codes, kept as HMAC-SHA256 under a random per-set key and
/// compared in constant time. (Argon2 per code would cost up to ten slow hashes per attempt,
/// since these codes carry no index; the record itself is encrypted.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyCodes {
    /// The HMAC key.
    pub key: crate::secret::SecretBytes,
    /// Hex HMAC of each code; `None` once used.
    pub macs: Vec<Option<String>>,
}

impl LegacyCodes {
    fn mac(key: &[u8], code: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(code.as_bytes());
        data_encoding::HEXLOWER.encode(&m.finalize().into_bytes())
    }

    /// Protects imported scratch codes.
    pub fn new(codes: &[Zeroizing<String>]) -> Result<LegacyCodes> {
        let key = crate::secret::SecretBytes::new(crate::random::secret_bytes(32)?.to_vec());
        let macs = codes.iter().map(|c| Some(Self::mac(key.expose(), c))).collect();
        Ok(LegacyCodes { key, macs })
    }
}

/// A recovery code as typed by a user, normalized.
pub struct Attempt {
    kind: Kind,
}

enum Kind {
    Indexed { index: usize, secret: Zeroizing<String> },
    Legacy(Zeroizing<String>),
}

impl Attempt {
    /// Normalizes user input: spaces and dashes dropped, case folded, and the letters that are
    /// easy to mistype mapped as in Crockford base32 (O→0, I/L→1). `None` if it cannot be a
    /// recovery code at all.
    pub fn parse(input: &str) -> Option<Attempt> {
        let norm: Zeroizing<String> = Zeroizing::new(
            input
                .chars()
                .filter(|c| *c != '-' && !c.is_whitespace())
                .map(|c| match c.to_ascii_uppercase() {
                    'O' => '0',
                    'I' | 'L' => '1',
                    c => c,
                })
                .collect(),
        );
        let bytes = norm.as_bytes();
        if bytes.len() != 1 + SECRET_LEN || !bytes[0].is_ascii_digit() {
            return None;
        }
        if !bytes[1..].iter().all(|b| ALPHABET.contains(b)) {
            return None;
        }
        Some(Attempt {
            kind: Kind::Indexed {
                index: usize::from(bytes[0] - b'0'),
                secret: Zeroizing::new(norm[1..].to_string()),
            },
        })
    }

    /// An imported eight-digit scratch code (spaces ignored). `None` if `input` is not eight
    /// digits.
    pub fn legacy(input: &str) -> Option<Attempt> {
        let code: Zeroizing<String> =
            Zeroizing::new(input.chars().filter(|c| !c.is_whitespace()).collect());
        (code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Attempt { kind: Kind::Legacy(code) })
    }
}

/// What happened to a recovery-code attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Valid and now used up; this many codes remain.
    Accepted {
        /// Unused codes left.
        remaining: usize,
    },
    /// Not a valid unused code.
    Rejected,
}

fn hasher() -> Argon2<'static> {
    // Argon2id v19 with the crate defaults (19 MiB, 2 passes, 1 lane): ~30-40 ms here.
    Argon2::default()
}

/// Whether `phc` is a recovery-code hash as [`RecoveryCodes::generate`] makes it: Argon2id
/// v19 with its parameters and a 32-byte output. A hash from elsewhere (a migrated host) is
/// accepted only so: other parameters could make each verification cost far more.
pub fn is_standard_hash(phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else { return false };
    let Ok(params) = argon2::Params::try_from(&h) else { return false };
    let ours = argon2::Params::default();
    h.algorithm == argon2::Algorithm::Argon2id.ident()
        && h.version == Some(argon2::Version::V0x13.into())
        && params.m_cost() == ours.m_cost()
        && params.t_cost() == ours.t_cost()
        && params.p_cost() == ours.p_cost()
        && h.salt.is_some()
        && h.hash.is_some_and(|o| o.len() == argon2::Params::DEFAULT_OUTPUT_LEN)
}

impl RecoveryCodes {
    /// Makes a new set: returns the codes to show the user once, and the hashes to store.
    pub fn generate(now: u64) -> Result<(Vec<Zeroizing<String>>, RecoveryCodes)> {
        let mut shown = Vec::with_capacity(CODE_COUNT);
        let mut slots = Vec::with_capacity(CODE_COUNT);
        for index in 0..CODE_COUNT {
            let mut secret = Zeroizing::new(String::with_capacity(SECRET_LEN));
            for _ in 0..SECRET_LEN {
                secret.push(ALPHABET[crate::random::below(32)? as usize] as char);
            }
            let mut salt = [0u8; 16];
            crate::random::fill(&mut salt)?;
            let salt = SaltString::encode_b64(&salt)
                .map_err(|e| Error::Invalid(format!("recovery code salt: {e}")))?;
            let hash = hasher()
                .hash_password(secret.as_bytes(), &salt)
                .map_err(|e| Error::Invalid(format!("recovery code hash: {e}")))?;
            slots.push(Some(hash.to_string()));
            shown.push(Zeroizing::new(format!("{index}-{}-{}", &secret[..5], &secret[5..])));
        }
        Ok((shown, RecoveryCodes { generated: now, slots, legacy: None }))
    }

    /// Unused codes left.
    pub fn remaining(&self) -> usize {
        let legacy = self.legacy.as_ref().map_or(0, |l| l.macs.iter().flatten().count());
        self.slots.iter().filter(|s| s.is_some()).count() + legacy
    }

    /// Checks an attempt with one Argon2id verification; on success the code is used up
    /// (the caller must then save the record before reporting success).
    pub fn redeem(&mut self, attempt: &Attempt) -> Check {
        let (index, secret) = match &attempt.kind {
            Kind::Indexed { index, secret } => (*index, secret),
            Kind::Legacy(code) => return self.redeem_legacy(code),
        };
        let Some(Some(phc)) = self.slots.get(index) else {
            return Check::Rejected;
        };
        let ok = PasswordHash::new(phc)
            .map(|h| hasher().verify_password(secret.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        if !ok {
            return Check::Rejected;
        }
        self.slots[index] = None;
        Check::Accepted { remaining: self.remaining() }
    }

    fn redeem_legacy(&mut self, code: &str) -> Check {
        use subtle::ConstantTimeEq;
        let Some(legacy) = self.legacy.as_mut() else {
            return Check::Rejected;
        };
        let mac = LegacyCodes::mac(legacy.key.expose(), code);
        // Compare with every slot, without stopping early.
        let mut found = None;
        for (i, slot) in legacy.macs.iter().enumerate() {
            if let Some(stored) = slot {
                if bool::from(stored.as_bytes().ct_eq(mac.as_bytes())) && found.is_none() {
                    found = Some(i);
                }
            }
        }
        match found {
            Some(i) => {
                legacy.macs[i] = None;
                Check::Accepted { remaining: self.remaining() }
            }
            None => Check::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_work_once_and_regeneration_invalidates() {
        let (shown, mut set) = RecoveryCodes::generate(1).unwrap();
        assert_eq!(shown.len(), 10);
        assert_eq!(set.remaining(), 10);
        let first = Attempt::parse(&shown[0]).unwrap();
        assert_eq!(set.redeem(&first), Check::Accepted { remaining: 9 });
        assert_eq!(set.redeem(&first), Check::Rejected);
        // Lower case and without dashes also works.
        let lower = shown[4].to_lowercase().replace('-', " ");
        assert_eq!(set.redeem(&Attempt::parse(&lower).unwrap()), Check::Accepted { remaining: 8 });
        // A code from another set is refused, even with the right index.
        let (other, _) = RecoveryCodes::generate(2).unwrap();
        assert_eq!(set.redeem(&Attempt::parse(&other[1]).unwrap()), Check::Rejected);
        let (_, mut regenerated) = RecoveryCodes::generate(3).unwrap();
        assert_eq!(regenerated.redeem(&Attempt::parse(&shown[2]).unwrap()), Check::Rejected);
    }

    #[test]
    fn imported_scratch_codes_work_once() {
        let codes: Vec<Zeroizing<String>> =
            ["14546698", "69669468"].iter().map(|c| Zeroizing::new(c.to_string())).collect();
        let mut set = RecoveryCodes {
            generated: 1,
            slots: vec![],
            legacy: Some(LegacyCodes::new(&codes).unwrap()),
        };
        assert_eq!(set.remaining(), 2);
        assert_eq!(
            set.redeem(&Attempt::legacy("1454 6698").unwrap()),
            Check::Accepted { remaining: 1 }
        );
        assert_eq!(set.redeem(&Attempt::legacy("14546698").unwrap()), Check::Rejected);
        assert_eq!(set.redeem(&Attempt::legacy("00000000").unwrap()), Check::Rejected);
        assert!(Attempt::legacy("1234567").is_none() && Attempt::legacy("1234567a").is_none());
    }

    #[test]
    fn standard_hashes_only() {
        let (_, set) = RecoveryCodes::generate(1).unwrap();
        let phc = set.slots[0].clone().unwrap();
        assert!(is_standard_hash(&phc));
        let costly = phc.replace("m=19456", "m=4194304");
        assert!(!is_standard_hash(&costly));
        assert!(!is_standard_hash(&phc.replace("argon2id", "argon2i")));
        assert!(!is_standard_hash("$argon2id$v=19$m=19456,t=2,p=1$garbage"));
    }

    #[test]
    fn code_format() {
        let (shown, _) = RecoveryCodes::generate(1).unwrap();
        for (i, c) in shown.iter().enumerate() {
            assert_eq!(c.len(), 13);
            assert!(c.starts_with(&format!("{i}-")));
            assert_eq!(&c[7..8], "-");
        }
    }

    #[test]
    fn parse_rejects_non_codes() {
        for bad in [
            "",
            "123456",
            "12345678",
            "3-7KQ2M-9XD4",
            "3-7KQ2M-9XD4PP",
            "A-7KQ2M-9XD4P",
            "3-7KQ2M-9XD4U",
        ] {
            assert!(Attempt::parse(bad).is_none(), "{bad}");
        }
        assert!(Attempt::parse("3-okq2m-9xd4p").is_some());
    }
}
