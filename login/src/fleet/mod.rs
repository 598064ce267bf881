//! Fleet mode (issue 20), the module's side: the fleet's service keeps the user's factors and
//! decides; this host asks it (`push_proto::fleet`) and lets a login in only with a receipt,
//! signed with the service key pinned in the host credential, that answers this very request
//! (host, user, service, remote address, time, nonce, factor). The client is
//! `mfa_remote::fleet`; the flow is `login::fleet_flow`.

pub mod config;
pub mod enroll;
pub mod offline_contact;

pub use config::FleetConfig;

/// Why a fleet call got no usable answer.
#[derive(Debug)]
pub enum FleetError {
    /// An outage: the service cannot be reached or does not answer in time (or a gateway in
    /// front of it answers 502, 503 or 504). The one case `failmode` decides.
    Outage(String),
    /// Anything else without a usable answer: a TLS failure, an error status, a reply that is
    /// not the protocol, an unreadable host credential or CA file. Never failed open.
    Unavailable(String),
    /// The service answered with a refusal: its error code (e.g. `proof_rejected`, see
    /// `push_proto::fleet_enroll::errors`). Never failed open.
    Refused(String),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::Outage(m) => write!(f, "fleet service outage: {m}"),
            FleetError::Unavailable(m) => write!(f, "fleet service unusable: {m}"),
            FleetError::Refused(code) => write!(f, "the fleet service refused the request: {code}"),
        }
    }
}
