//! pam_mfa's own files as a stack would use them: the configuration (loaded with the module's
//! own loader, so the verdict is the module's) and the store.

use super::Root;
use super::accounts::FileDirectory;
use super::report::{Finding, Severity};
use mfa_login::account::{Directory, SystemDirectory};
use mfa_login::config::{Config, DEFAULT_PATH, StoreConfig};
use mfa_login::policy::{Enrollment, Rule};
use mfa_login::store::Store;
use mfa_login::username::UserName;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A configuration file: where it is read, and how it is shown.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// The path opened (below `--root`).
    pub(crate) host: PathBuf,
    /// The path as the system (or the `--config` option) names it.
    pub(crate) shown: String,
}

/// What the store says about a configuration.
#[derive(Clone, Debug)]
pub(crate) enum StoreState {
    /// It cannot be opened: the loader's message.
    Unusable(String),
    /// It opens, but no user has a factor enrolled (skips and opt-outs only, or nothing).
    NobodyEnrolled,
    /// Someone is enrolled (or a record could not be read, which counts as "maybe").
    Someone,
}

/// Loads each configuration and store once, however many stacks use them.
pub(crate) struct Mfa {
    root: Root,
    default: Source,
    configs: BTreeMap<PathBuf, Option<Config>>,
    stores: BTreeMap<PathBuf, StoreState>,
}

impl Mfa {
    /// `explicit`: the `--config` option when it differs from the default, read as given;
    /// otherwise the default path is read below `--root`.
    pub(crate) fn new(root: &Root, explicit: Option<&Path>) -> Mfa {
        let default = match explicit {
            Some(p) => Source { host: p.to_path_buf(), shown: p.display().to_string() },
            None => {
                Source { host: root.host(Path::new(DEFAULT_PATH)), shown: DEFAULT_PATH.to_string() }
            }
        };
        Mfa { root: root.clone(), default, configs: BTreeMap::new(), stores: BTreeMap::new() }
    }

    /// The configuration a pam_mfa line reads: its `config=` argument, or the default.
    pub(crate) fn source(&self, config_arg: Option<&Path>) -> Source {
        match config_arg {
            Some(p) => Source { host: self.root.host(p), shown: p.display().to_string() },
            None => self.default.clone(),
        }
    }

    /// Loads `src` with `Config::load`; a failure is reported once as `config.invalid`.
    pub(crate) fn config(&mut self, src: &Source, out: &mut Vec<Finding>) -> Option<Config> {
        if let Some(cached) = self.configs.get(&src.host) {
            return cached.clone();
        }
        let loaded = match Config::load(&src.host) {
            Ok(cfg) => {
                self.check_names(&cfg, src, out);
                Some(cfg)
            }
            Err(e) => {
                out.push(Finding::new(
                    "config.invalid",
                    Severity::Error,
                    &src.shown,
                    format!(
                        "pam_mfa cannot load its configuration ({e}), so it denies every login \
                         through the stacks that use it"
                    ),
                    "correct the file (it must exist, be owned by root and not be group- or \
                     world-writable; every key is documented in config/pam_mfa.toml), then \
                     run `mfa-enroll doctor` again",
                ));
                None
            }
        };
        self.configs.insert(src.host.clone(), loaded.clone());
        loaded
    }

    /// Reports every user and group the rules name that does not exist: the module denies
    /// every login through this configuration then (a missing name never skips a rule).
    fn check_names(&self, cfg: &Config, src: &Source, out: &mut Vec<Finding>) {
        let image;
        let (dir, where_): (&dyn Directory, String) = match &self.root.0 {
            None => (&SystemDirectory, "the user database".into()),
            Some(r) => {
                image = FileDirectory::read(&r.join("etc/passwd"), &r.join("etc/group"));
                (&image, format!("{}/etc/passwd and {}/etc/group", r.display(), r.display()))
            }
        };
        let (message, fix) = match mfa_login::policy::unknown_names(&cfg.rules, dir) {
            Ok(names) if names.is_empty() => return,
            Ok(names) => (
                format!(
                    "{} (checked in {where_}): pam_mfa denies every login through the stacks that \
                     use this configuration",
                    names.join("; ")
                ),
                "correct the name in the rule, or create the user or group",
            ),
            Err(e) => (
                format!("the rules' user and group names could not be checked: {e}"),
                "make the user database answer (NSS, sssd), then run `mfa-enroll doctor` again",
            ),
        };
        out.push(Finding::new("config.unknown-name", Severity::Error, &src.shown, message, fix));
    }

    /// Opens the store `cfg` names (below `--root`) and looks for an enrolled user.
    pub(crate) fn store(&mut self, cfg: &Config) -> StoreState {
        let rooted = StoreConfig {
            state_dir: self.root.host(&cfg.store.state_dir),
            master_key: self.root.host(&cfg.store.master_key),
            lock_wait: cfg.store.lock_wait,
        };
        if let Some(state) = self.stores.get(&rooted.state_dir) {
            return state.clone();
        }
        let state = inspect(&rooted);
        self.stores.insert(rooted.state_dir.clone(), state.clone());
        state
    }
}

fn inspect(cfg: &StoreConfig) -> StoreState {
    let store = match Store::open(cfg) {
        Ok(store) => store,
        Err(e) => return StoreState::Unusable(e.to_string()),
    };
    let names = match store.users() {
        Ok(names) => names,
        Err(e) => return StoreState::Unusable(e.to_string()),
    };
    // Records are decrypted only to ask whether a factor is there; nothing of them is shown.
    let enrolled = |name: &str| match UserName::parse(name)
        .map_err(mfa_login::Error::from)
        .and_then(|u| store.load(&u))
    {
        Ok(Some(record)) => record.is_enrolled(),
        Ok(None) => false,
        Err(_) => true,
    };
    if names.iter().any(|n| enrolled(n)) { StoreState::Someone } else { StoreState::NobodyEnrolled }
}

/// Whether a `[[rule]]` can match logins of `service`.
pub(crate) fn rule_applies(rule: &Rule, service: &str) -> bool {
    rule.service.as_ref().is_none_or(|list| list.iter().any(|s| s == service))
}

/// Why pam_mfa can return `PAM_IGNORE` for some logins of `service` under `cfg` (module
/// arguments already applied), if it can: optional enrollment, skip or opt-out on login, rules.
pub(crate) fn ignore_reason(cfg: &Config, service: &str) -> Option<&'static str> {
    let lenient = |e: Enrollment| match e {
        Enrollment::Required => None,
        Enrollment::Optional => Some("enrollment = \"optional\" or nullok"),
        Enrollment::OnLogin if cfg.on_login.max_skips > 0 || cfg.allow_opt_out => {
            Some("enrollment = \"on-login\" lets users skip or opt out")
        }
        Enrollment::OnLogin => None,
    };
    lenient(cfg.enrollment).or_else(|| {
        cfg.rules.iter().filter(|r| rule_applies(r, service)).find_map(|r| {
            if r.exempt { Some("an exempt [[rule]]") } else { r.enrollment.and_then(lenient) }
        })
    })
}

/// Whether every login of `service` by a user without a factor is denied: enrollment is
/// required and no rule for the service relaxes it.
pub(crate) fn enrollment_required_for_all(cfg: &Config, service: &str) -> bool {
    cfg.enrollment == Enrollment::Required
        && !cfg
            .rules
            .iter()
            .filter(|r| rule_applies(r, service))
            .any(|r| r.exempt || r.enrollment.is_some_and(|e| e != Enrollment::Required))
}
