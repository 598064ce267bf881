//! A description of the machine the numbers come from.

use std::path::Path;
use std::process::Command;

/// What the report says about the machine.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// Logical CPUs (`nproc`).
    pub(crate) nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub(crate) cpu: String,
    /// Kernel release.
    pub(crate) kernel: String,
    /// `/etc/debian_version`.
    pub(crate) debian: String,
    /// `rustc --version` of the build.
    pub(crate) rustc: String,
    /// Total memory, MiB.
    pub(crate) mem_mib: u64,
    /// File system type and device holding the benchmark's files.
    pub(crate) fs: String,
    /// Whether `/dev/log` exists (a syslog daemon receives the modules' log lines).
    pub(crate) syslog: bool,
    /// Versions of the Debian packages involved.
    pub(crate) packages: Vec<(String, String)>,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the run started.
    pub(crate) load_before: String,
    /// Median and 99th percentile (ms) of a durable small-file replace in the benchmark's
    /// directory: write 1.5 KiB, fsync, rename, fsync the directory.
    pub(crate) durable_replace_ms: (f64, f64),
}

/// The current time, UTC, to the minute (from `date`).
pub(crate) fn utc_now() -> String {
    command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "?".into())
}

/// `/proc/loadavg`'s three load averages.
pub(crate) fn load_average() -> String {
    read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// One durable small-file replace in `dir` — what every module does per login, without any
/// module: write 1.5 KiB, fsync, rename, fsync the directory. Returns milliseconds.
fn replace_once(dir: &Path) -> f64 {
    use std::io::Write;
    let t0 = std::time::Instant::now();
    let p = dir.join("f.tmp");
    let mut f = std::fs::File::create(&p).expect("create");
    f.write_all(&[b'x'; 1536]).expect("write");
    f.sync_all().expect("fsync");
    std::fs::rename(&p, dir.join("f")).expect("rename");
    std::fs::File::open(dir).and_then(|d| d.sync_all()).expect("fsync dir");
    t0.elapsed().as_secs_f64() * 1e3
}

/// Median and p99 (ms) of 200 durable replaces in a row.
pub(crate) fn durable_replace(dir: &Path) -> (f64, f64) {
    let tmp = tempfile::tempdir_in(dir).expect("tempdir");
    let s = crate::stats::Summary::of((0..200).map(|_| replace_once(tmp.path())));
    (s.median, s.p99)
}

/// Samples the disk during the whole run: one durable replace every half second, so the
/// report can show how busy the disk was while the modules were measured.
pub(crate) struct DiskProbe {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<f64>>,
}

impl DiskProbe {
    /// Starts sampling in `dir`.
    pub(crate) fn start(dir: &Path) -> DiskProbe {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let tmp = tempfile::tempdir_in(dir).expect("tempdir");
        let thread = std::thread::spawn(move || {
            let mut v = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                v.push(replace_once(tmp.path()));
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            v
        });
        DiskProbe { stop, thread }
    }

    /// Stops sampling; returns the samples' summary (ms).
    pub(crate) fn stop(self) -> crate::stats::Summary {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        crate::stats::Summary::of(self.thread.join().expect("disk probe"))
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_else(|_| "?".into())
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The mount (type and device) holding `path`: the longest matching mount point.
fn file_system(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    read("/proc/mounts")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "?".into(), |(_, d)| d)
}

/// Describes this machine; `bench_dir` is where the benchmark's files go.
pub(crate) fn describe(bench_dir: &Path) -> Machine {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem_mib = read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
        })
        .map_or(0, |k| k / 1024);
    let rustc = std::env::var("MFA_BENCH_RUSTC")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| command("rustc", &["--version"]))
        .unwrap_or_else(|| "?".into());
    let packages = ["libpam0g", "libpam-google-authenticator", "libpam-oath", "liboath0"]
        .iter()
        .map(|p| {
            let v =
                command("dpkg-query", &["-W", "-f=${Version}", p]).unwrap_or_else(|| "?".into());
            (p.to_string(), v)
        })
        .collect();
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu,
        kernel: read("/proc/sys/kernel/osrelease"),
        debian: read("/etc/debian_version"),
        rustc,
        mem_mib,
        fs: file_system(bench_dir),
        syslog: Path::new("/dev/log").exists(),
        packages,
        load_before: load_average(),
        durable_replace_ms: durable_replace(bench_dir),
    }
}
