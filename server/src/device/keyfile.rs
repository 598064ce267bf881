//! The device's key file (JSON, mode 0600, created by `pair`, never overwritten).

use push_proto::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Contents of the key file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Format version (1).
    pub version: u32,
    /// The service's base URL.
    pub service_url: String,
    /// This device's id at the service.
    pub device_id: String,
    /// The user it belongs to.
    pub user: String,
    /// The name it gave itself.
    pub name: String,
    /// The device's private key (32-byte scalar, base64url). Secret.
    pub private_key: String,
    /// The service's public key (checks challenge signatures).
    pub service_key: String,
    /// The CA file that signed the service's certificate (absolute path), if any.
    pub ca_file: Option<PathBuf>,
}

impl KeyFile {
    /// Reads and checks the key file (it must be private to its owner).
    pub fn load(path: &Path) -> Result<KeyFile, String> {
        let bytes = zeroize::Zeroizing::new(crate::files::read_private(path, 16 * 1024)?);
        let k: KeyFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a device key file: {e}", path.display()))?;
        if k.version != 1 {
            return Err(format!("{}: unsupported version {}", path.display(), k.version));
        }
        k.secret()?;
        k.service()?;
        Ok(k)
    }

    /// Writes a new key file (mode 0600; refuses to overwrite).
    pub fn save_new(&self, path: &Path) -> Result<(), String> {
        let mut text =
            zeroize::Zeroizing::new(serde_json::to_string_pretty(self).map_err(|e| e.to_string())?);
        text.push('\n');
        crate::files::write_new_private(path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The device key.
    pub fn secret(&self) -> Result<SecretKey, String> {
        SecretKey::decode(&self.private_key).map_err(|e| format!("device key: {e}"))
    }

    /// The service key.
    pub fn service(&self) -> Result<PublicKey, String> {
        PublicKey::decode(&self.service_key).map_err(|e| format!("service key: {e}"))
    }
}
