//! The Markdown report (`docs/benchmarks.md`): machine, method, one section per scenario, and
//! findings computed from the numbers — nothing in it is typed in by hand.

mod findings;
mod parallel;
mod sections;

use crate::machine::Machine;
use crate::modules::Module;
use crate::scenarios::Plan;
use crate::scenarios::concurrency::ConcResult;
use crate::scenarios::fresh::{FreshResult, SoSize};
use crate::scenarios::scaling::ScaleResult;
use crate::scenarios::sequential::LoopResult;
use std::fmt::Write;
use std::path::PathBuf;

/// Everything measured in one run.
pub(crate) struct Results {
    /// Iteration counts.
    pub(crate) plan: Plan,
    /// The machine.
    pub(crate) machine: Machine,
    /// Module file sizes.
    pub(crate) sizes: Vec<SoSize>,
    /// One process, TOTP.
    pub(crate) sequential: Vec<LoopResult>,
    /// One process, recovery / scratch codes.
    pub(crate) recovery: Vec<LoopResult>,
    /// A process per login.
    pub(crate) fresh: Vec<FreshResult>,
    /// Store sizes.
    pub(crate) scaling: Vec<ScaleResult>,
    /// Parallel logins.
    pub(crate) concurrency: Vec<ConcResult>,
    /// The command that produced this.
    pub(crate) command: String,
    /// The push service's section (`push-load`) is appended after the caveats.
    pub(crate) push_follows: bool,
    /// The pam_mfa module measured, as given on the command line.
    pub(crate) module: PathBuf,
    /// Wall time of the whole run, seconds.
    pub(crate) duration_s: f64,
    /// When the run started (UTC).
    pub(crate) date: String,
    /// Load average when the run ended.
    pub(crate) load_after: String,
    /// The durable-replace timing (median, p99 ms) when the run ended.
    pub(crate) durable_after_ms: (f64, f64),
    /// Durable replaces sampled every half second during the run (ms).
    pub(crate) durable_during: crate::stats::Summary,
    /// `Ok`: the syslog sink ran; `Err`: why not.
    pub(crate) syslog: Result<(), String>,
    /// `--only`: the one scenario that ran.
    pub(crate) only: Option<String>,
    /// File name of the plot, next to the report.
    pub(crate) svg_name: String,
}

