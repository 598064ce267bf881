//! The screen lockers the documentation names, run for real and headless (issue 18):
//! xscreensaver, xsecurelock and i3lock on Xvfb, swaylock in sway's headless backend. Each runs
//! as a throwaway user of the sandbox (`scripts/sandbox.sh`), with the repository's stack for
//! it (`config/pam.d/<locker>`) and the setuid helper, so the password is checked by pam_unix
//! through unix_chkpwd and the code by pam_mfa through the helper, as on a desktop. Keys are
//! typed with xdotool / wtype, what the locker shows is read back (screenshots kept under
//! `target/test-artifacts/desktop/`, OCR), and the module's and the helper's syslog lines are
//! captured from the sandbox.
//!
//! For each locker: unlock with password + code, a wrong code, a replayed code, a recovery
//! code, the lockout, and (for lockers that ask for the code separately) leaving the code
//! prompt until the locker gives up.

use mfa_tests::desktop::{Session, UserProcess, WAIT, is_decision, wait_until, wait_until_or};
use mfa_tests::fixture::{Enrolled, now};
use std::time::{Duration, Instant};

/// Three wrong codes lock the factor (fewer attempts for the test than the default five).
const CONFIG: &str = "[lockout]\nmax_failures = 3\nfail_delay_ms = 0\n";

/// Seconds a locker waits at a prompt before it gives up (xscreensaver, xsecurelock).
const PROMPT_TIMEOUT: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Xscreensaver,
    Xsecurelock,
    I3lock,
    Swaylock,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Xscreensaver => "xscreensaver",
            Kind::Xsecurelock => "xsecurelock",
            Kind::I3lock => "i3lock",
            Kind::Swaylock => "swaylock",
        }
    }

    /// Whether the locker asks each PAM prompt in turn (password, then code). i3lock and
    /// swaylock answer every prompt with the one typed text.
    fn asks_each_prompt(self) -> bool {
        matches!(self, Kind::Xscreensaver | Kind::Xsecurelock)
    }

    fn stack(self) -> String {
        format!("config/pam.d/{}", self.name())
    }
}

/// How an unlock attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Result {
    /// The screen is unlocked.
    Unlocked,
    /// Still locked.
    Refused {
        /// pam_mfa's decision line (None: the password was refused first).
        decision: Option<String>,
        /// The text on the screen (OCR) once the locker showed the refusal.
        shown: String,
    },
}

struct Locker<'s> {
    s: &'s Session,
    kind: Kind,
    /// xscreensaver's daemon.
    _daemon: Option<UserProcess>,
    /// The running locker (i3lock, xsecurelock, swaylock; xscreensaver's is the daemon).
    process: Option<UserProcess>,
    /// Refusals the locker has logged so far (i3lock, swaylock).
    failures_logged: usize,
}

fn session(kind: Kind, test: &str) -> (Session, Enrolled) {
    let mut s = Session::new(
        &format!("{}-{test}", kind.name()),
        CONFIG,
        &[(&kind.stack(), &format!("pam.d/{}", kind.name()))],
    );
    match kind {
        Kind::Swaylock => s.start_wayland(),
        _ => s.start_x(),
    }
    let e = s.sandbox.enroll(&s.user);
    (s, e)
}

