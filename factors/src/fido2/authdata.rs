//! WebAuthn/CTAP2 authenticatorData, parsed from untrusted bytes.
//!
//! ```text
//! rpIdHash (32) | flags (1) | signCount (4, big endian)
//! [attestedCredentialData: aaguid (16) | credentialIdLength (2) | credentialId | COSE_Key]
//! [extensions: CBOR map]
//! ```

use super::Fido2Error;

/// User present.
pub const FLAG_UP: u8 = 0x01;
/// User verified (PIN or biometrics).
pub const FLAG_UV: u8 = 0x04;
/// Attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// A parsed authenticatorData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthData {
    /// SHA-256 of the RP id.
    pub rp_id_hash: [u8; 32],
    /// Flags byte.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
    /// For registrations: the new credential.
    pub attested: Option<AttestedCredential>,
}

/// The credential created by a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// Authenticator model id.
    pub aaguid: [u8; 16],
    /// Credential id.
    pub credential_id: Vec<u8>,
    /// The public key as COSE_Key CBOR bytes (exactly as sent).
    pub public_key: Vec<u8>,
}

fn malformed(m: &str) -> Fido2Error {
    Fido2Error::Malformed(format!("authenticatorData: {m}"))
}

/// Length of the single CBOR item at the start of `bytes`.
pub(crate) fn cbor_item_len(bytes: &[u8]) -> Result<usize, Fido2Error> {
    let mut cursor = std::io::Cursor::new(bytes);
    let _: ciborium::value::Value = ciborium::de::from_reader_with_recursion_limit(&mut cursor, 16)
        .map_err(|_| malformed("bad CBOR"))?;
    Ok(cursor.position() as usize)
}

impl AuthData {
    /// Parses authenticatorData; trailing bytes that are not announced by a flag are refused.
    pub fn parse(bytes: &[u8]) -> Result<AuthData, Fido2Error> {
        if bytes.len() < 37 {
            return Err(malformed("shorter than 37 bytes"));
        }
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&bytes[..32]);
        let flags = bytes[32];
        let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
        let mut rest = &bytes[37..];
        let attested = if flags & FLAG_AT != 0 {
            if rest.len() < 18 {
                return Err(malformed("truncated attested credential data"));
            }
            let mut aaguid = [0u8; 16];
            aaguid.copy_from_slice(&rest[..16]);
            let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            rest = &rest[18..];
            if id_len == 0 || id_len > 1023 || rest.len() < id_len {
                return Err(malformed("bad credential id length"));
            }
            let credential_id = rest[..id_len].to_vec();
            rest = &rest[id_len..];
            let key_len = cbor_item_len(rest)?;
            let public_key = rest[..key_len].to_vec();
            rest = &rest[key_len..];
            Some(AttestedCredential { aaguid, credential_id, public_key })
        } else {
            None
        };
        if flags & FLAG_ED != 0 {
            let ext_len = cbor_item_len(rest)?;
            rest = &rest[ext_len..];
        }
        if !rest.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        Ok(AuthData { rp_id_hash, flags, sign_count, attested })
    }

    /// Builds authenticatorData bytes (used by the software authenticator).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.rp_id_hash.to_vec();
        out.push(self.flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(a) = &self.attested {
            out.extend_from_slice(&a.aaguid);
            out.extend_from_slice(&(a.credential_id.len() as u16).to_be_bytes());
            out.extend_from_slice(&a.credential_id);
            out.extend_from_slice(&a.public_key);
        }
        out
    }
}
