//! `fleet-load`'s report: a Markdown section with the services side by side, the ratios to
//! privacyIDEA measured in the same run, the enrolled-users probe and the bytes per user.

use super::fleet_backend::DbUsage;
use super::measure::{machine_description, mib, percentile};
use super::run::Level;
use super::{Args, Measured, SMALL};

/// The whole section.
pub(crate) fn markdown(a: &Args, runs: &[Measured], load_before: &str, seconds: f64) -> String {
    let mut md = heading(a, runs, load_before, seconds);
    md += &table(runs, &throughput_rows(a, runs));
    md += &ratios(a, runs);
    md += "\n### Enrolled users: latency and database size\n\n";
    md += &table(runs, &user_rows(runs));
    md += &notes(runs);
    md += &caveats();
    md
}

fn heading(a: &Args, runs: &[Measured], load_before: &str, seconds: f64) -> String {
    let names: Vec<&str> = runs.iter().map(|m| m.name).collect();
    format!(
        "## Fleet verification ({})\n\n\
         `fleet-load{}`, {seconds:.0} s: TOTP codes verified through each service's API by \
         the module's own clients (`mfa-remote`), at 1 and at {} concurrent logins for {} s \
         each, then the services' storage per enrolled user; the load generator and the \
         service share this machine ({}); TLS on loopback. The services run one after the \
         other, each alone on the machine. Every code sent is the user's current one and is \
         sent once (a code is accepted once per user and step), so these are acceptances: right \
         codes refused and errors are counted apart below.{}\n\n",
        names.join(" vs "),
        if a.quick { " --quick" } else { "" },
        a.workers,
        a.seconds,
        machine_description(load_before),
        if a.quick {
            " **Quick run: short and small, to keep the load test working — not numbers to \
             judge by.**"
        } else {
            ""
        }
    )
}

/// One row per measure, one column per service.
type Rows = Vec<(String, Vec<String>)>;

fn table(runs: &[Measured], rows: &Rows) -> String {
    let names: Vec<&str> = runs.iter().map(|m| m.name).collect();
    let mut md =
        format!("| measure | {} |\n|---|{}\n", names.join(" | "), "---|".repeat(runs.len()));
    for (label, values) in rows {
        md += &format!("| {label} | {} |\n", values.join(" | "));
    }
    md
}

fn row(rows: &mut Rows, runs: &[Measured], label: String, f: &dyn Fn(&Measured) -> String) {
    rows.push((label, runs.iter().map(f).collect()));
}

fn p50_p99(l: &Level) -> String {
    let p = |q| percentile(&l.accepted_ms, q);
    format!("{:.1} / {:.1} ms", p(50.0), p(99.0))
}

fn counts(l: &Level) -> String {
    format!("{} / {} / {}", l.accepted_ms.len(), l.refused, l.errors)
}

fn throughput_rows(a: &Args, runs: &[Measured]) -> Rows {
    let mut rows = Rows::new();
    let w = a.workers;
    row(&mut rows, runs, "**verifications/s, 1 login at a time**".into(), &|m| {
        format!("**{:.0}**", m.one.rate())
    });
    row(&mut rows, runs, "latency p50 / p99, 1 at a time".into(), &|m| p50_p99(&m.one));
    row(&mut rows, runs, format!("**verifications/s, {w} concurrent logins**"), &|m| {
        format!("**{:.0}**", m.many.rate())
    });
    row(&mut rows, runs, format!("latency p50 / p99, {w} concurrent"), &|m| p50_p99(&m.many));
    row(&mut rows, runs, "accepted / right code refused / error: 1 at a time".into(), &|m| {
        counts(&m.one)
    });
    row(&mut rows, runs, format!("accepted / right code refused / error: {w} concurrent"), &|m| {
        counts(&m.many)
    });
    row(
        &mut rows,
        runs,
        "waits for a fresh TOTP step (every user of the pool used in this one)".into(),
        &|m| format!("{}", m.one.dry_waits + m.many.dry_waits),
    );
    row(&mut rows, runs, "users in the workers' pool".into(), &|m| m.pool.to_string());
    row(&mut rows, runs, "service RSS after the run".into(), &|m| {
        m.rss_kib.map_or_else(|| "unknown".into(), mib)
    });
    rows
}

