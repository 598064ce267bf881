//! Issue 15, finding 1: a caller's resource limits, signal dispositions, umask, descriptors and
//! working directory must not switch off the lockout. Each attack runs for real: an
//! unprivileged user starts the setuid `mfa-helper` (installed setuid root in the sandbox) or
//! the setuid `su` (with pam_mfa in its stack) under hostile conditions and guesses codes.
//! Afterwards the record is read as root: every guess that was checked is counted, exactly
//! once, and the record is intact.

use mfa_login::config::StoreConfig;
use mfa_login::lockout::LockoutState;
use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Enrolled, now, oathtool, wait_for_step_margin};
use mfa_tests::sandbox::Sandbox;
use std::path::Path;
use std::process::Output;

const VICTIM: u32 = 4260;
const NAME: &str = "victim";

fn sandbox(max_failures: u32) -> (Sandbox, std::path::PathBuf) {
    let s = Sandbox::new();
    s.add_user(NAME, VICTIM, Some("unused password"));
    let helper = s.install_helper();
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(s.dir.join("etc.upper/pam.d/locker"), "auth required pam_mfa.so\n")
        .expect("write");
    // su with pam_mfa as its only authentication, run by the user against their own account.
    std::fs::write(
        s.dir.join("etc.upper/pam.d/su"),
        "auth required pam_mfa.so\naccount required pam_permit.so\n\
         session required pam_permit.so\npassword required pam_deny.so\n",
    )
    .expect("write");
    s.configure(&format!(
        "helper = \"{}\"\nhelper_services = [\"locker\"]\n\
         [lockout]\nmax_failures = {max_failures}\nwindow = 3600\nduration = 3600\n\
         fail_delay_ms = 0\n",
        helper.display()
    ));
    (s, helper)
}

fn store(s: &Sandbox) -> Store {
    Store::open(&StoreConfig {
        state_dir: s.dir.join("state"),
        master_key: s.dir.join("master.key"),
        lock_wait: 10,
    })
    .expect("the store opens")
}

/// The victim's lockout state, read as root; panics if the record is unreadable (corrupt).
fn lockout(s: &Sandbox) -> LockoutState {
    let name = UserName::parse(NAME).expect("name");
    let record = store(s).load(&name).expect("the record is intact").expect("a record");
    // Nothing but the records is left in the users directory (no half-written temporaries).
    for entry in std::fs::read_dir(s.dir.join("state/users")).expect("users dir") {
        let name = entry.expect("entry").file_name();
        assert_eq!(name.to_string_lossy(), NAME, "stray file in the store: {name:?}");
    }
    record.lockout
}

fn record_size(s: &Sandbox) -> u64 {
    std::fs::metadata(s.dir.join("state/users").join(NAME)).expect("record").len()
}

/// A code that is wrong now (not the code of this, the previous or the next step).
fn wrong_code(e: &Enrolled) -> String {
    let t = now();
    let near: Vec<String> = [t - 30, t, t + 30].iter().map(|t| e.code_at(*t)).collect();
    (0..1_000_000u32)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|c| !near.contains(c))
        .expect("a wrong code")
}

/// The helper's login request and the answer to its prompt, as the caller sends them.
fn helper_input(answer: &str) -> Vec<u8> {
    format!(
        "{{\"login\":{{\"pam_user\":\"{NAME}\",\"service\":\"locker\",\"remote\":false,\
         \"silent\":false,\"args\":[]}}}}\n{{\"answer\":\"{answer}\"}}\n"
    )
    .into_bytes()
}

/// Runs `setup` in bash as the victim, then `exec`s `command` (in which `HELPER` names the
/// helper), with `stdin` as input.
fn hostile(s: &Sandbox, helper: &Path, setup: &str, command: &str, stdin: &[u8]) -> Output {
    let home = s.dir.join("home").join(NAME);
    let setup = if setup.is_empty() { "true" } else { setup };
    let script = format!(
        "set -e; HELPER={}; HOME_DIR={}; {setup}; exec {command}",
        helper.display(),
        home.display()
    );
    s.run_as(VICTIM, Path::new("/bin/bash"), &["-c", &script], stdin)
}

/// What must become of a guess.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Asked for, checked and counted exactly once.
    Counted,
    /// Refused before the helper asked for it: not checked, not counted.
    Refused,
}

/// Whether root may raise hard resource limits here (`CAP_SYS_RESOURCE` in the bounding set).
fn can_raise_hard_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("CapBnd");
    bounding & (1 << CAP_SYS_RESOURCE) != 0
}