impl<'s> Locker<'s> {
    fn start(s: &'s Session, kind: Kind) -> Locker<'s> {
        let mut daemon = None;
        if kind == Kind::Xscreensaver {
            let settings = format!(
                "mode: blank\nlock: True\nsplash: False\ntimeout: 1:00:00\n\
                 passwdTimeout: 0:00:{PROMPT_TIMEOUT:02}\n"
            );
            std::fs::write(s.home.join(".xscreensaver"), settings).expect("settings");
            let log = s.home.join("xscreensaver-verbose.log");
            daemon = Some(s.spawn(
                "xscreensaver",
                &["-no-splash", "-verbose", "-log", &log.display().to_string()],
                &[],
            ));
            wait_until(WAIT, "xscreensaver to start", || {
                let out = s.x_command("xscreensaver-command").arg("-time").output().ok()?;
                out.status.success().then_some(())
            });
        }
        Locker { s, kind, _daemon: daemon, process: None, failures_logged: 0 }
    }

    /// Locks the screen and waits until the locker has it.
    fn lock(&mut self) {
        let s = self.s;
        self.failures_logged = 0;
        match self.kind {
            Kind::Xscreensaver => {
                let out = s.x_command("xscreensaver-command").arg("-lock").output().expect("lock");
                assert!(out.status.success(), "{out:?}");
                wait_until(WAIT, "xscreensaver to lock", || self.is_locked().then_some(()));
            }
            Kind::Xsecurelock => {
                self.process = Some(s.spawn(
                    "xsecurelock",
                    &[],
                    &[
                        ("XSECURELOCK_PAM_SERVICE", "xsecurelock"),
                        ("XSECURELOCK_AUTH_TIMEOUT", &PROMPT_TIMEOUT.to_string()),
                        ("XSECURELOCK_SHOW_DATETIME", "0"),
                        ("XSECURELOCK_SAVER", "saver_blank"),
                    ],
                ));
                // Locked once it holds the keyboard: a key then brings up the prompt.
            }
            Kind::I3lock => {
                self.process = Some(s.spawn("i3lock", &["-n", "--debug"], &[]));
                wait_until(WAIT, "i3lock's window", || {
                    let out = s
                        .x_command("xdotool")
                        .args(["search", "--class", "i3lock"])
                        .output()
                        .ok()?;
                    (out.status.success() && !out.stdout.is_empty()).then_some(())
                });
            }
            Kind::Swaylock => {
                self.process = Some(s.spawn("swaylock", &["-d"], &[]));
                // swaylock's background is white; sway's empty output is black.
                wait_until(WAIT, "swaylock's surface", || {
                    let shot = s.sandbox.dir.join("probe.png");
                    let _ = std::fs::remove_file(&shot);
                    let ok = std::process::Command::new("grim")
                        .env("XDG_RUNTIME_DIR", s.sandbox.dir.join("run-user"))
                        .env("WAYLAND_DISPLAY", wayland_socket(s))
                        .arg(&shot)
                        .status()
                        .is_ok_and(|st| st.success());
                    (ok && is_white(&shot, 5, 5)).then_some(())
                });
                // Keys reach it only once it has the keyboard: Escape (clears the empty input)
                // then shows its indicator in the middle of the screen.
                wait_until(WAIT, "swaylock to take keys", || {
                    s.key("Escape");
                    let shot = s.sandbox.dir.join("probe.png");
                    let _ = std::fs::remove_file(&shot);
                    let ok = std::process::Command::new("grim")
                        .env("XDG_RUNTIME_DIR", s.sandbox.dir.join("run-user"))
                        .env("WAYLAND_DISPLAY", wayland_socket(s))
                        .arg(&shot)
                        .status()
                        .is_ok_and(|st| st.success());
                    (ok && !is_white(&shot, 512, 384)).then_some(())
                });
            }
        }
        assert!(self.is_locked(), "{} did not lock", self.kind.name());
    }

    fn is_locked(&self) -> bool {
        match self.kind {
            Kind::Xscreensaver => {
                let out = self
                    .s
                    .x_command("xscreensaver-command")
                    .arg("-time")
                    .output()
                    .expect("xscreensaver-command");
                String::from_utf8_lossy(&out.stdout).contains("locked")
            }
            _ => self.process.as_ref().is_some_and(|p| p.exited().is_none()),
        }
    }

    /// The locker's own log (xscreensaver's verbose log, the others' stderr).
    fn log(&self) -> String {
        match self.kind {
            Kind::Xscreensaver => {
                std::fs::read_to_string(self.s.home.join("xscreensaver-verbose.log"))
                    .unwrap_or_default()
            }
            _ => self.process.as_ref().map(UserProcess::output).unwrap_or_default(),
        }
    }

    /// Brings up the password prompt (two-prompt lockers) and returns when it is shown.
    fn wake(&mut self, label: &str) {
        let s = self.s;
        let start = Instant::now();
        loop {
            match self.kind {
                Kind::Xscreensaver => {
                    let _ = s.x_command("xdotool").args(["mousemove_relative", "3", "3"]).status();
                }
                // The first key only wakes it (XSECURELOCK_DISCARD_FIRST_KEYPRESS).
                _ => s.key("shift"),
            }
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                if s.screen_text().contains("password") {
                    s.screenshot(&format!("{label}-password-prompt"));
                    return;
                }
            }
            assert!(start.elapsed() < WAIT, "{}: no password prompt", self.kind.name());
        }
    }

