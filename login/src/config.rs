//! Configuration: `/etc/pam_mfa/pam_mfa.toml` plus the few module arguments.
//!
//! The file is read afresh on every login, must be owned by root (the effective user) and not be
//! group- or world-writable, and is parsed strictly: an unknown key or a bad value is an error,
//! and the login is denied. Every key and its default is documented in `config/pam_mfa.toml`.

use crate::error::{Error, Result};
pub use crate::fido2::Fido2Config;
use crate::policy::{Enrollment, Policy, Rule};
use crate::secure_fs::{self, FilePolicy};
use crate::totp::Algorithm;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the configuration lives unless the module argument `config=` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/pam_mfa/pam_mfa.toml";
/// Largest accepted configuration file.
pub const MAX_SIZE: u64 = 64 * 1024;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Users who have not enrolled: `required` (deny), `optional` (`PAM_IGNORE`: the rest of the
    /// stack decides; never `PAM_SUCCESS`) or `on-login` (offer enrollment after the password).
    pub enrollment: Enrollment,
    /// Whether the enroll-on-login menu offers "opt out" (not asked again until reset).
    pub allow_opt_out: bool,
    /// Ask once for password and code typed together; the password is handed to the next
    /// module (`use_first_pass`). For clients that can answer only one prompt.
    pub single_prompt: bool,
    /// Module argument `locker` (not in the file): the client is a screen locker, which may hold
    /// the unlock until a message is acknowledged; no message is sent once a factor is
    /// accepted (the log line carries it).
    #[serde(skip)]
    pub locker: bool,
    /// Module argument `split_password` (not in the file): the first line of a single-prompt
    /// stack that checks the password before the code. Asks the single prompt, hands the
    /// password on and checks nothing (`PAM_IGNORE`); a `single_prompt` line after the
    /// password module asks again (one-question lockers answer with the same text) and checks
    /// the code, so a wrong password never uses up a code.
    #[serde(skip)]
    pub split_password: bool,
    /// Log the policy, record state and checks of each login (authpriv, debug level).
    /// Never codes, secrets or passwords.
    pub debug: bool,
    /// Who may make a user's first enrollment without root (through the helper): `self` (the
    /// user) or `admin` (only an administrator). Changing an enrolled factor always requires
    /// a current one.
    pub first_enrollment: FirstEnrollment,
    /// The setuid helper used when the module or `mfa-enroll` runs without root.
    pub helper: PathBuf,
    /// PAM services whose non-root logins the helper serves (screen lockers). A helper caller
    /// names its service itself, so this bounds which rules it can reach.
    pub helper_services: Vec<String>,
    /// Limits of the enroll-on-login "skip" choice.
    pub on_login: OnLoginConfig,
    /// Security keys.
    pub fido2: Fido2Config,
    /// Failed-code lockout.
    pub lockout: LockoutConfig,
    /// Policy rules, first match wins (`[[rule]]` tables).
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
    /// Where secrets and state are kept.
    pub store: StoreConfig,
    /// TOTP verification and enrollment defaults.
    pub totp: TotpConfig,
    /// Recovery codes.
    pub recovery: RecoveryConfig,
    /// A privacyIDEA server, for rules with `backend = "privacyidea"` (absent: none).
    pub privacyidea: Option<crate::privacyidea::PrivacyIdeaConfig>,
    /// Push approval through mfa-server (absent: push is not offered).
    pub push: Option<crate::push::PushConfig>,
    /// The fleet's MFA service, for rules with `backend = "fleet"` (absent: none).
    pub fleet: Option<crate::fleet::FleetConfig>,
}

/// `[store]`: file locations.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory holding `users/` and `locks/` (root-owned, mode 0700).
    pub state_dir: PathBuf,
    /// The 32-byte master key (root-owned, mode 0600).
    pub master_key: PathBuf,
    /// Seconds a login waits for another login of the same user to finish its check (1-60);
    /// then it is refused ("try again").
    pub lock_wait: u64,
}

/// `[totp]`: verification window and parameters for new enrollments.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TotpConfig {
    /// Time steps accepted on either side of the current one (clock drift), 0–10.
    pub window: u32,
    /// Issuer shown in authenticator apps for new enrollments.
    pub issuer: String,
    /// HMAC algorithm for new enrollments. Many apps only support SHA1.
    pub algorithm: Algorithm,
    /// Code length for new enrollments: 6 or 8.
    pub digits: u8,
    /// Time step in seconds for new enrollments (most apps only support 30).
    pub step: u64,
}

