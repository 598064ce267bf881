//! `fleet-load`: fleet mode's code verification under load (issue 20), side by side with
//! privacyIDEA's `/validate/check` with TOTP tokens, in one run.
//!
//! Each service runs alone, one after the other: mfa-server on SQLite, on PostgreSQL with one
//! and with two instances (`push_load/pushd.rs`, shared with `push-load`), then a throwaway
//! privacyIDEA (`push_load/privacyidea.rs`). Every user has a TOTP secret (SHA-1, 6 digits,
//! 30 s) at the service; workers, in the module's place, take the least recently used user,
//! compute its current code and send it with the module's own client (`mfa-remote`), checking
//! mfa-server's signed receipt as the module does. A code is accepted once per user and step,
//! so there are many users (verifications/s × 30 s and more) and every right code refused or
//! any worker left without a fresh user is counted apart: this measures acceptances.
//!
//! Measured, per service:
//! 1. verifications/s and latency at 1 and at `--workers` (64; `--quick`: 16) concurrent
//!    logins;
//! 2. (mfa-server) the latency of one login at a time with 100 enrolled users and again with
//!    `--users` (100,000) enrolled, over users not verified before;
//! 3. the database's size per enrolled user (SQLite `dbstat`, PostgreSQL relation sizes).
//!
//! ```text
//! fleet-load [--backend NAME[,NAME…]|all] [--quick] [--out FILE] [--pushd PATH]
//!            [--users N] [--pi-users N] [--hosts N] [--workers N] [--seconds N]
//!            [--probe-rounds N]
//!     NAME: mfa-server, pushd-postgres, pushd-postgres-2, privacyidea
//! ```
//!
//! Timing assertions do not belong in tests: this reports, people judge.

#[path = "../push_load/backend.rs"]
#[allow(dead_code)] // push-load's trait, implemented by the push backends below.
mod backend;
#[path = "../fleet_load/backend.rs"]
mod fleet_backend;
#[path = "../fleet_load/privacyidea.rs"]
mod fleet_pi;
#[path = "../fleet_load/pushd.rs"]
mod fleet_pushd;
#[path = "../push_load/http.rs"]
mod http;
#[path = "../push_load/measure.rs"]
mod measure;
#[path = "../push_load/privacyidea.rs"]
#[allow(dead_code)] // push-load's push backend; fleet-load uses its server setup.
mod privacyidea;
#[path = "../push_load/pushd.rs"]
#[allow(dead_code)] // push-load's push backend; fleet-load uses its `Service`.
mod pushd;
#[path = "../fleet_load/report.rs"]
mod report;
#[path = "../fleet_load/run.rs"]
mod run;
#[path = "../fleet_load/users.rs"]
mod users;

use fleet_backend::{DbUsage, FleetBackend};
use fleet_pi::PiTotp;
use fleet_pushd::FleetPushd;
use measure::{load_average, main_with, rss_kib, write_report};
use pushd::Store;
use run::Level;
use std::path::PathBuf;
use users::{Pool, Users};

const USAGE: &str = "usage: fleet-load [--backend NAME[,NAME...]|all] [--quick] [--out FILE] \
                     [--pushd PATH] [--users N] [--pi-users N] [--hosts N] [--workers N] \
                     [--seconds N] [--probe-rounds N]\n\
                     NAME: mfa-server, pushd-postgres, pushd-postgres-2, privacyidea";

/// The services `--backend` can name, in the order `all` runs them.
const BACKENDS: [&str; 4] = ["mfa-server", "pushd-postgres", "pushd-postgres-2", "privacyidea"];

/// Users of the latency probe's small store.
const SMALL: usize = 100;

/// The command line.
pub(crate) struct Args {
    pub(crate) backends: Vec<&'static str>,
    pub(crate) quick: bool,
    out: Option<PathBuf>,
    pushd: PathBuf,
    /// Users enrolled at mfa-server (the large store of the probe, and the workers' pool).
    pub(crate) users: usize,
    /// Users with a TOTP token at privacyIDEA (the workers' pool there).
    pub(crate) pi_users: usize,
    hosts: usize,
    pub(crate) workers: usize,
    pub(crate) seconds: u64,
    /// Rounds of [`SMALL`] users each in the latency probe.
    pub(crate) probe_rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = Args {
        backends: BACKENDS.to_vec(),
        quick,
        out: None,
        pushd: pushd::default_pushd(),
        users: if quick { 5_000 } else { 100_000 },
        pi_users: if quick { 120 } else { 600 },
        hosts: if quick { 4 } else { 16 },
        // Quick: fewer workers, so that few privacyIDEA users (3 tokens/s to create) suffice.
        workers: if quick { 16 } else { 64 },
        seconds: if quick { 3 } else { 15 },
        probe_rounds: if quick { 1 } else { 2 },
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
                    "all" => BACKENDS.to_vec(),
                    _ => v
                        .split(',')
                        .map(|n| BACKENDS.iter().find(|b| **b == n).copied().ok_or(USAGE))
                        .collect::<Result<_, _>>()?,
                };
            }
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--pushd" => a.pushd = PathBuf::from(value()?),
            "--users" => a.users = num(value()?)?.max(SMALL),
            "--pi-users" => a.pi_users = num(value()?)?.max(1),
            "--hosts" => a.hosts = num(value()?)?.max(1),
            "--workers" => a.workers = num(value()?)?.max(1),
            "--seconds" => a.seconds = num(value()?)?.max(1) as u64,
            "--probe-rounds" => a.probe_rounds = num(value()?)?,
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok(a)
}

