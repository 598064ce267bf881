//! Memory and file descriptors: logins through the real libpam under valgrind (no memory
//! errors, no definite leaks), and logins in this process that must leave its open file
//! descriptors as they found them (no leaked store, directory or lock file descriptors), on
//! success and on every kind of failure.

use mfa_tests::client::{self, Reply};
use mfa_tests::client::{
    PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_CONV_ERR, PAM_SERVICE_ERR, PAM_SUCCESS,
};
use mfa_tests::fixture::{Enrolled, Fixture, Outcome, client_path, now, wait_for_step_margin};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::{PoisonError, RwLock};

/// The descriptor test counts this process's descriptors, so no other test of this file may
/// open any (spawning valgrind opens pipes) while it runs: it takes this lock for writing, the
/// valgrind tests for reading.
static FDS: RwLock<()> = RwLock::new(());

/// A wrong code for `e` at time `t`: the right one plus one, modulo 10^6.
fn wrong_code(e: &Enrolled, t: u64) -> String {
    let right: u32 = e.code_at(t).parse().expect("numeric code");
    format!("{:06}", (right + 1) % 1_000_000)
}

/// Flips a byte in the ciphertext of `user`'s record: it no longer decrypts.
fn corrupt_record(f: &Fixture, user: &str) {
    let path = f.user_file(user);
    let mut data = std::fs::read(&path).expect("read record");
    let last = data.len() - 1;
    data[last] ^= 0x01;
    std::fs::write(&path, data).expect("write record");
}

// ---- valgrind --------------------------------------------------------------------------------

/// Runs one login in `pam-test-client` under valgrind; fails on any memory error or definite
/// leak (valgrind exits with 99 then) and returns the client's outcome.
fn valgrind_login(name: &str, f: &Fixture, user: &str, answers: &[&str]) -> Outcome {
    let _shared = FDS.read().unwrap_or_else(PoisonError::into_inner);
    let log = f.root.join(format!("valgrind-{name}.log"));
    let mut cmd = Command::new("valgrind");
    f.with_user(&mut cmd, user);
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
        "--track-fds=no",
    ])
    .arg(format!("--log-file={}", log.display()))
    .arg(client_path())
    .arg("--confdir")
    .arg(&f.pamd)
    .args(["--service", "mfa", "--user", user]);
    for a in answers {
        cmd.args(["--answer", a]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run valgrind ({e}): install it (Debian: apt-get install valgrind)")
    });
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "{name}: valgrind found errors or definite leaks (exit {:?}):\n{report}\nclient stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{name}: unexpected report:\n{report}");
    Outcome::parse(&out.stdout)
}

#[test]
fn valgrind_totp_success_and_wrong_code() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    // Valgrind takes seconds to start; the window of one step either side covers that.
    wait_for_step_margin(30, 10);
    let t = now();
    let o = valgrind_login("wrong", &f, "alice", &[&wrong_code(&alice, t)]);
    assert_eq!(o.code, PAM_AUTH_ERR, "wrong code: {o:?}");
    let o = valgrind_login("totp", &f, "alice", &[&alice.code_at(t)]);
    assert_eq!(o.code, PAM_SUCCESS, "valid code: {o:?}");
}

#[test]
fn valgrind_recovery_code() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    let o = valgrind_login("recovery", &f, "alice", &[&alice.recovery_codes[3]]);
    assert_eq!(o.code, PAM_SUCCESS, "recovery code: {o:?}");
    assert!(
        o.messages.iter().any(|(_, m)| m.contains("Recovery code accepted")),
        "{:?}",
        o.messages
    );
}

#[test]
fn valgrind_corrupt_store_file() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    corrupt_record(&f, "alice");
    let o = valgrind_login("corrupt", &f, "alice", &[&alice.code_now()]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "corrupt record: {o:?}");
}

// ---- file descriptors ------------------------------------------------------------------------

/// This process's open descriptors: number → what it refers to.
fn open_fds() -> BTreeMap<String, String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            (e.file_name().to_string_lossy().into_owned(), target)
        })
        .collect()
}

/// One in-process login: `pam_start_confdir` → `pam_authenticate` → `pam_end`.
struct Case {
    name: &'static str,
    pamd: std::path::PathBuf,
    service: &'static str,
    user: &'static str,
    replies: Vec<Reply>,
    expected: i32,
}

