//! How the login logic talks to the user (the [`Conversation`] the PAM module or the helper
//! provides) and reads the time ([`Clock`]); the prompts it uses.

use crate::error::Error;
use zeroize::Zeroizing;

/// The prompt for the second factor.
pub const PROMPT: &str = "Verification code: ";
/// The prompt in single-prompt mode.
pub const SINGLE_PROMPT: &str = "Password and verification code: ";
/// Longest answer considered; anything longer is refused without further work.
pub const MAX_ANSWER_LEN: usize = 1024;

/// Said when the answer to a code prompt is the user's password (`PAM_AUTHTOK`, set by
/// pam_unix before us): clients such as i3lock answer every prompt with the typed password.
/// The answer is then treated as no answer, which never counts as a wrong code.
pub const PASSWORD_AT_CODE_PROMPT: &str = "That was your password, not a verification code. \
     (A screen locker that asks only one question needs the single_prompt stack: type the \
     password and the code together.)";

/// Whether an answer is the password, compared in constant time (for equal lengths).
pub fn answer_is_password(answer: &str, password: &str) -> bool {
    use subtle::ConstantTimeEq;
    !password.is_empty() && bool::from(answer.as_bytes().ct_eq(password.as_bytes()))
}

/// The conversation failed (the application could not ask or the user could not answer).
#[derive(Debug)]
pub struct ConvError(pub String);

/// How the login logic talks to the user and to the rest of the PAM stack.
pub trait Conversation {
    /// Asks a question without echo. `Ok(None)`: no answer (cancelled, or a NULL reply).
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError>;
    /// Asks a question with echo (menu choices, confirmation codes).
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError>;
    /// Shows an informational message. (sshd shows it together with the next prompt only.)
    fn info(&mut self, text: &str);
    /// Shows an error message.
    fn error(&mut self, text: &str);
    /// Hands the password typed in single-prompt mode to the next module (`PAM_AUTHTOK`).
    fn set_password(&mut self, password: &str) -> Result<(), ConvError>;
    /// Asks the application to delay a failure report by at least `ms` milliseconds.
    fn fail_delay(&mut self, ms: u32);
    /// Writes a debug line to the log (only called with `debug = true`; never with secrets).
    fn debug(&mut self, text: &str);
}

/// Where the login logic gets the time.
pub trait Clock {
    /// Seconds since the Unix epoch; an error when the clock reads before 1970.
    fn now(&self) -> crate::Result<u64>;
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> crate::Result<u64> {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| Error::Clock("system clock is before 1970".into()))
    }
}
