//! The service's P-256 signing key (`<data_dir>/service.key`, mode 0600), created on first
//! start. Hosts pin its public half; devices receive it when they pair.

use push_proto::SecretKey;
use std::path::Path;

/// Loads the key at `path`, creating it if missing.
pub fn load_or_create(path: &Path) -> Result<SecretKey, String> {
    if !path.exists() {
        let key = SecretKey::generate().map_err(|e| e.to_string())?;
        let mut text = key.encode();
        text.push('\n');
        match crate::files::write_new_private(path, text.as_bytes()) {
            Ok(()) => return Ok(key),
            // Someone else created it meanwhile: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    let bytes = zeroize::Zeroizing::new(crate::files::read_private(path, 4096)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
    SecretKey::decode(text).map_err(|e| format!("{}: {e}", path.display()))
}
