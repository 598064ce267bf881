//! The protocol between unprivileged callers and the setuid helper `mfa-helper`.
//!
//! Secrets are root-only. A screen locker runs the PAM stack as the user, and a user runs
//! `mfa-enroll` without root; both reach the store only through the helper, which acts on the
//! calling user alone (its real uid), reads only the system configuration, and runs the same
//! login and enrollment logic as the module, relaying the conversation:
//!
//! ```text
//! caller → helper   one Request line
//! helper → caller   Event lines: prompts, messages … and finally Done
//! caller → helper   one Reply line after each prompt event
//! ```
//!
//! Every line is one JSON object of at most [`MAX_LINE`] bytes; anything else ends the session.

use crate::config::ModuleArgs;
use crate::enroll::Status;
use crate::login::{ConvError, Conversation, Decision, Factor, Outcome};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// Longest protocol line (a QR code as text is ~5 KiB).
pub const MAX_LINE: usize = 64 * 1024;

/// What the caller asks for. The user is never part of a request except to be checked: the
/// helper acts on the user of its real uid.
///
/// Encoded externally tagged: `"status"`, `{"enroll_totp":{"replace":false}}`, …; unknown
/// operations and unknown fields are refused. (An internally tagged form would let unit
/// variants carry stray fields: serde does not reject them there.)
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Second-factor login for `pam_user` (must name the calling user's account).
    ///
    /// There is no remote host: the helper cannot verify one, so a helper login is a local
    /// login (rules see no `PAM_RHOST`), and `service` must be one of `helper_services`.
    Login {
        /// `PAM_USER` as the module saw it.
        pam_user: String,
        /// `PAM_SERVICE`.
        service: String,
        /// The caller's application named a remote host, or the module judged the login not
        /// at the local seat: security keys are not offered. (It can only make the login
        /// stricter; rules still see a local login.)
        remote: bool,
        /// `PAM_SILENT`.
        silent: bool,
        /// The module arguments the helper takes from its caller (none can widen what it
        /// does; there is no `config=`: the helper reads only the system configuration).
        args: Vec<LoginArg>,
    },
    /// Enroll (or, with `replace`, re-enroll after proving a current factor) an app.
    EnrollTotp {
        /// Replace an existing enrollment.
        replace: bool,
    },
    /// Remove all factors (after proving a current factor).
    Remove,
    /// A new set of recovery codes (after proving a current factor).
    RegenerateRecoveryCodes,
    /// Register a security key (after proving a current factor if the user has one).
    RegisterSecurityKey {
        /// The key's name.
        name: String,
        /// Require user verification at login.
        user_verification: bool,
    },
    /// Remove one security key (after proving a current factor).
    RemoveSecurityKey {
        /// The key's name.
        name: String,
    },
    /// Pair a phone for push approval and confirm it with a test push (after proving a
    /// current factor if the user has one).
    EnrollPush,
    /// Remove one push device (after proving a current factor).
    RemovePush {
        /// The device's name.
        name: String,
    },
    /// The caller's enrollment status.
    Status,
    /// Undo an enroll-on-login opt-out.
    OptIn,
}

/// A module argument a caller may forward with a login, on the wire as its name in the PAM
/// stack line (`"nullok"`, `"single_prompt"` ...). Anything else, `config=` above all, is not
/// a request the helper parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginArg {
    /// `nullok`.
    Nullok,
    /// `single_prompt`.
    SinglePrompt,
    /// `locker`.
    Locker,
    /// `split_password`.
    SplitPassword,
    /// `debug`.
    Debug,
}

impl LoginArg {
    /// The arguments a module's `args` forward.
    pub fn forwarded(args: &ModuleArgs) -> Vec<LoginArg> {
        [
            (args.nullok, LoginArg::Nullok),
            (args.single_prompt, LoginArg::SinglePrompt),
            (args.locker, LoginArg::Locker),
            (args.split_password, LoginArg::SplitPassword),
            (args.debug, LoginArg::Debug),
        ]
        .into_iter()
        .filter_map(|(set, arg)| set.then_some(arg))
        .collect()
    }

