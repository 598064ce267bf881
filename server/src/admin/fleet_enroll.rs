//! `fleet user opt-in` / `opt-out`: who may enroll a first factor from a fleet host when the
//! service's `[fleet] first_enrollment = "admin"` (`docs/ARCHITECTURE.md`, "Fleet mode").

use super::{Admin, e};
use crate::audit::Event;

impl Admin {
    /// `fleet user opt-in` (`on`) and `opt-out`.
    pub async fn fleet_opt_in(&self, scope: &str, user: &str, on: bool) -> Result<String, String> {
        if !push_proto::limits::is_user(user) {
            return Err("the user name is malformed".into());
        }
        if !push_proto::limits::is_text(scope, push_proto::limits::MAX_NAME) {
            return Err("the scope must be 1 to 64 printable characters".into());
        }
        self.store.set_opt_in(scope, user, on, crate::time::now()).await.map_err(e)?;
        let (event, done) = if on {
            ("fleet.user.opted_in", "opted in")
        } else {
            ("fleet.user.opted_out", "opted out")
        };
        self.audit.record(&Event {
            event,
            user: Some(user),
            outcome: "ok",
            reason: Some(scope),
            ..Event::default()
        });
        Ok(format!("{user} {done} in fleet scope {scope}"))
    }
}
