//! A real `mfa-server` on loopback with real TLS, the real `mfa-push-device`, and a small host
//! client: what every integration test drives. The service itself is `push-harness`'s (shared
//! with `mfa-tests`); this adds the host client and the pairing as a host does it.

// Test scaffolding: a failed setup step should panic loudly, like an assertion.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use mfa_server::client::{Client, Reply};
use push_harness::{Bins, Options, Service, texts};
use push_proto::api::HostCredential;
use serde_json::{Value, json};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use push_harness::Backend;

pub mod fido;
pub mod fleet;

pub const PUSHD: &str = env!("CARGO_BIN_EXE_mfa-server");
pub const DEVICE: &str = env!("CARGO_BIN_EXE_mfa-push-device");

/// Runs each named `fn(Backend)` as two tests, `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::common::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name($crate::common::Backend::Postgres) })*
        }
    };
}

/// A running service ([`push_harness::Service`], whose fields and methods it derefs to) that
/// also answers `GET /v2/health` before a test uses it.
pub struct Server {
    svc: Service,
}

impl Deref for Server {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.svc
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Service {
        &mut self.svc
    }
}

fn bins() -> Bins {
    Bins { pushd: PUSHD.into(), device: DEVICE.into() }
}

impl Server {
    /// Starts a server on `backend`; `limits` is the body of its `[limits]` table.
    pub fn start(backend: Backend, limits: &str) -> Server {
        Server::start_with_hosts(backend, limits, None)
    }

    /// A server that resolves names with `hosts` as its `/etc/hosts` ([`Options::hosts`]).
    /// Rewriting it with [`Service::set_hosts`] changes the answers at once.
    pub fn start_with_hosts(backend: Backend, limits: &str, hosts: Option<&str>) -> Server {
        let opts = Options { hosts, ..Options::new(limits) };
        Server::healthy(Service::start(bins(), backend, &opts))
    }

    /// Starts a second instance on `self`'s PostgreSQL database, with its own port, TLS and
    /// audit log, and a copy of `self`'s service key (every instance signs as the service).
    pub fn second_instance(&self, limits: &str) -> Server {
        Server::healthy(self.svc.second_instance(limits))
    }

    fn healthy(svc: Service) -> Server {
        let s = Server { svc };
        s.wait_healthy();
        s
    }

    /// Waits until `GET /v2/health` answers 200.
    fn wait_healthy(&self) {
        let client = self.anon();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.request("GET", "/v2/health", &[], None, Duration::ZERO) {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "server did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops with SIGTERM and waits; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        self.svc.terminate()
    }

    /// Stops gracefully (which must succeed), starts again and waits until it is healthy.
    pub fn restart(&mut self) {
        self.svc.restart();
        self.wait_healthy();
    }

    pub fn anon(&self) -> Client {
        Client::new(&self.url, Some(&self.ca)).unwrap()
    }

    pub fn admin(&self, args: &[&str]) -> (bool, String, String) {
        texts(&self.svc.admin(args))
    }

    pub fn add_host(&self, name: &str) -> Host {
        let file = self.dir.path().join(format!("host-{name}.json"));
        let cred = self.svc.add_host(name, &file);
        Host { client: self.anon(), cred }
    }

    pub fn key_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("device-{name}.json"))
    }

    /// Runs `mfa-push-device --key-file KEY args...`: (success, stdout, stderr).
    pub fn device(&self, key: &Path, args: &[&str]) -> (bool, String, String) {
        texts(&self.svc.device(key.to_path_buf()).run(args))
    }

    /// Pairs a new device for `user` through `host` as a host does: the service's link with
    /// the host's secret added; checks that the pairing code the device prints is the one the
    /// host computes from the device the service reports. Returns its key file and id.
    pub fn pair(&self, host: &Host, user: &str, name: &str) -> (PathBuf, String) {
        let (st, p) = host.call("POST", "/v2/pairings", Some(json!({"user": user, "ttl": 60})));
        assert_eq!(st, 201, "{p}");
        let service_link = p["uri"].as_str().unwrap();
        let secret = push_proto::random_token(16).unwrap();
        let link = push_proto::pairing_uri::with_host_secret(service_link, &secret);
        let key = self.key_file(name);
        let (ok, out, err) = self
            .device(&key, &["pair", &link, "--name", name, "--ca-file", self.ca.to_str().unwrap()]);
        assert!(ok, "pair: {out} {err}");
        let pid = p["pairing_id"].as_str().unwrap();
        let (_, state) = host.call("GET", &format!("/v2/pairings/{pid}"), None);
        let credential = push_proto::pairing_uri::parse(service_link).unwrap().credential;
        let code = push_proto::signed::pairing_code(
            &secret,
            &credential,
            state["device"]["public_key"].as_str().unwrap(),
            None,
        );
        assert_eq!(pairing_code(&out).as_deref(), Some(code.as_str()), "{out}");
        let kf: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
        (key, kf["device_id"].as_str().unwrap().to_string())
    }
}

pub struct Host {
    pub client: Client,
    pub cred: HostCredential,
}

impl Host {
    pub fn raw(&self, method: &str, path: &str, body: Option<&[u8]>, hold: u64) -> Reply {
        let auth = format!("Bearer {}", self.cred.token);
        self.client
            .request(method, path, &[("authorization", &auth)], body, Duration::from_secs(hold))
            .unwrap()
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let wait = path.split("wait=").nth(1).and_then(|w| w.parse().ok()).unwrap_or(0);
        let r = self.raw(method, path, bytes.as_deref(), wait);
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    /// Creates a challenge for `user` on `devices` with a fresh nonce and, as a host does, its
    /// own number and three choices (the phone offers them).
    pub fn challenge(&self, user: &str, devices: &[&str], ttl: u64) -> (u16, Value, Sent) {
        self.challenge_with(user, devices, ttl, push_proto::numbers::Entry::Choose)
    }

    /// [`Host::challenge`] with the number entry of `entry`.
    pub fn challenge_with(
        &self,
        user: &str,
        devices: &[&str],
        ttl: u64,
        entry: push_proto::numbers::Entry,
    ) -> (u16, Value, Sent) {
        let nonce = push_proto::random_token(32).unwrap();
        let (number, choices) = push_proto::numbers::login_numbers(entry).unwrap();
        let time = mfa_server::time::now();
        let (st, v) = self.call(
            "POST",
            "/v2/challenges",
            Some(json!({"user": user, "service": "sshd", "rhost": "192.0.2.7",
                        "time": time, "nonce": nonce, "choices": choices,
                        "devices": devices, "ttl": ttl})),
        );
        (st, v, Sent { nonce, number, choices, time })
    }
}

/// What a host sent with a challenge, and the number it keeps.
#[derive(Clone, Debug)]
pub struct Sent {
    pub nonce: String,
    pub number: u8,
    pub choices: Vec<u8>,
    pub time: u64,
}

/// The pairing code `mfa-push-device pair` printed, digits only.
pub fn pairing_code(out: &str) -> Option<String> {
    push_harness::printed_pairing_code(out)
}

/// The `error` code of an error reply.
pub fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}
