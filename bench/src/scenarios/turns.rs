//! Modules taking turns: each module's logins are split into rounds, and the rounds of all
//! modules alternate, so a change in the machine's conditions during the run (other work, the
//! disk) hits every module alike instead of whichever happened to run at that moment.

use crate::stats::Sample;
use crate::syslog_sink::SyslogSink;
use crate::worker::{self, WorkerSpec};

/// One module's logins over all rounds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Merged {
    /// Every timed login.
    pub(crate) samples: Vec<Sample>,
    /// The highest peak RSS of its worker processes (KiB).
    pub(crate) peak_rss_kib: u64,
    /// Syslog lines per login (warm-up logins included), when the sink runs.
    pub(crate) log_lines: Option<f64>,
}

/// Runs every job in `rounds` rounds. A job's users are split into `rounds` equal runs of
/// consecutive users, each a worker process of its own that begins with `spec.warmup` untimed
/// logins.
pub(crate) fn run(jobs: &[WorkerSpec], rounds: usize, sink: Option<&SyslogSink>) -> Vec<Merged> {
    let mut out = vec![Merged::default(); jobs.len()];
    let mut lines = vec![0u64; jobs.len()];
    for r in 0..rounds {
        for (job, merged) in jobs.iter().zip(out.iter_mut().zip(lines.iter_mut())) {
            let (merged, lines) = merged;
            let chunk = job.users.len() / rounds;
            assert!(chunk > job.warmup, "too few users for {rounds} rounds");
            let mut spec = job.clone();
            spec.users = job.users[r * chunk..(r + 1) * chunk].to_vec();
            let before = sink.map(SyslogSink::lines);
            let result = worker::run(std::slice::from_ref(&spec)).remove(0);
            if let (Some(s), Some(b)) = (sink, before) {
                // Let the sink's thread catch up with the last datagrams.
                std::thread::sleep(std::time::Duration::from_millis(50));
                *lines += s.lines() - b;
            }
            merged.samples.extend(result.samples);
            merged.peak_rss_kib = merged.peak_rss_kib.max(result.peak_rss_kib);
        }
    }
    for ((m, job), l) in out.iter_mut().zip(jobs).zip(lines) {
        let logins = (job.users.len() / rounds * rounds * job.per_user) as f64;
        m.log_lines = sink.map(|_| l as f64 / logins);
    }
    out
}