/// The helper's answer when it refuses to start under the caller's conditions.
const REFUSED: &str =
    "{\"done\":{\"decision\":{\"deny\":\"unavailable\"},\"factor\":null,\"status\":null}}";

/// The answer the helper gives for a wrong code: the decision only.
const DENIED: &str =
    "{\"done\":{\"decision\":{\"deny\":\"auth_failed\"},\"factor\":\"totp\",\"status\":null}}";

#[test]
fn hostile_limits_signals_and_descriptors_do_not_make_a_guess_free_through_the_helper() {
    let (s, helper) = sandbox(1000);
    let e = s.enroll(NAME);
    wait_for_step_margin(30, 10);
    let wrong = wrong_code(&e);
    let size = record_size(&s);
    // Soft limits the helper can always raise back; hard limits only with CAP_SYS_RESOURCE,
    // which some containers take away even from root: there the helper must refuse before
    // checking anything.
    let hard = if can_raise_hard_limits() { Expect::Counted } else { Expect::Refused };
    let soft = Expect::Counted;
    // (name, shell setup, command, what must happen, whether the caller can read the reply)
    let cases: Vec<(&str, String, &str, Expect, bool)> = vec![
        (
            "soft RLIMIT_FSIZE 0, SIGXFSZ ignored",
            "trap '' XFSZ".into(),
            "prlimit --fsize=0:unlimited -- $HELPER",
            soft,
            true,
        ),
        (
            "RLIMIT_FSIZE 0, SIGXFSZ ignored",
            "trap '' XFSZ".into(),
            "prlimit --fsize=0 -- $HELPER",
            hard,
            true,
        ),
        (
            "soft RLIMIT_FSIZE at the record's size",
            "trap '' XFSZ".into(),
            "prlimit --fsize=SIZE:unlimited -- $HELPER",
            soft,
            true,
        ),
        (
            "RLIMIT_FSIZE at the record's size",
            "trap '' XFSZ".into(),
            "prlimit --fsize=SIZE -- $HELPER",
            hard,
            true,
        ),
        (
            "RLIMIT_FSIZE a little above the record's size",
            "trap '' XFSZ".into(),
            "prlimit --fsize=SIZE8 -- $HELPER",
            hard,
            true,
        ),
        (
            "soft RLIMIT_FSIZE 0, SIGXFSZ default",
            String::new(),
            "prlimit --fsize=0:unlimited -- $HELPER",
            soft,
            true,
        ),
        ("soft RLIMIT_NOFILE 5", String::new(), "prlimit --nofile=5:1024 -- $HELPER", soft, true),
        ("RLIMIT_NOFILE 5", String::new(), "prlimit --nofile=5 -- $HELPER", hard, true),
        (
            "soft RLIMIT_AS 64 MiB",
            String::new(),
            "prlimit --as=67108864:unlimited -- $HELPER",
            soft,
            true,
        ),
        ("RLIMIT_AS 64 MiB", String::new(), "prlimit --as=67108864 -- $HELPER", hard, true),
        ("soft RLIMIT_CPU 1 s", String::new(), "prlimit --cpu=1:unlimited -- $HELPER", soft, true),
        ("RLIMIT_CPU 1 s", String::new(), "prlimit --cpu=1 -- $HELPER", hard, true),
        (
            "SIGPIPE, SIGXFSZ, SIGTERM ignored",
            "trap '' PIPE XFSZ TERM".into(),
            "$HELPER",
            soft,
            true,
        ),
        ("umask 0777", "umask 0777".into(), "$HELPER", soft, true),
        ("stderr closed", "exec 2>&-".into(), "$HELPER", soft, true),
        ("stdout and stderr closed", "exec 2>&-".into(), "$HELPER >&-", soft, false),
        (
            "an unreadable working directory",
            "mkdir -p $HOME_DIR/dark && cd $HOME_DIR/dark && chmod 0 $HOME_DIR/dark".into(),
            "$HELPER",
            soft,
            true,
        ),
    ];
    for (name, setup, command, expect, reads_reply) in cases {
        let command =
            command.replace("SIZE8", &(size + 8).to_string()).replace("SIZE", &size.to_string());
        let before = lockout(&s).failures.len();
        let out = hostile(&s, &helper, &setup, &command, &helper_input(&wrong));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        let after = lockout(&s).failures.len();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expect {
            Expect::Counted => {
                if reads_reply {
                    assert_eq!(
                        lines,
                        [
                            "{\"fail_delay\":0}",
                            "{\"prompt_secret\":\"Verification code: \"}",
                            DENIED
                        ],
                        "{name}: the helper checked the guess and said only 'denied' ({stderr})"
                    );
                }
                assert_eq!(after, before + 1, "{name}: the guess is counted exactly once");
            }
            Expect::Refused => {
                assert_eq!(lines, [REFUSED], "{name}: refused before asking ({stderr})");
                assert_eq!(after, before, "{name}: nothing checked, nothing counted");
            }
        }
    }

    // With every descriptor 0-2 closed the caller cannot send a request: nothing is checked,
    // nothing is counted, nothing is damaged.
    let before = lockout(&s);
    let out = hostile(&s, &helper, "exec 0<&- 1>&- 2>&-", "$HELPER", b"");
    assert!(!out.status.success());
    assert_eq!(lockout(&s), before);
}