/// Who may make a user's first enrollment without root.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FirstEnrollment {
    /// The user, with `mfa-enroll` (through the helper).
    #[default]
    #[serde(rename = "self")]
    SelfService,
    /// Only an administrator (`sudo mfa-enroll --user NAME totp`).
    Admin,
}

/// Where the setuid helper is installed.
pub const DEFAULT_HELPER: &str = "/usr/lib/pam_mfa/mfa-helper";

/// The PAM services of the screen lockers that run as the user (and so reach the store through
/// the helper): `helper_services`' default.
pub const DEFAULT_HELPER_SERVICES: [&str; 13] = [
    "xscreensaver",
    "xsecurelock",
    "i3lock",
    "swaylock",
    "hyprlock",
    "gtklock",
    "waylock",
    "kde",
    "gnome-screensaver",
    "mate-screensaver",
    "cinnamon-screensaver",
    "xfce4-screensaver",
    "vlock",
];

/// `[on_login]`: how long enrollment may be put off.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OnLoginConfig {
    /// Logins a user may skip enrolling before it becomes mandatory (0: no skipping).
    pub max_skips: u32,
    /// Days after the first offer during which skipping is possible (0: no time limit).
    pub grace_days: u32,
}

impl Default for OnLoginConfig {
    fn default() -> Self {
        OnLoginConfig { max_skips: 3, grace_days: 0 }
    }
}

/// `[lockout]`: locking the second factor after repeated wrong codes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Wrong codes within `window` seconds that lock the factor (0: never lock).
    pub max_failures: u32,
    /// Seconds over which failures are counted.
    pub window: u64,
    /// Seconds the factor stays locked.
    pub duration: u64,
    /// Minimum delay before a failure is reported, in milliseconds (`pam_fail_delay`).
    pub fail_delay_ms: u32,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig { max_failures: 5, window: 900, duration: 900, fail_delay_ms: 2000 }
    }
}

/// `[recovery]`: single-use recovery codes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Remind the user to regenerate when this many codes or fewer remain.
    pub warn_below: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            state_dir: PathBuf::from("/var/lib/pam_mfa"),
            master_key: PathBuf::from("/etc/pam_mfa/master.key"),
            lock_wait: 10,
        }
    }
}

impl Default for TotpConfig {
    fn default() -> Self {
        TotpConfig {
            window: 1,
            issuer: "pam_mfa".to_string(),
            algorithm: Algorithm::Sha1,
            digits: 6,
            step: 30,
        }
    }
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig { warn_below: 3 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enrollment: Enrollment::default(),
            allow_opt_out: false,
            single_prompt: false,
            locker: false,
            split_password: false,
            debug: false,
            first_enrollment: FirstEnrollment::default(),
            helper: PathBuf::from(DEFAULT_HELPER),
            helper_services: DEFAULT_HELPER_SERVICES.iter().map(|s| s.to_string()).collect(),
            on_login: OnLoginConfig::default(),
            fido2: Fido2Config::default(),
            lockout: LockoutConfig::default(),
            rules: Vec::new(),
            store: StoreConfig::default(),
            totp: TotpConfig::default(),
            recovery: RecoveryConfig::default(),
            privacyidea: None,
            push: None,
            fleet: None,
        }
    }
}

impl StoreConfig {
    fn validate(&self) -> Result<()> {
        for (key, p) in
            [("store.state_dir", &self.state_dir), ("store.master_key", &self.master_key)]
        {
            if !p.is_absolute() {
                return Err(Error::Config(format!("{key} must be an absolute path")));
            }
        }
        if !(1..=60).contains(&self.lock_wait) {
            return Err(Error::Config("store.lock_wait must be between 1 and 60 seconds".into()));
        }
        Ok(())
    }
}

impl TotpConfig {
    fn validate(&self) -> Result<()> {
        if self.window > 10 {
            return Err(Error::Config("totp.window must be between 0 and 10".into()));
        }
        if self.digits != 6 && self.digits != 8 {
            return Err(Error::Config("totp.digits must be 6 or 8".into()));
        }
        if !(10..=300).contains(&self.step) {
            return Err(Error::Config("totp.step must be between 10 and 300 seconds".into()));
        }
        if self.issuer.is_empty() || self.issuer.len() > 64 || self.issuer.contains(':') {
            return Err(Error::Config("totp.issuer must be 1-64 characters without ':'".into()));
        }
        Ok(())
    }
}

