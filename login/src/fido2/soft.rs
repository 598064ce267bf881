//! A software CTAP2 authenticator — **for tests only**, selected by the documented test-only
//! configuration key `fido2.test_device` (every use is logged as a warning by the login flow).
//!
//! Its keys and counters live in a JSON file (root-only, like the store), so `mfa-enroll` and
//! the PAM module, in different processes, see the same "device". A `fault` field makes it
//! misbehave the way a broken or malicious key could, for the tamper tests.

use super::authdata::{AttestedCredential, AuthData, FLAG_AT, FLAG_UP, FLAG_UV};
use super::cose::PublicKey;
use super::device::{Authenticator, Login, Registration};
use super::verify::Assertion;
use super::{Fido2Error, b64, unb64};
use crate::secure_fs::{self, FilePolicy, SecureDir};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    credentials: Vec<SoftCredential>,
    /// The device PIN (user verification), if one is set.
    #[serde(default)]
    pin: Option<String>,
    /// `ES256` (default) or `EdDSA` for new credentials.
    #[serde(default)]
    algorithm: Option<String>,
    /// Misbehaviour for tests: absent, timeout, wrong_rp, tamper_auth_data, tamper_signature,
    /// no_up, no_uv, counter_back, replay, unknown_credential, zero_counter.
    #[serde(default)]
    fault: Option<String>,
    /// The last assertion (for the `replay` fault).
    #[serde(default)]
    last: Option<(String, String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SoftCredential {
    id: String,
    rp_id: String,
    algorithm: String,
    private_key: String,
    counter: u32,
}

/// The file-backed software authenticator.
#[derive(Debug)]
pub struct SoftAuthenticator {
    path: PathBuf,
    state: State,
}

fn device_err(m: impl Into<String>) -> Fido2Error {
    Fido2Error::Device(format!("test device: {}", m.into()))
}

fn random32() -> Result<[u8; 32], Fido2Error> {
    let mut b = [0u8; 32];
    crate::random::fill(&mut b).map_err(|e| device_err(e.to_string()))?;
    Ok(b)
}

enum Key {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Key {
    fn generate(algorithm: &str) -> Result<(Key, [u8; 32]), Fido2Error> {
        loop {
            let bytes = random32()?;
            if let Ok(k) = Key::from_bytes(algorithm, &bytes) {
                return Ok((k, bytes));
            }
        }
    }

    fn from_bytes(algorithm: &str, bytes: &[u8; 32]) -> Result<Key, Fido2Error> {
        match algorithm {
            "ES256" => p256::ecdsa::SigningKey::from_bytes(&(*bytes).into())
                .map(Key::Es256)
                .map_err(|_| device_err("bad key")),
            "EdDSA" => Ok(Key::EdDsa(ed25519_dalek::SigningKey::from_bytes(bytes))),
            other => Err(device_err(format!("unknown algorithm {other}"))),
        }
    }

    fn public(&self) -> PublicKey {
        match self {
            Key::Es256(k) => PublicKey::Es256(*k.verifying_key()),
            Key::EdDsa(k) => PublicKey::EdDsa(k.verifying_key()),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Key::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            Key::EdDsa(k) => {
                use ed25519_dalek::Signer;
                k.sign(message).to_bytes().to_vec()
            }
        }
    }
}

impl SoftAuthenticator {
    /// Opens the device file (an empty device if it does not exist yet).
    pub fn open(path: &Path) -> Result<SoftAuthenticator, Fido2Error> {
        let state = if path.exists() {
            let bytes = secure_fs::read_file(path, FilePolicy::secret(1 << 20))
                .map_err(|e| device_err(e.to_string()))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| device_err(format!("bad state file: {e}")))?
        } else {
            State::default()
        };
        Ok(SoftAuthenticator { path: path.to_path_buf(), state })
    }

    /// Sets (or clears) the misbehaviour for the next operations and saves it.
    pub fn set_fault(&mut self, fault: Option<&str>) -> Result<(), Fido2Error> {
        self.state.fault = fault.map(str::to_string);
        self.save()
    }

    /// Sets the device PIN (user verification) and saves it.
    pub fn set_pin(&mut self, pin: Option<&str>) -> Result<(), Fido2Error> {
        self.state.pin = pin.map(str::to_string);
        self.save()
    }

    /// Chooses the algorithm of new credentials (`ES256` or `EdDSA`) and saves it.
    pub fn set_algorithm(&mut self, algorithm: &str) -> Result<(), Fido2Error> {
        self.state.algorithm = Some(algorithm.to_string());
        self.save()
    }

    fn save(&self) -> Result<(), Fido2Error> {
        let dir = self.path.parent().ok_or_else(|| device_err("no directory"))?;
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| device_err("bad file name"))?;
        let text = serde_json::to_vec_pretty(&self.state).map_err(|e| device_err(e.to_string()))?;
        SecureDir::open(dir)
            .and_then(|d| d.write_atomic(name, &text))
            .map_err(|e| device_err(e.to_string()))
    }

    fn fault(&self, name: &str) -> bool {
        self.state.fault.as_deref() == Some(name)
    }

    fn check_uv(
        &self,
        requested: bool,
        pin: Option<&zeroize::Zeroizing<String>>,
    ) -> Result<bool, Fido2Error> {
        if !requested {
            return Ok(false);
        }
        match (&self.state.pin, pin) {
            (Some(p), Some(given)) if p == given.as_str() => Ok(true),
            (Some(_), Some(_)) => Err(Fido2Error::Pin("wrong PIN".into())),
            (Some(_), None) => Err(Fido2Error::Pin("PIN required".into())),
            (None, _) => Ok(true), // built-in verification (think fingerprint)
        }
    }
}

