//! `fleet-load`'s measurements: workers verifying current TOTP codes for a while (throughput
//! and latency at one concurrency), and a latency probe over a fixed set of users.

use super::fleet_backend::FleetBackend;
use super::users::{Pool, Users, current_step, until_next_step};
use push_proto::fleet::Verdict;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What one run of workers measured.
#[derive(Debug, Default)]
pub(crate) struct Level {
    /// Wall-clock seconds of the run.
    pub(crate) seconds: f64,
    /// Latency of each accepted verification (sorted), ms.
    pub(crate) accepted_ms: Vec<f64>,
    /// Right codes refused (should be none: each code is sent once per user and step).
    pub(crate) refused: u64,
    /// Verifications without a decision (transport errors, a receipt that does not check).
    pub(crate) errors: u64,
    /// The first refusal or error, for the report.
    pub(crate) first_problem: Option<String>,
    /// Times a worker found every user used in this step and waited for the next one.
    pub(crate) dry_waits: u64,
}

impl Level {
    /// Accepted verifications per second.
    pub(crate) fn rate(&self) -> f64 {
        self.accepted_ms.len() as f64 / self.seconds.max(0.001)
    }

    fn merge(&mut self, o: Level) {
        self.accepted_ms.extend(o.accepted_ms);
        self.refused += o.refused;
        self.errors += o.errors;
        self.dry_waits += o.dry_waits;
        if self.first_problem.is_none() {
            self.first_problem = o.first_problem;
        }
    }

    /// Counts one verification's result.
    fn record(&mut self, r: Result<Verdict, String>, ms: f64) {
        match r {
            Ok(Verdict::Accept) => self.accepted_ms.push(ms),
            Ok(v) => {
                self.refused += 1;
                self.first_problem.get_or_insert_with(|| format!("right code {}", v.as_str()));
            }
            Err(e) => {
                self.errors += 1;
                self.first_problem.get_or_insert(e);
            }
        }
    }
}

/// One worker until `stop`: take the least recently used user, send its current code, time the
/// decision.
fn worker(b: &dyn FleetBackend, users: Users, pool: &Pool, w: usize, stop: Instant) -> Level {
    let mut out = Level::default();
    let mut client = match b.client(w) {
        Ok(c) => c,
        Err(e) => {
            out.record(Err(e), 0.0);
            return out;
        }
    };
    while Instant::now() < stop {
        let step = current_step();
        let Some(u) = pool.take(step) else {
            out.dry_waits += 1;
            std::thread::sleep(
                until_next_step().min(stop.saturating_duration_since(Instant::now())),
            );
            continue;
        };
        let code = users.code(u, step);
        let t0 = Instant::now();
        let r = client.verify(&Users::name(u), &code);
        out.record(r, t0.elapsed().as_secs_f64() * 1000.0);
        pool.put(u, step);
    }
    out
}

/// `workers` workers for `seconds` seconds on `pool`.
pub(crate) fn level(
    b: &dyn FleetBackend,
    users: Users,
    pool: &Pool,
    workers: usize,
    seconds: u64,
) -> Level {
    let started = Instant::now();
    let stop = started + Duration::from_secs(seconds);
    let mut total = Level::default();
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..workers).map(|w| s.spawn(move || worker(b, users, pool, w, stop))).collect();
        for h in handles {
            match h.join() {
                Ok(l) => total.merge(l),
                Err(_) => total.record(Err("a worker panicked".into()), 0.0),
            }
        }
    });
    total.seconds = started.elapsed().as_secs_f64();
    total.accepted_ms.sort_by(f64::total_cmp);
    total
}

/// One worker verifies each user of `rounds` in turn, one after the other; a user verified
/// already in the current TOTP step waits for the next one (not timed).
pub(crate) fn probe(b: &dyn FleetBackend, users: Users, rounds: &[Vec<usize>]) -> Level {
    let started = Instant::now();
    let mut out = Level::default();
    let mut client = match b.client(0) {
        Ok(c) => c,
        Err(e) => {
            out.record(Err(e), 0.0);
            return out;
        }
    };
    let mut used: HashMap<usize, u64> = HashMap::new();
    for &u in rounds.iter().flatten() {
        if used.get(&u).is_some_and(|&s| s >= current_step()) {
            out.dry_waits += 1;
            std::thread::sleep(until_next_step());
        }
        let step = current_step();
        let code = users.code(u, step);
        let t0 = Instant::now();
        let r = client.verify(&Users::name(u), &code);
        out.record(r, t0.elapsed().as_secs_f64() * 1000.0);
        used.insert(u, step);
    }
    out.seconds = started.elapsed().as_secs_f64();
    out.accepted_ms.sort_by(f64::total_cmp);
    out
}
