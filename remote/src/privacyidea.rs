//! A client for privacyIDEA's validation API: `/validate/check` and
//! `/validate/polltransaction`, over [`crate::http::Client`] (rustls, CA from the
//! configuration, per-phase timeouts, no threads).
//!
//! Replies are parsed into a small typed form at the edge. Only an outage is [`PiError::Down`],
//! the case the `failmode` decides: no connection, no answer in time, or a gateway's 502, 503
//! or 504. Everything else is [`PiError::Refused`], always a denial: a TLS failure (a
//! certificate from another CA is what a man in the middle presents), an HTTP 500 or other
//! error status, an oversized or unexpected reply.

use crate::http::{Body, Client, HttpError, Reply};
use mfa_login::privacyidea::{
    Challenge, CheckResult, PiError, PollStatus, PrivacyIdeaConfig, sanitize,
};
use serde::Deserialize;
use std::time::Duration;

/// Longest transaction id accepted from the server (privacyIDEA uses 20 digits).
const MAX_TRANSACTION_ID: usize = 64;
#[derive(Deserialize)]
struct RawReply {
    result: RawResult,
    #[serde(default)]
    detail: Option<RawDetail>,
}

#[derive(Deserialize)]
struct RawResult {
    status: bool,
    #[serde(default)]
    authentication: Option<String>,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    multi_challenge: Vec<RawChallenge>,
    #[serde(default)]
    challenge_status: Option<String>,
}

#[derive(Deserialize)]
struct RawChallenge {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    presence_answer: Option<String>,
}

