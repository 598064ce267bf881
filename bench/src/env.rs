//! A throwaway benchmark installation: one temporary directory holding a pam.d directory with a
//! stack per module, pam_mfa's configuration, master key and store, the google-authenticator
//! secret files and the pam_oath users file. Nothing under `/etc` is touched.
//!
//! The directory lives under `/var/tmp` (the file system that holds `/var/lib/pam_mfa` in
//! production, not a tmpfs), so every `fsync` is a real one.

use crate::modules::Module;
use hmac::{Hmac, Mac};
use mfa_login::config::Config;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Parent directory of benchmark installations (`$MFA_BENCH_DIR` overrides it).
pub(crate) fn base_dir() -> PathBuf {
    std::env::var_os("MFA_BENCH_DIR").map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from)
}

/// An installation on disk. Workers open the one the orchestrator created.
/// The benchmark's passwd and group files, in the installation's root.
const PASSWD_FILE: &str = "passwd";
const GROUP_FILE: &str = "group";

/// First uid of the benchmark's users.
const FIRST_UID: u32 = 62_000;

pub(crate) struct Env {
    /// Root of the installation.
    pub(crate) root: PathBuf,
    seed: Vec<u8>,
    _dir: Option<tempfile::TempDir>,
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    chmod(path, mode);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex seed"))
        .collect()
}

impl Env {
    /// Creates a fresh installation whose pam_mfa stack loads `pam_mfa_so`.
    pub(crate) fn create(pam_mfa_so: &Path) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("mfa-bench.")
            .tempdir_in(base_dir())
            .expect("temporary directory under /var/tmp (or $MFA_BENCH_DIR)");
        let root = dir.path().to_path_buf();
        chmod(&root, 0o700);
        let seed = mfa_login::random::secret_bytes(20).expect("random seed").to_vec();
        write(&root.join("seed"), &hex(&seed), 0o600);
        let env = Env { root, seed, _dir: Some(dir) };
        // Loaded under its installed name, as in production.
        std::os::unix::fs::symlink(pam_mfa_so, env.root.join("pam_mfa.so")).expect("symlink");
        // Defaults everywhere except one: no libpam failure delay (`pam_fail_delay`, 2 s by
        // default). Neither peer asks for one, it costs no CPU and holds no lock, and it would
        // swamp what the same-user runs measure. Store, lock and fsync are untouched.
        let config = format!(
            "[lockout]\nfail_delay_ms = 0\n\n[store]\nstate_dir = \"{}\"\nmaster_key = \"{}\"\n",
            env.root.join("state").display(),
            env.root.join("master.key").display()
        );
        write(&env.config_path(), &config, 0o644);
        mfa_login::store::Store::init(&env.config().store).expect("pam_mfa store init");
        for d in ["pam.d", "ga", "oath"] {
            std::fs::create_dir(env.root.join(d)).expect("mkdir");
            chmod(&env.root.join(d), 0o700);
        }
        write(&env.root.join("pam.d/other"), "auth required pam_deny.so\n", 0o644);
        for m in Module::ALL {
            write(&env.root.join("pam.d").join(m.key()), &format!("{}\n", m.stack(&env)), 0o644);
        }
        write(&env.oath_file(), "", 0o600);
        write(&env.nss_passwd(), "root:x:0:0:root:/root:/bin/sh\n", 0o644);
        write(&env.nss_group(), "root:x:0:\n", 0o644);
        env
    }

    /// The passwd file the benchmark users live in: pam_mfa refuses a user name that is not an
    /// account, and the benchmark must not add thousands of users to the machine. Every process
    /// that loads a module runs with Debian's libnss-wrapper preloaded ([`Env::nss_env`]), which
    /// answers passwd and group lookups from these files; the peers run under it too, so the
    /// comparison stays fair.
    pub(crate) fn nss_passwd(&self) -> PathBuf {
        self.root.join(PASSWD_FILE)
    }

    /// The group file next to [`Env::nss_passwd`].
    pub(crate) fn nss_group(&self) -> PathBuf {
        self.root.join(GROUP_FILE)
    }

    /// Adds `users` (those not there yet) to [`Env::nss_passwd`], each with its own uid.
    pub(crate) fn add_accounts(&self, users: &[String]) {
        let path = self.nss_passwd();
        let mut text = std::fs::read_to_string(&path).expect("benchmark passwd");
        let known: std::collections::HashSet<String> =
            text.lines().filter_map(|l| l.split(':').next()).map(str::to_string).collect();
        let first = FIRST_UID + text.lines().count() as u32;
        for (uid, u) in (first..).zip(users.iter().filter(|u| !known.contains(*u))) {
            text.push_str(&format!("{u}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"));
        }
        write(&path, &text, 0o644);
    }

    /// The environment that makes a process see the users of [`Env::nss_passwd`].
    pub(crate) fn nss_env(root: &Path) -> [(&'static str, PathBuf); 3] {
        [
            ("LD_PRELOAD", PathBuf::from("libnss_wrapper.so")),
            ("NSS_WRAPPER_PASSWD", root.join(PASSWD_FILE)),
            ("NSS_WRAPPER_GROUP", root.join(GROUP_FILE)),
        ]
    }

    /// Opens an installation made by [`Env::create`] (in a worker process).
    pub(crate) fn open(root: &Path) -> Env {
        let seed = std::fs::read_to_string(root.join("seed")).expect("benchmark seed");
        Env { root: root.to_path_buf(), seed: unhex(seed.trim()), _dir: None }
    }

    /// The pam.d directory given to `pam_start_confdir`.
    pub(crate) fn pamd(&self) -> PathBuf {
        self.root.join("pam.d")
    }

    /// pam_mfa's configuration file.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.root.join("pam_mfa.toml")
    }

    /// pam_mfa's parsed configuration.
    pub(crate) fn config(&self) -> Config {
        Config::load(&self.config_path()).expect("pam_mfa configuration")
    }

    /// Directory of google-authenticator secret files, one per user.
    pub(crate) fn ga_dir(&self) -> PathBuf {
        self.root.join("ga")
    }

    /// The pam_oath users file (all users in one file, as pam_oath is deployed).
    pub(crate) fn oath_file(&self) -> PathBuf {
        self.root.join("oath/users.oath")
    }

    fn derive(&self, label: &str, user: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<sha1::Sha1> as Mac>::new_from_slice(&self.seed).expect("HMAC takes any key");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(user.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The user's TOTP secret (20 bytes): distinct per user, derived from this installation's
    /// random seed so every process of the run can compute codes.
    pub(crate) fn secret(&self, user: &str) -> Vec<u8> {
        self.derive("totp", user)
    }

    /// The user's google-authenticator scratch code (8 digits).
    pub(crate) fn scratch_code(&self, user: &str) -> String {
        let d = self.derive("scratch", user);
        let v = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        format!("{}", 10_000_000 + v % 90_000_000)
    }
}
