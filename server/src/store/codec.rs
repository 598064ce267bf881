//! Column encodings shared by the backends: statuses and decisions as text, times as signed
//! 64-bit integers, hashes as 32-byte blobs, choices as `"a,b,c"`.

use super::{Result, StoreError};
use push_proto::api::{Decision, PasskeyAssertion, Status};

/// A time or counter as the databases store it.
pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored time or counter (negative ones, which we never write, read as 0).
pub(crate) fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The stored text of a status.
pub(crate) fn status_text(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Approved => "approved",
        Status::Denied => "denied",
        Status::Fraud => "fraud",
        Status::Expired => "expired",
        Status::Cancelled => "cancelled",
    }
}

/// A stored status.
pub(crate) fn parse_status(s: &str) -> Result<Status> {
    Ok(match s {
        "pending" => Status::Pending,
        "approved" => Status::Approved,
        "denied" => Status::Denied,
        "fraud" => Status::Fraud,
        "expired" => Status::Expired,
        "cancelled" => Status::Cancelled,
        _ => return Err(StoreError::Db(format!("unknown status {s:?} in the database"))),
    })
}

/// A stored decision.
pub(crate) fn parse_decision(s: &str) -> Result<Decision> {
    Ok(match s {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        "fraud" => Decision::Fraud,
        _ => return Err(StoreError::Db(format!("unknown decision {s:?} in the database"))),
    })
}

/// A stored SHA-256 hash.
pub(crate) fn hash32(v: Vec<u8>) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| StoreError::Db("stored hash is not 32 bytes".into()))
}

/// A stored number (0..=99).
pub(crate) fn small(v: i64) -> Result<u8> {
    u8::try_from(v).map_err(|_| StoreError::Db("stored number out of range".into()))
}

/// The stored text of the choices (empty when the user types the number).
pub(crate) fn choices_text(choices: &[u8]) -> String {
    push_proto::signed::choices_text(choices)
}

/// Stored choices.
pub(crate) fn parse_choices(s: &str) -> Result<Vec<u8>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|c| c.parse::<u8>().map_err(|_| StoreError::Db("stored choices malformed".into())))
        .collect()
}

/// The stored JSON of a passkey assertion.
pub(crate) fn passkey_text(a: Option<&PasskeyAssertion>) -> Result<Option<String>> {
    a.map(|a| {
        serde_json::to_string(a).map_err(|e| StoreError::Db(format!("passkey assertion: {e}")))
    })
    .transpose()
}

/// A stored passkey assertion.
pub(crate) fn parse_passkey(s: Option<String>) -> Result<Option<PasskeyAssertion>> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|_| StoreError::Db("stored passkey malformed".into()))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            Status::Pending,
            Status::Approved,
            Status::Denied,
            Status::Fraud,
            Status::Expired,
            Status::Cancelled,
        ] {
            assert_eq!(parse_status(status_text(s)).unwrap(), s);
        }
        assert_eq!(parse_choices(&choices_text(&[7, 42, 0])).unwrap(), vec![7, 42, 0]);
        assert_eq!(parse_choices(&choices_text(&[])).unwrap(), Vec::<u8>::new());
        assert!(parse_choices("1,,2").is_err());
        assert!(parse_status("approved ").is_err());
        assert!(small(256).is_err() && hash32(vec![0; 31]).is_err());
        assert_eq!((i(u64::MAX), u(-1)), (i64::MAX, 0));
    }
}
