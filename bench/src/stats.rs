//! Summaries of measured samples: median, 99th percentile, mean.

use serde::{Deserialize, Serialize};

/// One timed login.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Sample {
    /// Wall-clock time of the login, nanoseconds.
    pub(crate) wall_ns: u64,
    /// CPU time (user + system) of the login, nanoseconds.
    pub(crate) cpu_ns: u64,
    /// `pam_authenticate`'s return code.
    pub(crate) code: i32,
}

/// Median and tail of a set of values.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Number of values.
    pub(crate) n: usize,
    /// Median (50th percentile, nearest rank).
    pub(crate) median: f64,
    /// 99th percentile (nearest rank; the maximum when there are fewer than 100 values).
    pub(crate) p99: f64,
    /// Arithmetic mean.
    pub(crate) mean: f64,
}

/// Nearest-rank percentile `p` (0–100) of sorted `v`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Summarizes `values` (any order).
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Summary {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        let mean = if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
        Summary { n: v.len(), median: percentile(&v, 50.0), p99: percentile(&v, 99.0), mean }
    }
}

/// Wall and CPU time of a set of logins, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Timing {
    /// Wall-clock time per login, ms.
    pub(crate) wall: Summary,
    /// CPU time per login, ms.
    pub(crate) cpu: Summary,
}

impl Timing {
    /// Summarizes samples.
    pub(crate) fn of(samples: &[Sample]) -> Timing {
        Timing {
            wall: Summary::of(samples.iter().map(|s| s.wall_ns as f64 / 1e6)),
            cpu: Summary::of(samples.iter().map(|s| s.cpu_ns as f64 / 1e6)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s = Summary::of((1..=100).map(f64::from));
        assert_eq!(s.median, 50.0);
        assert_eq!(s.p99, 99.0);
        let s = Summary::of([3.0, 1.0, 2.0]);
        assert_eq!(s.median, 2.0);
        assert_eq!(s.p99, 3.0);
    }
}
