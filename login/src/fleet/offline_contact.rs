//! A fleet host's contact with the service about a user's offline state (issue 21): the
//! uses accepted or refused offline are reported, and the bundle is refreshed, kept or dropped
//! as the service says. The login flow does this after every answered login
//! (`login::fleet_offline_flow`); `mfa-enroll offline-bundles` does it on demand or from a
//! timer, for users whose bundle is being made or due.

use crate::login::FleetRemote;
use crate::store::{OfflineState, Store};
use crate::username::UserName;
use push_proto::offline::{BundleAnswer, BundleRequest, ReportRequest, SignedBundle};

/// What a contact did, for the log: each step's words, and whether any step failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Note {
    /// `"; offline: ..."` per step that did something (empty: nothing to do).
    pub text: String,
    /// A step failed (no answer, a refused bundle, a store error): the state is as before.
    pub failed: bool,
}

impl Note {
    fn done(what: &str) -> Note {
        Note { text: format!("; offline: {what}"), failed: false }
    }
    fn failed(what: &str) -> Note {
        Note { text: format!("; offline: {what}"), failed: true }
    }
    fn and(mut self, next: Note) -> Note {
        self.text.push_str(&next.text);
        self.failed |= next.failed;
        self
    }
}

/// One contact with the service about one user's offline state on this host.
pub struct Contact<'a> {
    /// This host's store.
    pub store: &'a Store,
    /// The user.
    pub user: &'a UserName,
    /// The fleet's service.
    pub service: &'a dyn FleetRemote,
    /// This host's clock.
    pub now: u64,
}

impl Contact<'_> {
    /// Reports the uses queued here and refreshes, keeps or drops the bundle as the service
    /// says; what it did ([`Note`]). The state is read without the user's lock and the lock is not held
    /// during the requests: each result is applied under the lock to the state read again.
    pub fn bring_up_to_date(&self) -> Note {
        let state = match self.store.load_offline(self.user) {
            Ok(s) => s,
            Err(e) => return Note::failed(&e.to_string()),
        };
        let mut note = Note::default();
        if let Some(s) = state.as_ref().filter(|s| !s.pending.is_empty()) {
            note = note.and(self.report(s));
        }
        note.and(self.refresh(state.as_ref()))
    }

    /// Runs `apply` on the user's offline state read again under the lock, and saves what
    /// it returns (`None`: nothing to save).
    fn under_lock(
        &self,
        done: &str,
        apply: impl FnOnce(Option<OfflineState>) -> Option<OfflineState>,
    ) -> Note {
        let lock = match self.store.lock(self.user) {
            Ok(l) => l,
            Err(e) => return Note::failed(&format!("lock: {e}")),
        };
        let state = match lock.load_offline() {
            Ok(s) => s,
            Err(e) => return Note::failed(&e.to_string()),
        };
        let Some(state) = apply(state) else { return Note::default() };
        match lock.save_offline(&state) {
            Ok(()) => Note::done(done),
            Err(e) => Note::failed(&format!("{done} but not saved: {e}")),
        }
    }

    /// Sends the queued uses; the ones the service took are forgotten.
    fn report(&self, state: &OfflineState) -> Note {
        let (service, now) = (self.service, self.now);
        let Some(nonce) = nonce() else { return Note::failed("no random nonce") };
        let take = state.pending.len().min(push_proto::offline::MAX_USES);
        let uses = state.pending[..take].to_vec();
        let req = ReportRequest { user: self.user.as_str().to_string(), time: now, nonce, uses };
        if let Err(e) = service.offline_report(&req) {
            return Note::failed(&format!("report failed: {e}"));
        }
        self.under_lock(&format!("reported {take} use(s)"), |state| {
            let mut state = state?;
            state.pending.retain(|u| !req.uses.iter().any(|sent| sent.id == u.id));
            Some(state)
        })
    }

    /// Asks the service for the user's bundle and does what it says.
    fn refresh(&self, state: Option<&OfflineState>) -> Note {
        let (service, now) = (self.service, self.now);
        let Some(nonce) = nonce() else { return Note::failed("no random nonce") };
        let held = state.and_then(|s| {
            let signed = s.bundle.as_ref()?;
            signed.open(service.service_key(), service.host_id(), self.user.as_str(), now).ok()
        });
        let req = BundleRequest {
            user: self.user.as_str().to_string(),
            time: now,
            nonce: nonce.clone(),
            held_issued_at: held.as_ref().map(|b| b.issued_at),
            held_last_step: held.as_ref().and_then(|b| b.totp.as_ref()).map(|w| {
                let len = u64::try_from(w.hashes.len()).unwrap_or(0);
                w.first_step.saturating_add(len).saturating_sub(1)
            }),
        };
        let answer = match service.offline_bundle(&req) {
            Ok(r) => r.answer,
            Err(e) => return Note::failed(&format!("bundle request failed: {e}")),
        };
        match answer {
            BundleAnswer::Keep if held.is_some() => Note::default(),
            // Being made: whatever is held stays (a held bundle that no longer opens is of no
            // use either way).
            BundleAnswer::Later => self.under_lock("bundle being made", |state| {
                let mut state = state.unwrap_or_else(|| OfflineState::awaiting(self.user));
                state.awaiting = true;
                Some(state)
            }),
            BundleAnswer::Keep | BundleAnswer::Drop => self.under_lock("bundle dropped", |state| {
                let mut state = state.filter(|s| s.bundle.is_some() || s.awaiting)?;
                state.bundle = None;
                state.awaiting = false;
                Some(state)
            }),
            BundleAnswer::Fresh { bundle } => self.store_fresh(bundle, &nonce),
        }
    }

    /// Checks a fresh bundle (the pinned key, this host, this user, this request's nonce)
    /// and stores it.
    fn store_fresh(&self, bundle: SignedBundle, nonce: &str) -> Note {
        let (service, now) = (self.service, self.now);
        let opened = bundle.open(service.service_key(), service.host_id(), self.user.as_str(), now);
        match opened {
            Ok(b) if b.nonce == nonce => {}
            Ok(_) => return Note::failed("fresh bundle answers another request: ignored"),
            Err(e) => return Note::failed(&format!("fresh bundle refused: {e}")),
        }
        self.under_lock("bundle stored", |state| match state {
            Some(mut s) => {
                s.replace_bundle(bundle);
                Some(s)
            }
            None => Some(OfflineState::new(self.user, bundle)),
        })
    }
}

fn nonce() -> Option<String> {
    let mut n = [0u8; 32];
    crate::random::fill(&mut n).ok()?;
    Some(push_proto::b64(&n))
}
