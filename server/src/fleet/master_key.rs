//! The service master key of fleet mode (`<data_dir>/fleet.key`, mode 0600), created on first
//! start beside the service key and never stored in the database: a dump of the database alone
//! reveals no TOTP secret. Every instance of one fleet needs the same file (like
//! `service.key`).
//!
//! TOTP secrets are sealed with XChaCha20-Poly1305 under HKDF-SHA256(master, info
//! `pam_mfa-fleet/v1/totp`), with the scope, user and TOTP parameters as associated data, so a
//! sealed secret moved to another user's row (or with its digits or step changed) does not
//! open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::path::Path;
use zeroize::Zeroizing;

/// Bytes of key material in the file.
const KEY_LEN: usize = 32;
/// Version byte in front of every sealed secret.
const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The master key (zeroized when dropped).
pub struct MasterKey {
    totp: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// What a TOTP secret is bound to when sealed.
#[derive(Clone, Copy, Debug)]
pub struct TotpBinding<'a> {
    /// The fleet scope of the record.
    pub scope: &'a str,
    /// The user.
    pub user: &'a str,
    /// HMAC algorithm name (`SHA1`, ...).
    pub algorithm: &'a str,
    /// Code length.
    pub digits: u8,
    /// Seconds per step.
    pub step: u64,
}

impl TotpBinding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut out = vec![SEALED_VERSION];
        for f in [
            self.scope,
            self.user,
            self.algorithm,
            &self.digits.to_string(),
            &self.step.to_string(),
        ] {
            let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        out
    }
}

impl MasterKey {
    /// A master key from its file's bytes (already decoded).
    fn from_bytes(master: &[u8; KEY_LEN]) -> MasterKey {
        let mut totp = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(None, master)
            .expand(b"pam_mfa-fleet/v1/totp", totp.as_mut())
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
        MasterKey { totp }
    }

    /// A fresh random key (tests).
    pub fn generate() -> Result<MasterKey, String> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::getrandom(k.as_mut()).map_err(|e| format!("no randomness: {e}"))?;
        Ok(MasterKey::from_bytes(&k))
    }

    /// Loads the key at `path`, creating it (mode 0600) if missing.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, String> {
        if !path.exists() {
            let mut k = Zeroizing::new([0u8; KEY_LEN]);
            getrandom::getrandom(k.as_mut()).map_err(|e| format!("no randomness: {e}"))?;
            let text = Zeroizing::new(format!("{}\n", push_proto::b64(k.as_ref())));
            match crate::files::write_new_private(path, text.as_bytes()) {
                Ok(()) => return Ok(MasterKey::from_bytes(&k)),
                // Someone else created it meanwhile: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        MasterKey::load(path)
    }

    /// Loads the existing key at `path`.
    pub fn load(path: &Path) -> Result<MasterKey, String> {
        let bytes = Zeroizing::new(crate::files::read_private(path, 4096)?);
        let bad = || format!("{}: not a fleet master key (32 bytes, base64url)", path.display());
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let raw = Zeroizing::new(push_proto::unb64(text.trim()).ok_or_else(bad)?);
        let k: Zeroizing<[u8; KEY_LEN]> =
            Zeroizing::new(raw.as_slice().try_into().map_err(|_| bad())?);
        Ok(MasterKey::from_bytes(&k))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.totp.as_ref()))
    }

    /// Seals a TOTP secret for `to`: version byte, random nonce, ciphertext and tag.
    pub fn seal_totp(&self, to: &TotpBinding<'_>, secret: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let ct = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &to.aad() })
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a secret sealed by [`MasterKey::seal_totp`] for the same binding; `None` if it
    /// was sealed for another user, scope or parameters, under another key, or was altered.
    pub fn open_totp(&self, to: &TotpBinding<'_>, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEALED_VERSION {
            return None;
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &to.aad() })
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(user: &'a str) -> TotpBinding<'a> {
        TotpBinding { scope: "fleet", user, algorithm: "SHA1", digits: 6, step: 30 }
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user_scope_parameters_and_key() {
        let k = MasterKey::generate().unwrap();
        let sealed = k.seal_totp(&binding("alice"), b"secret bytes").unwrap();
        assert_eq!(k.open_totp(&binding("alice"), &sealed).unwrap().as_slice(), b"secret bytes");
        assert!(k.open_totp(&binding("bob"), &sealed).is_none());
        assert!(
            k.open_totp(&TotpBinding { scope: "other", ..binding("alice") }, &sealed).is_none()
        );
        assert!(k.open_totp(&TotpBinding { digits: 8, ..binding("alice") }, &sealed).is_none());
        assert!(MasterKey::generate().unwrap().open_totp(&binding("alice"), &sealed).is_none());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(k.open_totp(&binding("alice"), &flipped).is_none());
        assert!(k.open_totp(&binding("alice"), &sealed[..10]).is_none());
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.key");
        let a = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
            .unwrap();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = a.seal_totp(&binding("alice"), b"s").unwrap();
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(b.open_totp(&binding("alice"), &sealed).unwrap().as_slice(), b"s");
        assert!(!format!("{a:?}").contains(&push_proto::b64(a.totp.as_ref())));
    }
}