    /// One unlock attempt: the password, then `answer` at the code prompt (two-prompt
    /// lockers), or both typed together (one-prompt lockers).
    fn attempt(&mut self, label: &str, password: &str, answer: &str) -> Result {
        let s = self.s;
        // Only what is logged from now on belongs to this attempt.
        let before = s.syslog.lines().len();
        if self.kind.asks_each_prompt() {
            self.wake(label);
            s.enter(password);
            // The code prompt, unless the password or the module refused first (locked).
            let prompted = wait_until_or(
                WAIT,
                "the code prompt or a refusal",
                || {
                    let new = s.syslog.lines().split_off(before);
                    if password_refusals(&new) > 0 || new.iter().any(|l| l.contains("decision=")) {
                        return Some(false);
                    }
                    s.screen_text().contains("verification code").then_some(true)
                },
                || self.context(label),
            );
            if prompted {
                s.screenshot(&format!("{label}-code-prompt"));
                s.enter(answer);
            }
        } else {
            s.enter(&format!("{password}{answer}"));
        }
        enum Seen {
            Accepted(String),
            Refused(Option<String>),
            Unlocked,
        }
        let seen = wait_until_or(
            WAIT,
            "the attempt's outcome",
            || {
                let lines = s.syslog.lines();
                let new = &lines[before..];
                // The helper logs its decision first; the module's line follows the conversation
                // (and never comes if the locker gives up during a message).
                // (`decision=ignore`: the split_password line of the one-question lockers,
                // which hands the password on and decides nothing.)
                let decided = |l: &&String| {
                    (is_decision(l) || l.contains("op=login decision="))
                        && !l.contains("decision=ignore")
                };
                if let Some(d) = new.iter().find(decided) {
                    return Some(if d.contains("decision=success") {
                        Seen::Accepted(d.clone())
                    } else {
                        Seen::Refused(Some(d.clone()))
                    });
                }
                if password_refusals(new) > 0 {
                    return Some(Seen::Refused(None));
                }
                (!self.is_locked()).then_some(Seen::Unlocked)
            },
            || self.context(label),
        );
        match seen {
            Seen::Accepted(line) => {
                // The factor was accepted: the locker must now unlock, whatever it shows.
                if !self.unlocked_within(WAIT) {
                    s.screenshot(&format!("{label}-accepted-but-locked"));
                    panic!(
                        "{}: pam_mfa accepted ({line}) but the screen stayed locked; log:\n{}",
                        self.kind.name(),
                        self.log()
                    );
                }
                s.screenshot(&format!("{label}-unlocked"));
                Result::Unlocked
            }
            Seen::Unlocked => {
                s.screenshot(&format!("{label}-unlocked"));
                Result::Unlocked
            }
            Seen::Refused(decision) => {
                let shown = self.refusal_screen(label);
                assert!(self.is_locked(), "{}: refused, yet unlocked", self.kind.name());
                self.settle();
                Result::Refused { decision, shown }
            }
        }
    }

    /// The locker's log and the syslog lines, and a screenshot, for a failure message.
    fn context(&self, label: &str) -> String {
        self.s.screenshot(&format!("{label}-stuck"));
        format!(
            "{}'s log:\n{}\nsyslog:\n{}",
            self.kind.name(),
            self.log(),
            self.s.syslog.lines().join("\n")
        )
    }

    /// What the locker shows once it has the refusal (after "Checking...", "Processing...",
    /// "Verifying..."); kept as a screenshot.
    fn refusal_screen(&self, label: &str) -> String {
        let s = self.s;
        let text = wait_until(WAIT, "the locker to show the refusal", || {
            let t = s.screen_text_all();
            let busy = ["checking", "processing", "verifying"].iter().any(|w| t.contains(w));
            (!busy).then_some(t)
        });
        s.screenshot(&format!("{label}-refused"));
        text
    }

