//! Why a push call got no usable answer (the clients in `mfa-remote` report it, the flows
//! decide on it).

/// Why a push call got no usable answer.
#[derive(Debug)]
pub enum PushError {
    /// An outage: the service cannot be reached or does not answer in time (or a gateway in
    /// front of it answers 502, 503 or 504). The one case `failmode` decides.
    Outage(String),
    /// No usable answer that is not an outage: a TLS failure, a server error, a reply that is
    /// not the protocol, an unreadable host credential or CA file. Never failed open.
    Unavailable(String),
    /// The service answered and refused (rate limit, cooldown, open challenge, no device...).
    Refused {
        /// The stable error code (`push_proto::api::errors`).
        code: String,
        /// The service's explanation (untrusted text; shown only after [`super::shown`]).
        message: String,
    },
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Outage(m) => write!(f, "push service outage: {m}"),
            PushError::Unavailable(m) => write!(f, "push service unusable: {m}"),
            PushError::Refused { code, message } => {
                write!(f, "push service refused: {code} ({})", crate::username::log_safe(message))
            }
        }
    }
}

impl PushError {
    /// Whether this is an outage (see [`crate::policy::FailMode`]).
    pub fn is_outage(&self) -> bool {
        matches!(self, PushError::Outage(_))
    }
}