    /// The module arguments these stand for (never a `config=`).
    pub fn module_args(args: &[LoginArg]) -> ModuleArgs {
        let mut out = ModuleArgs::default();
        for arg in args {
            match arg {
                LoginArg::Nullok => out.nullok = true,
                LoginArg::SinglePrompt => out.single_prompt = true,
                LoginArg::Locker => out.locker = true,
                LoginArg::SplitPassword => out.split_password = true,
                LoginArg::Debug => out.debug = true,
            }
        }
        out
    }
}

/// Helper → caller.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Ask without echo; a [`Reply`] follows.
    PromptSecret(String),
    /// Ask with echo; a [`Reply`] follows.
    PromptVisible(String),
    /// Show information.
    Info(String),
    /// Show an error.
    Error(String),
    /// Single-prompt mode: hand this password to the next PAM module.
    SetPassword(String),
    /// Request a failure delay (milliseconds).
    FailDelay(u32),
    /// The end of the session (boxed: it is much larger than the other events).
    Done(Box<Done>),
}

/// The result of a session: the decision only. Why a request was refused is written to the
/// system log by the helper and never sent to the caller: an internal reason can tell a
/// guesser more than "refused" (issue 15, finding 1: "cannot record the failure" against
/// "cannot record the used code" named the right code).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Done {
    /// What was decided.
    pub decision: Decision,
    /// The factor tried, if any.
    pub factor: Option<Factor>,
    /// For [`Request::Status`].
    pub status: Option<Status>,
}

/// Caller → helper, after a prompt.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// The user's answer.
    Answer(String),
    /// No answer (cancelled).
    NoAnswer,
    /// The caller's conversation failed.
    ConvError(String),
}

impl Done {
    /// Encodes an outcome (its reason is for the helper's log, not for the caller).
    pub fn from_outcome(o: &Outcome, status: Option<Status>) -> Done {
        Done { decision: o.decision, factor: o.factor, status }
    }

    /// Decodes into an outcome for the module's log line.
    pub fn to_outcome(&self) -> Outcome {
        Outcome {
            decision: self.decision,
            factor: self.factor,
            reason: "through mfa-helper (the reason is in its log line)".into(),
            account: None,
        }
    }
}

/// Reads one protocol line (without the newline); `Ok(None)` at end of input. Lines longer
/// than [`MAX_LINE`] or not UTF-8 are errors.
pub fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<Zeroizing<String>>> {
    let mut buf = Zeroizing::new(Vec::new());
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        let why = if buf.len() > MAX_LINE { "line too long" } else { "incomplete line" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
    }
    buf.pop();
    let text = String::from_utf8(buf.to_vec())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))?;
    Ok(Some(Zeroizing::new(text)))
}

/// Writes one protocol line.
pub fn write_line<T: Serialize>(w: &mut impl Write, value: &T) -> std::io::Result<()> {
    let text = Zeroizing::new(serde_json::to_string(value).map_err(std::io::Error::other)?);
    w.write_all(text.as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Parses one protocol line as `T`.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> std::io::Result<T> {
    serde_json::from_str(line).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad message ({})", crate::error::json_error_kind(&e)),
        )
    })
}

/// The helper's side of the conversation: events out, replies in.
pub struct PipeConversation<R: BufRead, W: Write> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> PipeConversation<R, W> {
    /// Wraps the helper's standard input and output.
    pub fn new(input: R, output: W) -> Self {
        PipeConversation { input, output }
    }

    /// Sends the final event.
    pub fn finish(&mut self, done: Done) -> std::io::Result<()> {
        write_line(&mut self.output, &Event::Done(Box::new(done)))
    }

    fn ask(&mut self, event: Event) -> Result<Option<Zeroizing<String>>, ConvError> {
        write_line(&mut self.output, &event)
            .map_err(|e| ConvError(format!("helper output: {e}")))?;
        let line = read_line(&mut self.input)
            .map_err(|e| ConvError(format!("caller input: {e}")))?
            .ok_or_else(|| ConvError("caller closed the connection".into()))?;
        match parse::<Reply>(&line).map_err(|e| ConvError(format!("caller input: {e}")))? {
            Reply::Answer(a) => Ok(Some(Zeroizing::new(a))),
            Reply::NoAnswer => Ok(None),
            Reply::ConvError(e) => Err(ConvError(e.chars().take(100).collect())),
        }
    }