    fn unlocked_within(&self, t: Duration) -> bool {
        let until = Instant::now() + t;
        while Instant::now() < until {
            if !self.is_locked() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// After a refusal, waits until the locker takes input again.
    fn settle(&mut self) {
        match self.kind {
            // The dialog shows the failure, then closes; the next wake starts a new one.
            Kind::Xscreensaver => {
                let mut acknowledged = None;
                wait_until(WAIT, "xscreensaver's dialog to close", || {
                    let log = self.log();
                    let started = log.matches("launched xscreensaver-auth --verbose").count();
                    let ended = log.matches("xscreensaver-auth exited and").count();
                    // A message waits for OK (or the dialog's timeout): the user reads it and
                    // presses Enter.
                    // Once per message: a second Enter would wake a new dialog and submit an
                    // empty password.
                    let last = log
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| l.contains("pam_conversation ("))
                        .last();
                    if let Some((at, l)) = last {
                        let message = l.contains("_MSG=") || l.contains("TEXT_INFO=");
                        if message && l.ends_with(") ...") && acknowledged != Some(at) {
                            acknowledged = Some(at);
                            self.s.key("Return");
                        }
                    }
                    (started == ended).then_some(())
                });
            }
            // auth_x11 asks for the password again at once; after an error message, which
            // waits for a key, it closes and the blank saver is back.
            Kind::Xsecurelock => {
                wait_until(WAIT, "xsecurelock's next prompt", || {
                    let t = self.s.screen_text();
                    if t.contains("error") {
                        self.s.key("shift");
                    }
                    (t.contains("password:") || t.is_empty()).then_some(())
                });
            }
            // They ignore keys until PAM has returned (after pam_unix's delay), then log it.
            Kind::I3lock | Kind::Swaylock => {
                let line = match self.kind {
                    Kind::I3lock => "Authentication failure",
                    _ => "pam_authenticate failed",
                };
                let failures = self.failures_logged;
                wait_until(WAIT, "the locker to finish the attempt", || {
                    (self.log().matches(line).count() > failures).then_some(())
                });
                self.failures_logged = self.log().matches(line).count();
            }
        }
    }
}

fn wayland_socket(s: &Session) -> String {
    s.user_env()
        .into_iter()
        .find(|(k, _)| k == "WAYLAND_DISPLAY")
        .map(|(_, v)| v)
        .expect("a Wayland session")
}

/// Whether one pixel of a PNG is white.
fn is_white(png: &std::path::Path, x: u32, y: u32) -> bool {
    let out = std::process::Command::new("convert")
        .arg(png)
        .args(["-format", &format!("%[fx:p{{{x},{y}}}.r*p{{{x},{y}}}.g*p{{{x},{y}}}.b]"), "info:"])
        .output()
        .expect("convert");
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().is_ok_and(|v| v > 0.99)
}

/// pam_unix's refusals of the password so far.
fn password_refusals(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains("pam_unix(") && l.contains("authentication failure")).count()
}

