//! A throwaway pam_mfa installation in a temporary directory: configuration, master key,
//! store, and a pam.d directory whose stacks load the freshly built `pam_mfa.so`.
//!
//! Nothing under `/etc` or `/var` is touched. Logins run in a separate `pam-test-client`
//! process each, as sshd runs each login in its own process.

use mfa_login::config::Config;
use mfa_login::enroll::{self, PendingTotp};
use mfa_login::store::Store;
use mfa_login::username::UserName;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The directory holding the built artifacts (`target/debug`), found from the running test.
pub fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/<test> -> target/debug
    let dir = exe.parent().and_then(Path::parent).expect("test binary in target/<profile>/deps");
    dir.to_path_buf()
}

fn newest_source_mtime(dir: &Path) -> SystemTime {
    let mut newest = UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let m = if p.is_dir() {
            newest_source_mtime(&p)
        } else {
            entry.metadata().and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH)
        };
        newest = newest.max(m);
    }
    newest
}

/// The module under test: `$PAM_MFA_MODULE` (e.g. an installed one) or the workspace's
/// freshly built `libpam_mfa.so`. Refuses a build older than its sources, so a test run never
/// silently tests an old module.
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("PAM_MFA_MODULE") {
        return PathBuf::from(p);
    }
    let so = artifact_dir().join("libpam_mfa.so");
    let built = std::fs::metadata(&so).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `cargo build -p pam_mfa` first (scripts/test.sh does)",
            so.display()
        )
    });
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
    let newest = ["factors/src", "login/src", "remote/src", "pam_mfa/src"]
        .iter()
        .map(|dir| newest_source_mtime(&ws.join(dir)))
        .max()
        .unwrap_or(UNIX_EPOCH);
    assert!(
        built >= newest,
        "{} is older than its sources: run `cargo build -p pam_mfa` first (scripts/test.sh does)",
        so.display()
    );
    so
}

