//! One login per process, as sshd and sudo do it, and what each module costs in size and memory.

use super::{Plan, progress, users};
use crate::enroll::Enroller;
use crate::env::Env;
use crate::modules::{self, Module};
use crate::once::{self, FreshLogin};
use crate::stats::{Sample, Summary, Timing};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Results for one module.
#[derive(Clone, Debug)]
pub(crate) struct FreshResult {
    /// The module.
    pub(crate) module: Module,
    /// Spawn-to-reap wall time and the child's CPU time, per login (ms).
    pub(crate) timing: Timing,
    /// The child's peak RSS (KiB).
    pub(crate) process_peak: Summary,
    /// The child's RSS before `pam_start` (KiB).
    pub(crate) rss_before: Summary,
    /// Peak RSS during the login minus RSS before it (KiB).
    pub(crate) peak_added: Summary,
    /// RSS after `pam_end` minus RSS before `pam_start` (KiB).
    pub(crate) after_added: Summary,
}

/// Logins in a fresh process, modules taking turns so drift hits all alike.
pub(crate) fn run(plan: &Plan, pam_mfa_so: &Path) -> Vec<FreshResult> {
    progress(&format!("fresh process per login, {} logins per module", plan.fresh));
    let env = Env::create(pam_mfa_so);
    let names = users("fresh", plan.warmup + plan.fresh);
    for m in Module::ALL {
        Enroller::new(&env).enroll(m, &names);
    }
    let mut logins: Vec<Vec<FreshLogin>> = vec![Vec::new(); Module::ALL.len()];
    for (i, user) in names.iter().enumerate() {
        for (k, m) in Module::ALL.into_iter().enumerate() {
            let answer = modules::totp_now(&env, user);
            let login = once::login(&env, m, user, &answer);
            assert_eq!(login.sample.code, 0, "{} fresh-process login failed", m.name());
            if i >= plan.warmup {
                logins[k].push(login);
            }
        }
    }
    Module::ALL
        .into_iter()
        .zip(logins)
        .map(|(module, l)| {
            let samples: Vec<Sample> = l.iter().map(|x| x.sample).collect();
            let kib = |f: &dyn Fn(&FreshLogin) -> u64| Summary::of(l.iter().map(|x| f(x) as f64));
            FreshResult {
                module,
                timing: Timing::of(&samples),
                process_peak: kib(&|x| x.memory.process_peak_kib),
                rss_before: kib(&|x| x.memory.rss_before_kib),
                peak_added: kib(&|x| x.memory.peak_kib.saturating_sub(x.memory.rss_before_kib)),
                after_added: kib(&|x| {
                    x.memory.rss_after_kib.saturating_sub(x.memory.rss_before_kib)
                }),
            }
        })
        .collect()
}

/// A module file's size.
#[derive(Clone, Debug)]
pub(crate) struct SoSize {
    /// The module.
    pub(crate) module: Module,
    /// Bytes as built (pam_mfa) or as shipped by Debian (already stripped).
    pub(crate) bytes: u64,
    /// Bytes after `strip` (binutils), if available.
    pub(crate) stripped: Option<u64>,
    /// Shared libraries it loads beyond what the client already has (from `ldd`).
    pub(crate) libs: Vec<String>,
}

/// Debian's PAM module directory.
fn security_dir() -> PathBuf {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    ["/usr/lib", "/lib"]
        .iter()
        .map(|d| Path::new(d).join(&multiarch).join("security"))
        .find(|p| p.join("pam_permit.so").exists())
        .unwrap_or_else(|| PathBuf::from("/usr/lib/security"))
}

fn ldd(path: &Path) -> Vec<String> {
    let Ok(out) = Command::new("ldd").arg(path).output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.contains(".so") && !n.starts_with("linux-vdso") && !n.contains("ld-linux"))
        .map(str::to_string)
        .collect()
}

/// Sizes of every module file.
pub(crate) fn sizes(pam_mfa_so: &Path) -> Vec<SoSize> {
    let dir = security_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    Module::ALL
        .into_iter()
        .map(|module| {
            let path = match module {
                Module::PamMfa => pam_mfa_so.to_path_buf(),
                m => dir.join(m.so_name()),
            };
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let out = tmp.path().join(module.key());
            let stripped = Command::new("strip")
                .arg("-o")
                .arg(&out)
                .arg(&path)
                .status()
                .ok()
                .filter(|s| s.success())
                .and_then(|_| std::fs::metadata(&out).ok())
                .map(|m| m.len());
            SoSize { module, libs: ldd(&path), bytes, stripped }
        })
        .collect()
}
