//! Device endpoints: list pending challenges (long-poll), answer one.
//!
//! The service checks an answer's device signature over the hash of the login it stored, so
//! it records only answers to what it showed; the host checks the same signature against its
//! own login and the number it chose, which the service never learns.

use super::auth::SignedDevice;
use super::extract::{IdPath, wait_secs};
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::store::{Answer, Challenge, Device};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use push_proto::api::{
    AnswerRequest, AnswerResult, Decision, PendingChallenge, PendingList, Status, errors,
};
use push_proto::signed::{self, ReceiptFields};
use push_proto::{PublicKey, SecretKey};
use std::time::Duration;

/// A pending challenge as a device sees it, signed by the service.
pub fn pending_view(key: &SecretKey, c: &Challenge) -> PendingChallenge {
    let mut view = PendingChallenge {
        txid: c.txid.clone(),
        host_id: c.host_id.clone(),
        hostname: c.hostname.clone(),
        user: c.user.clone(),
        service: c.service.clone(),
        rhost: c.rhost.clone(),
        time: c.time,
        nonce: c.nonce.clone(),
        choices: c.choices.clone(),
        expires_at: c.expires_at,
        signature: String::new(),
    };
    view.signature = key.sign(&view.signed_bytes());
    view
}

/// `GET /v2/device/challenges?wait=N`.
pub async fn pending(
    State(state): State<Shared>,
    uri: Uri,
    SignedDevice { device, .. }: SignedDevice,
) -> Result<Response, ApiError> {
    let wait = wait_secs(uri.query(), state.limits.max_wait)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let key = format!("dev:{}", device.id);
    let found = state
        .hub
        .wait_for(&key, deadline, || async {
            let list = state.store.pending_for_device(&device.id, crate::time::now()).await?;
            Ok::<_, ApiError>((!list.is_empty()).then_some(list))
        })
        .await?
        .unwrap_or_default();
    let challenges = found.iter().map(|c| pending_view(&state.key, c)).collect();
    Ok(json(StatusCode::OK, &PendingList { challenges }))
}

/// The status an answer leads to (whether an approval's number is the one shown at login
/// is for the host to say: the service does not know it).
pub fn outcome(decision: Decision) -> Status {
    match decision {
        Decision::Approve => Status::Approved,
        Decision::Deny => Status::Denied,
        Decision::Fraud => Status::Fraud,
    }
}

fn refuse_closed(c: &Challenge, now: u64) -> ApiError {
    if c.status_at(now) == Status::Expired {
        ApiError::expired("challenge")
    } else {
        ApiError::already_used("challenge")
    }
}

/// `POST /v2/device/challenges/{txid}/answer`. The order of the steps is the security
/// contract: the device is authenticated (the extractor) before the body is parsed; the
/// answer's form is checked before the store is asked; the challenge must have been sent to
/// this device and still be open before the signatures are checked; and only a verified answer
/// is recorded.
pub async fn answer(
    State(state): State<Shared>,
    IdPath(txid): IdPath,
    signed_request: SignedDevice,
) -> Result<Response, ApiError> {
    let req: AnswerRequest = signed_request.json()?;
    let device = signed_request.device;
    check_answer_form(&req)?;
    let c = challenge_sent_to(&state, &txid, &device.id).await?;
    let now = crate::time::now();
    check_answerable(&c, &req, now)?;
    let login_hash = signed::login_hash(&c.login());
    let msg = signed::answer(&login_hash, req.decision, req.number);
    check_device_signature(&state, &c, &device, &txid, &msg, &req.signature)?;
    super::passkey::check_answer(&state, &device, &txid, &msg, req.passkey.as_ref()).await?;
    let status = outcome(req.decision);
    let answer = receipted_answer(&state.key, &device, req, &login_hash, now);
    let cooldown = (status == Status::Fraud).then(|| now + state.limits.fraud_cooldown);
    if !state.store.answer(&txid, status, &answer, cooldown, now).await? {
        let c = state.store.challenge(&txid).await?.ok_or_else(ApiError::not_found)?;
        return Err(refuse_closed(&c, crate::time::now()));
    }
    audit_answered(&state, &c, &device, &txid, status);
    state.hub.publish(&format!("tx:{txid}"));
    Ok(json(StatusCode::OK, &AnswerResult { status }))
}

