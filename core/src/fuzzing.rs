//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//!
//! This module exists only for fuzzing. It makes reachable, unchanged, the store decoders that
//! the production API keeps private (the encrypted file envelope and the JSON record payload),
//! so the fuzzers can feed them bytes without a file system. It is not built without the
//! feature, is not a supported API, and neither the module nor `mfa-enroll` uses it.

use crate::error::Result;
use crate::store::{KEY_LEN, MasterKey, UserRecord, codec};
use crate::username::UserName;
use std::path::Path;
use zeroize::Zeroizing;

/// The path named in error messages of the decoders (there is no real file).
const INPUT: &str = "<fuzz input>";

/// A fixed master key for fuzzing (never a real key).
pub fn test_master_key() -> MasterKey {
    MasterKey::from_bytes([0x5a; KEY_LEN])
}

/// Decodes a store file's bytes as `Store::load` does once the file is read: header checks,
/// XChaCha20-Poly1305 open, JSON record decode (with the record's user checked).
pub fn decode_store_file(master: &MasterKey, user: &UserName, data: &[u8]) -> Result<UserRecord> {
    codec::decode_file(master, user, data, Path::new(INPUT))
}

/// Decodes a decrypted record payload (JSON) for `user`, as `Store::load` does.
pub fn decode_record(plain: &[u8], user: &UserName) -> Result<UserRecord> {
    codec::decode_payload(plain, user, Path::new(INPUT))
}

/// Encrypts `plain` as a store file for `user` (fresh random nonce), as `UserLock::save` does.
pub fn seal_store_file(master: &MasterKey, user: &UserName, plain: &[u8]) -> Result<Vec<u8>> {
    codec::seal(master, user, plain)
}

/// Serializes a record to its JSON payload, as `UserLock::save` does before encrypting it.
pub fn encode_record(record: &UserRecord) -> Zeroizing<Vec<u8>> {
    codec::encode(record)
}