impl LockoutConfig {
    fn validate(&self) -> Result<()> {
        if self.max_failures > 1000 || self.window > 86_400 * 30 || self.duration > 86_400 * 30 {
            return Err(Error::Config(
                "lockout: max_failures at most 1000, window and duration at most 30 days".into(),
            ));
        }
        if self.max_failures > 0 && (self.window == 0 || self.duration == 0) {
            return Err(Error::Config(
                "lockout.window and lockout.duration must be positive".into(),
            ));
        }
        if self.fail_delay_ms > 60_000 {
            return Err(Error::Config("lockout.fail_delay_ms must be at most 60000".into()));
        }
        Ok(())
    }
}

impl Config {
    /// Parses configuration text and validates every value.
    pub fn parse(text: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(&without_comment_lines(text))
            .map_err(|e| Error::Config(one_line(&e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses the file at `path` after checking it is safe to trust.
    pub fn load(path: &Path) -> Result<Config> {
        if !path.is_absolute() {
            return Err(Error::Config(format!("config path {} is not absolute", path.display())));
        }
        let bytes = secure_fs::read_file(path, FilePolicy::config(MAX_SIZE))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Config(format!("{} is not valid UTF-8", path.display())))?;
        Config::parse(text).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Checks every section, each by its owner, then the rules.
    fn validate(&self) -> Result<()> {
        if self.helper_services.iter().any(|s| s.is_empty() || s.len() > 64 || s.contains('/')) {
            return Err(Error::Config(
                "helper_services: service names are 1-64 characters without '/'".into(),
            ));
        }
        self.store.validate()?;
        self.totp.validate()?;
        if self.recovery.warn_below > crate::recovery::CODE_COUNT as u32 {
            return Err(Error::Config("recovery.warn_below must be at most 10".into()));
        }
        self.lockout.validate()?;
        self.fido2.validate()?;
        if self.on_login.grace_days > 3650 {
            return Err(Error::Config("on_login.grace_days must be at most 3650".into()));
        }
        if let Some(p) = &self.push {
            p.validate()?;
        }
        if let Some(p) = &self.privacyidea {
            p.validate()?;
        }
        if let Some(f) = &self.fleet {
            f.validate()?;
        }
        self.validate_rules()
    }

    /// Rules that can never match, or name a backend without its section.
    fn validate_rules(&self) -> Result<()> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.backend == Some(crate::policy::Backend::Fleet) && self.fleet.is_none() {
                return Err(Error::Config(format!(
                    "rule {}: backend = \"fleet\" needs a [fleet] table",
                    i + 1
                )));
            }
            if r.backend == Some(crate::policy::Backend::PrivacyIdea) && self.privacyidea.is_none()
            {
                return Err(Error::Config(format!(
                    "rule {}: backend = \"privacyidea\" needs a [privacyidea] table",
                    i + 1
                )));
            }
            let empty = |l: &Option<Vec<String>>| l.as_ref().is_some_and(Vec::is_empty);
            if empty(&r.service)
                || empty(&r.user)
                || empty(&r.group)
                || r.rhost.as_ref().is_some_and(Vec::is_empty)
            {
                return Err(Error::Config(format!(
                    "rule {}: an empty list can never match",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    /// Applies module arguments on top of the file's values.
    pub fn apply(&mut self, args: &ModuleArgs) {
        if args.nullok {
            self.enrollment = Enrollment::Optional;
            for r in &mut self.rules {
                r.enrollment = r.enrollment.map(|_| Enrollment::Optional);
            }
        }
        if args.single_prompt {
            self.single_prompt = true;
        }
        if args.locker {
            self.locker = true;
        }
        if args.split_password {
            self.split_password = true;
        }
        if args.debug {
            self.debug = true;
        }
    }

    /// Enroll-on-login becomes `required` everywhere (the defaults and every rule): nothing is
    /// recorded (no factor, skip or opt-out), an unenrolled user is refused. For helper logins
    /// when `first_enrollment = "admin"`.
    pub fn without_enroll_on_login(&mut self) {
        fn strict(e: Enrollment) -> Enrollment {
            if e == Enrollment::OnLogin { Enrollment::Required } else { e }
        }
        self.enrollment = strict(self.enrollment);
        for r in &mut self.rules {
            r.enrollment = r.enrollment.map(strict);
        }
    }

    /// The top-level policy, before rules.
    pub fn default_policy(&self) -> Policy {
        Policy {
            exempt: false,
            enrollment: self.enrollment,
            allow_opt_out: self.allow_opt_out,
            backend: crate::policy::Backend::Local,
            failmode: None,
            rule: None,
        }
    }
}

/// `text` with every line that holds only a comment emptied, its line break kept: the parser
/// sees the same lines and columns, so its errors point where they did. The shipped file is
/// 93 % comment lines, and the TOML parser spends about 13 instructions on each comment byte:
/// a third of a TOTP login's instructions went into it; this pass costs a fraction of that
/// (docs/benchmarks.md, issue 19).
///
/// Strictness is kept by leaving unusual text to the parser as it is: a control character
/// anywhere but tab and line feed (TOML forbids them in comments; `\r`, so CRLF files too),
/// or a multi-line string (in one, a line starting with `#` can be part of the value; such a
/// string always opens on a line that is not a comment, which the loop checks).
fn without_comment_lines(text: &str) -> std::borrow::Cow<'_, str> {
    // `fold` rather than `any`: without an early exit the loop vectorizes.
    let unusual = text
        .bytes()
        .fold(false, |u, b| u | ((b < 0x20) & (b != b'\t') & (b != b'\n')) | (b == 0x7f));
    if unusual {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.find('\n').map_or(rest.len(), |i| i + 1));
        rest = tail;
        if line.trim_start_matches([' ', '\t']).starts_with('#') {
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else if line.as_bytes().windows(3).any(|w| matches!(w, b"\"\"\"" | b"'''")) {
            return text.into();
        } else {
            out.push_str(line);
        }
    }
    out.into()
}

fn one_line(e: &toml::de::Error) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The module arguments from the PAM stack line, e.g.
/// `auth required pam_mfa.so config=/etc/pam_mfa/sshd.toml nullok`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleArgs {
    /// `config=PATH`: the configuration file (absolute path).
    pub config: Option<PathBuf>,
    /// `nullok`: users without enrollment get `PAM_IGNORE` (enrollment = "optional").
    pub nullok: bool,
    /// `single_prompt`: password and code in one answer (see [`Config::single_prompt`]).
    pub single_prompt: bool,
    /// `locker`: the client is a screen locker (see [`Config::locker`]).
    pub locker: bool,
    /// `split_password`: hand the password of a single prompt on, check nothing (see
    /// [`Config::split_password`]).
    pub split_password: bool,
    /// `debug`: extra log lines (see [`Config::debug`]).
    pub debug: bool,
}

impl ModuleArgs {
    /// Parses module arguments. Unknown or malformed arguments are errors (the login is denied
    /// rather than running with a configuration the administrator did not intend).
    pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<ModuleArgs> {
        let mut out = ModuleArgs::default();
        for arg in args {
            if arg == "nullok" {
                out.nullok = true;
            } else if arg == "single_prompt" {
                out.single_prompt = true;
            } else if arg == "locker" {
                out.locker = true;
            } else if arg == "split_password" {
                out.split_password = true;
            } else if arg == "debug" {
                out.debug = true;
            } else if let Some(p) = arg.strip_prefix("config=") {
                let p = PathBuf::from(p);
                if !p.is_absolute() {
                    return Err(Error::Config(
                        "module argument config= needs an absolute path".into(),
                    ));
                }
                out.config = Some(p);
            } else {
                let shown: String = arg.chars().take(40).flat_map(char::escape_default).collect();
                return Err(Error::Config(format!("unknown module argument '{shown}'")));
            }
        }
        Ok(out)
    }

    /// The configuration file to read.
    pub fn config_path(&self) -> &Path {
        self.config.as_deref().unwrap_or(Path::new(DEFAULT_PATH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_documented_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.totp.window, 1);
        assert_eq!(c.enrollment, Enrollment::Required);
        assert!(c.rules.is_empty());
    }

    #[test]
    fn shipped_default_config_parses_to_the_defaults() {
        let text = include_str!("../../config/pam_mfa.toml");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
    }

    #[test]
    fn comment_lines_are_emptied_and_lines_kept() {
        let text = "# a\n  \t# b = 1\nx = 1 # c\n\n#\ttab\n#d";
        assert_eq!(without_comment_lines(text), "\n\nx = 1 # c\n\n\n");
        // Multi-line strings are left alone: a line starting with `#` may be part of a value.
        for text in ["a = \"\"\"\n# not a comment\n\"\"\"\n", "a = '''\n# value\n'''\n# c\n"] {
            assert_eq!(without_comment_lines(text), text);
        }
        // A comment with a control character stays for the parser to reject.
        for text in ["# bell \u{7}\n", "# del \u{7f}\n", "# cr \r alone\n", "# nul \0\n"] {
            assert_eq!(without_comment_lines(text), text);
            assert!(matches!(Config::parse(text), Err(Error::Config(_))), "{text:?}");
        }
        // CRLF files are parsed as they are.
        let crlf = "# a\r\n[totp]\r\nwindow = 2\r\n";
        assert_eq!(without_comment_lines(crlf), crlf);
        assert_eq!(Config::parse(crlf).unwrap().totp.window, 2);
    }

    #[test]
    fn errors_after_comment_lines_name_the_same_line_and_column() {
        let text = "# one\n# two\n[totp]\n  # three\nwindow = \"x\"\n";
        let Err(Error::Config(m)) = Config::parse(text) else { panic!("accepted") };
        let direct = toml::from_str::<Config>(text).unwrap_err();
        assert_eq!(m, one_line(&direct));
        assert!(m.contains("line 5, column 10"), "{m}");
        // A multi-line string with `#` lines keeps its value.
        let cfg = Config::parse("[totp]\nissuer = \"\"\"\n# x\n\"\"\"\n# c\n").unwrap();
        assert_eq!(cfg.totp.issuer, "# x\n");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        for bad in [
            "nulok = true",
            "nullok = true",
            "enrollment = \"sometimes\"",
            "[lockout]\nmax_failures = 5\nwindow = 0",
            "[[rule]]\nservice = []",
            "[[rule]]\nrhost = [\"10.0.0.0/40\"]",
            "[[rule]]\nservices = [\"sshd\"]",
            "[totp]\nwindow = 11",
            "[totp]\ndigits = 7",
            "[totp]\nalgorithm = \"MD5\"",
            "[totp]\nstep = 5",
            "[store]\nstate_dir = \"relative\"",
            "[stor]\nx = 1",
            "allow_opt_out = \"yes\"",
            "[recovery]\nwarn_below = 11",
            "not toml at all [",
        ] {
            assert!(matches!(Config::parse(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn push_section() {
        let c = Config::parse(
            "[push]\nurl = \"https://push.example:8443\"\nca_file = \"/etc/pam_mfa/ca.pem\"\n",
        )
        .unwrap();
        let p = c.push.unwrap();
        assert_eq!((p.timeout, p.failmode), (60, crate::policy::FailMode::Closed));
        assert_eq!(p.credential, Path::new(crate::push::DEFAULT_CREDENTIAL));
        for bad in [
            "[push]\nurl = \"https://push.example\"",
            "[push]\nurl = \"http://push.example\"\nca_file = \"/x\"",
            "[push]\nurl = \"https://p\"\nca_file = \"/x\"\ntimeout = 5",
            "[push]\nurl = \"https://p\"\nca_file = \"/x\"\nfailmode = \"ajar\"",
            "[push]\nurl = \"https://p\"\nca_file = \"/x\"\ncredential = \"rel\"",
            "[push]\nurl = \"https://p\"\nca_file = \"/x\"\nsecret = 1",
            "[[rule]]\nfailmode = \"ajar\"",
        ] {
            assert!(matches!(Config::parse(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn rules_parse() {
        let c = Config::parse(
            "enrollment = \"on-login\"\n[[rule]]\nrhost = [\"10.1.0.0/16\", \"local\"]\nexempt = true\n\
             [[rule]]\nservice = [\"sudo\"]\ngroup = [\"wheel\"]\nenrollment = \"required\"\n",
        )
        .unwrap();
        assert_eq!(c.rules.len(), 2);
        assert!(c.rules[0].exempt);
        assert_eq!(c.rules[1].enrollment, Some(Enrollment::Required));
    }

    #[test]
    fn module_args() {
        let a = ModuleArgs::parse(["nullok", "config=/tmp/x.toml"]).unwrap();
        assert!(a.nullok);
        assert_eq!(a.config_path(), Path::new("/tmp/x.toml"));
        assert_eq!(ModuleArgs::parse([]).unwrap().config_path(), Path::new(DEFAULT_PATH));
        assert!(ModuleArgs::parse(["config=relative"]).is_err());
        assert!(ModuleArgs::parse(["nullokk"]).is_err());
        let mut c = Config::default();
        c.apply(&a);
        assert_eq!(c.enrollment, Enrollment::Optional);
        assert!(ModuleArgs::parse(["single_prompt"]).unwrap().single_prompt);
        assert!(ModuleArgs::parse(["locker"]).unwrap().locker);
    }
}
