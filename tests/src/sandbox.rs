//! Tests against the system's own PAM stacks and a real sshd, through `scripts/sandbox.sh`:
//! the repository's example files (`config/pam.d/*`, `config/sshd_config.d/pam_mfa.conf`)
//! appear at their real paths in a private mount namespace, with throwaway users and the built
//! module as `pam_mfa.so`. The host is never changed.

use crate::fixture::{Enrolled, Outcome, artifact_dir, client_path, module_path};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// The built `mfa-enroll`.
pub fn enroll_tool() -> PathBuf {
    artifact_dir().join("mfa-enroll")
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A sandbox directory (see `scripts/sandbox.sh`).
pub struct Sandbox {
    _dir: tempfile::TempDir,
    secrets: std::cell::RefCell<Vec<String>>,
    /// The directory.
    pub dir: PathBuf,
}

impl Sandbox {
    /// A new, empty sandbox.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("pam_mfa_sandbox.").tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        // Traversable (sshd reads authorized_keys as the user), writable by root only.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711)).expect("chmod");
        Sandbox { _dir: dir, dir: path, secrets: std::cell::RefCell::new(Vec::new()) }
    }

    /// Adds a user that exists only in the sandbox.
    pub fn add_user(&self, name: &str, uid: u32, password: Option<&str>) {
        let mut c = Command::new(repo().join("scripts/sandbox.sh"));
        c.arg("add-user").arg(&self.dir).arg(name).arg(uid.to_string());
        if let Some(p) = password {
            c.arg(p);
        }
        run_ok(&mut c);
    }

    /// Adds a second passwd name for `uid` (after the first one, as root/toor are), inside the
    /// sandbox only.
    pub fn add_alias(&self, name: &str, uid: u32) {
        run_ok(
            Command::new(repo().join("scripts/sandbox.sh"))
                .arg("add-alias")
                .arg(&self.dir)
                .arg(name)
                .arg(uid.to_string()),
        );
    }

    /// Installs a repository file (e.g. `config/pam.d/sudo`) at `/etc/<etc_path>`.
    pub fn install(&self, repo_file: &str, etc_path: &str) {
        let to = self.dir.join("etc.upper").join(etc_path);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo().join(repo_file), &to).expect("copy");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    /// The sandbox's `/etc/pam_mfa/pam_mfa.toml`, as seen from outside.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("etc.upper/pam_mfa/pam_mfa.toml")
    }

    /// Writes the sandbox's `/etc/pam_mfa/pam_mfa.toml` (`extra` first, then a `[lockout]`
    /// table without delay unless `extra` has one, then the store) and creates the store with
    /// `mfa-enroll init`.
    pub fn configure(&self, extra: &str) {
        let lockout =
            if extra.contains("[lockout]") { "" } else { "[lockout]\nfail_delay_ms = 0\n" };
        let text = format!(
            "debug = true\n{extra}\n{lockout}[store]\nstate_dir = \"{}\"\nmaster_key = \"{}\"\n",
            self.dir.join("state").display(),
            self.dir.join("master.key").display()
        );
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        run_ok(Command::new(enroll_tool()).arg("--config").arg(&path).arg("init"));
    }

    /// Enrolls `user` with the real `mfa-enroll --yes --json`, run inside the sandbox so the
    /// sandbox's users resolve.
    pub fn enroll(&self, user: &str) -> Enrolled {
        let out = run_ok(
            Command::new(repo().join("scripts/sandbox.sh"))
                .arg("run")
                .arg(&self.dir)
                .arg(module_path())
                .arg(enroll_tool())
                .arg("--config")
                .arg(self.config_path())
                .args(["--user", user, "totp", "--yes", "--json"]),
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let e = Enrolled {
            secret: v["secret"].as_str().expect("secret").to_string(),
            recovery_codes: v["recovery_codes"]
                .as_array()
                .expect("codes")
                .iter()
                .map(|c| c.as_str().expect("code").to_string())
                .collect(),
        };
        let mut s = self.secrets.borrow_mut();
        s.push(e.secret.clone());
        s.extend(e.recovery_codes.iter().cloned());
        e
    }

    /// One login through the sandbox's `/etc/pam.d/<service>` with `pam-test-client`
    /// arguments `args` (answers etc.); syslog is captured.
    pub fn login(&self, service: &str, user: &str, args: &[&str]) -> Outcome {
        let out = run_ok(
            Command::new(repo().join("scripts/sandbox.sh"))
                .arg("run")
                .arg(&self.dir)
                .arg(module_path())
                .arg(client_path())
                .args(["--service", service, "--user", user, "--capture-syslog"])
                .args(args),
        );
        let o = Outcome::parse(&out.stdout);
        crate::fixture::assert_no_secrets_logged(&o, &self.secrets.borrow(), args);
        o
    }
}

