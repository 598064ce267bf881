//! The one context every step of a login works with.

use super::conversation::{Clock, Conversation};
use super::outcome::Request;
use super::remote::Remotes;
use crate::config::Config;
use crate::store::Store;
use crate::username::UserName;

/// What every step of one login works with: the configuration, what PAM said, the store, the
/// account, the conversation, the clock and the central services. The flows take it instead of
/// the same seven arguments each; the user's record is not part of it, because each check reads
/// the record afresh under the user's lock ([`verify::begin_attempt`]).
pub(crate) struct LoginContext<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) req: &'a Request,
    pub(crate) store: &'a Store,
    /// The account (resolved from `req.user`).
    pub(crate) user: &'a UserName,
    pub(crate) conv: &'a mut dyn Conversation,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) remotes: &'a dyn Remotes,
}

impl LoginContext<'_> {
    /// Shows an error message unless the application asked for silence (`PAM_SILENT`).
    pub(crate) fn tell_error(&mut self, text: &str) {
        if !self.req.silent {
            self.conv.error(text);
        }
    }
}