impl Authenticator for SoftAuthenticator {
    fn make_credential(&mut self, r: &Registration<'_>) -> Result<Vec<u8>, Fido2Error> {
        if self.fault("absent") {
            return Err(Fido2Error::NoDevice);
        }
        let uv = self.check_uv(r.user_verification, r.pin)?;
        let algorithm = self.state.algorithm.clone().unwrap_or_else(|| "ES256".into());
        let (key, private) = Key::generate(&algorithm)?;
        let id = random32()?.to_vec();
        let data = AuthData {
            rp_id_hash: Sha256::digest(r.rp_id.as_bytes()).into(),
            flags: FLAG_UP | FLAG_AT | if uv { FLAG_UV } else { 0 },
            sign_count: 0,
            attested: Some(AttestedCredential {
                aaguid: [0; 16],
                credential_id: id.clone(),
                public_key: key.public().to_cose(),
            }),
        };
        self.state.credentials.push(SoftCredential {
            id: b64(&id),
            rp_id: r.rp_id.to_string(),
            algorithm,
            private_key: b64(&private),
            counter: 0,
        });
        self.save()?;
        Ok(data.encode())
    }

    fn get_assertion(&mut self, r: &Login<'_>) -> Result<Assertion, Fido2Error> {
        if self.fault("absent") {
            return Err(Fido2Error::NoDevice);
        }
        if self.fault("timeout") {
            return Err(Fido2Error::Timeout);
        }
        if self.fault("replay") {
            let (id, data, sig) =
                self.state.last.clone().ok_or_else(|| device_err("nothing to replay"))?;
            return Ok(Assertion {
                credential_id: unb64(&id)?,
                auth_data: unb64(&data)?,
                signature: unb64(&sig)?,
            });
        }
        let uv = self.check_uv(r.user_verification, r.pin)? && !self.fault("no_uv");
        let unknown = self.fault("unknown_credential");
        let index = if unknown {
            None
        } else {
            let ids: Vec<String> = r.allow_list.iter().map(|i| b64(i)).collect();
            Some(
                self.state
                    .credentials
                    .iter()
                    .position(|c| ids.contains(&c.id) && c.rp_id == r.rp_id)
                    .ok_or_else(|| device_err("no matching credential on this key"))?,
            )
        };
        let (id, key, counter) = match index {
            Some(i) => {
                let c = &mut self.state.credentials[i];
                if !matches!(self.state.fault.as_deref(), Some("zero_counter")) {
                    c.counter += 1;
                }
                let counter =
                    if self.state.fault.as_deref() == Some("counter_back") { 1 } else { c.counter };
                let private: [u8; 32] =
                    unb64(&c.private_key)?.try_into().map_err(|_| device_err("bad key"))?;
                (unb64(&c.id)?, Key::from_bytes(&c.algorithm, &private)?, counter)
            }
            None => (random32()?.to_vec(), Key::generate("ES256")?.0, 1),
        };
        let rp_id = if self.fault("wrong_rp") { "evil.example" } else { r.rp_id };
        let mut flags = if self.fault("no_up") { 0 } else { FLAG_UP };
        if uv {
            flags |= FLAG_UV;
        }
        let data = AuthData {
            rp_id_hash: Sha256::digest(rp_id.as_bytes()).into(),
            flags,
            sign_count: counter,
            attested: None,
        };
        let mut auth_data = data.encode();
        let mut message = auth_data.clone();
        message.extend_from_slice(&super::device::client_data_hash(r.challenge));
        let mut signature = key.sign(&message);
        if self.fault("tamper_auth_data") {
            auth_data[36] ^= 0x01; // the counter's last byte, after signing
        }
        if self.fault("tamper_signature") {
            let last = signature.len() - 1;
            signature[last] ^= 0x01;
        }
        self.state.last = Some((b64(&id), b64(&auth_data), b64(&signature)));
        self.save()?;
        Ok(Assertion { credential_id: id, auth_data, signature })
    }
}