impl Sandbox {
    /// Installs the built `mfa-helper` setuid root at `DIR/bin/mfa-helper` and returns its
    /// path (name it in the configuration with `helper = "..."`).
    pub fn install_helper(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let helper = bin.join("mfa-helper");
        std::fs::copy(artifact_dir().join("mfa-helper"), &helper).expect("copy helper");
        std::os::unix::fs::chown(&helper, Some(0), Some(0)).expect("chown");
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o4755)).expect("setuid");
        helper
    }

    /// `program args` inside the sandbox as the unprivileged `uid` (no supplementary groups).
    fn command_as(&self, uid: u32, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(repo().join("scripts/sandbox.sh"));
        c.arg("run")
            .arg(&self.dir)
            .arg(module_path())
            .args([
                "setpriv",
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "--",
            ])
            .arg(program)
            .args(args);
        c
    }

    /// `program args` inside the sandbox as the unprivileged `uid`, started from a login
    /// session of the given kind (`local`, `remote`, `none`, `unknown`: see
    /// [`crate::client::LoginSession`]), as a screen locker in a desktop session would be.
    pub fn command_in_session(
        &self,
        session: &str,
        uid: u32,
        program: &Path,
        args: &[&str],
    ) -> Command {
        let mut c = Command::new(repo().join("scripts/sandbox.sh"));
        c.arg("run")
            .arg(&self.dir)
            .arg(module_path())
            .arg(client_path())
            .args(["session", session, "--"])
            .args([
                "setpriv",
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "--",
            ])
            .arg(program)
            .args(args);
        c
    }

    /// Runs `program args` inside the sandbox as the unprivileged `uid`, with `stdin` as input.
    pub fn run_as(&self, uid: u32, program: &Path, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command_as(uid, program, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        // A broken pipe is expected when the program refuses early.
        let _ = input.write_all(stdin);
        drop(input);
        child.wait_with_output().expect("wait")
    }

    /// Starts `program args` inside the sandbox as `uid`, for a test that talks to it while it
    /// runs (see [`crate::live::Live`]).
    pub fn spawn_as(&self, uid: u32, program: &Path, args: &[&str]) -> crate::live::Live {
        crate::live::Live::spawn(self.command_as(uid, program, args))
    }

    /// One login as the unprivileged `uid` through `/etc/pam.d/<service>` (no syslog capture:
    /// that needs root).
    pub fn login_as(&self, uid: u32, service: &str, user: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["--service", service, "--user", user];
        all.extend_from_slice(args);
        let out = self.run_as(uid, &client_path(), &all, b"");
        assert!(out.status.success(), "pam-test-client: {}", String::from_utf8_lossy(&out.stderr));
        Outcome::parse(&out.stdout)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

/// A real OpenSSH server on 127.0.0.1 with pam_mfa, started by `scripts/sshd-sandbox.sh` for
/// the user `mfauser`. Stopped when dropped.
pub struct Sshd {
    /// The sandbox directory (keys, logs, the store).
    pub sandbox: Sandbox,
    /// The port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

/// The result of one `ssh` run.
#[derive(Debug)]
pub struct SshRun {
    /// Whether ssh exited 0.
    pub ok: bool,
    /// The remote command's output.
    pub stdout: String,
    /// ssh's messages.
    pub stderr: String,
    /// Every prompt ssh asked through SSH_ASKPASS, in order.
    pub prompts: Vec<String>,
}

const ASKPASS: &str = r#"#!/bin/bash
# SSH_ASKPASS for the tests: logs each prompt (NUL-separated) and answers from files.
d=$(dirname "$0")
printf '%s\0' "$1" >> "$d/prompts"
case "$1" in
  *"Choice:"*) cat "$d/answer.choice" ;;
  *"code from the app to finish"*)
    secret=$(printf '%s' "$1" | grep -ao 'secret=[A-Z2-7]*' | head -n 1 | cut -d= -f2)
    oathtool --totp --base32 "$secret" ;;
  *"Verification code"*) cat "$d/answer.code" ;;
  *"Press Enter"*) echo ;;
  *"on it to approve, then press Enter"*) echo ;;
  *"pairing code"*)
    # The test's phone writes the code it shows once it has paired.
    for _ in $(seq 300); do [ -s "$d/answer.pairing" ] && break; sleep 0.1; done
    cat "$d/answer.pairing" ;;
  *) exit 1 ;;
esac
"#;

impl Sshd {
    /// Starts sshd with `config_extra` prepended to the sandbox's pam_mfa configuration.
    pub fn start(config_extra: &str) -> Sshd {
        let sandbox = Sandbox::new();
        let port =
            TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let log = std::fs::File::create(sandbox.dir.join("sshd.log")).expect("log");
        let child = Command::new(repo().join("scripts/sshd-sandbox.sh"))
            .arg(&sandbox.dir)
            .arg(port.to_string())
            .arg(module_path())
            .arg(enroll_tool())
            .arg("mfauser")
            .arg(format!("{config_extra}\n[lockout]\nfail_delay_ms = 0\n"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start sshd-sandbox.sh");
        let askpass = sandbox.dir.join("askpass");
        std::fs::write(&askpass, ASKPASS).expect("askpass");
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let s = Sshd { sandbox, port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start: {}", s.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// The sandbox's pam_mfa configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.sandbox.config_path()
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.sandbox.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Logs in as `mfauser` with `key` and runs `command`; prompts are answered with `code`
    /// ("Verification code") and `choice` (the enroll-on-login menu).
    pub fn ssh(&self, key: &Path, code: &str, choice: &str, command: &str) -> SshRun {
        let d = &self.sandbox.dir;
        std::fs::write(d.join("answer.code"), format!("{code}\n")).expect("answer");
        std::fs::write(d.join("answer.choice"), format!("{choice}\n")).expect("answer");
        let _ = std::fs::remove_file(d.join("prompts"));
        let out = Command::new("ssh")
            .args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
            .arg(key)
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "ConnectTimeout=10",
                "mfauser@127.0.0.1",
                command,
            ])
            .env("SSH_ASKPASS", d.join("askpass"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .expect("run ssh");
        let prompts = std::fs::read(d.join("prompts"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .split('\0')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        SshRun {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            prompts,
        }
    }

    /// The key authorized for `mfauser`.
    pub fn key(&self) -> PathBuf {
        self.sandbox.dir.join("client_key")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // SAFETY: signalling our own child's process group (sshd-sandbox.sh, unshare, sshd).
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
