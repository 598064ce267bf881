//! Small measures both load generators (`push-load`, `fleet-load`) report: a process's
//! resident memory, percentiles, the load average, MiB.

/// Resident set size of `pid` in KiB (`/proc/<pid>/status`, `VmRSS:`); 0 if unreadable.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The `p`th percentile (nearest rank) of `sorted`; NaN when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `/proc/loadavg`'s three load averages.
pub(crate) fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The machine a run shared: CPUs, build profile and the load average before and after.
pub(crate) fn machine_description(load_before: &str) -> String {
    format!(
        "{} CPUs, {}, load average {load_before} before the run and {} after it",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "debug build" } else { "release build" },
        load_average()
    )
}

/// Writes the report to `out`, or prints it.
pub(crate) fn write_report(out: Option<&std::path::Path>, text: &str) -> Result<(), String> {
    match out {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// A load generator's `main`: parses the arguments (exit 2 with the message on error), then
/// runs `body` on a tokio runtime (exit 1 with `name: error` on error).
pub(crate) fn main_with<A, F>(
    name: &str,
    parse: impl FnOnce() -> Result<A, String>,
    body: impl FnOnce(A) -> F,
) where
    F: Future<Output = Result<(), String>>,
{
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(body(args)));
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