/// An approval carries the number, and any number is in range.
fn check_answer_form(req: &AnswerRequest) -> Result<(), ApiError> {
    match (req.decision, req.number) {
        (Decision::Approve, None) => Err(ApiError::bad_request("an approval needs the number")),
        (_, Some(n)) if !push_proto::limits::NUMBER_RANGE.contains(&n) => {
            Err(ApiError::bad_request("the number must be from 10 to 99"))
        }
        _ => Ok(()),
    }
}

/// The challenge `txid`, if it was sent to this device; not found otherwise (a device learns
/// nothing of other devices' challenges).
async fn challenge_sent_to(
    state: &Shared,
    txid: &str,
    device_id: &str,
) -> Result<Challenge, ApiError> {
    match state.store.challenge(txid).await? {
        Some(c) if state.store.sent_to(txid, device_id).await? => Ok(c),
        _ => Err(ApiError::not_found()),
    }
}

/// The challenge is still pending at `now`, and a number given is one of its choices.
fn check_answerable(c: &Challenge, req: &AnswerRequest, now: u64) -> Result<(), ApiError> {
    if !c.status_at(now).is_pending() {
        return Err(refuse_closed(c, now));
    }
    if req.number.is_some_and(|n| !push_proto::numbers::acceptable(&c.choices, n)) {
        return Err(ApiError::bad_request("the number is not one of the choices"));
    }
    Ok(())
}

/// The device's signature over the answer `msg` verifies with its enrolled key; a refusal is
/// audited.
fn check_device_signature(
    state: &Shared,
    c: &Challenge,
    device: &Device,
    txid: &str,
    msg: &[u8],
    signature: &str,
) -> Result<(), ApiError> {
    let verified =
        PublicKey::decode(&device.public_key).map(|k| k.verify(msg, signature)).unwrap_or(false);
    if verified {
        return Ok(());
    }
    state.audit.record(&Event {
        event: "challenge.answer_refused",
        host: Some(&c.host_id),
        user: Some(&c.user),
        device: Some(&device.id),
        txid: Some(txid),
        outcome: "refused",
        reason: Some("answer signature does not verify"),
    });
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        errors::BAD_SIGNATURE,
        "the answer's signature does not verify",
    ))
}

/// The answer to store, with the service's receipt signature over it and the login's hash.
fn receipted_answer(
    key: &SecretKey,
    device: &Device,
    req: AnswerRequest,
    login_hash: &[u8; 32],
    now: u64,
) -> Answer {
    let mut answer = Answer {
        device_id: device.id.clone(),
        decision: req.decision,
        number: req.number,
        device_signature: req.signature,
        passkey: req.passkey,
        answered_at: now,
        receipt_signature: String::new(),
    };
    answer.receipt_signature = key.sign(&signed::receipt(&ReceiptFields {
        login_hash,
        decision: answer.decision,
        number: answer.number,
        device_id: &answer.device_id,
        device_signature: &answer.device_signature,
        passkey: answer.passkey.as_ref(),
        answered_at: answer.answered_at,
    }));
    answer
}

/// Audits the recorded answer, and a fraud report besides.
fn audit_answered(state: &Shared, c: &Challenge, device: &Device, txid: &str, status: Status) {
    let status_text = match status {
        Status::Approved => "approved",
        Status::Denied => "denied",
        _ => "fraud",
    };
    state.audit.record(&Event {
        event: "challenge.answered",
        host: Some(&c.host_id),
        user: Some(&c.user),
        device: Some(&device.id),
        txid: Some(txid),
        outcome: status_text,
        reason: None,
    });
    if status == Status::Fraud {
        state.audit.record(&Event {
            event: "user.fraud_reported",
            host: Some(&c.host_id),
            user: Some(&c.user),
            device: Some(&device.id),
            txid: Some(txid),
            outcome: "cooldown",
            reason: Some("user reported login as not theirs"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(outcome(Decision::Approve), Status::Approved);
        assert_eq!(outcome(Decision::Deny), Status::Denied);
        assert_eq!(outcome(Decision::Fraud), Status::Fraud);
    }
}
