//! Worker processes: one process runs many `pam_start`/`pam_authenticate`/`pam_end` cycles
//! through the real libpam and reports each login's wall and CPU time.
//!
//! Protocol: the orchestrator starts `mfa-bench worker '<spec as JSON>'`; the worker does its
//! warm-up logins, prints `ready`, waits for a line on stdin (so parallel workers start
//! together), runs the timed logins and prints one JSON [`WorkerResult`] line.

use crate::enroll::Enroller;
use crate::env::Env;
use crate::modules::{self, Answer, Module};
use crate::stats::Sample;
use crate::sys;
use mfa_tests::client::{self, Reply, Transcript};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// What one worker does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WorkerSpec {
    /// The installation ([`Env::create`]).
    pub(crate) env: PathBuf,
    /// The module (service) to log in through.
    pub(crate) module: Module,
    /// What to answer.
    pub(crate) answer: Answer,
    /// Users to log in as, in order; each gets `per_user` consecutive logins.
    pub(crate) users: Vec<String>,
    /// Logins per user (10 for recovery codes: one per code).
    pub(crate) per_user: usize,
    /// The first `warmup` logins are not timed (done before `ready`).
    pub(crate) warmup: usize,
    /// `Some(n)`: the store holds `n - 1` background users `bg-<i>` (made by the orchestrator);
    /// each login's user is enrolled just before and removed just after it (not timed), so
    /// every login sees exactly `n` enrolled users.
    pub(crate) churn: Option<usize>,
    /// `Some(t)`: answer the TOTP code of time `t` rather than of the moment of the login, so
    /// parallel workers logging in as one user all send the same code.
    pub(crate) code_time: Option<u64>,
    /// Recovery codes, in index order (for [`Answer::Recovery`]).
    pub(crate) recovery_codes: Vec<String>,
    /// Abort unless every login succeeds.
    pub(crate) expect_success: bool,
}

/// What one worker measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WorkerResult {
    /// Timed logins.
    pub(crate) samples: Vec<Sample>,
    /// `CLOCK_MONOTONIC` at the first timed login.
    pub(crate) start_ns: u64,
    /// `CLOCK_MONOTONIC` after the last timed login.
    pub(crate) end_ns: u64,
    /// Peak RSS of the worker process (KiB, `VmHWM`).
    pub(crate) peak_rss_kib: u64,
}

/// Name of a background user in churn mode.
pub(crate) fn background_user(i: usize) -> String {
    format!("bg-{i}")
}

/// Checks that the module asked exactly what it should: one prompt (none for pam_permit).
pub(crate) fn check_prompts(module: Module, t: &Transcript) {
    let prompts = t
        .messages
        .iter()
        .filter(|(style, _)| {
            *style == client::PAM_PROMPT_ECHO_OFF || *style == client::PAM_PROMPT_ECHO_ON
        })
        .count();
    let want = usize::from(module.prompts());
    assert_eq!(prompts, want, "{}: expected {want} prompt(s), got {:?}", module.name(), t.messages);
}

struct Churn {
    head: String,
    tail: String,
}

/// Runs a worker (in the worker process).
pub(crate) fn main(spec_json: &str) {
    let spec: WorkerSpec = serde_json::from_str(spec_json).expect("worker spec");
    let env = Env::open(&spec.env);
    let mut enroller = Enroller::new(&env);
    let churn = spec.churn.map(|n| {
        let lines: Vec<String> =
            (0..n.saturating_sub(1)).map(|i| enroller.oath_line(&background_user(i))).collect();
        let (head, tail) = lines.split_at(lines.len() / 2);
        Churn { head: head.concat(), tail: tail.concat() }
    });
    let total = spec.users.len() * spec.per_user;
    assert!(total > spec.warmup, "a worker needs more logins than warm-up logins");
    let pamd = env.pamd();
    let mut samples = Vec::with_capacity(total);
    let mut start_ns = sys::monotonic_ns();
    let stdout = std::io::stdout();
    for i in 0..total {
        if i == spec.warmup {
            writeln!(stdout.lock(), "ready").expect("stdout");
            let mut go = String::new();
            std::io::stdin().lock().read_line(&mut go).expect("start line");
            start_ns = sys::monotonic_ns();
        }
        let user = &spec.users[i / spec.per_user];
        if let Some(c) = &churn {
            if spec.module == Module::Oath {
                enroller.oath_rewrite(&c.head, user, &c.tail);
            } else {
                enroller.enroll(spec.module, std::slice::from_ref(user));
            }
        }
        let answer = match spec.answer {
            Answer::Totp => match spec.code_time {
                Some(at) => modules::totp_at(&env, user, at),
                None => modules::totp_now(&env, user),
            },
            Answer::Recovery => spec.recovery_codes[i % spec.per_user].clone(),
            Answer::Scratch => env.scratch_code(user),
        };
        let cpu0 = sys::process_cpu_ns();
        let t0 = Instant::now();
        let t = client::authenticate(
            Some(&pamd),
            spec.module.key(),
            user,
            None,
            vec![Reply::text(&answer)],
            0,
        );
        let wall_ns = t0.elapsed().as_nanos() as u64;
        let cpu_ns = sys::process_cpu_ns() - cpu0;
        if t.code == client::PAM_SUCCESS {
            // A denied login (same-user races) may be refused before the prompt.
            check_prompts(spec.module, &t);
        }
        if spec.expect_success {
            assert_eq!(
                t.code,
                client::PAM_SUCCESS,
                "{} login {i} as {user} failed: {} {:?}",
                spec.module.name(),
                client::code_name(t.code),
                t.messages
            );
        }
        if churn.is_some() && spec.module != Module::Oath {
            enroller.remove(spec.module, user);
        }
        if i >= spec.warmup {
            samples.push(Sample { wall_ns, cpu_ns, code: t.code });
        }
    }
    let end_ns = sys::monotonic_ns();
    let result = WorkerResult { samples, start_ns, end_ns, peak_rss_kib: sys::status_kib("VmHWM") };
    let line = serde_json::to_string(&result).expect("serialize result");
    writeln!(stdout.lock(), "{line}").expect("stdout");
}

fn read_line(child: &mut Child, what: &str) -> String {
    let out = child.stdout.as_mut().expect("worker stdout");
    let mut line = String::new();
    // One byte at a time: a BufReader would swallow the result line after `ready`.
    let mut byte = [0u8; 1];
    while std::io::Read::read(out, &mut byte).expect("read worker") == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    assert!(!line.is_empty(), "worker exited before {what} (see its error above)");
    line
}

/// Runs `specs` as parallel worker processes started together; returns their results in order.
pub(crate) fn run(specs: &[WorkerSpec]) -> Vec<WorkerResult> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut children: Vec<Child> = specs
        .iter()
        .map(|s| {
            Command::new(&exe)
                .envs(Env::nss_env(&s.env))
                .arg("worker")
                .arg(serde_json::to_string(s).expect("serialize spec"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    for c in &mut children {
        let line = read_line(c, "ready");
        assert_eq!(line, "ready", "unexpected worker output");
    }
    for c in &mut children {
        let mut stdin = c.stdin.take().expect("worker stdin");
        stdin.write_all(b"go\n").expect("start worker");
    }
    children
        .into_iter()
        .map(|mut c| {
            let out = c.stdout.take().expect("worker stdout");
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line).expect("read worker result");
            let status = c.wait().expect("wait worker");
            assert!(status.success(), "worker failed ({status}); see its error above");
            serde_json::from_str(&line).expect("worker result")
        })
        .collect()
}
