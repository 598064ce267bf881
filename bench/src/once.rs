//! A login in a fresh process, as sshd and sudo do it: exec a small client, which links libpam,
//! has libpam dlopen the module, authenticates once and exits.
//!
//! The parent times spawn-to-reap and takes the child's CPU time from
//! `getrusage(RUSAGE_CHILDREN)`; the child reports its RSS just before `pam_start`, its peak and
//! RSS around the login, and its overall peak.

use crate::env::Env;
use crate::modules::Module;
use crate::stats::Sample;
use crate::sys;
use crate::worker::check_prompts;
use mfa_tests::client::{self, Reply};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What the child measured about its own memory.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct ChildMemory {
    /// `pam_authenticate`'s return code.
    pub(crate) code: i32,
    /// Peak RSS of the whole process (KiB).
    pub(crate) process_peak_kib: u64,
    /// RSS just before `pam_start` (KiB).
    pub(crate) rss_before_kib: u64,
    /// Peak RSS during `pam_start` … `pam_end` (KiB); the process peak if it cannot be reset.
    pub(crate) peak_kib: u64,
    /// RSS after `pam_end` (KiB).
    pub(crate) rss_after_kib: u64,
}

/// One fresh-process login as the parent saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FreshLogin {
    /// Wall time from spawn to reap, and the child's CPU time.
    pub(crate) sample: Sample,
    /// The child's own figures.
    pub(crate) memory: ChildMemory,
}

/// The child: `mfa-bench once ENV MODULE USER ANSWER`.
pub(crate) fn child_main(env: &Path, module: &str, user: &str, answer: &str) {
    let module = Module::ALL.into_iter().find(|m| m.key() == module).expect("module key");
    let pamd = env.join("pam.d");
    let rss_before_kib = sys::status_kib("VmRSS");
    let hwm_before_kib = sys::status_kib("VmHWM");
    let reset = sys::reset_peak_rss();
    let t =
        client::authenticate(Some(&pamd), module.key(), user, None, vec![Reply::text(answer)], 0);
    let peak_kib = sys::status_kib("VmHWM");
    let rss_after_kib = sys::status_kib("VmRSS");
    check_prompts(module, &t);
    let m = ChildMemory {
        code: t.code,
        process_peak_kib: hwm_before_kib.max(peak_kib),
        rss_before_kib,
        peak_kib: if reset { peak_kib } else { u64::MAX },
        rss_after_kib,
    };
    println!("{}", serde_json::to_string(&m).expect("serialize"));
}

/// Runs one login in a fresh child process.
pub(crate) fn login(env: &Env, module: Module, user: &str, answer: &str) -> FreshLogin {
    let exe = std::env::current_exe().expect("current_exe");
    let cpu0 = sys::children_cpu_ns();
    let t0 = Instant::now();
    let mut child = Command::new(exe)
        .envs(Env::nss_env(&env.root))
        .arg("once")
        .arg(&env.root)
        .args([module.key(), user, answer])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn login child");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut out)
        .expect("read child");
    let status = child.wait().expect("wait for login child");
    let wall_ns = t0.elapsed().as_nanos() as u64;
    let cpu_ns = sys::children_cpu_ns() - cpu0;
    assert!(status.success(), "login child failed ({status}); see above");
    let memory: ChildMemory = serde_json::from_str(out.trim()).expect("child output");
    FreshLogin { sample: Sample { wall_ns, cpu_ns, code: memory.code }, memory }
}
