//! Test harness: a private temporary store and configuration, and the real binary.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use mfa_login::config::Config;
use mfa_login::login::{Clock, SystemClock};
use mfa_login::secret::SecretBytes;
use mfa_login::store::{Store, UserRecord};
use mfa_login::totp::{Params, code_at};
use mfa_login::username::UserName;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_mfa-enroll");

/// A temporary directory (mode 0700) with a configuration (mode 0600) whose store lives inside
/// it; `init` has been run.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

/// The user database the tool sees in these tests: `--user NAME` must name an account (the tool
/// resolves it as pam_mfa does), so every name a test uses is made an account in passwd and
/// group files of the test's own, which Debian's libnss-wrapper (preloaded) answers from.
pub fn with_users(cmd: &mut Command, dir: &Path, args: &[&str]) {
    let passwd = dir.join("nss-passwd");
    let group = dir.join("nss-group");
    if !passwd.exists() {
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
        std::fs::write(&group, "root:x:0:\n").expect("group");
    }
    if let Some(name) = args.iter().position(|a| *a == "--user").and_then(|i| args.get(i + 1)) {
        let text = std::fs::read_to_string(&passwd).expect("passwd");
        let known = text.lines().any(|l| l.split(':').next() == Some(*name));
        if !known && !name.contains([':', '\n', '/']) && !name.is_empty() {
            let uid = 62_000 + text.lines().count();
            let mut f = std::fs::OpenOptions::new().append(true).open(&passwd).expect("passwd");
            writeln!(f, "{name}:x:{uid}:{uid}::/nonexistent:/bin/sh").expect("passwd");
            let mut g = std::fs::OpenOptions::new().append(true).open(&group).expect("group");
            writeln!(g, "{name}:x:{uid}:").expect("group");
        }
    }
    cmd.env("LD_PRELOAD", "libnss_wrapper.so")
        .env("NSS_WRAPPER_PASSWD", passwd)
        .env("NSS_WRAPPER_GROUP", group);
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let config = dir.path().join("pam_mfa.toml");
        let text = format!(
            "[store]\nstate_dir = \"{}\"\nmaster_key = \"{}\"\n",
            dir.path().join("state").display(),
            dir.path().join("master.key").display()
        );
        std::fs::write(&config, text).expect("write config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let env = Env { dir, config };
        let out = env.run(&["init"], b"");
        assert_ok(&out);
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with `--config` set, stdin/stdout/stderr piped.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        with_users(&mut c, self.dir.path(), args);
        c.arg("--config").arg(&self.config).args(args);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Runs the binary with `stdin` as its whole input.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self.cmd(args).spawn().expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        // The process may exit before reading everything (e.g. refused at once).
        let _ = input.write_all(stdin);
        drop(input);
        child.wait_with_output().expect("wait")
    }

    /// `status --json` for `user`.
    pub fn status(&self, user: &str) -> serde_json::Value {
        let out = self.run(&["--user", user, "status", "--json"], b"");
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// The stored record, read with mfa-login directly (the tests run as root, like the tool).
    pub fn record(&self, user: &str) -> Option<UserRecord> {
        let cfg = Config::load(&self.config).expect("config");
        let store = Store::open(&cfg.store).expect("store");
        store.load(&UserName::parse(user).expect("name")).expect("load")
    }

    /// `--user USER totp --yes --json`: returns the JSON object.
    pub fn provision(&self, user: &str) -> serde_json::Value {
        self.provision_with(&["--user", user, "totp", "--yes", "--json"])
    }

    /// Runs a `--json` command that must succeed; returns its JSON object.
    pub fn provision_with(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args, b"");
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

fn now() -> u64 {
    SystemClock.now().expect("clock")
}

/// The current code for a base32 SHA1/6/30 secret from oathtool (an independent
/// implementation), checked against mfa-login's `code_at` for the same moment.
pub fn current_code(secret: &str) -> String {
    let before = now();
    let out = Command::new("oathtool").args(["--totp", "-b", secret]).output().expect("oathtool");
    let after = now();
    assert!(out.status.success(), "oathtool: {}", String::from_utf8_lossy(&out.stderr));
    let code = String::from_utf8(out.stdout).expect("utf8").trim().to_string();
    let key = SecretBytes::from_base32(secret).expect("base32");
    let ours = [before, after].map(|t| code_at(key.expose(), &Params::default(), t).to_string());
    assert!(ours.contains(&code), "oathtool {code} vs mfa-login {ours:?}");
    code
}

/// A six-digit code that is wrong for every step near now.
pub fn wrong_code(secret: &str) -> String {
    let key = SecretBytes::from_base32(secret).expect("base32");
    let t = now();
    let near: Vec<String> = (0..=8)
        .map(|i| code_at(key.expose(), &Params::default(), t - 120 + i * 30).to_string())
        .collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !near.contains(c)).expect("some code is wrong")
}

/// Recovery codes look like `3-7KQ2M-9XD4P`, index first.
pub fn is_recovery_code(c: &str, index: usize) -> bool {
    let parts: Vec<&str> = c.split('-').collect();
    parts.len() == 3
        && parts[0] == index.to_string()
        && parts[1..].iter().all(|p| {
            p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        })
}

/// The recovery codes in text output: the indented lines that look like one.
pub fn recovery_codes_in(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() == 13 && l.as_bytes()[1] == b'-' && l.as_bytes()[7] == b'-')
        .map(str::to_string)
        .collect()
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}
