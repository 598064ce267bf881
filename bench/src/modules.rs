//! The PAM modules compared, and how each one's stack line reads.

use crate::env::Env;
use serde::{Deserialize, Serialize};

/// A PAM module under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Module {
    /// This project's module, loaded from the release build.
    PamMfa,
    /// Debian's `libpam-google-authenticator`, with `DISALLOW_REUSE` and `RATE_LIMIT 3 30`.
    Google,
    /// Debian's `libpam-oath` (OATH Toolkit), TOTP entries in one users file.
    Oath,
    /// `pam_permit.so`: no prompt, no file; the cost of libpam and the client alone.
    Permit,
}

impl Module {
    /// Every module, in report order.
    pub(crate) const ALL: [Module; 4] =
        [Module::PamMfa, Module::Google, Module::Oath, Module::Permit];
    /// The modules that verify a TOTP code.
    pub(crate) const TOTP: [Module; 3] = [Module::PamMfa, Module::Google, Module::Oath];

    /// Name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Module::PamMfa => "pam_mfa",
            Module::Google => "pam_google_authenticator",
            Module::Oath => "pam_oath",
            Module::Permit => "pam_permit (baseline)",
        }
    }

    /// The PAM service (file in the benchmark's pam.d) whose stack is this module alone.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Module::PamMfa => "mfa",
            Module::Google => "google",
            Module::Oath => "oath",
            Module::Permit => "permit",
        }
    }

    /// The module file (for sizes): the release build for pam_mfa, Debian's file otherwise.
    pub(crate) fn so_name(self) -> &'static str {
        match self {
            Module::PamMfa => "pam_mfa.so",
            Module::Google => "pam_google_authenticator.so",
            Module::Oath => "pam_oath.so",
            Module::Permit => "pam_permit.so",
        }
    }

    /// The one `auth` line of this module's stack in `env`.
    pub(crate) fn stack(self, env: &Env) -> String {
        match self {
            Module::PamMfa => format!(
                "auth required {} config={}",
                env.root.join("pam_mfa.so").display(),
                env.config_path().display()
            ),
            // `user=root`: the secret files belong to root, no home directories needed.
            Module::Google => format!(
                "auth required pam_google_authenticator.so secret={}/${{USER}} user=root",
                env.ga_dir().display()
            ),
            // window=1: the current step and one on each side, like the other two modules.
            Module::Oath => format!(
                "auth required pam_oath.so usersfile={} window=1 digits=6",
                env.oath_file().display()
            ),
            Module::Permit => "auth required pam_permit.so".to_string(),
        }
    }

    /// Whether the module asks one question per login.
    pub(crate) fn prompts(self) -> bool {
        self != Module::Permit
    }
}

/// What a login answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// The current TOTP code (SHA1, 6 digits, 30 s).
    Totp,
    /// A pam_mfa recovery code (Argon2id verification).
    Recovery,
    /// A google-authenticator scratch code (stored in plain text in the secret file).
    Scratch,
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The TOTP code of `user` at Unix time `at`.
pub(crate) fn totp_at(env: &Env, user: &str, at: u64) -> String {
    let secret = env.secret(user);
    mfa_login::totp::code_at(&secret, &mfa_login::totp::Params::default(), at).to_string()
}

/// The TOTP code of `user` at the current time.
pub(crate) fn totp_now(env: &Env, user: &str) -> String {
    totp_at(env, user, unix_now())
}
