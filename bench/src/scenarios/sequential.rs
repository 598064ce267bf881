//! Many logins in one process (`pam_start` → `pam_authenticate` → `pam_end` in a loop), each
//! for a fresh user, so every code is valid and nothing is a replay.

use super::{Plan, progress, spec, turns, users};
use crate::enroll::Enroller;
use crate::env::Env;
use crate::modules::{Answer, Module};
use crate::stats::Timing;
use crate::syslog_sink::SyslogSink;
use crate::worker;
use mfa_login::recovery::{CODE_COUNT, RecoveryCodes};
use std::path::Path;

/// Results of one loop.
#[derive(Clone, Debug)]
pub(crate) struct LoopResult {
    /// The module.
    pub(crate) module: Module,
    /// What was answered.
    pub(crate) answer: Answer,
    /// Per-login times.
    pub(crate) timing: Timing,
    /// Peak RSS of the whole benchmark process (KiB).
    pub(crate) peak_rss_kib: u64,
    /// Enrolled users in the store during the loop.
    pub(crate) store_users: usize,
    /// Syslog lines per login (when the sink runs).
    pub(crate) log_lines: Option<f64>,
}

fn one(spec: worker::WorkerSpec, store_users: usize) -> LoopResult {
    let r = worker::run(std::slice::from_ref(&spec)).remove(0);
    LoopResult {
        module: spec.module,
        answer: spec.answer,
        timing: Timing::of(&r.samples),
        peak_rss_kib: r.peak_rss_kib,
        store_users,
        log_lines: None,
    }
}

/// TOTP logins through every module (and the pam_permit baseline), modules taking turns.
pub(crate) fn totp(plan: &Plan, pam_mfa_so: &Path, sink: Option<&SyslogSink>) -> Vec<LoopResult> {
    progress(&format!(
        "one process, {} logins per module in {} rounds",
        plan.sequential, plan.rounds
    ));
    let n = plan.rounds * (plan.warmup + plan.sequential / plan.rounds);
    let env = Env::create(pam_mfa_so);
    let names = users("seq", n);
    let jobs: Vec<worker::WorkerSpec> = Module::ALL
        .into_iter()
        .map(|m| {
            Enroller::new(&env).enroll(m, &names);
            spec(&env, m, names.clone(), plan.warmup)
        })
        .collect();
    turns::run(&jobs, plan.rounds, sink)
        .into_iter()
        .zip(&jobs)
        .map(|(merged, job)| LoopResult {
            module: job.module,
            answer: job.answer,
            timing: Timing::of(&merged.samples),
            peak_rss_kib: merged.peak_rss_kib,
            store_users: n,
            log_lines: merged.log_lines,
        })
        .collect()
}

/// Recovery codes: pam_mfa's (Argon2id hashes) and google-authenticator's scratch codes
/// (plain text in the secret file).
pub(crate) fn recovery(plan: &Plan, pam_mfa_so: &Path) -> Vec<LoopResult> {
    progress(&format!("one process, {} recovery-code logins: pam_mfa", plan.recovery));
    let env = Env::create(pam_mfa_so);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // One set of codes (ten Argon2id hashes) shared by all users: each user has ten logins.
    let (shown, codes) = RecoveryCodes::generate(now).expect("recovery codes");
    let names = users("rec", (plan.warmup + plan.recovery).div_ceil(CODE_COUNT));
    Enroller::new(&env).with_recovery(codes).enroll(Module::PamMfa, &names);
    let mut s = spec(&env, Module::PamMfa, names.clone(), plan.warmup);
    s.answer = Answer::Recovery;
    s.per_user = CODE_COUNT;
    s.recovery_codes = shown.iter().map(|c| c.to_string()).collect();
    let mfa = one(s, names.len());

    progress(&format!("one process, {} scratch-code logins: google", plan.recovery));
    let env = Env::create(pam_mfa_so);
    let names = users("scr", plan.warmup + plan.recovery);
    Enroller::new(&env).enroll(Module::Google, &names);
    let mut s = spec(&env, Module::Google, names.clone(), plan.warmup);
    s.answer = Answer::Scratch;
    let ga = one(s, names.len());
    vec![mfa, ga]
}
