//! `push-load`: load on a push service. With `--backend mfa-server` (the default) it starts
//! `mfa-server` on loopback (own CA, limits opened up, SQLite), registers hosts and pairs devices
//! through the API; `pushd-postgres` does the same on a throwaway PostgreSQL cluster, and
//! `pushd-postgres-2` with two instances on that database, hosts on one and devices on the
//! other (`push_load/pushd.rs`); with `--backend privacyidea` it starts a throwaway privacyIDEA
//! with one push token and simulated phone per user (`push_load/privacyidea.rs`). `--backend
//! both` runs mfa-server and privacyIDEA, `all` every backend, and a comma-separated list the
//! ones named, one after the other, printed side by side. The same worker loop then measures
//! 1. sustained logins/s: workers start logins (challenges), wait for the outcome as the
//!    relying party does (mfa-server: the host's long-poll; privacyIDEA: polling, then the
//!    finalizing check), and approve from the device (fetch the challenge, signed answer);
//! 2. approve-to-login latency: from sending the device's answer to the relying party knowing
//!    the login is approved;
//! 3. how many pending challenges one instance holds (each with an open long-poll), ramped up
//!    to `--max-pending` or the first error, and the service's RSS per pending challenge
//!    (mfa-server only: see `Backend::no_ramp`), with PostgreSQL's own memory beside it.
//!
//! ```text
//! push-load [--backend NAME[,NAME…]|both|all] [--quick] [--json] [--out FILE]
//!           [--pushd PATH] [--hosts N] [--workers N] [--seconds N] [--max-pending N]
//!           [--poll-ms N]
//!     NAME: mfa-server, pushd-postgres, pushd-postgres-2, privacyidea
//! ```
//!
//! Timing assertions do not belong in tests: this reports, people judge.

#[path = "../push_load/backend.rs"]
mod backend;
#[path = "../push_load/http.rs"]
mod http;
#[path = "../push_load/measure.rs"]
mod measure;
#[path = "../push_load/privacyidea.rs"]
mod privacyidea;
#[path = "../push_load/pushd.rs"]
mod pushd;

use backend::Backend;
use measure::{
    load_average, machine_description, main_with, mib, percentile, rss_kib, write_report,
};
use privacyidea::PrivacyIdea;
use pushd::{Pushd, Store};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: push-load [--backend NAME[,NAME...]|both|all] [--quick] [--json] \
                     [--out FILE] [--pushd PATH] [--hosts N] [--workers N] [--seconds N] \
                     [--max-pending N] [--poll-ms N]\n\
                     NAME: mfa-server, pushd-postgres, pushd-postgres-2, privacyidea";

/// The push services `--backend` can name, in the order `all` runs them.
const BACKENDS: [&str; 4] = ["mfa-server", "pushd-postgres", "pushd-postgres-2", "privacyidea"];