fn valid_transaction_id(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_TRANSACTION_ID && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn valid_presence(p: &str) -> bool {
    !p.is_empty() && p.len() <= 16 && p.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Turns an HTTP reply into the server's JSON, or says whether the service is down.
fn decode(reply: &Reply) -> Result<RawReply, PiError> {
    if crate::http::is_gateway_outage(reply.status) {
        return Err(PiError::Down(format!("HTTP {}", reply.status)));
    }
    if reply.status >= 500 {
        return Err(PiError::Refused(format!("HTTP {} (server error)", reply.status)));
    }
    let raw: RawReply = reply.json().map_err(|e| PiError::Refused(e.to_string()))?;
    if !raw.result.status {
        let (code, msg) = raw
            .result
            .error
            .as_ref()
            .map(|e| (e.code.unwrap_or(0), sanitize(e.message.as_deref().unwrap_or(""))))
            .unwrap_or((0, String::new()));
        return Err(PiError::Refused(format!("HTTP {}, error {code}: {msg}", reply.status)));
    }
    if reply.status != 200 {
        return Err(PiError::Refused(format!("HTTP {}", reply.status)));
    }
    Ok(raw)
}

/// Parses a `/validate/check` reply.
pub fn parse_check(reply: &Reply) -> Result<CheckResult, PiError> {
    let raw = decode(reply)?;
    let detail = raw.detail.unwrap_or_default();
    let message = sanitize(detail.message.as_deref().unwrap_or(""));
    match raw.result.authentication.as_deref() {
        Some("ACCEPT") if raw.result.value == Some(serde_json::Value::Bool(true)) => {
            Ok(CheckResult::Accept)
        }
        Some("REJECT") => Ok(CheckResult::Reject(message)),
        Some("CHALLENGE") => {
            let Some(tid) = detail.transaction_id.filter(|t| valid_transaction_id(t)) else {
                return Err(PiError::Refused("challenge without a valid transaction id".into()));
            };
            let mut challenges = Vec::new();
            for c in detail.multi_challenge.into_iter().take(16) {
                if c.transaction_id.as_deref().is_some_and(|t| t != tid) {
                    return Err(PiError::Refused("challenges of different transactions".into()));
                }
                let presence_answer = match c.presence_answer {
                    Some(p) if valid_presence(&p) => Some(p),
                    Some(_) => return Err(PiError::Refused("malformed presence answer".into())),
                    None => None,
                };
                challenges.push(Challenge {
                    kind: sanitize(&c.kind),
                    message: sanitize(c.message.as_deref().unwrap_or("")),
                    presence_answer,
                });
            }
            if challenges.is_empty() {
                return Err(PiError::Refused("challenge without challenges".into()));
            }
            Ok(CheckResult::Challenge { transaction_id: tid, challenges })
        }
        _ => Err(PiError::Refused("no ACCEPT, REJECT or CHALLENGE".into())),
    }
}

/// Parses a `/validate/polltransaction` reply.
pub fn parse_poll(reply: &Reply) -> Result<PollStatus, PiError> {
    let raw = decode(reply)?;
    let status = raw.detail.and_then(|d| d.challenge_status);
    match (status.as_deref(), &raw.result.value) {
        (Some("accept"), Some(serde_json::Value::Bool(true))) => Ok(PollStatus::Accepted),
        (Some("declined" | "cancelled"), _) => Ok(PollStatus::Declined),
        (Some("pending"), Some(serde_json::Value::Bool(false))) => Ok(PollStatus::Pending),
        // Before 3.12 the reply had only `value` (true once answered).
        (None, Some(serde_json::Value::Bool(true))) => Ok(PollStatus::Accepted),
        (None, Some(serde_json::Value::Bool(false))) => Ok(PollStatus::Pending),
        _ => Err(PiError::Refused("unknown challenge status".into())),
    }
}

/// A connection to one privacyIDEA server.
pub struct PrivacyIdea {
    client: Client,
    realm: String,
}

fn transport(e: HttpError) -> PiError {
    match e {
        HttpError::Setup(m) => PiError::Setup(m),
        HttpError::Outage(m) => PiError::Down(m),
        HttpError::Transport(m) => PiError::Refused(m),
    }
}

impl PrivacyIdea {
    /// Builds the client (reads and checks the CA file).
    pub fn new(cfg: &PrivacyIdeaConfig) -> Result<PrivacyIdea, PiError> {
        let client = Client::new(&cfg.endpoint()).map_err(transport)?;
        Ok(PrivacyIdea { client, realm: cfg.realm.clone() })
    }

    /// `POST /validate/check` with `user`, `realm`, `pass` and, if given, `transaction_id` and
    /// the client address.
    pub fn check(
        &self,
        user: &str,
        pass: &str,
        transaction_id: Option<&str>,
        client: Option<&str>,
    ) -> Result<CheckResult, PiError> {
        let mut form: Vec<(&str, &str)> = vec![("user", user), ("pass", pass)];
        if !self.realm.is_empty() {
            form.push(("realm", &self.realm));
        }
        if let Some(t) = transaction_id {
            form.push(("transaction_id", t));
        }
        if let Some(c) = client {
            form.push(("client", c));
        }
        let reply = self
            .client
            .request("POST", "/validate/check", &[], Body::Form(&form), Duration::ZERO)
            .map_err(transport)?;
        parse_check(&reply)
    }

    /// `GET /validate/polltransaction?transaction_id=...`.
    pub fn poll(&self, transaction_id: &str) -> Result<PollStatus, PiError> {
        let mut path = String::from("/validate/polltransaction?transaction_id=");
        crate::http::percent_encode_into(&mut path, transaction_id);
        let reply = self
            .client
            .request("GET", &path, &[], Body::Empty, Duration::ZERO)
            .map_err(transport)?;
        parse_poll(&reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply { status, body: body.as_bytes().to_vec() }
    }

    // Shapes as privacyIDEA 3.14 sends them (trimmed).
    const ACCEPT: &str = r#"{"detail":{"message":"matching 1 tokens","serial":"TOTP1","type":"totp"},
        "result":{"authentication":"ACCEPT","status":true,"value":true}}"#;
    const REJECT: &str = r#"{"detail":{"message":"wrong otp value"},
        "result":{"authentication":"REJECT","status":true,"value":false}}"#;
    const PUSH: &str = r#"{"detail":{"client_mode":"poll","message":"Please confirm! Please press: 32",
        "multi_challenge":[{"client_mode":"poll","message":"Please confirm!\nPlease press: 32",
        "presence_answer":"32","serial":"PIPU1","transaction_id":"10300482542286216654","type":"push"}],
        "transaction_id":"10300482542286216654"},
        "result":{"authentication":"CHALLENGE","status":true,"value":false}}"#;

    #[test]
    fn check_replies() {
        assert_eq!(parse_check(&reply(200, ACCEPT)).unwrap(), CheckResult::Accept);
        assert_eq!(
            parse_check(&reply(200, REJECT)).unwrap(),
            CheckResult::Reject("wrong otp value".into())
        );
        match parse_check(&reply(200, PUSH)).unwrap() {
            CheckResult::Challenge { transaction_id, challenges } => {
                assert_eq!(transaction_id, "10300482542286216654");
                assert_eq!(challenges[0].kind, "push");
                assert_eq!(challenges[0].presence_answer.as_deref(), Some("32"));
                assert_eq!(challenges[0].message, "Please confirm! Please press: 32");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_gateway_outages_are_down() {
        for status in [502, 503, 504] {
            assert!(matches!(parse_check(&reply(status, "<html>")), Err(PiError::Down(_))));
        }
        for (status, body) in [
            (500, ACCEPT),
            (500, "<html>"),
            (501, ""),
            (505, ""),
            (200, "<html>"),
            (200, ""),
            (200, r#"{"result":{"status":true,"authentication":"MAYBE","value":true}}"#),
            (200, r#"{"result":{"status":true,"authentication":"ACCEPT","value":false}}"#),
            (200, r#"{"result":{"status":true,"authentication":"ACCEPT"}}"#),
            (400, r#"{"result":{"status":false,"error":{"code":904,"message":"user not found"}}}"#),
            (302, ACCEPT),
            (200, &PUSH.replace("10300482542286216654\"}", "x y\"}")),
            (200, &PUSH.replace("\"32\"", "\"3 2\"")),
            (
                200,
                r#"{"result":{"status":true,"authentication":"CHALLENGE"},"detail":{"transaction_id":"1"}}"#,
            ),
        ] {
            assert!(
                matches!(parse_check(&reply(status, body)), Err(PiError::Refused(_))),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn poll_replies() {
        let p = |status: &str, value: bool| {
            format!(
                r#"{{"detail":{{"challenge_status":"{status}"}},"result":{{"status":true,"value":{value}}}}}"#
            )
        };
        assert_eq!(parse_poll(&reply(200, &p("accept", true))).unwrap(), PollStatus::Accepted);
        assert_eq!(parse_poll(&reply(200, &p("pending", false))).unwrap(), PollStatus::Pending);
        assert_eq!(parse_poll(&reply(200, &p("declined", false))).unwrap(), PollStatus::Declined);
        assert_eq!(parse_poll(&reply(200, &p("cancelled", false))).unwrap(), PollStatus::Declined);
        assert!(parse_poll(&reply(200, &p("accept", false))).is_err(), "contradiction");
        assert!(parse_poll(&reply(200, &p("bogus", false))).is_err());
        assert!(matches!(parse_poll(&reply(503, "")), Err(PiError::Down(_))));
        assert!(matches!(parse_poll(&reply(500, "")), Err(PiError::Refused(_))));
    }

    #[test]
    fn server_text_is_made_safe() {
        assert_eq!(sanitize("a\nb\x1b[31m\"c\\"), "a b [31mc");
        assert_eq!(sanitize(&"x".repeat(500)).len(), mfa_login::privacyidea::MAX_MESSAGE);
    }
}
