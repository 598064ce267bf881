//! Login cost against the number of enrolled users: every login sees exactly `n` users in the
//! store (`n - 1` background users, plus the login's own user, enrolled just before and removed
//! just after it, untimed).

use super::{Plan, progress, spec, turns, users};
use crate::enroll::Enroller;
use crate::env::Env;
use crate::modules::Module;
use crate::stats::Timing;
use crate::worker::{WorkerSpec, background_user};
use std::path::Path;

/// Results for one module and store size.
#[derive(Clone, Debug)]
pub(crate) struct ScaleResult {
    /// The module.
    pub(crate) module: Module,
    /// Enrolled users at login time.
    pub(crate) users: usize,
    /// Per-login times.
    pub(crate) timing: Timing,
}

/// Runs every store size for every TOTP module, modules taking turns.
pub(crate) fn run(plan: &Plan, pam_mfa_so: &Path) -> Vec<ScaleResult> {
    let mut out = Vec::new();
    for &n in &plan.scale_users {
        progress(&format!("{n} enrolled users, {} logins per module", plan.scale_logins));
        let per_round = plan.warmup + plan.scale_logins / plan.rounds;
        let names = users("scale", plan.rounds * per_round);
        let background: Vec<String> = (0..n - 1).map(background_user).collect();
        let envs: Vec<Env> = Module::TOTP.iter().map(|_| Env::create(pam_mfa_so)).collect();
        let jobs: Vec<WorkerSpec> = Module::TOTP
            .into_iter()
            .zip(&envs)
            .map(|(module, env)| {
                if module != Module::Oath {
                    // pam_oath's worker writes its users file itself before each login.
                    Enroller::new(env).enroll(module, &background);
                }
                let mut s = spec(env, module, names.clone(), plan.warmup);
                s.churn = Some(n);
                s
            })
            .collect();
        for (merged, job) in turns::run(&jobs, plan.rounds, None).into_iter().zip(&jobs) {
            out.push(ScaleResult {
                module: job.module,
                users: n,
                timing: Timing::of(&merged.samples),
            });
        }
    }
    out
}