struct Args {
    /// `--backend` as given, and the backends it names.
    backend_arg: String,
    backends: Vec<&'static str>,
    quick: bool,
    json: bool,
    out: Option<PathBuf>,
    pushd: PathBuf,
    hosts: usize,
    workers: usize,
    seconds: u64,
    max_pending: usize,
    /// privacyIDEA: the relying party's interval between `/validate/polltransaction` calls.
    poll_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = Args {
        backend_arg: BACKENDS[0].to_string(),
        backends: vec![BACKENDS[0]],
        quick,
        json: false,
        out: None,
        pushd: pushd::default_pushd(),
        hosts: if quick { 4 } else { 16 },
        workers: if quick { 16 } else { 64 },
        seconds: if quick { 5 } else { 20 },
        max_pending: if quick { 300 } else { 2000 },
        poll_ms: 1000,
    };
    argv.reverse();
    while let Some(arg) = argv.pop() {
        let mut value = || argv.pop().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        let num = |v: String| v.parse::<usize>().map_err(|_| format!("not a number: {v}"));
        match arg.as_str() {
            "--quick" => {}
            "--backend" => {
                let v = value()?;
                a.backends = match v.as_str() {
                    "both" => vec!["mfa-server", "privacyidea"],
                    "all" => BACKENDS.to_vec(),
                    _ => v
                        .split(',')
                        .map(|n| BACKENDS.iter().find(|b| **b == n).copied().ok_or(USAGE))
                        .collect::<Result<_, _>>()?,
                };
                a.backend_arg = v;
            }
            "--poll-ms" => a.poll_ms = num(value()?)?.max(1) as u64,
            "--json" => a.json = true,
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--pushd" => a.pushd = PathBuf::from(value()?),
            "--hosts" => a.hosts = num(value()?)?.max(1),
            "--workers" => a.workers = num(value()?)?.max(1),
            "--seconds" => a.seconds = num(value()?)? as u64,
            "--max-pending" => a.max_pending = num(value()?)?,
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok(a)
}

struct Throughput {
    logins: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

/// One login: challenge, the relying party waits (mfa-server: host long-poll held open), device
/// approves; returns the latency from sending the answer to the wait's return.
async fn one_login<B: Backend>(b: &Arc<B>, user: usize) -> Result<f64, String> {
    let login = Arc::new(b.start_login(user).await?);
    let (b2, l2) = (b.clone(), login.clone());
    let poll = tokio::spawn(async move {
        let status = b2.wait_login(&l2, 25).await;
        (status, Instant::now())
    });
    tokio::task::yield_now().await;
    let sent = b.approve(&login).await?;
    let (status, returned) = poll.await.map_err(|e| e.to_string())?;
    let status = status?;
    if status != "approved" {
        return Err(format!("login ended {status}"));
    }
    Ok(returned.saturating_duration_since(sent).as_secs_f64() * 1000.0)
}

async fn throughput<B: Backend>(b: &Arc<B>, workers: usize, seconds: u64) -> Throughput {
    let stop = Instant::now() + Duration::from_secs(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    let started = Instant::now();
    for w in 0..workers.min(b.users()) {
        let (b, errors) = (b.clone(), errors.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut first_error = None;
            while Instant::now() < stop {
                match one_login(&b, w).await {
                    Ok(ms) => lat.push(ms),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert(e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (lat, first_error)
        });
    }
    let mut latencies_ms = Vec::new();
    let mut first_error = None;
    while let Some(Ok((lat, err))) = set.join_next().await {
        latencies_ms.extend(lat);
        if first_error.is_none() {
            first_error = err;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);
    Throughput {
        logins: latencies_ms.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        first_error,
        seconds,
        latencies_ms,
    }
}

struct Ramp {
    held: usize,
    stopped_by: String,
    rss_before_kib: u64,
    rss_at_max_kib: u64,
    /// The database server's memory before and at max pending (`Backend::database_memory_kib`).
    db_before_kib: Option<Result<u64, String>>,
    db_at_max_kib: Option<Result<u64, String>>,
}

async fn ramp<B: Backend>(b: &Arc<B>, first_user: usize, cap: usize, step: usize) -> Ramp {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = b.service_rss_kib().unwrap_or(0);
    let db_before_kib = b.database_memory_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let mut logins: Vec<Arc<B::Login>> = Vec::new();
    let mut holders = tokio::task::JoinSet::new();
    let mut stopped_by = format!("cap {cap} reached");
    let last_user = b.users().min(first_user + cap);
    'outer: for chunk_start in (first_user..last_user).step_by(step.max(1)) {
        let mut set = tokio::task::JoinSet::new();
        for user in chunk_start..(chunk_start + step).min(last_user) {
            let b = b.clone();
            set.spawn(async move { b.start_login(user).await });
        }
        while let Some(r) = set.join_next().await {
            match r.map_err(|e| e.to_string()).and_then(|r| r) {
                Ok(l) => {
                    let l = Arc::new(l);
                    logins.push(l.clone());
                    let (b, stop) = (b.clone(), stop.clone());
                    // The host's long-poll, held open (renewed) until the challenge closes.
                    holders.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            match b.wait_login(&l, 25).await.as_deref() {
                                Ok("pending") => {}
                                _ => break,
                            }
                        }
                    });
                }
                Err(e) => {
                    stopped_by = format!("first error at {} pending: {e}", logins.len());
                    break 'outer;
                }
            }
        }
    }
    if logins.len() < cap && stopped_by.starts_with("cap") {
        stopped_by = format!("ran out of paired users at {}", logins.len());
    }
    // Let the long-polls arrive, then measure.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let rss_at_max_kib = b.service_rss_kib().unwrap_or(0);
    let db_at_max_kib = b.database_memory_kib();
    stop.store(true, Ordering::Relaxed);
    let held = logins.len();
    let mut set = tokio::task::JoinSet::new();
    for l in logins {
        let b = b.clone();
        set.spawn(async move { b.cancel(&l).await });
    }
    while set.join_next().await.is_some() {}
    while holders.join_next().await.is_some() {}
    Ramp { held, stopped_by, rss_before_kib, rss_at_max_kib, db_before_kib, db_at_max_kib }
}

/// What one backend's run measured.
struct Measured {
    name: &'static str,
    setup: String,
    flow: &'static str,
    users: usize,
    t: Throughput,
    /// Service RSS right after the login run (all its processes).
    rss_after_logins_kib: Option<u64>,
    /// The database server's memory right after the login run, where it has one.
    db_after_logins_kib: Option<Result<u64, String>>,
    /// The ramp, or why it does not apply.
    ramp: Result<Ramp, &'static str>,
}

/// Runs the throughput measurement and (where it applies) the ramp against one backend.
async fn measure<B: Backend>(a: &Args, b: Arc<B>) -> Measured {
    eprintln!("push-load: {}: {} workers for {} s", b.name(), a.workers, a.seconds);
    let t = throughput(&b, a.workers, a.seconds).await;
    let rss_after_logins_kib = b.service_rss_kib();
    let db_after_logins_kib = b.database_memory_kib();
    let ramp = match b.no_ramp() {
        Some(why) => Err(why),
        None => {
            eprintln!(
                "push-load: {}: ramping pending challenges up to {}",
                b.name(),
                a.max_pending
            );
            let step = if a.quick { 50 } else { 100 };
            Ok(ramp(&b, a.workers, a.max_pending, step).await)
        }
    };
    Measured {
        name: b.name(),
        setup: b.setup(),
        flow: b.flow(),
        users: b.users(),
        t,
        rss_after_logins_kib,
        db_after_logins_kib,
        ramp,
    }
}

/// The report: one Markdown table with a column per backend, and the JSON (one object for one
/// backend, `{"backends": [...]}` for several).
fn report(a: &Args, runs: &[Measured], load_before: &str) -> (String, String) {
    let machine = machine_description(load_before);
    let names: Vec<&str> = runs.iter().map(|m| m.name).collect();
    let mut md = report_heading(a, &names, &machine);
    md += &measure_table(a, runs, &names);
    md += &backend_notes(runs);
    md += &caveats(load_before);
    (md, report_json(a, runs, &machine))
}

/// The report's title and the paragraph saying how it was run.
fn report_heading(a: &Args, names: &[&str], machine: &str) -> String {
    format!(
        "## Push service load ({})\n\n\
         `push-load{}{}`: {} concurrent logins for {} s (one user with one device each), \
         the load generator (Rust, tokio + hyper + rustls) and the service sharing this \
         machine ({machine}); TLS on loopback. The services run one after the other, each \
         alone on the machine.{}\n\n",
        names.join(" vs "),
        if a.backend_arg == BACKENDS[0] {
            String::new()
        } else {
            format!(" --backend {}", a.backend_arg)
        },
        if a.quick { " --quick" } else { "" },
        a.workers,
        a.seconds,
        if a.quick {
            " **Quick run: short and small, to keep the load test working — not numbers to \
             judge by.**"
        } else {
            ""
        },
    )
}

/// The Markdown table: one row per measure, one column per backend.
fn measure_table(a: &Args, runs: &[Measured], names: &[&str]) -> String {
    let mut md =
        format!("| measure | {} |\n|---|{}\n", names.join(" | "), "---|".repeat(runs.len()));
    for (label, values) in &measure_rows(a, runs) {
        md += &format!("| {label} | {} |\n", values.join(" | "));
    }
    md += "\n";
    md
}

/// Each measure's label and its value for every run, in the table's order.
fn measure_rows(a: &Args, runs: &[Measured]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&Measured) -> String| {
        rows.push((label.to_string(), runs.iter().map(f).collect()));
    };
    let na = "not measured (see below)".to_string();
    row("logins/s sustained (each a new challenge, approved)", &|m| {
        format!("{:.1}", m.t.logins as f64 / m.t.seconds.max(0.001))
    });
    row("logins completed / failed", &|m| format!("{} / {}", m.t.logins, m.t.errors));
    row("login run took (logins per worker)", &|m| {
        let per = (m.t.logins + m.t.errors) as f64 / a.workers.min(m.users).max(1) as f64;
        format!("{:.1} s ({per:.1})", m.t.seconds)
    });
    row("approve → login latency, p50 / p90 / p99", &|m| {
        let p = |q| percentile(&m.t.latencies_ms, q);
        format!("{:.1} / {:.1} / {:.1} ms", p(50.0), p(90.0), p(99.0))
    });
    row("service RSS after the login run", &|m| {
        m.rss_after_logins_kib.map_or_else(|| "unknown".into(), mib)
    });
    row(
        "database server memory after the login run (PostgreSQL: PSS summed over its processes)",
        &|m| db_memory(&m.db_after_logins_kib),
    );
    row("pending challenges held by one instance (each with an open wait)", &|m| {
        m.ramp.as_ref().map_or(na.clone(), |r| format!("{} ({})", r.held, r.stopped_by))
    });
    row("service RSS before ramp / at max pending", &|m| {
        m.ramp.as_ref().map_or(na.clone(), |r| {
            format!("{} / {}", mib(r.rss_before_kib), mib(r.rss_at_max_kib))
        })
    });
    row("memory per pending challenge (RSS delta / pending)", &|m| {
        m.ramp.as_ref().map_or(na.clone(), |r| format!("{:.0} bytes", per_pending(r)))
    });
    row("database server memory before ramp / at max pending", &|m| {
        m.ramp.as_ref().map_or(na.clone(), |r| match (&r.db_before_kib, &r.db_at_max_kib) {
            (None, None) => db_memory(&None),
            (before, at_max) => format!("{} / {}", db_memory(before), db_memory(at_max)),
        })
    });
    rows
}

/// One bullet per backend under the table: its setup, one login's flow, and what went wrong.
fn backend_notes(runs: &[Measured]) -> String {
    let mut md = String::new();
    for (i, m) in runs.iter().enumerate() {
        let flow = if i > 0 && runs[i - 1].flow == m.flow { "as above" } else { m.flow };
        md += &format!("* **{}**: {}. One login: {flow}.", m.name, m.setup);
        if let Err(why) = &m.ramp {
            md += &format!(" Pending ramp not run: {why}");
        }
        if let Some(e) = &m.t.first_error {
            md += &format!(" First login error: `{e}`.");
        }
        md += "\n";
    }
    md
}

/// The caveats section: a warning when the machine was already busy, then the standing ones.
fn caveats(load_before: &str) -> String {
    let mut md = "\n### Caveats\n\n".to_string();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load1: f64 =
        load_before.split_whitespace().next().and_then(|l| l.parse().ok()).unwrap_or(0.0);
    if load1 > 0.5 * cpus as f64 {
        md += &format!(
            "* **The machine was busy**: the 1-minute load average was {load1:.2} on {cpus} CPUs \
             when this run started (other work, or a benchmark that just ended: it decays over \
             a minute or so). Every figure here paid for that.\n"
        );
    }
    md += "\
           * One run on one machine: the load generator and every service share its CPUs, so a \
           service's figures include competing with the generator (and, for PostgreSQL, the \
           service with its database server). Compare the columns with each other, not with \
           numbers from elsewhere.\n\
           * TLS and TCP on loopback: no network latency, which a real deployment adds to every \
           step.\n\
           * Memory is resident set size (RSS) for the services and proportional set size (PSS, \
           shared pages divided among the processes sharing them) for PostgreSQL, whose \
           processes share its buffers; the per-pending figure is one delta divided by the \
           number held, so allocator slack shows in it.\n";
    md
}

/// The JSON report: one object for one backend, `{"backends": [...]}` for several.
fn report_json(a: &Args, runs: &[Measured], machine: &str) -> String {
    let objects: Vec<serde_json::Value> = runs.iter().map(|m| run_json(a, m, machine)).collect();
    let js = match objects.as_slice() {
        [one] => one.clone(),
        _ => json!({ "backends": objects }),
    };
    serde_json::to_string_pretty(&js).unwrap_or_default()
}

/// One backend's figures as a JSON object.
fn run_json(a: &Args, m: &Measured, machine: &str) -> serde_json::Value {
    let rate = m.t.logins as f64 / m.t.seconds.max(0.001);
    let p = |q| percentile(&m.t.latencies_ms, q);
    let mut js = json!({
        "backend": m.name, "setup": m.setup, "flow": m.flow, "quick": a.quick,
        "devices": m.users, "workers": a.workers, "seconds": m.t.seconds,
        "logins": m.t.logins, "errors": m.t.errors, "first_error": m.t.first_error,
        "logins_per_second": rate,
        "approve_to_login_ms": {
            "p50": p(50.0), "p90": p(90.0), "p99": p(99.0), "n": m.t.latencies_ms.len(),
        },
        "rss_after_logins_kib": m.rss_after_logins_kib, "machine": machine,
        "database_pss_kib_after_logins": db_json(&m.db_after_logins_kib),
    });
    match &m.ramp {
        Ok(r) => {
            js["max_pending"] =
                json!({"held": r.held, "cap": a.max_pending, "stopped_by": r.stopped_by});
            js["rss_kib"] = json!({"before": r.rss_before_kib, "at_max": r.rss_at_max_kib});
            js["bytes_per_pending"] = json!(per_pending(r));
            js["database_pss_kib"] = json!({
                "before": db_json(&r.db_before_kib), "at_max": db_json(&r.db_at_max_kib),
            });
        }
        Err(why) => js["max_pending"] = json!({"not_measured": why}),
    }
    js
}

/// A database server's memory for the table.
fn db_memory(m: &Option<Result<u64, String>>) -> String {
    match m {
        None => "– (no separate database server)".into(),
        Some(Ok(kib)) => mib(*kib),
        Some(Err(e)) => format!("not measured: {e}"),
    }
}

/// A database server's memory for the JSON: KiB, `null` without one, the reason as a string.
fn db_json(m: &Option<Result<u64, String>>) -> serde_json::Value {
    match m {
        None => serde_json::Value::Null,
        Some(Ok(kib)) => json!(kib),
        Some(Err(e)) => json!(format!("not measured: {e}")),
    }
}

fn per_pending(r: &Ramp) -> f64 {
    if r.held > 0 {
        (r.rss_at_max_kib.saturating_sub(r.rss_before_kib)) as f64 * 1024.0 / r.held as f64
    } else {
        f64::NAN
    }
}

async fn main_async(a: Args) -> Result<(), String> {
    let load_before = load_average();
    let mut runs = Vec::new();
    for name in &a.backends {
        // Each service runs alone: the previous one is stopped (dropped) before the next starts.
        let m = match *name {
            "privacyidea" => {
                eprintln!("push-load: starting privacyIDEA, enrolling {} push tokens", a.workers);
                let poll = Duration::from_millis(a.poll_ms);
                measure(&a, Arc::new(PrivacyIdea::start(a.workers, poll).await?)).await
            }
            pushd_backend => {
                let store = match pushd_backend {
                    "pushd-postgres" => Store::Postgres { instances: 1 },
                    "pushd-postgres-2" => Store::Postgres { instances: 2 },
                    _ => Store::Sqlite,
                };
                if !a.pushd.exists() {
                    return Err(format!(
                        "{} not found (cargo build --release -p mfa-server, or --pushd PATH)",
                        a.pushd.display()
                    ));
                }
                let devices = a.max_pending + a.workers;
                eprintln!(
                    "push-load: starting mfa-server ({store:?}), {} hosts, pairing {devices} \
                     devices",
                    a.hosts
                );
                let pushd = Pushd::start(&a.pushd, store, a.hosts, devices).await?;
                measure(&a, Arc::new(pushd)).await
            }
        };
        runs.push(m);
    }
    let (md, js) = report(&a, &runs, &load_before);
    let text = if a.json { js } else { md };
    write_report(a.out.as_deref(), &text)
}

fn main() {
    main_with("push-load", parse_args, main_async);
}
