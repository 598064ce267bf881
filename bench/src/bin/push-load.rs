//! `push-load`: load on the push service. Starts `mfa-pushd` on loopback (own CA, limits
//! opened up), registers hosts, pairs devices through the API, then measures
//! 1. sustained logins/s: workers create challenges from many hosts, hold the host's long-poll
//!    open, and approve from the device (pending list + signed answer);
//! 2. approve-to-login latency: from sending the device's answer to the host's long-poll
//!    returning;
//! 3. how many pending challenges one instance holds (each with an open long-poll), ramped up
//!    to `--max-pending` or the first error, and the service's RSS per pending challenge.
//!
//! ```text
//! push-load [--quick] [--json] [--out FILE] [--pushd PATH] [--hosts N] [--workers N]
//!           [--seconds N] [--max-pending N]
//! ```
//!
//! Timing assertions do not belong in tests: this reports, people judge.

#[path = "../push_load/http.rs"]
mod http;
#[path = "../push_load/pushd.rs"]
mod pushd;

use pushd::{Backend, Login, Pushd};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: push-load [--quick] [--json] [--out FILE] [--pushd PATH] [--hosts N] \
                     [--workers N] [--seconds N] [--max-pending N]";

struct Args {
    quick: bool,
    json: bool,
    out: Option<PathBuf>,
    pushd: PathBuf,
    hosts: usize,
    workers: usize,
    seconds: u64,
    max_pending: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = Args {
        quick,
        json: false,
        out: None,
        pushd: pushd::default_pushd(),
        hosts: if quick { 4 } else { 16 },
        workers: if quick { 16 } else { 64 },
        seconds: if quick { 5 } else { 20 },
        max_pending: if quick { 300 } else { 2000 },
    };
    argv.reverse();
    while let Some(arg) = argv.pop() {
        let mut value = || argv.pop().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        let num = |v: String| v.parse::<usize>().map_err(|_| format!("not a number: {v}"));
        match arg.as_str() {
            "--quick" => {}
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

fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Throughput {
    logins: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

/// One login: challenge, host long-poll held open, device approves; returns the latency
/// from sending the answer to the long-poll's return.
async fn one_login<B: Backend>(b: &Arc<B>, user: usize) -> Result<f64, String> {
    let login = Arc::new(b.start_login(user).await?);
    let (b2, l2) = (b.clone(), login.clone());
    let poll = tokio::spawn(async move {
        let status = b2.wait_login(&l2, 25).await;
        (status, Instant::now())
    });
    tokio::task::yield_now().await;
    let sent = Instant::now();
    b.approve(&login).await?;
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
}

async fn ramp<B: Backend>(b: &Arc<B>, first_user: usize, cap: usize, step: usize) -> Ramp {
    let pid = b.server_pid().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let mut logins: Vec<Arc<Login>> = Vec::new();
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
    let rss_at_max_kib = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    let held = logins.len();
    let mut set = tokio::task::JoinSet::new();
    for l in logins {
        let b = b.clone();
        set.spawn(async move { b.cancel(&l).await });
    }
    while set.join_next().await.is_some() {}
    while holders.join_next().await.is_some() {}
    Ramp { held, stopped_by, rss_before_kib, rss_at_max_kib }
}

fn report(a: &Args, b: &impl Backend, hosts: usize, t: &Throughput, r: &Ramp) -> (String, String) {
    let rate = t.logins as f64 / t.seconds.max(0.001);
    let p50 = percentile(&t.latencies_ms, 50.0);
    let p99 = percentile(&t.latencies_ms, 99.0);
    let per_pending = if r.held > 0 {
        (r.rss_at_max_kib.saturating_sub(r.rss_before_kib)) as f64 * 1024.0 / r.held as f64
    } else {
        f64::NAN
    };
    let machine = format!(
        "{} CPUs, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug build" } else { "release build" }
    );
    let md = format!(
        "## Push service load ({name})\n\n\
         `push-load{quick}`: {hosts} hosts, {users} paired devices (one user each), \
         {workers} concurrent logins for {secs:.1} s, then a ramp of pending challenges \
         (each with an open host long-poll) up to {cap}; {machine}; TLS on loopback.\n\n\
         | measure | value |\n|---|---|\n\
         | logins/s sustained (challenge → device pending list → signed approve → host long-poll returns) | {rate:.1} |\n\
         | logins completed / failed | {ok} / {err} |\n\
         | approve → login latency, p50 / p99 | {p50:.1} ms / {p99:.1} ms |\n\
         | pending challenges held by one instance | {held} ({stop}) |\n\
         | service RSS before ramp / at max pending | {rb:.1} MiB / {rm:.1} MiB |\n\
         | memory per pending challenge (RSS delta / pending) | {pp:.0} bytes |\n",
        name = b.name(),
        quick = if a.quick { " --quick" } else { "" },
        users = b.users(),
        workers = a.workers,
        secs = t.seconds,
        cap = a.max_pending,
        ok = t.logins,
        err = t.errors,
        held = r.held,
        stop = r.stopped_by,
        rb = r.rss_before_kib as f64 / 1024.0,
        rm = r.rss_at_max_kib as f64 / 1024.0,
        pp = per_pending,
    );
    let md = match &t.first_error {
        Some(e) => format!("{md}\nFirst login error: `{e}`\n"),
        None => md,
    };
    let js = json!({
        "backend": b.name(), "quick": a.quick, "hosts": hosts, "devices": b.users(),
        "workers": a.workers, "seconds": t.seconds, "logins": t.logins, "errors": t.errors,
        "first_error": t.first_error, "logins_per_second": rate,
        "approve_to_login_ms": {"p50": p50, "p99": p99, "n": t.latencies_ms.len()},
        "max_pending": {"held": r.held, "cap": a.max_pending, "stopped_by": r.stopped_by},
        "rss_kib": {"before": r.rss_before_kib, "at_max": r.rss_at_max_kib},
        "bytes_per_pending": per_pending, "machine": machine,
    });
    (md, serde_json::to_string_pretty(&js).unwrap_or_default())
}

async fn main_async(a: Args) -> Result<(), String> {
    if !a.pushd.exists() {
        return Err(format!(
            "{} not found (cargo build --release -p push-server, or --pushd PATH)",
            a.pushd.display()
        ));
    }
    let devices = a.max_pending + a.workers;
    eprintln!("push-load: starting mfa-pushd, {} hosts, pairing {devices} devices", a.hosts);
    let b = Arc::new(Pushd::start(&a.pushd, a.hosts, devices).await?);
    eprintln!("push-load: {} workers for {} s", a.workers, a.seconds);
    let t = throughput(&b, a.workers, a.seconds).await;
    eprintln!("push-load: ramping pending challenges up to {}", a.max_pending);
    let step = if a.quick { 50 } else { 100 };
    let r = ramp(&b, a.workers, a.max_pending, step).await;
    let (md, js) = report(&a, b.as_ref(), a.hosts, &t, &r);
    let text = if a.json { js } else { md };
    match &a.out {
        Some(p) => std::fs::write(p, &text).map_err(|e| format!("{}: {e}", p.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("push-load: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(main_async(args)) {
        eprintln!("push-load: {e}");
        std::process::exit(1);
    }
}
