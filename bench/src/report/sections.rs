//! One report section per scenario: the tables, and what exactly was measured.

use super::{Results, mib, ms, ratio, table};
use crate::modules::{Answer, Module};
use crate::scenarios::sequential::LoopResult;
use crate::stats::Timing;

fn timing_cells(t: &Timing) -> Vec<String> {
    vec![ms(t.wall.median), ms(t.wall.p99), ms(t.cpu.median), ms(t.cpu.p99)]
}

const TIMING: [&str; 4] = ["wall median (ms)", "wall p99 (ms)", "CPU median (ms)", "CPU p99 (ms)"];

fn ratio_rows(mfa: &Timing, peers: &[(Module, Timing)]) -> String {
    let rows: Vec<Vec<String>> = peers
        .iter()
        .map(|(m, t)| {
            vec![
                format!("pam_mfa / {}", m.name()),
                ratio(mfa.wall.median, t.wall.median),
                ratio(mfa.wall.p99, t.wall.p99),
                ratio(mfa.cpu.median, t.cpu.median),
                ratio(mfa.cpu.p99, t.cpu.p99),
            ]
        })
        .collect();
    let mut h = vec!["ratio"];
    h.extend(TIMING);
    table(&h, &rows)
}

pub(super) fn find(v: &[LoopResult], m: Module, a: Answer) -> Option<&LoopResult> {
    v.iter().find(|r| r.module == m && r.answer == a)
}

/// One process, many logins.
pub(super) fn sequential(r: &Results) -> String {
    let rows: Vec<Vec<String>> = r
        .sequential
        .iter()
        .map(|l| {
            let mut row = vec![l.module.name().to_string()];
            row.extend(timing_cells(&l.timing));
            row.push(mib(l.peak_rss_kib as f64));
            row.push(l.log_lines.map_or("–".into(), |x| format!("{x:.1}")));
            row
        })
        .collect();
    let mut h = vec!["module"];
    h.extend(TIMING);
    h.extend(["peak RSS of the process", "syslog lines per login"]);
    let mut s = format!(
        "## One process, many logins\n\n{} timed TOTP logins per module in one process, each a \
         whole `pam_start` → `pam_authenticate` → `pam_end` cycle (libpam loads the module for \
         every handle), each for another user; the store holds {} users.\n\n{}\n",
        r.plan.sequential,
        r.sequential.first().map_or(0, |l| l.store_users),
        table(&h, &rows)
    );
    if let Some(mfa) = find(&r.sequential, Module::PamMfa, Answer::Totp) {
        let peers: Vec<(Module, Timing)> = [Module::Google, Module::Oath]
            .iter()
            .filter_map(|&m| find(&r.sequential, m, Answer::Totp).map(|l| (m, l.timing)))
            .collect();
        s.push_str(&ratio_rows(&mfa.timing, &peers));
        s.push('\n');
    }
    s
}

/// Recovery codes against scratch codes.
pub(super) fn recovery(r: &Results) -> String {
    let mut rows = Vec::new();
    let mut push = |label: &str, l: Option<&LoopResult>| {
        if let Some(l) = l {
            let mut row = vec![label.to_string(), l.timing.wall.n.to_string()];
            row.extend(timing_cells(&l.timing));
            row.push(mib(l.peak_rss_kib as f64));
            rows.push(row);
        }
    };
    push("pam_mfa, recovery code", find(&r.recovery, Module::PamMfa, Answer::Recovery));
    push("pam_mfa, TOTP (above)", find(&r.sequential, Module::PamMfa, Answer::Totp));
    push(
        "pam_google_authenticator, scratch code",
        find(&r.recovery, Module::Google, Answer::Scratch),
    );
    push(
        "pam_google_authenticator, TOTP (above)",
        find(&r.sequential, Module::Google, Answer::Totp),
    );
    let mut h = vec!["login", "logins"];
    h.extend(TIMING);
    h.push("peak RSS of the process");
    format!(
        "## Recovery codes\n\nA pam_mfa recovery code is checked with one Argon2id verification \
         (m = 19 MiB, t = 2, p = 1 — slow on purpose: the codes are stored as hashes, like \
         passwords) and the record is rewritten. A google-authenticator scratch code is compared \
         as plain text, the way it is stored. pam_oath has no recovery codes. The process's peak \
         RSS includes Argon2id's 19 MiB working memory.\n\n{}\n",
        table(&h, &rows)
    )
}