fn refused_because(r: &Result, why: &str) {
    match r {
        Result::Refused { decision: Some(d), .. } => {
            assert!(d.contains(why), "expected '{why}': {d}")
        }
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
}

/// Password + code unlocks; a wrong code and a replayed code keep it locked; a recovery code
/// unlocks.
fn unlock_wrong_replay_recovery(kind: Kind) {
    let (s, e) = session(kind, "unlock");
    let mut l = Locker::start(&s, kind);
    l.lock();

    let r = l.attempt("wrong-code", &s.password, "000000");
    refused_because(&r, "wrong code");

    let code = e.code_now();
    if !kind.asks_each_prompt() {
        // A wrong password typed with a valid code: refused by pam_unix before the code is
        // checked, so the same code unlocks right after (it was not used up).
        let r = l.attempt("wrong-password", "not the password", &code);
        assert!(matches!(r, Result::Refused { decision: None, .. }), "{r:?}");
    }
    assert_eq!(l.attempt("code", &s.password, &code), Result::Unlocked);

    l.lock();
    let r = l.attempt("replayed-code", &s.password, &code);
    refused_because(&r, "already used");
    // Lockers that show PAM's messages tell the user what happened and what to do.
    if kind.asks_each_prompt() {
        shows(&r, &["already used", "wait for the next code"]);
    }

    assert_eq!(
        l.attempt("recovery-code", &s.password, &e.recovery_codes[0].to_lowercase()),
        Result::Unlocked
    );
    let mut secrets: Vec<&str> = e.recovery_codes.iter().map(String::as_str).collect();
    secrets.push(&e.secret);
    secrets.push(&code);
    s.assert_no_secrets_logged(&secrets);
}

/// Wrong codes lock the factor; then the right code is refused and the screen says so.
fn lockout(kind: Kind) {
    let (s, e) = session(kind, "lockout");
    let mut l = Locker::start(&s, kind);
    l.lock();
    for i in 1..=3 {
        let r = l.attempt(&format!("wrong-{i}"), &s.password, "000000");
        refused_because(&r, "wrong code");
    }
    let r = l.attempt("locked", &s.password, &e.code_at(now() + 30));
    refused_because(&r, "locked for");
    if kind.asks_each_prompt() {
        shows(&r, &["locked for", "admin unlock"]);
    }
}

/// Whether the locker showed each of `phrases` (lowercase) with a refusal.
fn shows(r: &Result, phrases: &[&str]) {
    let Result::Refused { shown, .. } = r else { panic!("expected a refusal, got {r:?}") };
    for p in phrases {
        assert!(shown.contains(p), "'{p}' not on the screen: {shown}");
    }
}

/// Leaving the code prompt until the locker gives up keeps the screen locked and costs no
/// attempt; the next unlock works.
fn idle_at_code_prompt(kind: Kind) {
    let (s, e) = session(kind, "idle");
    let mut l = Locker::start(&s, kind);
    l.lock();
    l.wake("idle");
    s.enter(&s.password);
    s.wait_for_screen("idle-code-prompt", &["verification code"]);
    // The locker gives up after PROMPT_TIMEOUT seconds.
    let gave_up = Instant::now();
    wait_until(WAIT, "the locker to give up", || {
        (gave_up.elapsed() > Duration::from_secs(PROMPT_TIMEOUT)
            && !s.screen_text().contains("verification code"))
        .then_some(())
    });
    s.screenshot("idle-gave-up");
    assert!(l.is_locked());
    assert!(s.syslog.decisions().iter().all(|d| !d.contains("decision=success")));
    assert_eq!(l.attempt("after-idle", &s.password, &e.code_now()), Result::Unlocked);
    let record = s
        .syslog
        .lines()
        .into_iter()
        .rfind(|l| l.contains("debug: record:"))
        .expect("debug record line");
    assert!(record.contains("failures=0"), "the idle prompt counted as a failure: {record}");
}

#[test]
fn xscreensaver_unlocks_with_password_and_code() {
    unlock_wrong_replay_recovery(Kind::Xscreensaver);
}

#[test]
fn xscreensaver_lockout() {
    lockout(Kind::Xscreensaver);
}

#[test]
fn xscreensaver_idle_at_the_code_prompt() {
    idle_at_code_prompt(Kind::Xscreensaver);
}

#[test]
fn xsecurelock_unlocks_with_password_and_code() {
    unlock_wrong_replay_recovery(Kind::Xsecurelock);
}

#[test]
fn xsecurelock_lockout() {
    lockout(Kind::Xsecurelock);
}

#[test]
fn xsecurelock_idle_at_the_code_prompt() {
    idle_at_code_prompt(Kind::Xsecurelock);
}

#[test]
fn i3lock_unlocks_with_password_and_code_typed_together() {
    unlock_wrong_replay_recovery(Kind::I3lock);
}

#[test]
fn i3lock_lockout() {
    lockout(Kind::I3lock);
}

#[test]
fn swaylock_unlocks_with_password_and_code_typed_together() {
    unlock_wrong_replay_recovery(Kind::Swaylock);
}

#[test]
fn swaylock_lockout() {
    lockout(Kind::Swaylock);
}

/// i3lock under a two-prompt stack (common-auth, then pam_mfa, as for xscreensaver): i3lock
/// answers the code prompt with the password too. The screen stays locked, and more unlocks
/// with the right password than the lockout allows cost the user nothing: the password at the
/// code prompt is no answer, never a wrong code.
#[test]
fn i3lock_with_a_two_prompt_stack_never_counts_the_password() {
    let mut s =
        Session::new("i3lock-two-prompt", CONFIG, &[("config/pam.d/xscreensaver", "pam.d/i3lock")]);
    s.start_x();
    let _e = s.sandbox.enroll(&s.user);
    let mut l = Locker::start(&s, Kind::I3lock);
    l.lock();
    // One more than the lockout allows, and one to read the record.
    for i in 1..=5 {
        let r = l.attempt(&format!("password-only-{i}"), &s.password, "");
        refused_because(&r, "no answer");
    }
    let records: Vec<String> =
        s.syslog.lines().into_iter().filter(|l| l.contains("debug: record:")).collect();
    assert_eq!(records.len(), 5, "{records:?}");
    for r in &records {
        assert!(r.contains("failures=0 locked=false"), "the password counted: {r}");
    }
    let notices = s.syslog.lines().into_iter().filter(|l| l.contains("was the user's password"));
    assert_eq!(notices.count(), 5);
    s.assert_no_secrets_logged(&[]);
}