/// Each mfa-server column against privacyIDEA's, from this run.
fn ratios(a: &Args, runs: &[Measured]) -> String {
    let Some(pi) = runs.iter().find(|m| m.scaling.is_none()) else {
        return "\n(privacyIDEA not in this run: no ratios.)\n".into();
    };
    let mut md = format!(
        "\n**Against privacyIDEA, same run** (throughput: mfa-server ÷ privacyIDEA; latency: \
         privacyIDEA ÷ mfa-server, so above 1 means mfa-server is faster; the aim is ≥ 20× \
         the verifications/s):\n\n\
         | | verifications/s, 1 | p50, 1 | p99, 1 | verifications/s, {w} | p50, {w} | p99, {w} |\n\
         |---|---|---|---|---|---|---|\n",
        w = a.workers
    );
    let lat = |l: &Level, q| percentile(&l.accepted_ms, q);
    for m in runs.iter().filter(|m| m.scaling.is_some()) {
        let x = |num: f64, den: f64| format!("{:.1}×", num / den);
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            m.name,
            x(m.one.rate(), pi.one.rate()),
            x(lat(&pi.one, 50.0), lat(&m.one, 50.0)),
            x(lat(&pi.one, 99.0), lat(&m.one, 99.0)),
            x(m.many.rate(), pi.many.rate()),
            x(lat(&pi.many, 50.0), lat(&m.many, 50.0)),
            x(lat(&pi.many, 99.0), lat(&m.many, 99.0)),
        );
    }
    md
}

fn per_user(m: &Measured, f: fn(&DbUsage) -> u64) -> String {
    let (n, _, usage) = &m.enrolled;
    match usage {
        Ok((before, after)) if *n > 0 => {
            let delta = f(after).saturating_sub(f(before));
            format!("{:.0} bytes", delta as f64 / *n as f64)
        }
        Ok(_) => "–".into(),
        Err(e) => format!("not measured: {e}"),
    }
}

fn user_rows(runs: &[Measured]) -> Rows {
    let mut rows = Rows::new();
    let probe = |m: &Measured, f: &dyn Fn(&super::Scaling) -> String| {
        m.scaling.as_ref().map_or_else(|| "not measured".to_string(), f)
    };
    row(&mut rows, runs, format!("latency p50 / p99 with {SMALL} users enrolled (n)"), &|m| {
        probe(m, &|s| format!("{} ({})", p50_p99(&s.small), s.small.accepted_ms.len()))
    });
    row(&mut rows, runs, "latency p50 / p99 with all users enrolled (n)".into(), &|m| {
        probe(m, &|s| {
            format!("{} ({}, {} enrolled)", p50_p99(&s.large), s.large.accepted_ms.len(), {
                s.large_users
            })
        })
    });
    row(&mut rows, runs, "p50 / p99, all enrolled ÷ 100 enrolled".into(), &|m| {
        probe(m, &|s| {
            let r = |q| percentile(&s.large.accepted_ms, q) / percentile(&s.small.accepted_ms, q);
            format!("{:.2} / {:.2}", r(50.0), r(99.0))
        })
    });
    row(&mut rows, runs, "probe: right code refused / error".into(), &|m| {
        probe(m, &|s| {
            format!("{} / {}", s.small.refused + s.large.refused, s.small.errors + s.large.errors)
        })
    });
    row(&mut rows, runs, "users enrolled by the benchmark, and how long it took".into(), &|m| {
        let (n, took, _) = &m.enrolled;
        format!("{n} in {took:.1} s ({:.0}/s)", *n as f64 / took.max(0.001))
    });
    row(&mut rows, runs, "**TOTP records per enrolled user** (tables + indexes)".into(), &|m| {
        format!("**{}**", per_user(m, |u| u.records))
    });
    row(&mut rows, runs, "whole database growth per enrolled user".into(), &|m| {
        per_user(m, |u| u.total)
    });
    rows
}

fn notes(runs: &[Measured]) -> String {
    let mut md = "\n".to_string();
    for (i, m) in runs.iter().enumerate() {
        let flow = if i > 0 && runs[i - 1].flow == m.flow { "as above" } else { m.flow };
        md += &format!("* **{}**: {}. One verification: {flow}.", m.name, m.setup);
        let problems = [&m.one, &m.many]
            .into_iter()
            .chain(m.scaling.iter().flat_map(|s| [&s.small, &s.large]))
            .find_map(|l| l.first_problem.as_ref());
        if let Some(p) = problems {
            md += &format!(" First refusal or error: `{p}`.");
        }
        md += "\n";
    }
    md
}

fn caveats() -> String {
    "\n### Caveats\n\n\
     * One run on one machine: the load generator's threads (each a login in the module's \
     place, with its own TLS handshake) compete with the service and, for PostgreSQL, its \
     database server. Compare the columns with each other, not with numbers from elsewhere.\n\
     * TLS and TCP on loopback: no network latency, which a real deployment adds to every \
     verification.\n\
     * The latency probe runs one login at a time over users not verified before (the first \
     100, then users spread over the whole store), so every verification reads and updates a \
     different row.\n\
     * Database size: SQLite pages (`dbstat`) and PostgreSQL relation sizes, before and after \
     the benchmark enrolled its users, divided by their number; TOTP only (recovery codes add \
     their hashes). privacyIDEA's whole-database figure includes its audit entries of the \
     enrollment.\n"
        .to_string()
}