#[test]
fn logins_leave_no_descriptor_open() {
    // The module resolves user names through NSS (issue 15, finding 2) and this test calls PAM
    // in its own process: it runs again in a child process that sees the invented users through
    // libnss_wrapper (which must be preloaded at exec).
    const CHILD: &str = "MFA_FD_TEST_IN_NSS_WRAPPER";
    if std::env::var_os(CHILD).is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nss = mfa_tests::nss::NssFiles::new(dir.path());
        for user in ["alice", "bob", "carol", "dave", "erin"] {
            nss.ensure(user);
        }
        let mut c = Command::new(std::env::current_exe().expect("test binary"));
        c.args(["--exact", "logins_leave_no_descriptor_open", "--nocapture"]).env(CHILD, "1");
        nss.apply(&mut c, &[]);
        let out = c.output().expect("run the test in a child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let _exclusive = FDS.write().unwrap_or_else(PoisonError::into_inner);
    let f = Fixture::new();
    let alice = f.enroll("alice");
    let carol = f.enroll("carol");
    corrupt_record(&f, "carol");
    let dave = f.enroll("dave");
    // dave's lock file is a symlink: the store is opened and read, the prompt answered, and
    // only then does taking the lock fail.
    let dave_lock = f.state_dir().join("locks/dave");
    let _ = std::fs::remove_file(&dave_lock);
    std::os::unix::fs::symlink("/dev/null", &dave_lock).expect("symlink");
    // Configuration faults: a file that does not exist, and one with an unknown key.
    f.stack("missing-config", "auth required {module} config=/nonexistent/pam_mfa.toml");
    let bad = f.root.join("bad.toml");
    std::fs::write(&bad, "nulok = true\n").expect("write");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    f.stack("bad-config", &format!("auth required {{module}} config={}", bad.display()));
    f.stack("bad-argument", "auth required {module} {config} nulok");
    // A store whose state directory is group-writable (checked after opening it).
    let g = Fixture::new();
    let erin = g.enroll("erin");
    std::fs::set_permissions(g.state_dir(), std::fs::Permissions::from_mode(0o770)).expect("chmod");

    wait_for_step_margin(30, 10);
    let t = now();
    let text = |s: &str| vec![Reply::text(s)];
    // Round 0 warms up what a process opens once and keeps (e.g. a syslog socket); round 1 is
    // measured. Each round needs its own valid code and recovery code.
    let cases = |round: usize| {
        let at = t + 30 * round as u64;
        vec![
            Case {
                name: "valid code",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: text(&alice.code_at(at)),
                expected: PAM_SUCCESS,
            },
            Case {
                name: "replayed code",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: text(&alice.code_at(at)),
                expected: PAM_AUTH_ERR,
            },
            Case {
                name: "wrong code",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: text(&wrong_code(&alice, at)),
                expected: PAM_AUTH_ERR,
            },
            Case {
                name: "recovery code",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: text(&alice.recovery_codes[round]),
                expected: PAM_SUCCESS,
            },
            Case {
                name: "garbage answer",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: text("not a code"),
                expected: PAM_AUTH_ERR,
            },
            Case {
                name: "conversation error",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "alice",
                replies: vec![Reply::ConvError],
                expected: PAM_CONV_ERR,
            },
            Case {
                name: "not enrolled",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "bob",
                replies: vec![],
                expected: PAM_AUTH_ERR,
            },
            Case {
                name: "corrupt record",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "carol",
                replies: text(&carol.code_at(at)),
                expected: PAM_AUTHINFO_UNAVAIL,
            },
            Case {
                name: "lock file is a symlink",
                pamd: f.pamd.clone(),
                service: "mfa",
                user: "dave",
                replies: text(&dave.code_at(at)),
                expected: PAM_AUTHINFO_UNAVAIL,
            },
            Case {
                name: "state directory group-writable",
                pamd: g.pamd.clone(),
                service: "mfa",
                user: "erin",
                replies: text(&erin.code_at(at)),
                expected: PAM_AUTHINFO_UNAVAIL,
            },
            Case {
                name: "configuration missing",
                pamd: f.pamd.clone(),
                service: "missing-config",
                user: "alice",
                replies: vec![],
                expected: PAM_SERVICE_ERR,
            },
            Case {
                name: "configuration invalid",
                pamd: f.pamd.clone(),
                service: "bad-config",
                user: "alice",
                replies: vec![],
                expected: PAM_SERVICE_ERR,
            },
            Case {
                name: "module argument invalid",
                pamd: f.pamd.clone(),
                service: "bad-argument",
                user: "alice",
                replies: vec![],
                expected: PAM_SERVICE_ERR,
            },
        ]
    };
    let run = |c: Case| {
        let t = client::authenticate(Some(&c.pamd), c.service, c.user, None, c.replies, 0);
        assert_eq!(t.code, c.expected, "{}: {} ({:?})", c.name, client::code_name(t.code), t);
    };
    for c in cases(0) {
        run(c);
    }
    let mut leaks = Vec::new();
    for c in cases(1) {
        let name = c.name;
        let before = open_fds();
        run(c);
        let after = open_fds();
        if after.len() != before.len() {
            // What the new descriptors point at (their numbers may shift).
            let mut new: Vec<&String> = after.values().collect();
            for target in before.values() {
                if let Some(i) = new.iter().position(|t| *t == target) {
                    new.swap_remove(i);
                }
            }
            leaks.push(format!(
                "{name}: {} → {} descriptors, new: {new:?}",
                before.len(),
                after.len()
            ));
        }
    }
    assert!(leaks.is_empty(), "descriptors left open:\n{}", leaks.join("\n"));
}
