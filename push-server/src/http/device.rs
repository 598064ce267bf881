//! Device endpoints: list pending challenges (long-poll), answer one.

use super::auth::DeviceAuthed;
use super::extract::{IdPath, JsonBody, wait_secs};
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::store::{Answer, Challenge};
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
        user: c.user.clone(),
        hostname: c.hostname.clone(),
        service: c.service.clone(),
        rhost: c.rhost.clone(),
        time: c.time,
        expires_at: c.expires_at,
        nonce: c.nonce.clone(),
        choices: c.choices.clone(),
        signature: String::new(),
    };
    view.signature = key.sign(&view.signed_bytes());
    view
}

/// `GET /v1/device/challenges?wait=N`.
pub async fn pending(
    State(state): State<Shared>,
    DeviceAuthed(device): DeviceAuthed,
    uri: Uri,
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

/// The status an answer leads to.
pub fn outcome(decision: Decision, picked: Option<u8>, shown: u8) -> Status {
    match decision {
        Decision::Approve if picked == Some(shown) => Status::Approved,
        Decision::Approve => Status::WrongNumber,
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

/// `POST /v1/device/challenges/{txid}/answer`.
pub async fn answer(
    State(state): State<Shared>,
    DeviceAuthed(device): DeviceAuthed,
    IdPath(txid): IdPath,
    JsonBody(req): JsonBody<AnswerRequest>,
) -> Result<Response, ApiError> {
    let c = match state.store.challenge(&txid).await? {
        Some(c) if state.store.sent_to(&txid, &device.id).await? => c,
        _ => return Err(ApiError::not_found()),
    };
    let now = crate::time::now();
    if !c.status_at(now).is_pending() {
        return Err(refuse_closed(&c, now));
    }
    let msg = signed::answer(&txid, &c.nonce, req.decision, req.number);
    let verified = PublicKey::decode(&device.public_key)
        .map(|k| k.verify(&msg, &req.signature))
        .unwrap_or(false);
    if !verified {
        state.audit.record(&Event {
            event: "challenge.answer_refused",
            host: Some(&c.host_id),
            user: Some(&c.user),
            device: Some(&device.id),
            txid: Some(&txid),
            outcome: "refused",
            reason: Some("answer signature does not verify"),
        });
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            errors::BAD_SIGNATURE,
            "the answer's signature does not verify",
        ));
    }
    super::passkey::check_answer(&state, &device, &txid, &msg, req.passkey.as_ref()).await?;
    let status = outcome(req.decision, req.number, c.number);
    let mut answer = Answer {
        device_id: device.id.clone(),
        decision: req.decision,
        number: req.number,
        device_signature: req.signature,
        answered_at: now,
        receipt_signature: String::new(),
    };
    answer.receipt_signature = state.key.sign(&signed::receipt(&ReceiptFields {
        txid: &txid,
        host_id: &c.host_id,
        user: &c.user,
        nonce: &c.nonce,
        decision: answer.decision,
        number: answer.number,
        device_id: &answer.device_id,
        device_signature: &answer.device_signature,
        answered_at: answer.answered_at,
    }));
    let cooldown = (status == Status::Fraud).then(|| now + state.limits.fraud_cooldown);
    if !state.store.answer(&txid, status, &answer, cooldown, now).await? {
        let c = state.store.challenge(&txid).await?.ok_or_else(ApiError::not_found)?;
        return Err(refuse_closed(&c, crate::time::now()));
    }
    let status_text = match status {
        Status::Approved => "approved",
        Status::WrongNumber => "wrong_number",
        Status::Denied => "denied",
        _ => "fraud",
    };
    state.audit.record(&Event {
        event: "challenge.answered",
        host: Some(&c.host_id),
        user: Some(&c.user),
        device: Some(&device.id),
        txid: Some(&txid),
        outcome: status_text,
        reason: (status == Status::WrongNumber).then_some("approved with a different number"),
    });
    if status == Status::Fraud {
        state.audit.record(&Event {
            event: "user.fraud_reported",
            host: Some(&c.host_id),
            user: Some(&c.user),
            device: Some(&device.id),
            txid: Some(&txid),
            outcome: "cooldown",
            reason: Some("user reported login as not theirs"),
        });
    }
    state.hub.publish(&format!("tx:{txid}"));
    Ok(json(StatusCode::OK, &AnswerResult { status }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(outcome(Decision::Approve, Some(42), 42), Status::Approved);
        assert_eq!(outcome(Decision::Approve, Some(41), 42), Status::WrongNumber);
        assert_eq!(outcome(Decision::Approve, None, 42), Status::WrongNumber);
        assert_eq!(outcome(Decision::Deny, Some(42), 42), Status::Denied);
        assert_eq!(outcome(Decision::Fraud, None, 42), Status::Fraud);
    }
}
