//! What the load generator needs from a push service. `push-load`'s worker loop, timing points
//! and report are the same for every implementation: `mfa-server` (`pushd.rs`) and privacyIDEA
//! (`privacyidea.rs`).

use std::future::Future;
use std::time::Instant;

/// A push service under load: a relying party's side (start a login, wait for its outcome) and
/// a device's side (approve it), for a fixed set of users with one enrolled device each.
pub(crate) trait Backend: Send + Sync + 'static {
    /// One login in flight.
    type Login: Send + Sync + 'static;

    /// Short name for the report (a column heading).
    fn name(&self) -> &'static str;
    /// How the service runs here, for the report (one line).
    fn setup(&self) -> String;
    /// What one login is, step by step, and where the approve-to-login clock starts and stops.
    fn flow(&self) -> &'static str;
    /// The service process, for its memory use (`None`: not one process).
    fn server_pid(&self) -> Option<u32>;
    /// Resident memory of the whole service in KiB (all its processes), if known.
    fn service_rss_kib(&self) -> Option<u64> {
        self.server_pid().map(crate::rss_kib)
    }
    /// Memory of a separate database server the service uses (PostgreSQL) in KiB, PSS summed
    /// over its processes: `None` when the store is inside the service (SQLite), `Some(Err)`
    /// when it cannot be measured, and why.
    fn database_memory_kib(&self) -> Option<Result<u64, String>> {
        None
    }
    /// `Some(why)` when ramping up pending challenges measures nothing meaningful for this
    /// service, so the report says why instead of a figure.
    fn no_ramp(&self) -> Option<&'static str> {
        None
    }
    /// Number of users with an enrolled device.
    fn users(&self) -> usize;
    /// Starts a login for `user` (the relying party asks for a push).
    fn start_login(&self, user: usize) -> impl Future<Output = Result<Self::Login, String>> + Send;
    /// The relying party waits for the outcome: the status (`approved`, `pending`, …) after at
    /// most `wait` seconds. `approved` means the login may proceed (for services with a
    /// separate finalizing step, that step has succeeded).
    fn wait_login(
        &self,
        l: &Self::Login,
        wait: u64,
    ) -> impl Future<Output = Result<String, String>> + Send;
    /// The device fetches the challenge and approves it; returns when the answer was sent (just
    /// before the signed answer's request, after fetching and signing), which is where the
    /// approve-to-login latency starts.
    fn approve(&self, l: &Self::Login) -> impl Future<Output = Result<Instant, String>> + Send;
    /// The relying party withdraws the challenge.
    fn cancel(&self, l: &Self::Login) -> impl Future<Output = Result<(), String>> + Send;
}
