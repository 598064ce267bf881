//! The steps of changing a user's factors at the fleet's service, shared by `mfa-enroll` run
//! as root (`--user`), the setuid helper's self-service ([`crate::selfservice_fleet`]) and
//! anything else that enrolls at the service: read the status, ask for a current factor when
//! the user has one (the service checks it, counts it and uses it up), send one change, and
//! turn the service's refusals into messages a user can act on.
//!
//! The connection ([`FleetRemote`]) holds the host credential; nothing here hands it out.

use super::FleetError;
use crate::enroll::PendingTotp;
use crate::login::{Clock, Conversation, FleetRemote};
use crate::username::UserName;
use push_proto::fleet::Factor;
use push_proto::fleet_enroll::{
    Change, EnrollRequest, EnrollResponse, NewTotp, Proof, StatusRequest, StatusResponse,
    TotpAlgorithm, errors,
};

/// The prompt for a current factor before a change at the service.
pub const PROOF_PROMPT: &str = "Current code from the authenticator app, or a recovery code: ";

/// Why a change at the service did not happen (nothing was changed in every case).
#[derive(Debug)]
pub enum Stop {
    /// The service gave no usable answer, or refused (its error code in
    /// [`FleetError::Refused`]).
    Service(FleetError),
    /// The user gave no current code (empty or cancelled).
    NoAnswer,
    /// The user has no factor and the service allows a first one only after the admin's
    /// opt-in (`first_enrollment = "admin"`).
    NotOptedIn,
    /// This host could not make the request (clock, randomness).
    Local(String),
}

/// What a service refusal means for the user (from its error code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A current factor is needed and none was sent.
    CurrentFactorRequired,
    /// The current factor was wrong or used before.
    ProofRejected,
    /// The user is locked out at the service.
    Locked,
    /// A first factor needs the admin's opt-in.
    NotOptedIn,
    /// This host may not enroll (or see) the user.
    HostNotAllowed,
    /// The confirmation code did not match the new secret.
    ConfirmationWrong,
    /// Any other refusal.
    Other,
}

impl Refusal {
    /// The refusal an error code of the service stands for.
    pub fn of(code: &str) -> Refusal {
        match code {
            errors::CURRENT_FACTOR_REQUIRED => Refusal::CurrentFactorRequired,
            errors::PROOF_REJECTED => Refusal::ProofRejected,
            errors::LOCKED => Refusal::Locked,
            errors::NOT_OPTED_IN => Refusal::NotOptedIn,
            errors::HOST_NOT_ALLOWED => Refusal::HostNotAllowed,
            errors::CONFIRMATION_WRONG => Refusal::ConfirmationWrong,
            _ => Refusal::Other,
        }
    }

    /// What the user is told (nothing internal: no code, no host, no group).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::CurrentFactorRequired => {
                "A current code is needed to change your second factors; nothing was changed."
            }
            Refusal::ProofRejected => {
                "That current code is not right (or was used before); nothing was changed."
            }
            Refusal::Locked => {
                "Your second factor is locked after too many wrong codes; nothing was changed. \
                 An administrator can unlock it."
            }
            Refusal::NotOptedIn => {
                "Your first second factor is set up by an administrator in this fleet: ask them \
                 to opt you in. Nothing was changed."
            }
            Refusal::HostNotAllowed => {
                "Second factors for your account cannot be set up from this computer; nothing \
                 was changed."
            }
            Refusal::ConfirmationWrong => {
                "The code from the app does not match the new secret (check the phone's time); \
                 nothing was saved."
            }
            Refusal::Other => "The fleet's MFA service refused the change; nothing was changed.",
        }
    }
}

impl Stop {
    /// The service's refusal, if it refused.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Stop::Service(FleetError::Refused(code)) => Some(Refusal::of(code)),
            Stop::NotOptedIn => Some(Refusal::NotOptedIn),
            _ => None,
        }
    }

    /// What an unprivileged user is told: a clear message, never an error code, a path or a
    /// reason meant for the log.
    pub fn user_message(&self) -> &'static str {
        if let Some(r) = self.refusal() {
            return r.message();
        }
        match self {
            Stop::Service(FleetError::Outage(_)) => {
                "The fleet's MFA service cannot be reached now; nothing was changed. Try again \
                 later."
            }
            Stop::NoAnswer => "No current code entered; nothing was changed.",
            _ => "The request could not be completed; nothing was changed.",
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Service(e) => write!(f, "{e}"),
            Stop::NoAnswer => f.write_str("no current code entered"),
            Stop::NotOptedIn => f.write_str(
                "no factor yet and the fleet's service does not allow a first enrollment from \
                 a host (first_enrollment = \"admin\")",
            ),
            Stop::Local(m) => f.write_str(m),
        }
    }
}