/// The latency of one login at a time with few and with many enrolled users.
pub(crate) struct Scaling {
    /// With [`SMALL`] users enrolled.
    pub(crate) small: Level,
    /// With all users enrolled.
    pub(crate) large: Level,
    pub(crate) large_users: usize,
}

/// What one service's run measured.
pub(crate) struct Measured {
    pub(crate) name: &'static str,
    pub(crate) setup: String,
    pub(crate) flow: &'static str,
    /// Users in the workers' pool.
    pub(crate) pool: usize,
    pub(crate) one: Level,
    pub(crate) many: Level,
    pub(crate) scaling: Option<Scaling>,
    /// Enrolled users, seconds the enrollment took, and the database before and after it.
    pub(crate) enrolled: (usize, f64, Result<(DbUsage, DbUsage), String>),
    pub(crate) rss_kib: Option<u64>,
}

/// Throughput at 1 and at `a.workers` concurrent logins on `pool`.
fn levels(a: &Args, b: &dyn FleetBackend, users: Users, pool: &Pool) -> (Level, Level) {
    eprintln!("fleet-load: {}: 1 worker for {} s", b.name(), a.seconds);
    let one = run::level(b, users, pool, 1, a.seconds);
    eprintln!("fleet-load: {}: {} workers for {} s", b.name(), a.workers, a.seconds);
    let many = run::level(b, users, pool, a.workers, a.seconds);
    (one, many)
}

/// `rounds` × [`SMALL`] distinct users spread evenly over `SMALL..total`.
fn spread(total: usize, rounds: usize) -> Vec<Vec<usize>> {
    let n = SMALL * rounds;
    let stride = ((total - SMALL) / n.max(1)).max(1);
    let all: Vec<usize> = (0..n).map(|k| SMALL + k * stride).filter(|&u| u < total).collect();
    all.chunks(SMALL).map(<[usize]>::to_vec).collect()
}

async fn measure_pushd(a: &Args, store: Store, users: Users) -> Result<Measured, String> {
    if !a.pushd.exists() {
        return Err(format!(
            "{} not found (cargo build --release -p mfa-server, or --pushd PATH)",
            a.pushd.display()
        ));
    }
    eprintln!("fleet-load: starting mfa-server ({store:?}), {} hosts", a.hosts);
    let b = FleetPushd::start(&a.pushd, store, a.hosts, users).await?;
    b.enroll(0..SMALL).await?;
    let before = b.db_usage();
    let small_rounds: Vec<Vec<usize>> = (0..a.probe_rounds).map(|_| (0..SMALL).collect()).collect();
    eprintln!("fleet-load: {}: probe with {SMALL} users enrolled", b.name());
    let small = run::probe(&b, users, &small_rounds);
    eprintln!("fleet-load: {}: enrolling {} users", b.name(), a.users);
    let took = b.enroll(SMALL..a.users).await?;
    let after = b.db_usage();
    let large_rounds = spread(a.users, a.probe_rounds);
    eprintln!("fleet-load: {}: probe with {} users enrolled", b.name(), a.users);
    let large = run::probe(&b, users, &large_rounds);
    let probed: std::collections::HashSet<usize> = large_rounds.iter().flatten().copied().collect();
    let pool = Pool::new((SMALL..a.users).filter(|u| !probed.contains(u)));
    let pool_len = pool.len();
    let (one, many) = levels(a, &b, users, &pool);
    Ok(Measured {
        name: b.name(),
        setup: b.setup(),
        flow: b.flow(),
        pool: pool_len,
        one,
        many,
        scaling: Some(Scaling { small, large, large_users: a.users }),
        enrolled: (a.users - SMALL, took, before.and_then(|x| after.map(|y| (x, y)))),
        rss_kib: b.service_rss_kib(),
    })
}

async fn measure_pi(a: &Args, users: Users) -> Result<Measured, String> {
    eprintln!("fleet-load: starting privacyIDEA with {} users", a.pi_users);
    let b = PiTotp::start(a.pi_users).await?;
    let before = b.db_usage();
    eprintln!("fleet-load: privacyIDEA: creating {} TOTP tokens", a.pi_users);
    let took = b.enroll(a.pi_users, users).await?;
    let after = b.db_usage();
    let pool = Pool::new(0..a.pi_users);
    let (one, many) = levels(a, &b, users, &pool);
    Ok(Measured {
        name: b.name(),
        setup: b.setup(),
        flow: b.flow(),
        pool: a.pi_users,
        one,
        many,
        scaling: None,
        enrolled: (a.pi_users, took, before.and_then(|x| after.map(|y| (x, y)))),
        rss_kib: b.service_rss_kib(),
    })
}

// The measurements block the thread they run on: that is `block_on`'s own thread, which no
// other task needs meanwhile.
async fn main_async(a: Args) -> Result<(), String> {
    let load_before = load_average();
    let started = std::time::Instant::now();
    let users = Users::new()?;
    let mut runs = Vec::new();
    for name in &a.backends {
        // Each service runs alone: the previous one is stopped (dropped) before the next starts.
        let m = match *name {
            "privacyidea" => measure_pi(&a, users).await?,
            "pushd-postgres" => measure_pushd(&a, Store::Postgres { instances: 1 }, users).await?,
            "pushd-postgres-2" => {
                measure_pushd(&a, Store::Postgres { instances: 2 }, users).await?
            }
            _ => measure_pushd(&a, Store::Sqlite, users).await?,
        };
        runs.push(m);
    }
    let md = report::markdown(&a, &runs, &load_before, started.elapsed().as_secs_f64());
    write_report(a.out.as_deref(), &md)
}

fn main() {
    main_with("fleet-load", parse_args, main_async);
}
