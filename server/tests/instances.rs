//! Two real `mfa-server` instances on one real PostgreSQL database: a change made through one
//! wakes the long-polls held by the other (LISTEN/NOTIFY), the rate limits and the one open
//! challenge per user hold across both, expiry is reported once, and a lost listening
//! connection is survived.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Host, Server, code};
use mfa_server::store::pg_notify::APPLICATION_NAME;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Long-poll hold used below; every wake-up must come well before it ends.
const HOLD: u64 = 20;

/// A and B on one database; the host registered once, usable through either.
fn pair_of_instances(limits: &str) -> (Server, Server, Host, Host) {
    let a = Server::start(Backend::Postgres, limits);
    let b = a.second_instance(limits);
    let on_a = a.add_host("web1");
    let on_b = Host { client: b.anon(), cred: on_a.cred.clone() };
    (a, b, on_a, on_b)
}

/// The host's long-poll on `txid`: (status, seconds it took).
fn host_wait(host: &Host, txid: &str) -> (String, Duration) {
    let started = Instant::now();
    let (st, v) = host.call("GET", &format!("/v2/challenges/{txid}?wait={HOLD}"), None);
    assert_eq!(st, 200, "{v}");
    (v["status"].as_str().unwrap().to_string(), started.elapsed())
}

fn listeners(s: &Server) -> usize {
    let pg = &s.pg.as_ref().unwrap().cluster;
    let n = pg.psql(
        "mfa_server",
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{APPLICATION_NAME}'"
        ),
    );
    n.trim().parse().unwrap()
}

/// A host long-poll held by A, the device answering through B.
fn answer_on_b_wakes_host_on_a(a: &Server, b: &Server, on_a: &Host, on_b: &Host, user: &str) {
    // The device paired through B talks to B only (B's URL and CA are in its key file).
    let (key, dev) = b.pair(on_b, user, &format!("{user}-phone"));
    let (st, c, sent) = on_a.challenge(user, &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    let txid = c["txid"].as_str().unwrap().to_string();
    let (status, took) = std::thread::scope(|sc| {
        let waiter = sc.spawn(|| host_wait(on_a, &txid));
        // Let the long-poll reach A's hub first.
        std::thread::sleep(Duration::from_millis(500));
        let (ok, out, err) =
            b.device(&key, &["approve", &txid, "--number", &sent.number.to_string()]);
        assert!(ok, "approve through B: {out} {err}\n{}", b.log());
        waiter.join().unwrap()
    });
    assert_eq!(status, "approved", "A's long-poll ended without seeing B's answer\n{}", a.log());
    assert!(took < Duration::from_secs(HOLD - 5), "woken only by the hold's end: {took:?}");
}

#[test]
fn a_device_answer_through_b_wakes_the_host_long_poll_on_a() {
    let (a, b, on_a, on_b) = pair_of_instances("");
    answer_on_b_wakes_host_on_a(&a, &b, &on_a, &on_b, "alice");
}

#[test]
fn a_challenge_created_through_a_reaches_a_device_long_poll_on_b() {
    let (a, b, on_a, on_b) = pair_of_instances("");
    let (key, dev) = b.pair(&on_b, "bob", "phone");
    let (list, took, c) = std::thread::scope(|sc| {
        let poll = sc.spawn(|| {
            let started = Instant::now();
            let (ok, out, err) =
                b.device(&key, &["pending", "--wait", &HOLD.to_string(), "--json"]);
            assert!(ok, "pending on B: {err}");
            (serde_json::from_str::<Value>(&out).unwrap(), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(800));
        let (st, c, _) = on_a.challenge("bob", &[&dev], 60);
        assert_eq!(st, 201, "{c}\n{}", a.log());
        let (list, took) = poll.join().unwrap();
        (list, took, c)
    });
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["txid"], c["txid"]);
    assert!(took < Duration::from_secs(HOLD - 5), "woken only by the hold's end: {took:?}");
}

#[test]
fn rate_limits_and_the_one_open_challenge_hold_across_instances() {
    let (_a, b, on_a, on_b) = pair_of_instances("user_per_minute = 2\nhost_per_minute = 6");
    let (_, dev) = b.pair(&on_b, "carol", "phone");

    // One open challenge per user, whichever instance is asked.
    let (st, c, _) = on_a.challenge("carol", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    let (st, v, _) = on_b.challenge("carol", &[&dev], 60);
    assert_eq!((st, code(&v)), (409, "challenge_pending"), "{v}");
    let (st, _) =
        on_b.call("DELETE", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
    assert_eq!(st, 200);

    // The user's limit (2 a minute) counts challenges made through both.
    let (st, c, _) = on_b.challenge("carol", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    on_a.call("DELETE", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
    let (st, v, _) = on_a.challenge("carol", &[&dev], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"), "{v}");

    // The host's limit under a race: 8 users at once, half through each instance; the host
    // has 4 of its 6 left, and exactly 4 may pass.
    let users: Vec<(String, String)> = (0..8)
        .map(|i| {
            let user = format!("u{i}");
            let (_, dev) = b.pair(&on_b, &user, &format!("p{i}"));
            (user, dev)
        })
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, (user, dev))| {
                let host = if i % 2 == 0 { &on_a } else { &on_b };
                sc.spawn(move || host.challenge(user, &[dev], 60).0)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let passed = statuses.iter().filter(|s| **s == 201).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((passed, limited), (4, 4), "{statuses:?}");
}

#[test]
fn expiry_is_swept_and_reported_once() {
    let (a, b, on_a, on_b) = pair_of_instances("");
    let (_, dev) = b.pair(&on_b, "dave", "phone");
    let (st, c, _) = on_a.challenge("dave", &[&dev], 10);
    assert_eq!(st, 201, "{c}");
    // Held on B, which did not create it: woken by whichever instance swept it.
    let (status, took) = host_wait(&on_b, c["txid"].as_str().unwrap());
    assert_eq!(status, "expired");
    assert!(took < Duration::from_secs(HOLD - 3), "{took:?}");
    std::thread::sleep(Duration::from_millis(2500));
    let expired = |s: &Server| s.audit_log().matches("\"event\":\"challenge.expired\"").count();
    assert_eq!(expired(&a) + expired(&b), 1, "A:\n{}\nB:\n{}", a.audit_log(), b.audit_log());
}

#[test]
fn a_lost_listening_connection_is_reopened_and_wake_ups_continue() {
    let (a, b, on_a, on_b) = pair_of_instances("");
    assert_eq!(listeners(&a), 2, "one listening connection per instance");
    let pg = &a.pg.as_ref().unwrap().cluster;
    assert_eq!(pg.terminate("mfa_server", APPLICATION_NAME), 2);
    // pg_terminate_backend only signals: the old sessions may still be listed for a moment, so
    // wait for both instances to have noticed (their log) and then for both listeners to be back.
    let deadline = Instant::now() + Duration::from_secs(15);
    let noticed = |s: &Server| s.log().contains("database notifications");
    while !noticed(&a) || !noticed(&b) || listeners(&a) < 2 {
        assert!(
            Instant::now() < deadline,
            "listeners did not come back:\n{}\n{}",
            a.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    answer_on_b_wakes_host_on_a(&a, &b, &on_a, &on_b, "erin");
    // And the other way round.
    answer_on_b_wakes_host_on_a(&b, &a, &on_b, &on_a, "frank");
}