#[test]
fn with_file_size_limits_the_lockout_still_engages_after_exactly_max_failures_through_the_helper() {
    let (s, helper) = sandbox(3);
    let e = s.enroll(NAME);
    wait_for_step_margin(30, 10);
    let wrong = wrong_code(&e);
    for i in 0..3 {
        let out = hostile(
            &s,
            &helper,
            "trap '' XFSZ",
            "prlimit --fsize=0:unlimited -- $HELPER",
            &helper_input(&wrong),
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).ends_with(&format!("{DENIED}\n")),
            "{i}: {out:?}"
        );
    }
    assert!(lockout(&s).locked_until.is_some(), "three counted guesses lock the factor");
    // The right code is refused now, through the helper and at the root-side module alike.
    let right = oathtool(&e.secret, "SHA1", 6, 30, now());
    let out = hostile(
        &s,
        &helper,
        "trap '' XFSZ",
        "prlimit --fsize=0:unlimited -- $HELPER",
        &helper_input(&right),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"deny\""), "{out:?}");
    let o = s.login("locker", NAME, &["--answer", &right]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
}

/// The record's size after a counted failure and after a success (the in-between attack needs
/// a limit above the one and below the other).
fn sizes_after_failure_and_success(s: &Sandbox, e: &Enrolled, wrong: &str) -> (u64, u64) {
    let o = s.login("su", NAME, &["--answer", wrong]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    let failed = record_size(s);
    let o = s.login("su", NAME, &["--answer", &e.code_now()]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    (failed, record_size(s))
}

/// `su victim -c true` as the victim, with `answer` on standard input, under `setup` and
/// `prlimit ARGS`. Returns whether su succeeded.
fn su(s: &Sandbox, setup: &str, prlimit: &str, answer: &str) -> bool {
    let out = s.run_as(
        VICTIM,
        Path::new("/bin/bash"),
        &["-c", &format!("{setup}; exec prlimit {prlimit} -- su {NAME} -c true")],
        format!("{answer}\n").as_bytes(),
    );
    out.status.success()
}

#[test]
fn a_setuid_su_stack_with_an_in_between_file_size_limit_never_checks_an_uncounted_guess() {
    let (s, _) = sandbox(3);
    let e = s.enroll(NAME);
    // Learn the two sizes (the success uses this step's code).
    wait_for_step_margin(30, 20);
    let wrong = wrong_code(&e);
    let (failed, succeeded) = sizes_after_failure_and_success(&s, &e, &wrong);
    assert!(succeeded < failed, "a failure makes the record larger ({succeeded} vs {failed})");
    // The next step's code is right (within the window, above the replay floor).
    let right = e.code_at(now() + 30);
    let limit = format!("--fsize={succeeded}");
    // Eight guesses under the limit, then the right code under the same limit.
    for _ in 0..8 {
        assert!(!su(&s, "trap '' XFSZ", &limit, &wrong));
    }
    assert!(
        !su(&s, "trap '' XFSZ", &limit, &right),
        "the right code must not log in when the guesses before it could not be counted"
    );
    assert_eq!(lockout(&s), LockoutState::default(), "nothing was checked, nothing counted");
    // RLIMIT_FSIZE 0 the same.
    assert!(!su(&s, "trap '' XFSZ", "--fsize=0", &right));
    // Without limits the right code works (su works, and nothing was locked)...
    assert!(su(&s, "true", "", &right), "su with the right code and no limits");
    // ...and three guesses lock the factor exactly.
    for _ in 0..3 {
        assert!(!su(&s, "true", "", &wrong));
    }
    assert!(lockout(&s).locked_until.is_some());
    assert!(!su(&s, "true", "", &e.recovery_codes[0]), "locked");
}