/// Milliseconds with three significant digits.
pub(crate) fn ms(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x < 1.0 {
        format!("{x:.3}")
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// A ratio as `1.23×`.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() { format!("{:.2}×", a / b) } else { "–".into() }
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// A Markdown table.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// Stack line of a module, as written into the benchmark's pam.d (temporary paths shortened).
fn stack_example(m: Module) -> String {
    match m {
        Module::PamMfa => "auth required <tmp>/pam_mfa.so config=<tmp>/pam_mfa.toml".into(),
        Module::Google => {
            "auth required pam_google_authenticator.so secret=<tmp>/ga/${USER} user=root".into()
        }
        Module::Oath => {
            "auth required pam_oath.so usersfile=<tmp>/oath/users.oath window=1 digits=6".into()
        }
        Module::Permit => "auth required pam_permit.so".into(),
    }
}

fn machine(r: &Results) -> String {
    let m = &r.machine;
    let syslog = match &r.syslog {
        Ok(()) => "a sink on `/dev/log` in a private mount namespace (every line is a datagram, \
                   as with journald or rsyslog)"
            .to_string(),
        Err(e) => format!(
            "**none** ({e}); without a listener glibc writes log lines to `/dev/console`, which \
             inflates the cost of modules that log"
        ),
    };
    let host = if m.syslog { "" } else { " (the host itself has no `/dev/log`)" };
    let packages: Vec<String> = m.packages.iter().map(|(p, v)| format!("{p} {v}")).collect();
    let rows = vec![
        vec!["CPUs (`nproc`)".into(), m.nproc.to_string()],
        vec!["CPU (`/proc/cpuinfo`)".into(), m.cpu.clone()],
        vec!["memory".into(), format!("{} MiB", m.mem_mib)],
        vec!["kernel".into(), m.kernel.clone()],
        vec!["Debian".into(), m.debian.clone()],
        vec!["rustc".into(), m.rustc.clone()],
        vec!["Debian packages".into(), packages.join(", ")],
        vec!["benchmark files on".into(), m.fs.clone()],
        vec![
            "durable 1.5 KiB replace on that disk (write, fsync, rename, fsync dir)".into(),
            format!(
                "before the run: median {} ms, p99 {} ms; sampled every 0.5 s during it ({} \
                 samples, with the benchmark's own writes going on): median {} ms, p99 {} ms; \
                 after: median {} ms, p99 {} ms",
                ms(m.durable_replace_ms.0),
                ms(m.durable_replace_ms.1),
                r.durable_during.n,
                ms(r.durable_during.median),
                ms(r.durable_during.p99),
                ms(r.durable_after_ms.0),
                ms(r.durable_after_ms.1)
            ),
        ],
        vec!["load average before / after".into(), format!("{} / {}", m.load_before, r.load_after)],
        vec!["syslog".into(), format!("{syslog}{host}")],
    ];
    table(&["", ""], &rows)
}

fn method(r: &Results) -> String {
    let p = &r.plan;
    let stacks: Vec<String> = Module::ALL.iter().map(|&m| stack_example(m)).collect();
    format!(
        "Each module is the only `auth` line of its own stack, in a temporary pam.d given to \
         `pam_start_confdir` (nothing under `/etc` is used). The benchmark's users exist only in its \
         own passwd file, read through Debian's libnss-wrapper preloaded into every process that \
         loads a module (pam_mfa refuses names that are not accounts; all three modules run under \
         the same preload):\n\n```\n{}\n```\n\n\
         * **pam_mfa**: the release build (`{}`), default configuration except \
         `[lockout] fail_delay_ms = 0`: neither peer asks libpam for a failure delay, the delay \
         is a sleep after the module returned (no CPU, no lock held), and it would swamp the \
         same-user runs. The store is the production one: encrypted records, the user's `flock`, \
         write + fsync + rename + fsync of the directory before success.\n\
         * **pam_google_authenticator**: one secret file per user with `\" RATE_LIMIT 3 30`, \
         `\" WINDOW_SIZE 3`, `\" DISALLOW_REUSE`, `\" TOTP_AUTH` and one scratch code. On success \
         it rewrites the file (temporary file, fsync, rename; no lock, no directory fsync).\n\
         * **pam_oath**: one users file for all users (`HOTP/T30/6 <user> - <hex key>`), as its \
         README deploys it. On success it rewrites the whole file (fsync, rename) while holding \
         `users.oath.lock`, which it creates with `O_EXCL`: a login that finds the lock file \
         taken fails instead of waiting.\n\
         * **pam_permit**: no prompt, no file: what libpam and the client cost by themselves.\n\n\
         Every login is for a fresh user (new secret, new file or record), so every code is \
         valid and none is a replay; codes come from mfa-login's TOTP and each module checks them \
         with its own implementation. The TOTP window is one step either side for all three. A \
         login that fails, or asks other than exactly one question, aborts the run — except \
         where failures are the point (parallel logins, below). *Wall* is `pam_start` → \
         `pam_authenticate` → `pam_end` on a monotonic clock; *CPU* is the process's user + \
         system time over the same span (`CLOCK_PROCESS_CPUTIME_ID`), so it leaves out waiting \
         for the disk. Median and p99 are nearest-rank; {} warm-up login(s) per process are not \
         timed. Ratios are **pam_mfa / peer**: above 1 means pam_mfa takes longer.\n",
        stacks.join("\n"),
        r.module.display(),
        p.warmup
    )
}

/// Renders the report.
pub(crate) fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "# Benchmarks\n\n\
         pam_mfa side by side with the second-factor modules Debian ships — \
         pam_google_authenticator and pam_oath — through the real libpam, on one machine in one \
         run. This file is written by `mfa-bench` (`bench/`); rerun it rather than edit it:\n\n\
         ```sh\n{}\n```\n\n\
         Run {}, {:.0} s (build not included).{}{}\n\n",
        r.command,
        r.date,
        r.duration_s,
        if r.push_follows {
            " The PAM part ends with its caveats; then [Push \
             approval](#push-approval-mfa-server-sqlite-postgresql-1-2-and-privacyidea) is the \
             push service under load — mfa-server on SQLite, on PostgreSQL with one and with two \
             instances, and privacyIDEA for comparison — measured by `push-load` right after \
             the PAM run, and [Fleet \
             verification](#fleet-verification-mfa-server-sqlite-postgresql-1-2-and-privacyidea) \
             the same services verifying TOTP codes in fleet mode, measured by `fleet-load`, \
             each with its own machine line and caveats."
        } else {
            ""
        },
        if r.plan.quick {
            " **Quick run: a few iterations each, to keep the benchmark working — not numbers \
             to judge by.**"
        } else {
            ""
        }
    );
    let _ = write!(s, "## Machine\n\n{}\n## What runs\n\n{}\n", machine(r), method(r));
    if let Some(o) = &r.only {
        let _ = write!(s, "**Only the {o} scenario ran (`--only {o}`).**\n\n");
    }
    s.push_str(&findings::section(r));
    if !r.sequential.is_empty() {
        s.push_str(&sections::sequential(r));
    }
    if !r.recovery.is_empty() {
        s.push_str(&sections::recovery(r));
    }
    if !r.fresh.is_empty() {
        s.push_str(&sections::fresh(r));
    }
    if !r.scaling.is_empty() {
        s.push_str(&sections::scaling(r));
    }
    if !r.concurrency.is_empty() {
        s.push_str(&parallel::section(r));
    }
    s.push_str(&findings::caveats(r));
    s
}