    fn tell(&mut self, event: Event) {
        let _ = write_line(&mut self.output, &event);
    }
}

impl<R: BufRead, W: Write> Conversation for PipeConversation<R, W> {
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.ask(Event::PromptSecret(prompt.to_string()))
    }
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.ask(Event::PromptVisible(prompt.to_string()))
    }
    fn info(&mut self, text: &str) {
        self.tell(Event::Info(text.to_string()))
    }
    fn error(&mut self, text: &str) {
        self.tell(Event::Error(text.to_string()))
    }
    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        write_line(&mut self.output, &Event::SetPassword(password.to_string()))
            .map_err(|e| ConvError(format!("helper output: {e}")))
    }
    fn fail_delay(&mut self, ms: u32) {
        self.tell(Event::FailDelay(ms))
    }
    /// Debug lines are not sent: they describe the record and the policy. The helper logs
    /// them itself (see `mfa-helper`).
    fn debug(&mut self, _text: &str) {}
}

/// The caller's side: runs `helper` with `request`, relaying prompts and messages to `conv`.
/// Any failure (the helper missing, crashing, or speaking nonsense) is an error, which callers
/// turn into a denial.
pub fn call(helper: &Path, request: &Request, conv: &mut dyn Conversation) -> Result<Done, String> {
    let mut child = Command::new(helper)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", helper.display()))?;
    let result = (|| {
        let mut to = child.stdin.take().ok_or("no pipe to the helper")?;
        let mut from =
            std::io::BufReader::new(child.stdout.take().ok_or("no pipe from the helper")?);
        write_line(&mut to, request).map_err(|e| format!("helper: {e}"))?;
        relay(&mut from, &mut to, conv)
    })();
    // The helper ends after Done; never leave a child behind.
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    result
}