/// Path of the `pam-test-client` binary.
pub fn client_path() -> PathBuf {
    artifact_dir().join("pam-test-client")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// Sleeps until at least `margin` seconds remain in the current `step`, so a code computed now
/// is judged in the same step (at most `margin` seconds of waiting).
pub fn wait_for_step_margin(step: u64, margin: u64) {
    loop {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
        let left = step as f64 - (t % step as f64);
        if left >= margin as f64 {
            return;
        }
        std::thread::sleep(Duration::from_secs_f64(left + 0.05));
    }
}

/// A TOTP code computed by `oathtool` (Debian package `oathtool`), an implementation
/// independent of ours, for time `at`.
pub fn oathtool(secret_b32: &str, algorithm: &str, digits: u8, step: u64, at: u64) -> String {
    let out = Command::new("oathtool")
        .arg(format!("--totp={algorithm}"))
        .arg(format!("--digits={digits}"))
        .arg(format!("--time-step-size={step}s"))
        .arg(format!("--now=@{at}"))
        .arg("--base32")
        .arg(secret_b32)
        .output()
        .expect("oathtool is installed (apt-get install oathtool)");
    assert!(out.status.success(), "oathtool failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_string()
}

/// What enrolling a user produced.
pub struct Enrolled {
    /// The base32 TOTP secret.
    pub secret: String,
    /// The ten recovery codes.
    pub recovery_codes: Vec<String>,
}

impl Enrolled {
    /// The current code by oathtool (SHA1, 6 digits, 30 s).
    pub fn code_now(&self) -> String {
        self.code_at(now())
    }
    /// The code for time `t` by oathtool (SHA1, 6 digits, 30 s).
    pub fn code_at(&self, t: u64) -> String {
        oathtool(&self.secret, "SHA1", 6, 30, t)
    }
}

/// One login's result, as printed by `pam-test-client`.
#[derive(Debug)]
pub struct Outcome {
    /// `pam_authenticate`'s return code.
    pub code: i32,
    /// Messages the module sent: (style, text).
    pub messages: Vec<(i32, String)>,
    /// Captured syslog lines (with `--capture-syslog`).
    pub syslog: Vec<String>,
}

impl Outcome {
    /// Parses the JSON line printed by `pam-test-client`.
    pub fn parse(stdout: &[u8]) -> Outcome {
        let v: serde_json::Value = serde_json::from_slice(stdout).unwrap_or_else(|e| {
            panic!("bad client output {e}: {}", String::from_utf8_lossy(stdout))
        });
        Outcome {
            code: v["code"].as_i64().expect("code") as i32,
            messages: v["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| {
                    (m[0].as_i64().expect("style") as i32, m[1].as_str().expect("text").to_string())
                })
                .collect(),
            syslog: v["syslog"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        }
    }

    /// The decision lines pam_mfa logged.
    pub fn decision_lines(&self) -> Vec<&String> {
        self.syslog.iter().filter(|l| l.contains("pam_mfa(") && l.contains("decision=")).collect()
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Fails the test if a captured log line contains a secret: any of `secrets` (TOTP secrets,
/// recovery codes, also without dashes) or an answer typed in this login (6+ characters).
/// Every login through the fixtures is checked, with `debug = true`, so the whole suite proves
/// that nothing secret reaches syslog.
pub fn assert_no_secrets_logged(o: &Outcome, secrets: &[String], answers: &[&str]) {
    for line in &o.syslog {
        for s in secrets.iter().map(String::as_str).chain(answers.iter().copied()) {
            let s = s.trim();
            if s.len() < 6 {
                continue;
            }
            let compact = s.replace('-', "");
            assert!(
                !line.contains(s) && !line.contains(&compact),
                "secret or typed answer in the log: {line}"
            );
        }
    }
}

/// A temporary pam_mfa installation.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// Secrets handed out by [`Fixture::enroll`], checked against every captured log line.
    secrets: std::cell::RefCell<Vec<String>>,
    /// Root of the temporary tree.
    pub root: PathBuf,
    /// The configuration file.
    pub config_path: PathBuf,
    /// The pam.d directory given to `pam_start_confdir`.
    pub pamd: PathBuf,
    /// The users the processes under test see (see [`crate::nss`]).
    pub nss: crate::nss::NssFiles,
    /// `pam-test-client` arguments every login of this fixture gets (see
    /// [`Fixture::at_local_seat`]).
    login_defaults: std::cell::RefCell<Vec<String>>,
}

impl Fixture {
    /// A fixture with the default configuration and a service `mfa` whose stack is
    /// `auth required pam_mfa.so config=...`.
    pub fn new() -> Fixture {
        Fixture::with_config("")
    }

    /// A fixture whose configuration starts with `extra` (TOML), followed by the `[store]`
    /// table pointing into the temporary tree.
    pub fn with_config(extra: &str) -> Fixture {
        assert!(
            is_root(),
            "the PAM integration tests must run as root (they chown files and capture syslog in a \
             private mount namespace): use scripts/test.sh, which runs them with sudo"
        );
        let dir = tempfile::Builder::new().prefix("pam_mfa_test.").tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let f = Fixture {
            secrets: std::cell::RefCell::new(Vec::new()),
            config_path: root.join("pam_mfa.toml"),
            pamd: root.join("pam.d"),
            nss: crate::nss::NssFiles::new(&root),
            login_defaults: std::cell::RefCell::new(Vec::new()),
            root,
            _dir: dir,
        };
        f.write_config(extra);
        Store::init(&f.config().store).expect("store init");
        std::fs::create_dir(&f.pamd).expect("pam.d");
        // Load the module under its installed name so log lines read `pam_mfa(service:auth)`.
        std::os::unix::fs::symlink(module_path(), f.root.join("pam_mfa.so")).expect("symlink");
        f.stack("other", "auth required pam_deny.so");
        f.stack("mfa", "auth required {module} {config}");
        f
    }

    /// Rewrites the configuration file with `extra` plus the `[store]` table, and, unless
    /// `extra` has its own `[lockout]` table, one that turns the lockout and the failure delay
    /// off (so tests can fail many logins quickly; the lockout tests turn them on).
    pub fn write_config(&self, extra: &str) {
        let lockout = if extra.contains("[lockout]") {
            ""
        } else {
            "[lockout]\nmax_failures = 0\nfail_delay_ms = 0\n"
        };
        // debug = true everywhere: the leak check then covers the debug lines too.
        let text = format!(
            "debug = true\n{extra}\n{lockout}[store]\nstate_dir = \"{}\"\nmaster_key = \"{}\"\n",
            self.state_dir().display(),
            self.master_key().display()
        );
        std::fs::write(&self.config_path, text).expect("write config");
        std::fs::set_permissions(&self.config_path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }

    /// The parsed configuration.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path).expect("config loads")
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The master key file.
    pub fn master_key(&self) -> PathBuf {
        self.root.join("master.key")
    }

    /// A user's encrypted store file.
    pub fn user_file(&self, user: &str) -> PathBuf {
        self.state_dir().join("users").join(user)
    }

    /// Writes the stack for `service`. `{module}` becomes the module's path and `{config}`
    /// becomes `config=<this fixture's config file>`.
    pub fn stack(&self, service: &str, lines: &str) {
        let text = lines
            .replace("{module}", &self.root.join("pam_mfa.so").display().to_string())
            .replace("{config}", &format!("config={}", self.config_path.display()));
        std::fs::write(self.pamd.join(service), format!("{text}\n")).expect("write stack");
    }

    /// Enrolls `user` with a fresh TOTP secret (configured parameters) and recovery codes.
    pub fn enroll(&self, user: &str) -> Enrolled {
        self.nss.ensure(user);
        let cfg = self.config();
        let store = Store::open(&cfg.store).expect("store");
        let pending = PendingTotp::generate(&cfg.totp, &format!("{user}@test")).expect("generate");
        let name = UserName::parse(user).expect("user name");
        let codes = enroll::save_totp(
            &store,
            &name,
            &pending,
            None,
            now(),
            enroll::Existing::Replace,
            true,
        )
        .expect("save")
        .expect("new recovery codes");
        let e = Enrolled {
            secret: pending.uri.secret.to_base32().to_string(),
            recovery_codes: codes.iter().map(|c| c.to_string()).collect(),
        };
        self.remember(&e);
        e
    }

    /// Adds an enrollment's secrets to the ones every log line is checked against.
    pub fn remember(&self, e: &Enrolled) {
        let mut s = self.secrets.borrow_mut();
        s.push(e.secret.clone());
        s.extend(e.recovery_codes.iter().cloned());
    }

    /// Makes `user` exist for `cmd` (see [`crate::nss`]); returns `cmd`.
    pub fn with_user<'c>(&self, cmd: &'c mut Command, user: &str) -> &'c mut Command {
        self.nss.apply(cmd, &["--user", user]);
        cmd
    }

    /// The real `mfa-enroll` with this fixture's configuration, `args`, and the users the
    /// module sees (the user of a `--user NAME` argument is added).
    pub fn enroll_tool(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::sandbox::enroll_tool());
        c.arg("--config").arg(&self.config_path).args(args);
        self.nss.apply(&mut c, args);
        c
    }

    /// Every later login runs at this computer's own seat: in a login session that logind
    /// calls local (security keys are offered only there; see `mfa_login::seat`).
    pub fn at_local_seat(&self) {
        *self.login_defaults.borrow_mut() = vec!["--session".into(), "local".into()];
    }

    fn command(&self, service: &str, user: &str, answers: &[&str], extra: &[&str]) -> Command {
        let mut c = Command::new(client_path());
        self.with_user(&mut c, user);
        c.arg("--confdir").arg(&self.pamd).args(["--service", service, "--user", user]);
        if !extra.contains(&"--session") {
            c.args(self.login_defaults.borrow().iter());
        }
        for a in answers {
            c.args(["--answer", a]);
        }
        c.args(extra);
        c
    }

    /// One login on service `mfa` answering `answers` in order, with syslog captured.
    pub fn login(&self, user: &str, answers: &[&str]) -> Outcome {
        self.login_with("mfa", user, answers, &[])
    }

    /// One login on `service` with extra `pam-test-client` arguments; syslog is captured.
    pub fn login_with(
        &self,
        service: &str,
        user: &str,
        answers: &[&str],
        extra: &[&str],
    ) -> Outcome {
        let out = self
            .command(service, user, answers, extra)
            .arg("--capture-syslog")
            .output()
            .expect("run pam-test-client");
        assert!(
            out.status.success(),
            "pam-test-client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let o = Outcome::parse(&out.stdout);
        assert_no_secrets_logged(&o, &self.secrets.borrow(), answers);
        o
    }

    /// Starts a login on `service` that reports each message on stderr as it arrives, for tests
    /// that act while the login runs (approving a push); see [`crate::live::Live`].
    pub fn start_login(
        &self,
        service: &str,
        user: &str,
        answers: &[&str],
        extra: &[&str],
    ) -> crate::live::Live {
        let mut c = self.command(service, user, answers, extra);
        c.args(["--capture-syslog", "--echo-messages"]);
        crate::live::Live::spawn(c)
    }

    /// [`Fixture::start_login`] with extra environment variables for the PAM application (what
    /// a caller of sudo controls).
    pub fn start_login_env(
        &self,
        service: &str,
        user: &str,
        answers: &[&str],
        env: &[(&str, &str)],
    ) -> crate::live::Live {
        let mut c = self.command(service, user, answers, &[]);
        c.args(["--capture-syslog", "--echo-messages"]);
        c.envs(env.iter().copied());
        crate::live::Live::spawn(c)
    }

    /// Waits for a login started with [`Fixture::start_login`] and checks its log for secrets.
    pub fn finish_login(&self, live: crate::live::Live, answers: &[&str]) -> Outcome {
        let out = live.finish();
        assert!(
            out.status.success(),
            "pam-test-client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let o = Outcome::parse(&out.stdout);
        assert_no_secrets_logged(&o, &self.secrets.borrow(), answers);
        o
    }

    /// Adds a secret that must never appear in a captured log line.
    pub fn add_secret(&self, s: &str) {
        self.secrets.borrow_mut().push(s.to_string());
    }

    /// Starts `n` logins that all wait for a start signal, then releases them together and
    /// returns their outcomes.
    pub fn parallel_logins(&self, n: usize, user: &str, answer: &str) -> Vec<Outcome> {
        let mut children: Vec<Child> = (0..n)
            .map(|_| {
                self.command("mfa", user, &[answer], &["--wait-stdin", "--capture-syslog"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn pam-test-client")
            })
            .collect();
        for c in &mut children {
            let mut stdin = c.stdin.take().expect("stdin");
            stdin.write_all(b"go\n").expect("start");
        }
        children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().expect("wait");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let o = Outcome::parse(&out.stdout);
                assert_no_secrets_logged(&o, &self.secrets.borrow(), &[answer]);
                o
            })
            .collect()
    }

    /// Bytes of every file under the state directory, to prove a refused login changed nothing.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for sub in ["users", "locks"] {
            let d = self.state_dir().join(sub);
            let mut entries: Vec<_> = std::fs::read_dir(&d)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            entries.sort();
            for p in entries {
                let data = std::fs::read(&p).unwrap_or_default();
                out.push((p, data));
            }
        }
        out
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(line: &str) -> Outcome {
        Outcome { code: 0, messages: vec![], syslog: vec![line.to_string()] }
    }

    #[test]
    #[should_panic(expected = "secret or typed answer in the log")]
    fn leak_check_catches_a_recovery_code_without_dashes() {
        assert_no_secrets_logged(
            &outcome("x reason=\"37KQ2M9XD4P\""),
            &["3-7KQ2M-9XD4P".into()],
            &[],
        );
    }

    #[test]
    #[should_panic(expected = "secret or typed answer in the log")]
    fn leak_check_catches_a_typed_answer() {
        assert_no_secrets_logged(&outcome("pam_mfa: got 123456"), &[], &["123456"]);
    }

    #[test]
    fn leak_check_ignores_short_answers() {
        assert_no_secrets_logged(&outcome("enrollment skipped (1 of 2)"), &[], &["1"]);
    }
}
