//! The measurements, one module per kind: logins in one process ([`sequential`]), logins in a
//! fresh process each ([`fresh`]), store size ([`scaling`]) and parallel logins
//! ([`concurrency`]).

pub(crate) mod concurrency;
pub(crate) mod fresh;
pub(crate) mod scaling;
pub(crate) mod sequential;
pub(crate) mod turns;

use crate::worker::WorkerSpec;
use crate::{env::Env, modules::Answer, modules::Module};

/// How much of everything to do.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// `--quick`: a few iterations each, to keep the benchmark from rotting in CI.
    pub(crate) quick: bool,
    /// Timed logins per module in the one-process loop.
    pub(crate) sequential: usize,
    /// Timed recovery-code logins (pam_mfa) and scratch-code logins (google-authenticator).
    pub(crate) recovery: usize,
    /// Timed fresh-process logins per module.
    pub(crate) fresh: usize,
    /// Enrolled users at login time for the scaling test.
    pub(crate) scale_users: Vec<usize>,
    /// Timed logins per module and store size.
    pub(crate) scale_logins: usize,
    /// Parallel processes.
    pub(crate) parallel: Vec<usize>,
    /// Timed logins per parallel process.
    pub(crate) per_process: usize,
    /// Untimed logins before timing starts, per process.
    pub(crate) warmup: usize,
    /// Rounds in which the modules take turns (one process per module and round).
    pub(crate) rounds: usize,
}

impl Plan {
    /// The full benchmark, or the quick one.
    pub(crate) fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                sequential: 20,
                recovery: 10,
                fresh: 5,
                scale_users: vec![1, 100, 10_000],
                scale_logins: 5,
                parallel: vec![1, 2, 8, 32],
                per_process: 2,
                warmup: 1,
                rounds: 2,
            }
        } else {
            Plan {
                quick,
                sequential: 1000,
                recovery: 100,
                fresh: 200,
                scale_users: vec![1, 100, 10_000],
                scale_logins: 200,
                parallel: vec![1, 2, 8, 32],
                per_process: 0,
                warmup: 3,
                rounds: 25,
            }
        }
    }

    /// Timed logins per process with `p` processes: the same total for every `p` in the full
    /// run (so every level has enough samples), two each in the quick run.
    pub(crate) fn logins_per_process(&self, p: usize) -> usize {
        if self.per_process > 0 { self.per_process } else { (640 / p).max(10) }
    }
}

/// `n` user names `<prefix>-<i>`.
pub(crate) fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A worker spec with the common defaults: TOTP answers, one login per user, all must succeed.
pub(crate) fn spec(env: &Env, module: Module, users: Vec<String>, warmup: usize) -> WorkerSpec {
    // Accounts for every user a worker logs in, also those it enrolls itself (churn).
    env.add_accounts(&users);
    WorkerSpec {
        env: env.root.clone(),
        module,
        answer: Answer::Totp,
        users,
        per_user: 1,
        warmup,
        churn: None,
        code_time: None,
        recovery_codes: Vec::new(),
        expect_success: true,
    }
}

/// Prints progress to stderr (the report goes to files).
pub(crate) fn progress(text: &str) {
    eprintln!("mfa-bench: {text}");
}
