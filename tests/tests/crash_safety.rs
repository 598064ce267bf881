//! Crash safety: logins are killed with SIGKILL at random moments while they read, check and
//! write state (with the lockout on, wrong answers write too). After every round each record
//! must still decode (the old or the new version), no enrollment may be lost, the replay floor
//! may only move forward, and a used recovery code never works again.
//! `MFA_CRASH_ROUNDS` sets the number of rounds (default 40).

use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Enrolled, Fixture, client_path, now};
use std::process::{Command, Stdio};
use std::time::Duration;

const USERS: usize = 4;
const PER_ROUND: usize = 8;

fn random_below(n: u32) -> u32 {
    mfa_login::random::below(n).expect("random")
}

#[test]
fn killed_logins_never_corrupt_lose_or_revive_anything() {
    let rounds: usize =
        std::env::var("MFA_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let f = Fixture::with_config(
        "[lockout]\nmax_failures = 1000\nwindow = 60\nduration = 60\nfail_delay_ms = 0\n",
    );
    let users: Vec<(String, Enrolled)> = (0..USERS)
        .map(|i| format!("crash{i}"))
        .map(|u| {
            let e = f.enroll(&u);
            (u, e)
        })
        .collect();
    let store = Store::open(&f.config().store).expect("store");
    let names: Vec<UserName> =
        users.iter().map(|(u, _)| UserName::parse(u).expect("name")).collect();
    let mut floors = [None::<u64>; USERS];
    let mut used_recovery: Vec<(usize, String)> = Vec::new();
    let (mut started, mut killed, mut finished) = (0, 0, 0);

    for round in 0..rounds {
        let mut children = Vec::new();
        for _ in 0..PER_ROUND {
            let u = random_below(USERS as u32) as usize;
            let (name, e) = &users[u];
            // A mix of right codes (which write the replay floor), wrong codes (which write the
            // failure counter) and recovery codes (which write a used slot).
            let answer = match random_below(3) {
                0 => e.code_at(now() + 30 * u64::from(random_below(2))),
                1 => "000000".to_string(),
                _ => e.recovery_codes[random_below(10) as usize].clone(),
            };
            let child = f
                .with_user(&mut Command::new(client_path()), name)
                .arg("--confdir")
                .arg(&f.pamd)
                .args(["--service", "mfa", "--user", name, "--answer", &answer])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            started += 1;
            children.push((u, answer, child));
        }
        std::thread::sleep(Duration::from_micros(u64::from(random_below(15_000))));
        for (u, answer, mut child) in children {
            if random_below(4) != 0 && child.try_wait().expect("wait").is_none() {
                let _ = child.kill(); // SIGKILL, wherever it is
                killed += 1;
                let _ = child.wait();
                continue;
            }
            let out = child.wait_with_output().expect("wait");
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                finished += 1;
                if v["code"] == PAM_SUCCESS && answer.contains('-') {
                    used_recovery.push((u, answer));
                }
            }
        }
        for (i, name) in names.iter().enumerate() {
            let rec = store
                .load(name)
                .unwrap_or_else(|e| panic!("round {round}: {name}'s record does not decode: {e}"))
                .unwrap_or_else(|| panic!("round {round}: {name}'s enrollment was lost"));
            let totp =
                rec.totp.as_ref().unwrap_or_else(|| panic!("round {round}: {name} lost TOTP"));
            assert!(
                totp.last_used_step >= floors[i],
                "round {round}: {name}'s replay floor went back"
            );
            floors[i] = totp.last_used_step;
        }
    }
    // Writers killed mid-write may have left temporary files; the next write under the lock
    // removes them (a wrong answer writes the failure counter).
    let temporaries = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count()
    };
    let users_dir = f.state_dir().join("users");
    let left_behind = temporaries(&users_dir);
    for (name, _) in &users {
        assert_eq!(f.login(name, &["000000"]).code, PAM_AUTH_ERR);
    }
    assert_eq!(temporaries(&users_dir), 0, "stale temporary files removed by the next write");
    // A recovery code that was accepted once never works again.
    for (u, code) in &used_recovery {
        let o = f.login(&users[*u].0, &[code]);
        assert_eq!(o.code, PAM_AUTH_ERR, "used recovery code accepted again");
    }
    eprintln!(
        "crash safety: {rounds} rounds, {started} logins started, {killed} killed with SIGKILL, \
         {finished} finished, {} used recovery codes re-checked, {left_behind} temporary files \
         left by killed writers (removed by the next write)",
        used_recovery.len()
    );
    assert!(killed > 0 && finished > 0);
}
