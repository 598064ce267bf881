//! The summary at the top and the caveats at the end, worded from the measured numbers.

use super::sections::find;
use super::{Results, ms, ratio};
use crate::modules::{Answer, Module};
use crate::scenarios::concurrency::ConcResult;
use std::fmt::Write;

fn seq_line(r: &Results) -> Option<String> {
    let mfa = find(&r.sequential, Module::PamMfa, Answer::Totp)?;
    let mut s = format!(
        "* **One process, TOTP**: pam_mfa {} ms median / {} ms p99 per login ({} ms CPU)",
        ms(mfa.timing.wall.median),
        ms(mfa.timing.wall.p99),
        ms(mfa.timing.cpu.median)
    );
    for m in [Module::Google, Module::Oath] {
        if let Some(p) = find(&r.sequential, m, Answer::Totp) {
            let _ = write!(
                s,
                "; {} {} / {} ms ({} ms CPU): ratio {} median, {} p99, {} CPU",
                m.name(),
                ms(p.timing.wall.median),
                ms(p.timing.wall.p99),
                ms(p.timing.cpu.median),
                ratio(mfa.timing.wall.median, p.timing.wall.median),
                ratio(mfa.timing.wall.p99, p.timing.wall.p99),
                ratio(mfa.timing.cpu.median, p.timing.cpu.median)
            );
        }
    }
    s.push_str(".\n");
    Some(s)
}

fn fresh_line(r: &Results) -> Option<String> {
    let get = |m| r.fresh.iter().find(|f| f.module == m);
    let (mfa, base) = (get(Module::PamMfa)?, get(Module::Permit)?);
    let mut s = format!(
        "* **Fresh process per login** (as sshd and sudo): pam_mfa {} ms median ({} ms CPU), \
         {} ms of it above the bare client ({} ms)",
        ms(mfa.timing.wall.median),
        ms(mfa.timing.cpu.median),
        ms(mfa.timing.wall.median - base.timing.wall.median),
        ms(base.timing.wall.median)
    );
    for m in [Module::Google, Module::Oath] {
        if let Some(p) = get(m) {
            let _ = write!(
                s,
                "; {} {} ms ({} ms CPU, {} above): ratio {}, {} CPU",
                m.name(),
                ms(p.timing.wall.median),
                ms(p.timing.cpu.median),
                ms(p.timing.wall.median - base.timing.wall.median),
                ratio(mfa.timing.wall.median, p.timing.wall.median),
                ratio(mfa.timing.cpu.median, p.timing.cpu.median)
            );
        }
    }
    s.push_str(".\n");
    Some(s)
}

fn recovery_line(r: &Results) -> Option<String> {
    let rec = find(&r.recovery, Module::PamMfa, Answer::Recovery)?;
    Some(format!(
        "* **Recovery code** (Argon2id): {} ms median, {} ms p99 per login.\n",
        ms(rec.timing.wall.median),
        ms(rec.timing.wall.p99)
    ))
}

fn scaling_line(r: &Results) -> Option<String> {
    if r.scaling.is_empty() {
        return None;
    }
    let (lo, hi) = (*r.plan.scale_users.first()?, *r.plan.scale_users.last()?);
    let get = |m, n| r.scaling.iter().find(|s| s.module == m && s.users == n);
    let mut parts = Vec::new();
    for m in Module::TOTP {
        if let (Some(a), Some(b)) = (get(m, lo), get(m, hi)) {
            // CPU time does not depend on the disk: more than half again as much means the
            // work per login grows with the store.
            let grows = b.timing.cpu.median > 1.5 * a.timing.cpu.median;
            parts.push(format!(
                "{} {} → {} ms ({}; CPU {} → {} ms){}",
                m.name(),
                ms(a.timing.wall.median),
                ms(b.timing.wall.median),
                ratio(b.timing.wall.median, a.timing.wall.median),
                ms(a.timing.cpu.median),
                ms(b.timing.cpu.median),
                if grows { ", **CPU per login grows with the number of users**" } else { "" }
            ));
        }
    }
    Some(format!("* **Enrolled users**, median from {lo} to {hi} users: {}.\n", parts.join("; ")))
}

fn best(r: &Results, m: Module) -> Option<&ConcResult> {
    r.concurrency
        .iter()
        .filter(|c| c.module == m && !c.same_user)
        .max_by(|a, b| a.throughput.total_cmp(&b.throughput))
}

fn parallel_lines(r: &Results) -> String {
    let mut s = String::new();
    if r.concurrency.is_empty() {
        return s;
    }
    let peaks: Vec<String> = Module::TOTP
        .iter()
        .filter_map(|&m| best(r, m))
        .map(|c| format!("{} {:.0}/s (at {})", c.module.name(), c.throughput, c.parallel))
        .collect();
    let _ = writeln!(
        s,
        "* **Parallel logins, different users**, best throughput: {}.",
        peaks.join(", ")
    );
    for c in r.concurrency.iter().filter(|c| !c.same_user && c.accepted < c.logins) {
        let _ = writeln!(
            s,
            "  * {}: only {} of {} logins with {} parallel processes succeeded, although every \
             code was valid.",
            c.module.name(),
            c.accepted,
            c.logins,
            c.parallel
        );
    }
    for m in Module::TOTP {
        let same: Vec<&ConcResult> =
            r.concurrency.iter().filter(|c| c.module == m && c.same_user).collect();
        let replays: Vec<String> = same
            .iter()
            .filter(|c| c.accepted > c.users)
            .map(|c| {
                format!(
                    "{} accepted for {} users with {} processes",
                    c.accepted, c.users, c.parallel
                )
            })
            .collect();
        let line = if same.is_empty() {
            continue;
        } else if replays.is_empty() {
            "never accepted a code twice".to_string()
        } else {
            format!("**accepted replayed codes**: {}", replays.join(", "))
        };
        let _ = writeln!(s, "* **Same user, same code, in parallel**: {} {line}.", m.name());
    }
    s
}

/// The summary.
pub(super) fn section(r: &Results) -> String {
    let mut s = String::from("## Summary\n\n");
    for line in
        [seq_line(r), fresh_line(r), recovery_line(r), scaling_line(r)].into_iter().flatten()
    {
        s.push_str(&line);
    }
    s.push_str(&parallel_lines(r));
    s.push('\n');
    s
}

/// What the numbers do not say.
pub(super) fn caveats(r: &Results) -> String {
    format!(
        "## Caveats\n\n\
         * One run on one machine (a {}-CPU virtual machine, shared with other work: see the \
         load average above). Compare modules within this file, not with numbers from elsewhere.\n\
         * The disk decides most of the wall time. pam_mfa fsyncs the record and its directory \
         (two flushes per login), the peers only their file (one). On this disk a durable small \
         replace took {} ms before the run and {} ms (median) while it ran, the benchmark's own \
         writes included. The CPU columns do not depend on the disk.\n\
         * The syslog sink costs the modules what a real daemon would (a datagram), but not the \
         daemon's own CPU.\n\
         * Not measured: sshd or sudo end to end, password modules stacked before the second \
         factor, the prompt's round trip to a human, and the login flow for users who are not \
         enrolled.\n",
        r.machine.nproc,
        ms(r.machine.durable_replace_ms.0),
        ms(r.durable_during.median)
    )
}