/// One user at the service, through this host's connection.
pub struct FleetUser<'a> {
    /// The connection (it holds the host credential).
    pub service: &'a dyn FleetRemote,
    /// The user acted on (the caller's own canonical name, for self-service).
    pub user: &'a UserName,
    /// The time requests carry.
    pub clock: &'a dyn Clock,
}

impl FleetUser<'_> {
    fn stamp(&self) -> Result<(u64, String), Stop> {
        let now = self.clock.now().map_err(|e| Stop::Local(e.to_string()))?;
        let nonce =
            push_proto::random_token(32).map_err(|e| Stop::Local(format!("random: {e}")))?;
        Ok((now, nonce))
    }

    /// Which factors the user has at the service.
    pub fn status(&self) -> Result<StatusResponse, Stop> {
        let (time, nonce) = self.stamp()?;
        let req = StatusRequest { user: self.user.as_str().into(), time, nonce };
        self.service.status(&req).map_err(Stop::Service)
    }

    /// Sends one change (with the current factor, if the user has one).
    pub fn send(&self, proof: Option<Proof>, change: Change) -> Result<EnrollResponse, Stop> {
        let (time, nonce) = self.stamp()?;
        let req = EnrollRequest { user: self.user.as_str().into(), time, nonce, proof, change };
        self.service.enroll(&req).map_err(Stop::Service)
    }

    /// With a user who has a factor: asks for a current one (a code from the app, or a
    /// recovery code), which the service checks and uses up. Without one: `None`, when the
    /// service allows a first enrollment.
    pub fn proof(
        &self,
        st: &StatusResponse,
        conv: &mut dyn Conversation,
    ) -> Result<Option<Proof>, Stop> {
        if !st.enrolled() {
            return if st.may_enroll_first { Ok(None) } else { Err(Stop::NotOptedIn) };
        }
        let answer = match conv.prompt_secret(PROOF_PROMPT) {
            Ok(Some(a)) if !a.trim().is_empty() => a,
            _ => return Err(Stop::NoAnswer),
        };
        Ok(Some(code_proof(answer.trim())))
    }
}

/// A typed current factor as a proof: a TOTP code (digits) or a recovery code.
pub fn code_proof(answer: &str) -> Proof {
    let digits = answer.chars().filter(|c| !c.is_whitespace()).all(|c| c.is_ascii_digit());
    let factor = if digits { Factor::Totp } else { Factor::Recovery };
    Proof { factor, answer: answer.to_string(), key: None }
}

/// The change that sets `pending` as the user's app, confirmed by `confirmation`.
pub fn new_totp(pending: &PendingTotp, confirmation: &str) -> Change {
    let p = &pending.uri.params;
    let algorithm = match p.algorithm.name() {
        "SHA256" => TotpAlgorithm::Sha256,
        "SHA512" => TotpAlgorithm::Sha512,
        _ => TotpAlgorithm::Sha1,
    };
    Change::Totp(NewTotp {
        secret: pending.uri.secret.to_base32().to_string(),
        algorithm,
        digits: p.digits,
        step: p.step,
        confirmation: confirmation.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_become_messages_without_codes() {
        for code in [
            errors::CURRENT_FACTOR_REQUIRED,
            errors::PROOF_REJECTED,
            errors::LOCKED,
            errors::NOT_OPTED_IN,
            errors::HOST_NOT_ALLOWED,
            errors::CONFIRMATION_WRONG,
            "something_new",
        ] {
            let stop = Stop::Service(FleetError::Refused(code.into()));
            let m = stop.user_message();
            assert!(!m.contains('_'), "no error code in {m}");
            assert!(m.to_lowercase().contains("nothing was"), "{m}");
        }
        assert_eq!(Stop::NotOptedIn.refusal(), Some(Refusal::NotOptedIn));
        let outage = Stop::Service(FleetError::Outage("connect: refused 10.0.0.1".into()));
        assert!(!outage.user_message().contains("10.0.0.1"));
    }
}
