//! The encrypted file format (version 1), specified in `docs/store-format.md`.
//!
//! ```text
//! "PAMMFA" | version (1 byte) | reserved (1 byte, 0) | nonce (24 bytes) | ciphertext+tag
//! ```
//! XChaCha20-Poly1305 with key = HKDF-SHA256(master, info = "pam_mfa/v1/" || user) and
//! AAD = the 8-byte header || "user:" || user, so a file renamed or copied to another user's name
//! does not decrypt, and the version cannot be changed.
//!
//! A fleet host's offline file for a user ([`Kind::Offline`], issue 21) uses the same format
//! with `"pam_mfa/v1/offline/"` in the key's info and `"offline:"` in the AAD, so a user
//! record and an offline file never open as each other.

use super::master_key::MasterKey;
use crate::error::{Error, Result};
use crate::username::UserName;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::path::Path;
use zeroize::Zeroizing;

/// File magic.
pub const MAGIC: &[u8; 6] = b"PAMMFA";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..6].copy_from_slice(MAGIC);
    h[6] = FORMAT_VERSION;
    h
}

/// What a sealed file holds: it selects the key and the AAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A user record (`users/<name>`).
    Record,
    /// A fleet host's offline state for a user (`offline/<name>`).
    Offline,
}

impl Kind {
    fn info(self) -> &'static [u8] {
        match self {
            Kind::Record => b"pam_mfa/v1/",
            Kind::Offline => b"pam_mfa/v1/offline/",
        }
    }

    fn aad_label(self) -> &'static [u8] {
        match self {
            Kind::Record => b"user:",
            Kind::Offline => b"offline:",
        }
    }
}

fn cipher_for(master: &MasterKey, kind: Kind, user: &UserName) -> XChaCha20Poly1305 {
    let mut info = kind.info().to_vec();
    info.extend_from_slice(user.as_str().as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::from_prk(master.prk())
        .unwrap_or_else(|_| unreachable!("the PRK is SHA-256's output length"))
        .expand(&info, key.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    XChaCha20Poly1305::new(Key::from_slice(key.as_ref()))
}

fn aad(kind: Kind, user: &UserName) -> Vec<u8> {
    let mut a = header().to_vec();
    a.extend_from_slice(kind.aad_label());
    a.extend_from_slice(user.as_str().as_bytes());
    a
}

/// Encrypts a record's plaintext for `user` with a fresh random nonce.
pub(super) fn seal(master: &MasterKey, user: &UserName, plain: &[u8]) -> Result<Vec<u8>> {
    seal_as(master, Kind::Record, user, plain)
}

/// Encrypts `plain`, a file of `kind`, for `user` with a fresh random nonce.
pub(super) fn seal_as(
    master: &MasterKey,
    kind: Kind,
    user: &UserName,
    plain: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce)?;
    let ct = cipher_for(master, kind, user)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: &aad(kind, user) })
        .map_err(|_| Error::Invalid("encryption failed".into()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
    out.extend_from_slice(&header());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Checks the header and decrypts a user record; any mismatch is [`Error::Corrupt`].
pub(super) fn open(
    master: &MasterKey,
    user: &UserName,
    data: &[u8],
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>> {
    open_as(master, Kind::Record, user, data, path)
}

/// Checks the header and decrypts a file of `kind`; any mismatch is [`Error::Corrupt`].
pub(super) fn open_as(
    master: &MasterKey,
    kind: Kind,
    user: &UserName,
    data: &[u8],
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(Error::corrupt(path, "truncated"));
    }
    if &data[..6] != MAGIC {
        return Err(Error::corrupt(path, "not a pam_mfa store file (bad magic)"));
    }
    if data[6] != FORMAT_VERSION || data[7] != 0 {
        return Err(Error::corrupt(path, format!("unsupported format version {}", data[6])));
    }
    let nonce = XNonce::from_slice(&data[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    let ct = &data[HEADER_LEN + NONCE_LEN..];
    cipher_for(master, kind, user)
        .decrypt(nonce, Payload { msg: ct, aad: &aad(kind, user) })
        .map(Zeroizing::new)
        .map_err(|_| {
            Error::corrupt(
                path,
                "authentication failed (corrupt, wrong master key, or another user's file)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_bytes([b; 32])
    }

    #[test]
    fn round_trip_and_every_tamper_is_refused() {
        let alice = UserName::parse("alice").unwrap();
        let bob = UserName::parse("bob").unwrap();
        let p = Path::new("/x");
        let sealed = seal(&key(1), &alice, b"secret record").unwrap();
        assert_eq!(&open(&key(1), &alice, &sealed, p).unwrap()[..], b"secret record");
        // Another user's name, another master key.
        assert!(open(&key(1), &bob, &sealed, p).is_err());
        assert!(open(&key(2), &alice, &sealed, p).is_err());
        // Every single-byte flip and every truncation.
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(open(&key(1), &alice, &t, p).is_err(), "flip at {i}");
        }
        for n in 0..sealed.len() {
            assert!(open(&key(1), &alice, &sealed[..n], p).is_err(), "truncated to {n}");
        }
        // A record does not open as an offline file, nor the other way round.
        assert!(open_as(&key(1), Kind::Offline, &alice, &sealed, p).is_err());
        let offline = seal_as(&key(1), Kind::Offline, &alice, b"offline").unwrap();
        assert!(open(&key(1), &alice, &offline, p).is_err());
        assert_eq!(&open_as(&key(1), Kind::Offline, &alice, &offline, p).unwrap()[..], b"offline");
        // Two seals of the same data differ (fresh nonce).
        assert_ne!(seal(&key(1), &alice, b"x").unwrap(), seal(&key(1), &alice, b"x").unwrap());
    }

    /// The master key keeps only its HKDF pseudorandom key; the file keys must stay what
    /// `Hkdf::new(None, raw key)` derived before, or existing stores would no longer open.
    #[test]
    fn records_sealed_with_the_raw_key_derivation_still_open() {
        let alice = UserName::parse("alice").unwrap();
        let mut file_key = [0u8; 32];
        Hkdf::<Sha256>::new(None, &[7u8; 32]).expand(b"pam_mfa/v1/alice", &mut file_key).unwrap();
        let nonce = [9u8; NONCE_LEN];
        let ct = XChaCha20Poly1305::new(Key::from_slice(&file_key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload { msg: b"old record", aad: &aad(Kind::Record, &alice) },
            )
            .unwrap();
        let sealed = [&header()[..], &nonce, &ct].concat();
        assert_eq!(&open(&key(7), &alice, &sealed, Path::new("/x")).unwrap()[..], b"old record");
    }
}
