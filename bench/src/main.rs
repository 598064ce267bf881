//! `mfa-bench`: pam_mfa side by side with pam_google_authenticator and pam_oath, through the
//! real libpam, on one machine in one run. `scripts/bench.sh` builds and runs it.
//!
//! ```text
//! mfa-bench run [--quick] [--only SCENARIO] [--module PATH] [--out FILE.md] [--svg FILE.svg]
//!               [--command TEXT] [--push-follows]
//!     SCENARIO: sequential, recovery, fresh, scaling or concurrency (the others are skipped)
//! mfa-bench worker SPEC_JSON                 (internal: a login loop in its own process)
//! mfa-bench once ENV_DIR MODULE USER ANSWER  (internal: one login in a fresh process)
//! ```
//!
//! `--push-follows` says in the report's introduction that the push and fleet sections (the
//! load tests `push-load` and `fleet-load`, written separately) follow the PAM part:
//! `scripts/bench.sh` appends them.
//!
//! Timing assertions do not belong in tests: this reports, people judge.

mod enroll;
mod env;
mod machine;
mod modules;
mod once;
mod report;
mod scenarios;
mod stats;
mod svg;
mod sys;
mod syslog_sink;
mod worker;

use std::path::{Path, PathBuf};
use std::time::Instant;

const USAGE: &str = "usage: mfa-bench run [--quick] [--only SCENARIO] [--module PATH] [--out FILE.md] \
                     [--svg FILE.svg] [--command TEXT] [--push-follows]";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

/// Options of `mfa-bench run`.
struct RunArgs {
    quick: bool,
    only: Option<String>,
    module: PathBuf,
    out: PathBuf,
    svg: Option<PathBuf>,
    command: String,
    /// `--push-follows`: the push section will be appended to the report.
    push_follows: bool,
}

fn parse_run(mut args: impl Iterator<Item = String>) -> RunArgs {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("exe dir").to_path_buf();
    let mut a = RunArgs {
        quick: false,
        only: None,
        module: dir.join("libpam_mfa.so"),
        out: PathBuf::from("docs/benchmarks.md"),
        svg: None,
        command: "mfa-bench run".to_string(),
        push_follows: false,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--only" => a.only = Some(value()),
            "--module" => a.module = PathBuf::from(value()),
            "--out" => a.out = PathBuf::from(value()),
            "--svg" => a.svg = Some(PathBuf::from(value())),
            "--command" => a.command = value(),
            "--push-follows" => a.push_follows = true,
            _ => usage(),
        }
    }
    a
}

fn run(a: RunArgs) {
    require_root();
    let module = canonical_module(&a.module);
    let svg = a.svg.unwrap_or_else(|| a.out.with_extension("svg"));
    check_writable(&[&a.out, &svg]);
    let plan = scenarios::Plan::new(a.quick);
    let only = a.only.clone();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    check_only(only.as_deref());
    let t0 = Instant::now();
    let date = machine::utc_now();
    let machine = machine::describe(&env::base_dir());
    // Before any worker starts: they inherit the private /dev with its /dev/log.
    let sink = syslog_sink::SyslogSink::start();
    if let Err(e) = &sink {
        eprintln!("mfa-bench: no syslog sink ({e}); log lines go to /dev/console");
    }
    let sizes = scenarios::fresh::sizes(&module);
    let probe = machine::DiskProbe::start(&env::base_dir());
    // The fields are evaluated in this order: the scenarios one after the other, then the
    // measures taken after them (load, disk probe, syslog sink stopped, duration).
    let results = report::Results {
        sequential: if_wanted(wanted("sequential"), || {
            scenarios::sequential::totp(&plan, &module, sink.as_ref().ok())
        }),
        recovery: if_wanted(wanted("recovery"), || scenarios::sequential::recovery(&plan, &module)),
        fresh: if_wanted(wanted("fresh"), || scenarios::fresh::run(&plan, &module)),
        scaling: if_wanted(wanted("scaling"), || scenarios::scaling::run(&plan, &module)),
        concurrency: if_wanted(wanted("concurrency"), || {
            scenarios::concurrency::run(&plan, &module)
        }),
        only,
        sizes,
        machine,
        plan,
        command: a.command,
        push_follows: a.push_follows,
        module: a.module.clone(),
        date,
        load_after: machine::load_average(),
        durable_during: probe.stop(),
        durable_after_ms: machine::durable_replace(&env::base_dir()),
        syslog: sink.map(|_| ()).map_err(|e| e.to_string()),
        duration_s: t0.elapsed().as_secs_f64(),
        svg_name: svg.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if !results.concurrency.is_empty() {
        write(&svg, &svg::concurrency_plot(&results.concurrency));
    }
    write(&a.out, &report::markdown(&results));
    eprintln!(
        "mfa-bench: done in {:.0} s; wrote {} and {}",
        results.duration_s,
        a.out.display(),
        svg.display()
    );
}

/// Exits unless running as root: PAM modules run as root.
fn require_root() {
    if !sys::is_root() {
        eprintln!("mfa-bench: run as root (PAM modules run as root; scripts/bench.sh uses sudo)");
        std::process::exit(1);
    }
}

/// The module's canonical path; exits with a hint to build it when it is not there.
fn canonical_module(module: &Path) -> PathBuf {
    std::fs::canonicalize(module).unwrap_or_else(|e| {
        eprintln!(
            "mfa-bench: {}: {e} (build it: cargo build --release -p pam_mfa)",
            module.display()
        );
        std::process::exit(1)
    })
}

/// Creates each output's directory and opens the file for appending: fail now rather than
/// after the run.
fn check_writable(paths: &[&PathBuf]) {
    for p in paths {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    }
}

/// `--only` must name a scenario; otherwise the usage and exit.
fn check_only(only: Option<&str>) {
    if let Some(o) = only {
        let known = ["sequential", "recovery", "fresh", "scaling", "concurrency"];
        if !known.contains(&o) {
            usage();
        }
    }
}

/// Runs a scenario when it is wanted; an empty result when it is not.
fn if_wanted<T>(wanted: bool, scenario: impl FnOnce() -> Vec<T>) -> Vec<T> {
    if wanted { scenario() } else { Vec::new() }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("run") => run(parse_run(args)),
        Some("worker") => worker::main(&args.next().unwrap_or_else(|| usage())),
        Some("once") => {
            let v: Vec<String> = args.collect();
            let [env, module, user, answer] = v.as_slice() else { usage() };
            once::child_main(Path::new(env), module, user, answer);
        }
        _ => usage(),
    }
}
