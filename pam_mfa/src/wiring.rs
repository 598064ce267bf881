//! Where the parts of a login are put together: the configuration, the root-or-helper
//! decision, the login logic (`mfa_login::login`) and the real central-service clients
//! (`mfa_remote::Network`). The login crate knows neither the helper's binary nor the network;
//! this is the one place that chooses them.
#![forbid(unsafe_code)]

use mfa_login::account::SystemDirectory;
use mfa_login::config::{Config, ModuleArgs};
use mfa_login::helper::{self, LoginArg};
use mfa_login::login::{self, Conversation, Denial, Outcome, Request, SystemClock};
use mfa_login::seat::Seat;
use mfa_remote::Network;

/// Runs one second-factor authentication: load the configuration named by the module
/// arguments, then either the login logic (as root) or the setuid helper (without root).
pub(crate) fn authenticate(
    args: &ModuleArgs,
    req: &Request,
    conv: &mut dyn Conversation,
) -> Outcome {
    let mut cfg = match Config::load(args.config_path()) {
        Ok(c) => c,
        Err(e) => return Outcome::deny(Denial::Config, e.to_string()),
    };
    if !rustix::process::geteuid().is_root() {
        return through_helper(&cfg, args, req, conv);
    }
    cfg.apply(args);
    login::authenticate(&cfg, req, conv, &SystemClock, &SystemDirectory, &Network)
}

/// Without root (a screen locker, `su` from a user) the store is out of reach: the setuid
/// helper runs the same logic for the calling user, and we relay its conversation.
fn through_helper(
    cfg: &Config,
    args: &ModuleArgs,
    req: &Request,
    conv: &mut dyn Conversation,
) -> Outcome {
    let request = helper::Request::Login {
        pam_user: req.user.clone(),
        service: req.service.clone(),
        remote: req.rhost.as_deref().is_some_and(|r| !r.trim().is_empty())
            || req.seat != Seat::Local,
        silent: req.silent,
        args: LoginArg::forwarded(args),
    };
    match helper::call(&cfg.helper, &request, conv) {
        Ok(done) => done.to_outcome(),
        Err(e) => {
            Outcome::deny(Denial::Unavailable, format!("not root, and the helper failed: {e}"))
        }
    }
}