/// Relays a session after the request: events from `from` to `conv`, replies to `to`, until
/// [`Event::Done`].
pub fn relay(
    from: &mut impl BufRead,
    to: &mut impl Write,
    conv: &mut dyn Conversation,
) -> Result<Done, String> {
    loop {
        let line = read_line(from)
            .map_err(|e| format!("helper: {e}"))?
            .ok_or("the helper ended without an answer")?;
        let reply = |r: Result<Option<Zeroizing<String>>, ConvError>| match r {
            Ok(Some(a)) => Reply::Answer(a.to_string()),
            Ok(None) => Reply::NoAnswer,
            Err(e) => Reply::ConvError(e.0),
        };
        match parse::<Event>(&line).map_err(|e| format!("helper: {e}"))? {
            Event::PromptSecret(p) => write_line(to, &reply(conv.prompt_secret(&p)))
                .map_err(|e| format!("helper: {e}"))?,
            Event::PromptVisible(p) => write_line(to, &reply(conv.prompt_visible(&p)))
                .map_err(|e| format!("helper: {e}"))?,
            Event::Info(t) => conv.info(&t),
            Event::Error(t) => conv.error(&t),
            Event::SetPassword(p) => conv.set_password(&Zeroizing::new(p)).map_err(|e| e.0)?,
            Event::FailDelay(ms) => conv.fail_delay(ms),
            Event::Done(d) => return Ok(*d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::Denial;

    #[test]
    fn lines_are_bounded_and_utf8() {
        let long = vec![b'a'; MAX_LINE + 10];
        assert!(read_line(&mut &long[..]).is_err());
        assert!(read_line(&mut &b"\xff\xfe\n"[..]).is_err());
        assert!(read_line(&mut &b"no newline"[..]).is_err());
        assert_eq!(read_line(&mut &b""[..]).unwrap(), None);
        assert_eq!(read_line(&mut &b"{}\n"[..]).unwrap().unwrap().as_str(), "{}");
    }

    #[test]
    fn messages_round_trip_and_unknown_fields_are_refused() {
        let r = Request::Login {
            pam_user: "a".into(),
            service: "s".into(),
            remote: false,
            silent: false,
            args: vec![],
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(parse::<Request>(&text).unwrap(), r);
        assert_eq!(parse::<Request>(r#""status""#).unwrap(), Request::Status);
        assert!(parse::<Request>(r#"{"status":{"user":"root"}}"#).is_err());
        assert!(parse::<Request>(r#"{"status":null,"user":"root"}"#).is_err());
        assert!(parse::<Request>(r#""delete_everyone""#).is_err());
        assert!(parse::<Request>(r#"{"enroll_totp":{"replace":true,"user":"root"}}"#).is_err());
        assert!(parse::<Request>(
            r#"{"login":{"pam_user":"a","service":"s","remote":false,"silent":false,"args":[],"x":1}}"#
        )
        .is_err());
        // Module arguments are the forwardable ones, by name; `config=` is not one.
        let text = r#"{"login":{"pam_user":"a","service":"s","remote":false,"silent":false,"args":["nullok","single_prompt","locker","split_password","debug"]}}"#;
        let Request::Login { args, .. } = parse::<Request>(text).unwrap() else { panic!() };
        let all = ModuleArgs {
            nullok: true,
            single_prompt: true,
            locker: true,
            split_password: true,
            debug: true,
            config: None,
        };
        assert_eq!(LoginArg::module_args(&args), all);
        assert_eq!(LoginArg::forwarded(&all), args);
        for bad in [r#""config=/tmp/x.toml""#, r#""NULLOK""#, r#""nullok ""#, "1", "null"] {
            let text = format!(
                r#"{{"login":{{"pam_user":"a","service":"s","remote":false,"silent":false,"args":[{bad}]}}}}"#
            );
            assert!(parse::<Request>(&text).is_err(), "{bad}");
        }
        // A remote host is no longer part of a request (the helper could not verify it).
        assert!(parse::<Request>(
            r#"{"login":{"pam_user":"a","service":"s","rhost":"10.0.0.1","remote":false,"silent":false,"args":[]}}"#
        )
        .is_err());
        assert!(parse::<Reply>(r#"{"answer":"1","extra":1}"#).is_err());
    }

    #[test]
    fn results_are_typed_and_carry_no_reason() {
        let o = Outcome::deny(Denial::Unavailable, "cannot record the attempt: disk full")
            .with_factor(Factor::Totp);
        let done = Done::from_outcome(&o, None);
        let text = serde_json::to_string(&Event::Done(Box::new(done.clone()))).unwrap();
        assert_eq!(
            text,
            r#"{"done":{"decision":{"deny":"unavailable"},"factor":"totp","status":null}}"#
        );
        assert!(!text.contains("disk"));
        assert_eq!(done.to_outcome().decision, Decision::Deny(Denial::Unavailable));
        assert_eq!(done.to_outcome().factor, Some(Factor::Totp));
        for bad in [
            r#"{"done":{"decision":"yes please","factor":null,"status":null}}"#,
            r#"{"done":{"decision":"success","factor":null,"status":null,"reason":"x"}}"#,
            r#"{"done":{"decision":{"deny":"maybe"},"factor":null,"status":null}}"#,
            r#"{"done":{"decision":"success","factor":"magic","status":null}}"#,
            r#"{"debug":"record: failures=3"}"#,
        ] {
            assert!(parse::<Event>(bad).is_err(), "{bad}");
        }
        for f in [Factor::Push, Factor::Fido2, Factor::PrivacyIdea, Factor::EnrollPush] {
            let o = Outcome::success("x").with_factor(f);
            assert_eq!(Done::from_outcome(&o, None).factor, Some(f), "not 'other' any more");
        }
        let o = Outcome::fail_open("outage").with_factor(Factor::Push);
        let text = serde_json::to_string(&Done::from_outcome(&o, None)).unwrap();
        assert_eq!(text, r#"{"decision":"fail_open","factor":"push","status":null}"#);
    }
}
