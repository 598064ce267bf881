//! The parallel-logins section.

use super::{Results, ms, table};
use crate::scenarios::concurrency::ConcResult;

fn rows(r: &Results, same: bool) -> Vec<Vec<String>> {
    let mut v: Vec<&ConcResult> = r.concurrency.iter().filter(|c| c.same_user == same).collect();
    v.sort_by_key(|c| (c.parallel, c.module as u8));
    v.iter()
        .map(|c| {
            let mut row = vec![c.parallel.to_string(), c.module.name().to_string()];
            row.push(c.logins.to_string());
            if same {
                row.push(c.users.to_string());
            }
            row.push(c.accepted.to_string());
            row.extend([
                format!("{:.0}", c.throughput),
                ms(c.timing.wall.median),
                ms(c.timing.wall.p99),
                ms(c.timing.cpu.median),
            ]);
            row
        })
        .collect()
}

/// Parallel logins: throughput and latency, different users and one user.
pub(super) fn section(r: &Results) -> String {
    let tail = ["logins/s", "wall median (ms)", "wall p99 (ms)", "CPU median (ms)"];
    let mut diff = vec!["processes", "module", "logins", "succeeded"];
    diff.extend(tail);
    let mut same = vec!["processes", "module", "logins", "users", "succeeded"];
    same.extend(tail);
    let per: Vec<String> = r
        .plan
        .parallel
        .iter()
        .map(|&p| format!("{p} × {}", r.plan.logins_per_process(p)))
        .collect();
    format!(
        "## Parallel logins\n\n*p* processes (sshd forks one per connection), started together, \
         each running its logins in a loop (timed logins, {}: {}). *logins/s* counts all \
         processes together, from the first start to the last finish. The machine has {} CPUs: \
         beyond that, latency is mostly waiting for a CPU, and throughput is the figure to \
         compare. Times and logins/s include refused logins, which are usually quick: read \
         them with the *succeeded* column.\n\n\
         ![median and p99 login latency against parallel processes]({})\n\n\
         **Different users** — every process logs in as its own users; all logins should \
         succeed.\n\n{}\n\
         **Same user** — every process goes through the same users in the same order and sends \
         the same code, so they contend for each user's lock (pam_mfa) or file, and for each \
         user *at most one* login may succeed: more is a replayed code accepted. pam_mfa's \
         refused logins count toward its lockout (default: 5 wrong codes lock the user), which \
         is part of what is measured.\n\n{}\n",
        "processes × logins each",
        per.join(", "),
        r.machine.nproc,
        r.svg_name,
        table(&diff, &rows(r, false)),
        table(&same, &rows(r, true))
    )
}
