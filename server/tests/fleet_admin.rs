//! Fleet mode's access model and administration (issue 20), against the real service on both
//! databases: a host outside the user's host groups is refused (audited, nothing counted),
//! clearing the restriction allows it again, a removed user is refused on every host, the
//! admin listings (parsed as JSON), the audit reader's filters, and bad names refused.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fleet::{
    admin_err, admin_json, admin_ok, current_code, fleet_limits, private_file, request, set_totp,
    show, verify, wrong_code,
};
use common::{Backend, Host, Server};
use mfa_factors::recovery::RecoveryCodes;
use push_proto::fleet::{Factor, Verdict};
use serde_json::{Value, json};

const REFUSED: &str = "host not in the user's host groups";

/// A service with hosts db1, db2 and web1, group `db` holding db1, and `user` (with TOTP)
/// allowed to authenticate only on `db`.
fn fleet(backend: Backend, limits: &str, user: &str) -> (Server, [Host; 3]) {
    let s = Server::start(backend, limits);
    let hosts = [s.add_host("db1"), s.add_host("db2"), s.add_host("web1")];
    set_totp(&s, user);
    admin_ok(&s, &["fleet", "group", "add", "db"]);
    admin_ok(&s, &["fleet", "group", "add-host", "db", "db1"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", user, "--authenticate", "db"]);
    (s, hosts)
}

fn a_host_outside_the_users_groups_is_refused_and_counts_nothing(backend: Backend) {
    let (s, [db1, db2, web1]) = fleet(backend, &fleet_limits("max_failures = 3"), "alice");
    // The right code from a host outside the group: rejected, and not used up.
    assert_eq!(
        verify(&s, &web1, &request("alice", Factor::Totp, &current_code())),
        Verdict::Reject
    );
    // Many wrong codes from it: never a lockout, the count untouched.
    for _ in 0..6 {
        let v = verify(&s, &web1, &request("alice", Factor::Totp, &wrong_code()));
        assert_eq!(v, Verdict::Reject);
    }
    let state = show(&s, "alice");
    assert_eq!((state["failures"].clone(), state["locked_until"].clone()), (json!(0), Value::Null));
    assert!(state["totp"]["last_step"].is_null(), "{state}");
    // Audited as refused, with the host.
    let audit = s.audit_log();
    let refused: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reason"] == REFUSED)
        .collect();
    assert_eq!(refused.len(), 7, "{audit}");
    assert!(refused.iter().all(|v| v["host"] == web1.cred.host_id.as_str()
        && v["outcome"] == "refused"
        && v["user"] == "alice"));
    // Inside the group: allowed. db2 is not in it.
    assert_eq!(verify(&s, &db2, &request("alice", Factor::Totp, &current_code())), Verdict::Reject);
    assert_eq!(verify(&s, &db1, &request("alice", Factor::Totp, &current_code())), Verdict::Accept);
    // A wrong code from db1 counts; one from web1 still does not.
    assert_eq!(verify(&s, &db1, &request("alice", Factor::Totp, &wrong_code())), Verdict::Reject);
    assert_eq!(verify(&s, &web1, &request("alice", Factor::Totp, &wrong_code())), Verdict::Reject);
    assert_eq!(show(&s, "alice")["failures"], 1);
    // Restriction cleared: every host may authenticate alice again.
    admin_ok(&s, &["fleet", "user", "groups", "--user", "alice", "--authenticate", ""]);
    assert!(show(&s, "alice")["groups"]["authenticate"].is_null());
    set_totp(&s, "alice"); // a fresh watermark: the current code is new again
    assert_eq!(
        verify(&s, &web1, &request("alice", Factor::Totp, &current_code())),
        Verdict::Accept
    );
    // A user without restrictions was never affected.
    set_totp(&s, "bob");
    assert_eq!(verify(&s, &db2, &request("bob", Factor::Totp, &current_code())), Verdict::Accept);
}

fn a_removed_user_is_refused_on_every_host(backend: Backend) {
    let (s, hosts) = fleet(backend, &fleet_limits("max_failures = 50"), "carol");
    let (codes, set) = RecoveryCodes::generate(mfa_server::time::now()).unwrap();
    let f = private_file(&s, "recovery.json", &serde_json::to_string(&set).unwrap());
    let f = f.to_str().unwrap();
    admin_ok(&s, &["fleet", "user", "set-recovery", "--user", "carol", "--hashes-file", f]);
    // Without --yes nothing changes.
    admin_err(&s, &["fleet", "user", "remove", "--user", "carol"]);
    assert!(show(&s, "carol")["totp"].is_object());
    admin_ok(&s, &["fleet", "user", "remove", "--user", "carol", "--yes"]);
    let state = show(&s, "carol");
    assert!(state["totp"].is_null() && state["groups"]["authenticate"].is_null(), "{state}");
    assert_eq!(state["recovery_codes"], json!({"unused": 0, "used": 0}));
    for host in &hosts {
        assert_eq!(
            verify(&s, host, &request("carol", Factor::Totp, &current_code())),
            Verdict::Reject
        );
        let code = &codes[0];
        assert_eq!(verify(&s, host, &request("carol", Factor::Recovery, code)), Verdict::Reject);
    }
    // Rejected as unknown (no such factor), not as refused by groups: the groups went too.
    assert!(s.audit_log().contains("no such factor"));
    assert!(s.audit_log().contains("fleet.user.removed"));
    // The wrong answers above counted (as for any unknown user); removing again clears it.
    admin_ok(&s, &["fleet", "user", "remove", "--user", "carol", "--yes"]);
    let err = admin_err(&s, &["fleet", "user", "remove", "--user", "carol", "--yes"]);
    assert!(err.contains("no fleet records"), "{err}");
    let users = admin_json(&s, &["fleet", "user", "list", "--json"]);
    assert_eq!(users, json!([]), "{users}");
}

fn listings_are_json(backend: Backend) {
    let (s, [db1, _db2, _web1]) = fleet(backend, "", "dave");
    admin_ok(&s, &["fleet", "group", "add", "ops"]);
    admin_ok(&s, &["fleet", "group", "add-host", "ops", "db1"]);
    admin_ok(&s, &["fleet", "group", "add-host", "ops", "web1"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "dave", "--enroll", "ops"]);
    let groups = admin_json(&s, &["fleet", "group", "list", "--json"]);
    let names: Vec<&str> =
        groups.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "ops"]);
    let db_hosts: Vec<&str> = groups[0]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(db_hosts, ["db1"]);
    assert_eq!(groups[1]["hosts"].as_array().unwrap().len(), 2);
    let hosts = admin_json(&s, &["host", "list", "--json"]);
    let db1_row =
        hosts.as_array().unwrap().iter().find(|h| h["id"] == db1.cred.host_id.as_str()).unwrap();
    assert_eq!(db1_row["groups"], json!(["db", "ops"]));
    let users = admin_json(&s, &["fleet", "user", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["user"], "dave");
    assert_eq!(users[0]["groups"], json!({"authenticate": ["db"], "enroll": ["ops"]}));
    assert_eq!(users[0]["failures"], 0);
    assert!(users[0]["totp"].is_object());
    assert_eq!(show(&s, "dave")["groups"], users[0]["groups"]);
    // Text forms say the same.
    let text = admin_ok(&s, &["fleet", "user", "show", "--user", "dave"]);
    assert!(text.contains("authenticate: db; enroll: ops"), "{text}");
    let text = admin_ok(&s, &["fleet", "group", "list"]);
    assert!(text.lines().any(|l| l.starts_with("ops") && l.contains("db1,web1")), "{text}");
    // Moving a host out of a group.
    admin_ok(&s, &["fleet", "group", "remove-host", "ops", "web1"]);
    let groups = admin_json(&s, &["fleet", "group", "list", "--json"]);
    assert_eq!(groups[1]["hosts"].as_array().unwrap().len(), 1);
}

fn audit_filters(backend: Backend) {
    let (s, [db1, _db2, web1]) = fleet(backend, "", "erin");
    set_totp(&s, "frank");
    verify(&s, &web1, &request("erin", Factor::Totp, &wrong_code()));
    verify(&s, &db1, &request("frank", Factor::Totp, &wrong_code()));
    verify(&s, &web1, &request("frank", Factor::Totp, &wrong_code()));
    let events = |args: &[&str]| -> (Vec<Value>, u64) {
        let mut all = vec!["fleet", "audit", "--json"];
        all.extend_from_slice(args);
        let v = admin_json(&s, &all);
        (v["events"].as_array().unwrap().clone(), v["skipped_malformed"].as_u64().unwrap())
    };
    let (erin, skipped) = events(&["--user", "erin"]);
    assert_eq!(skipped, 0);
    assert!(erin.len() >= 3 && erin.iter().all(|e| e["user"] == "erin"), "{erin:?}");
    let (on_web1, _) = events(&["--host", "web1"]);
    assert!(on_web1.iter().all(|e| e["host"] == web1.cred.host_id.as_str()));
    assert_eq!(on_web1.iter().filter(|e| e["event"] == "fleet.verify.totp").count(), 2);
    let (by_id, _) = events(&["--host", &web1.cred.host_id]);
    assert_eq!(by_id, on_web1);
    let (last, _) = events(&["--last", "2"]);
    assert_eq!(last.len(), 2);
    let (both, _) = events(&["--user", "frank", "--host", "db1"]);
    assert_eq!(both.len(), 1, "{both:?}");
    let (recent, _) = events(&["--since", "3600"]);
    assert!(recent.len() >= 8, "{recent:?}");
    // Malformed lines are skipped and counted.
    let mut log = std::fs::read_to_string(&s.audit).unwrap();
    log.push_str("not json\n{\"half\": \n");
    std::fs::write(&s.audit, log).unwrap();
    let (again, skipped) = events(&["--user", "erin"]);
    assert_eq!((again.len() >= erin.len(), skipped), (true, 2));
    let text = admin_ok(&s, &["fleet", "audit", "--user", "erin"]);
    assert!(text.contains("2 malformed lines skipped"), "{text}");
}

fn bad_names_and_dangling_groups_are_refused(backend: Backend) {
    let (s, _hosts) = fleet(backend, "", "gina");
    let long = "x".repeat(65);
    for bad in ["-db", "a b", "a,b", "dé", "", long.as_str(), "a/b"] {
        admin_err(&s, &["fleet", "group", "add", bad]);
    }
    let err = admin_err(&s, &["fleet", "group", "add", "db"]);
    assert!(err.contains("exists"), "{err}");
    let err = admin_err(
        &s,
        &["fleet", "user", "groups", "--user", "gina", "--authenticate", "db,nosuch"],
    );
    assert!(err.contains("nosuch"), "{err}");
    admin_err(&s, &["fleet", "user", "groups", "--user", "gina", "--authenticate", "db,-x"]);
    admin_err(&s, &["fleet", "user", "groups", "--user", "-gina", "--authenticate", "db"]);
    admin_err(&s, &["fleet", "group", "add-host", "nosuch", "db1"]);
    admin_err(&s, &["fleet", "group", "add-host", "db", "nosuch"]);
    admin_err(&s, &["fleet", "group", "remove-host", "db", "web1"]);
    // The failed changes left gina's restriction as it was.
    assert_eq!(show(&s, "gina")["groups"]["authenticate"], json!(["db"]));
    // A group a restriction names stays (removing it would lift the restriction).
    let err = admin_err(&s, &["fleet", "group", "remove", "db"]);
    assert!(err.contains("fleet/gina"), "{err}");
    admin_ok(&s, &["fleet", "user", "groups", "--user", "gina", "--authenticate", ""]);
    admin_ok(&s, &["fleet", "group", "remove", "db"]);
    admin_err(&s, &["fleet", "group", "remove", "db"]);
    let audit = s.audit_log();
    for event in [
        "fleet.group.added",
        "fleet.group.host_added",
        "fleet.user.groups_set",
        "fleet.group.removed",
    ] {
        assert!(audit.contains(event), "{event}: {audit}");
    }
}

on_both_backends!(
    a_host_outside_the_users_groups_is_refused_and_counts_nothing,
    a_removed_user_is_refused_on_every_host,
    listings_are_json,
    audit_filters,
    bad_names_and_dangling_groups_are_refused,
);
