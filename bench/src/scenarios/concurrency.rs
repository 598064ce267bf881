//! Parallel logins in separate processes (as sshd forks one per connection): for different
//! users, and for one user at a time (all processes go through the same users in the same
//! order, so they contend for each user's lock and race for each code).

use super::{Plan, progress, spec, users};
use crate::enroll::Enroller;
use crate::env::Env;
use crate::modules::Module;
use crate::stats::{Sample, Timing};
use crate::worker::{self, WorkerSpec};
use std::path::Path;

/// Results for one module, mode and level of parallelism.
#[derive(Clone, Debug)]
pub(crate) struct ConcResult {
    /// The module.
    pub(crate) module: Module,
    /// All processes log in as the same users (lock contention, replay race).
    pub(crate) same_user: bool,
    /// Parallel processes.
    pub(crate) parallel: usize,
    /// Timed logins in total.
    pub(crate) logins: usize,
    /// Distinct users logged in as (timed logins only).
    pub(crate) users: usize,
    /// Logins that succeeded.
    pub(crate) accepted: usize,
    /// Logins per second, all processes together (first start to last finish).
    pub(crate) throughput: f64,
    /// Per-login times.
    pub(crate) timing: Timing,
}

fn specs(plan: &Plan, env: &Env, module: Module, p: usize, same: bool) -> (Vec<WorkerSpec>, usize) {
    let k = plan.logins_per_process(p);
    let shared = users("same", k);
    // Every process sends the same code for a user: at most one may be accepted.
    let at = crate::modules::unix_now();
    let specs = (0..p)
        .map(|w| {
            let prefix = format!("w{w}");
            if same {
                // Warm-up on a private user, then the shared users.
                let mut names = users(&prefix, plan.warmup);
                names.extend(shared.iter().cloned());
                let mut s = spec(env, module, names, plan.warmup);
                s.expect_success = false;
                s.code_time = Some(at);
                s
            } else {
                let mut s = spec(env, module, users(&prefix, plan.warmup + k), plan.warmup);
                // pam_oath refuses a login while another one holds its users file's lock
                // file (no waiting): counted, not fatal.
                s.expect_success = module != Module::Oath;
                s
            }
        })
        .collect();
    (specs, if same { k } else { k * p })
}

/// Runs every mode, module and level.
pub(crate) fn run(plan: &Plan, pam_mfa_so: &Path) -> Vec<ConcResult> {
    let mut out = Vec::new();
    for same in [false, true] {
        for &p in &plan.parallel {
            for module in Module::TOTP {
                let mode = if same { "same user" } else { "different users" };
                progress(&format!("{p} parallel processes, {mode}: {}", module.name()));
                let env = Env::create(pam_mfa_so);
                let (specs, distinct) = specs(plan, &env, module, p, same);
                let mut all: Vec<String> = specs.iter().flat_map(|s| s.users.clone()).collect();
                all.sort();
                all.dedup();
                Enroller::new(&env).enroll(module, &all);
                let results = worker::run(&specs);
                let samples: Vec<Sample> =
                    results.iter().flat_map(|r| r.samples.iter().copied()).collect();
                let start = results.iter().map(|r| r.start_ns).min().unwrap_or(0);
                let end = results.iter().map(|r| r.end_ns).max().unwrap_or(0);
                out.push(ConcResult {
                    module,
                    same_user: same,
                    parallel: p,
                    logins: samples.len(),
                    users: distinct,
                    accepted: samples.iter().filter(|s| s.code == 0).count(),
                    throughput: samples.len() as f64 / ((end - start) as f64 / 1e9),
                    timing: Timing::of(&samples),
                });
            }
        }
    }
    out
}
