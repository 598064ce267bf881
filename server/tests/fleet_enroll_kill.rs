//! An enrollment change killed in flight (issue 20: "kill -9 of a service instance
//! mid-verification → no double accept, no lost enrollment"), on both databases.
//!
//! A user with a TOTP at the service replaces it with a new one, proving the change with a
//! code of the current one; the instance handling the change is killed with SIGKILL after a
//! delay that adapts from trial to trial, so that some kills land before the change commits
//! and some after (both are asserted to have happened, or the test proves nothing). In every
//! trial the user's record afterwards is exactly one of the two: the old secret's next code
//! is accepted and the new one's refused, or the other way round; a change the service
//! answered 200 is never lost. In odd trials the same proof code is also sent as a login to
//! the other instance (PostgreSQL) at the same moment: the code is never both a login and
//! the proof of a change.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fleet::{SECRET, admin_ok, request, set_totp, verify};
use common::{Backend, Host, Server};
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, Verdict};
use push_proto::fleet_enroll::{Change, ENROLL, EnrollRequest, NewTotp, Proof, TotpAlgorithm};
use std::time::Duration;

const LIMITS: &str = "\n[fleet]\nmax_failures = 1000\nuser_per_minute = 1000\n\
                      host_per_minute = 1000000";

/// The secret the change puts in place (20 bytes, not the harness's `SECRET`).
const NEW_SECRET: &[u8] = b"abcdefghijklmnopqrst";

fn code_of(secret: &[u8], offset: u64) -> String {
    totp::code_at(secret, &Params::default(), mfa_server::time::now() + offset).to_string()
}

/// Replace the TOTP with [`NEW_SECRET`], proven with `proof` (a code of the current one).
fn change_request(user: &str, proof: &str) -> EnrollRequest {
    let secret = mfa_factors::secret::SecretBytes::new(NEW_SECRET.to_vec()).to_base32();
    EnrollRequest {
        user: user.into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
        proof: Some(Proof { factor: Factor::Totp, answer: proof.into(), key: None }),
        change: Change::Totp(NewTotp {
            secret: secret.to_string(),
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            step: 30,
            confirmation: code_of(NEW_SECRET, 0),
        }),
    }
}

/// Sends the change; the HTTP status, or `None` when no whole reply came (the kill).
fn send_change(host: &Host, req: &EnrollRequest) -> Option<u16> {
    let body = serde_json::to_vec(req).unwrap();
    let auth = format!("Bearer {}", host.cred.token);
    let r = host
        .client
        .request("POST", ENROLL, &[("authorization", &auth)], Some(&body), Duration::ZERO)
        .ok()?;
    Some(r.status)
}

/// Which secret the service holds now: `true` for the new one. Exactly one of the two
/// secrets' next-step codes must be accepted.
fn holds_new_secret(s: &Server, host: &Host, user: &str, trial: usize) -> bool {
    let old = verify(s, host, &request(user, Factor::Totp, &code_of(SECRET, 30)));
    let new = verify(s, host, &request(user, Factor::Totp, &code_of(NEW_SECRET, 30)));
    match (old, new) {
        (Verdict::Accept, Verdict::Reject) => false,
        (Verdict::Reject, Verdict::Accept) => true,
        other => panic!("trial {trial}: old/new secret verdicts {other:?}: {}", s.log()),
    }
}

/// Outcomes over the trials: changes in place after the kill, changes cut off before commit.
#[derive(Default, Debug)]
struct Tally {
    /// Changes answered 200 (the rest of `landed` committed with the reply cut off).
    answered: usize,
    landed: usize,
    cut_off: usize,
}

/// Runs `change` (and `login`) while `victim` is killed after `delay`, then starts `victim`
/// again; what they got back.
fn kill_during(
    victim: &mut Server,
    delay: Duration,
    change: impl FnOnce() -> Option<u16> + Send,
    login: Option<impl FnOnce() -> Verdict + Send>,
) -> (Option<u16>, Option<Verdict>) {
    let got = std::thread::scope(|sc| {
        let change = sc.spawn(change);
        let login = login.map(|l| sc.spawn(l));
        std::thread::sleep(delay);
        victim.kill();
        (change.join().unwrap(), login.map(|l| l.join().unwrap()))
    });
    victim.serve();
    got
}

fn killed_changes_are_all_or_nothing(backend: Backend) {
    // PostgreSQL: instance b takes the change and is killed, instance a checks the record.
    // SQLite: the one instance is killed and restarted.
    let mut a = Server::start(backend, LIMITS);
    let mut b = (backend == Backend::Postgres).then(|| a.second_instance(LIMITS));
    let host_a = a.add_host("web1");
    let victim_host = match &b {
        Some(b) => Host { client: b.anon(), cred: a.add_host("web2").cred },
        None => a.add_host("web2"),
    };
    // Starts near a typical change's duration; halved after a landed change, grown after a
    // cut-off one, so kills keep landing around the commit.
    let mut delay = Duration::from_millis(3);
    let mut tally = Tally::default();
    let trials = 24;
    for t in 0..trials {
        let user = format!("kill{t}");
        set_totp(&a, &user);
        let proof = code_of(SECRET, 0);
        let req = change_request(&user, &proof);
        let race_login = b.is_some() && t % 2 == 1;
        let change = || send_change(&victim_host, &req);
        let (status, login) = match b.as_mut() {
            Some(b) => {
                let login = || verify(&a, &host_a, &request(&user, Factor::Totp, &proof));
                kill_during(b, delay, change, race_login.then_some(login))
            }
            None => kill_during(&mut a, delay, change, None::<fn() -> Verdict>),
        };
        let landed = holds_new_secret(&a, &host_a, &user, t);
        // An answered change is never lost; an answered refusal changed nothing.
        match status {
            Some(200) => assert!(landed, "trial {t}: change answered 200 but lost"),
            Some(st) => assert!(!landed, "trial {t}: change refused ({st}) but in place"),
            None => {}
        }
        // The proof code was a login or the proof of the change, never both.
        assert!(
            !(landed && login == Some(Verdict::Accept)),
            "trial {t}: one code was both a login and the proof of a change"
        );
        if landed {
            tally.landed += 1;
            tally.answered += usize::from(status == Some(200));
            delay = delay.mul_f64(0.6);
        } else {
            if status.is_none() && login != Some(Verdict::Accept) {
                tally.cut_off += 1;
            }
            delay = delay.mul_f64(1.6) + Duration::from_micros(300);
        }
        delay = delay.min(Duration::from_millis(400));
    }
    eprintln!("{backend:?}: {tally:?}, last delay {delay:?}");
    // Kills landed on both sides of the commit: the test is not vacuous.
    assert!(tally.landed >= 1 && tally.cut_off >= 1, "{tally:?} (last delay {delay:?})");
    // And the service still works for a user who was never touched by a kill.
    set_totp(&a, "after");
    assert_eq!(
        verify(&a, &host_a, &request("after", Factor::Totp, &code_of(SECRET, 0))),
        Verdict::Accept
    );
    admin_ok(&a, &["fleet", "user", "show", "--user", "after", "--json"]);
}

on_both_backends!(killed_changes_are_all_or_nothing);
