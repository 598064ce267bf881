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

/// A user database for fuzzing, without NSS: `alice` is uid 1000, every other user name is an
/// account of its own, every group exists (gid = its length), and an account is a member of
/// the groups whose name has an even length.
pub struct FuzzDirectory;

impl crate::account::Directory for FuzzDirectory {
    fn user_by_name(&self, name: &str) -> Result<Option<crate::account::PasswdEntry>> {
        let uid = if name == "alice" { 1000 } else { 2000 + name.len() as u32 };
        Ok(Some(crate::account::PasswdEntry { name: name.to_string(), uid, gid: 100 }))
    }
    fn user_by_uid(&self, uid: u32) -> Result<Option<crate::account::PasswdEntry>> {
        let name = if uid == 1000 { "alice".to_string() } else { format!("u{uid}") };
        Ok(Some(crate::account::PasswdEntry { name, uid, gid: 100 }))
    }
    fn group_by_name(&self, name: &str) -> Result<Option<u32>> {
        Ok(Some(name.len() as u32))
    }
    fn group_ids(&self, _account: &crate::account::Account) -> Result<Vec<u32>> {
        Ok((0..64).filter(|l| l % 2 == 0).collect())
    }
}