/// A process per login, sizes and memory.
pub(super) fn fresh(r: &Results) -> String {
    let base = r.fresh.iter().find(|f| f.module == Module::Permit).map(|f| f.timing);
    let rows: Vec<Vec<String>> = r
        .fresh
        .iter()
        .map(|f| {
            let mut row = vec![f.module.name().to_string()];
            row.extend(timing_cells(&f.timing));
            row.push(base.map_or("–".into(), |b| ms(f.timing.wall.median - b.wall.median)));
            row.push(base.map_or("–".into(), |b| ms(f.timing.cpu.median - b.cpu.median)));
            row
        })
        .collect();
    let mut h = vec!["module"];
    h.extend(TIMING);
    h.extend(["wall median above baseline", "CPU median above baseline"]);
    let mfa = r.fresh.iter().find(|f| f.module == Module::PamMfa);
    let peers: Vec<(Module, Timing)> = r
        .fresh
        .iter()
        .filter(|f| matches!(f.module, Module::Google | Module::Oath))
        .map(|f| (f.module, f.timing))
        .collect();
    let ratios = mfa.map_or(String::new(), |m| ratio_rows(&m.timing, &peers));
    let mem: Vec<Vec<String>> = r
        .sizes
        .iter()
        .map(|s| {
            let f = r.fresh.iter().find(|f| f.module == s.module);
            vec![
                s.module.name().to_string(),
                format!("{:.1} KiB", s.bytes as f64 / 1024.0),
                s.stripped.map_or("–".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
                s.libs.join(", "),
                f.map_or("–".into(), |f| format!("{:.0} KiB", f.rss_before.median)),
                f.map_or("–".into(), |f| format!("{:.0} KiB", f.peak_added.median)),
                f.map_or("–".into(), |f| format!("{:.0} KiB", f.after_added.median)),
                f.map_or("–".into(), |f| format!("{:.0} KiB", f.process_peak.median)),
            ]
        })
        .collect();
    format!(
        "## A fresh process per login\n\nsshd and sudo load the module afresh in every login's \
         process. Here every login spawns `mfa-bench once`, a small client linked with libpam, \
         which runs `pam_start` (libpam reads the stack and `dlopen`s the module), \
         `pam_authenticate` and `pam_end`, and exits. *Wall* is spawn to reap, *CPU* the child's \
         user + system time (`getrusage(RUSAGE_CHILDREN)` around its `wait`). The pam_permit row is exec + libpam without a module: \
         the difference to it is what the module itself costs. {} logins per module; the \
         modules take turns.\n\n{}\n{}\n\
         Module files and memory. Debian's modules are shipped stripped; pam_mfa is measured as \
         `cargo build --release` leaves it and after `strip`. Memory is `VmRSS`/`VmHWM` of the \
         child (medians): before `pam_start`, the peak during the login above that (the peak is \
         reset through `/proc/self/clear_refs` just before), and what is still there after \
         `pam_end` unloaded the module.\n\n{}\n",
        r.plan.fresh,
        table(&h, &rows),
        ratios,
        table(
            &[
                "module",
                "file as built",
                "stripped",
                "links (ldd)",
                "RSS before pam_start",
                "peak added by the login",
                "added after pam_end",
                "process peak",
            ],
            &mem
        )
    )
}

/// Store size.
pub(super) fn scaling(r: &Results) -> String {
    let mut rows = Vec::new();
    for &n in &r.plan.scale_users {
        let mut row = vec![format!("{n}")];
        for m in Module::TOTP {
            let cell = r.scaling.iter().find(|s| s.users == n && s.module == m).map_or(
                "–".into(),
                |s| {
                    format!(
                        "{} / {} (CPU {})",
                        ms(s.timing.wall.median),
                        ms(s.timing.wall.p99),
                        ms(s.timing.cpu.median)
                    )
                },
            );
            row.push(cell);
        }
        rows.push(row);
    }
    let h: Vec<String> =
        Module::TOTP.iter().map(|m| format!("{}: median / p99 ms", m.name())).collect();
    let mut header = vec!["enrolled users"];
    header.extend(h.iter().map(String::as_str));
    format!(
        "## Number of enrolled users\n\nEvery timed login sees exactly *n* enrolled users: *n* − 1 \
         background users, plus the login's own user, enrolled just before and removed just \
         after the login (not timed). pam_mfa and pam_google_authenticator keep a file per user \
         in one directory; pam_oath keeps *n* lines in its users file (the login's user in the \
         middle). {} logins per module and size, one process.\n\n{}\n",
        r.plan.scale_logins,
        table(&header, &rows)
    )
}
