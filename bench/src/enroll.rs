//! Enrolling benchmark users for each module, directly in each module's storage format.
//!
//! pam_mfa users are written with the mfa-login store API — encrypted, under the user's lock,
//! fsync'd, exactly as `mfa-enroll` writes them — but without hashing ten fresh recovery codes
//! per user (Argon2id, ~0.35 s a user), which only the recovery-code scenario needs.

use crate::env::Env;
use crate::modules::Module;
use mfa_login::recovery::RecoveryCodes;
use mfa_login::secret::SecretBytes;
use mfa_login::store::{Store, TotpFactor, UserRecord};
use mfa_login::totp::Params;
use mfa_login::username::UserName;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// Threads used to write many users (ext4 commits parallel fsyncs together).
const SETUP_THREADS: usize = 8;

/// Writes and removes users in one installation.
pub(crate) struct Enroller<'a> {
    env: &'a Env,
    store: Option<Store>,
    recovery: Option<RecoveryCodes>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

impl<'a> Enroller<'a> {
    /// An enroller for `env`; pam_mfa users get no recovery codes.
    pub(crate) fn new(env: &'a Env) -> Self {
        Enroller { env, store: None, recovery: None }
    }

    /// pam_mfa users also get these recovery code hashes.
    pub(crate) fn with_recovery(mut self, codes: RecoveryCodes) -> Self {
        self.recovery = Some(codes);
        self
    }

    fn store(&mut self) -> &Store {
        let env = self.env;
        self.store.get_or_insert_with(|| Store::open(&env.config().store).expect("open store"))
    }

    /// Enrolls `users` for `module` (pam_oath: appends them to the users file).
    pub(crate) fn enroll(&mut self, module: Module, users: &[String]) {
        self.env.add_accounts(users);
        match module {
            Module::PamMfa => {
                let env = self.env;
                let recovery = self.recovery.clone();
                let store = self.store();
                if users.len() < 4 * SETUP_THREADS {
                    for u in users {
                        save_mfa(store, env, u, recovery.clone());
                    }
                    return;
                }
                let chunk = users.len().div_ceil(SETUP_THREADS);
                std::thread::scope(|s| {
                    for part in users.chunks(chunk) {
                        let recovery = &recovery;
                        s.spawn(move || {
                            for u in part {
                                save_mfa(store, env, u, recovery.clone());
                            }
                        });
                    }
                });
            }
            Module::Google => {
                for u in users {
                    self.write_ga(u);
                }
            }
            Module::Oath => {
                let text: String = users.iter().map(|u| self.oath_line(u)).collect();
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(self.env.oath_file())
                    .expect("open users.oath");
                f.write_all(text.as_bytes()).expect("append users.oath");
            }
            Module::Permit => {}
        }
    }

    /// Removes `user` of `module` (not for pam_oath, whose file is rewritten instead).
    pub(crate) fn remove(&mut self, module: Module, user: &str) {
        match module {
            Module::PamMfa => {
                let name = UserName::parse(user).expect("user name");
                let removed = self.store().lock(&name).and_then(|l| l.remove());
                assert!(removed.expect("remove pam_mfa user"), "{user} was not enrolled");
            }
            Module::Google => {
                std::fs::remove_file(self.env.ga_dir().join(user)).expect("remove GA file");
            }
            Module::Oath | Module::Permit => {}
        }
    }

    /// One pam_oath users-file line: TOTP, 30 s steps, 6 digits, no password.
    pub(crate) fn oath_line(&self, user: &str) -> String {
        let hex: String = self.env.secret(user).iter().map(|b| format!("{b:02x}")).collect();
        format!("HOTP/T30/6\t{user}\t-\t{hex}\n")
    }

    /// Replaces the pam_oath users file with `head`, `user`'s line, then `tail`.
    pub(crate) fn oath_rewrite(&self, head: &str, user: &str, tail: &str) {
        let text = format!("{head}{}{tail}", self.oath_line(user));
        std::fs::write(self.env.oath_file(), text).expect("rewrite users.oath");
    }

    fn write_ga(&self, user: &str) {
        let secret = SecretBytes::new(self.env.secret(user));
        let text = format!(
            "{}\n\" RATE_LIMIT 3 30\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n{}\n",
            secret.to_base32().as_str(),
            self.env.scratch_code(user)
        );
        let path = self.env.ga_dir().join(user);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        f.write_all(text.as_bytes()).expect("write GA file");
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).expect("chmod GA file");
    }
}

/// Writes one pam_mfa record: TOTP (SHA1, 6 digits, 30 s) never used yet, optional recovery
/// codes. Encrypted, under the user's lock, fsync'd — the production write path.
fn save_mfa(store: &Store, env: &Env, user: &str, recovery: Option<RecoveryCodes>) {
    let name = UserName::parse(user).expect("user name");
    let t = now();
    let mut record = UserRecord::new(&name, t);
    record.totp = Some(TotpFactor {
        secret: SecretBytes::new(env.secret(user)),
        params: Params::default(),
        enrolled: t,
        last_used_step: None,
        window: None,
    });
    record.recovery = recovery;
    let lock = store.lock(&name).expect("lock pam_mfa user");
    lock.save(&record).expect("save pam_mfa user");
}
