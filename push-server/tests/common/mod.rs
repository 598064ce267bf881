//! A real `mfa-pushd` on loopback with real TLS, the real `mfa-push-device`, and a small host
//! client: what every integration test drives.

// Test scaffolding: a failed setup step should panic loudly, like an assertion.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use push_proto::api::HostCredential;
use push_server::client::{Client, Reply};
use serde_json::{Value, json};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

#[path = "../../../tests/src/pg.rs"]
pub mod pg;

pub const PUSHD: &str = env!("CARGO_BIN_EXE_mfa-pushd");
pub const DEVICE: &str = env!("CARGO_BIN_EXE_mfa-push-device");

/// Where a server keeps its state; every test runs once per backend (`on_both_backends!`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

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

pub struct Server {
    /// The PostgreSQL cluster and database URL (shared by the instances on it).
    pub pg: Option<(Arc<pg::PgCluster>, String)>,
    pub dir: TempDir,
    pub port: u16,
    pub url: String,
    pub ca: PathBuf,
    pub config: PathBuf,
    pub audit: PathBuf,
    child: Option<Child>,
    pub stderr: Arc<Mutex<String>>,
    /// The `/etc/hosts` the service sees (in a mount namespace of its own), if given.
    pub hosts: Option<PathBuf>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Server {
    /// Starts a server on `backend`; `limits` is the body of its `[limits]` table.
    pub fn start(backend: Backend, limits: &str) -> Server {
        Server::start_with_hosts(backend, limits, None)
    }

    /// A server that resolves names with `hosts` as its `/etc/hosts`: it runs in a private
    /// mount namespace (`unshare -m`) with the file bound over `/etc/hosts`, so the system's
    /// own resolver (glibc's `files` source) answers what the test says, and the machine's
    /// file is never touched. Rewriting [`Server::set_hosts`] changes the answers at once.
    pub fn start_with_hosts(backend: Backend, limits: &str, hosts: Option<&str>) -> Server {
        let pg = (backend == Backend::Postgres).then(|| {
            let cluster = pg::PgCluster::start();
            let url = cluster.create_database("mfa_pushd");
            (Arc::new(cluster), url)
        });
        Server::start_on(pg, limits, None, hosts)
    }

    /// Rewrites the server's `/etc/hosts` in place (the same inode, which the bind mount shows).
    pub fn set_hosts(&self, text: &str) {
        use std::io::Write;
        let path = self.hosts.as_ref().expect("a server started with a hosts file");
        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f.sync_all().unwrap();
    }

    /// Starts a second instance on `self`'s PostgreSQL database, with its own port, TLS and
    /// audit log, and a copy of `self`'s service key (every instance signs as the service).
    pub fn second_instance(&self, limits: &str) -> Server {
        assert!(self.pg.is_some(), "a second instance needs PostgreSQL");
        let key = self.dir.path().join("data/service.key");
        Server::start_on(self.pg.clone(), limits, Some(&key), None)
    }

    fn start_on(
        pg: Option<(Arc<pg::PgCluster>, String)>,
        limits: &str,
        key: Option<&Path>,
        hosts: Option<&str>,
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let out = Command::new(PUSHD)
            .args(["tls-init", "--out-dir"])
            .arg(&tls)
            .args(["--name", "localhost", "--ip", "127.0.0.1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "tls-init: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(key) = key {
            let data = dir.path().join("data");
            std::fs::create_dir(&data).unwrap();
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::fs::copy(key, data.join("service.key")).unwrap();
        }
        let database = match &pg {
            Some((_, url)) => format!("database = \"{url}\"\n"),
            None => String::new(),
        };
        let port = free_port();
        let d = dir.path().display();
        let config = dir.path().join("mfa-pushd.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://127.0.0.1:{port}\"\n\
                 data_dir = \"{d}/data\"\ntls_cert = \"{d}/tls/server.pem\"\n\
                 tls_key = \"{d}/tls/server.key\"\naudit_log = \"{d}/log/audit.log\"\n{database}\
                 [limits]\n{limits}\n"
            ),
        )
        .unwrap();
        let hosts = hosts.map(|text| {
            let path = dir.path().join("hosts");
            std::fs::write(&path, text).unwrap();
            path
        });
        let mut s = Server {
            hosts,
            pg,
            url: format!("https://127.0.0.1:{port}"),
            ca: tls.join("ca.pem"),
            // The log's directory does not exist yet: the first start makes it.
            audit: dir.path().join("log/audit.log"),
            config,
            dir,
            port,
            child: None,
            stderr: Arc::new(Mutex::new(String::new())),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = match &self.hosts {
            None => Command::new(PUSHD),
            Some(hosts) => {
                // unshare execs sh (no fork) and sh execs the service: one pid throughout.
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "sh", "-c"])
                    .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
                    .arg(hosts)
                    .arg(PUSHD);
                c
            }
        };
        let mut child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = child.stderr.take().unwrap();
        let sink = self.stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        self.child = Some(child);
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
        let Some(mut child) = self.child.take() else { return true };
        let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn restart(&mut self) {
        assert!(self.stop(), "graceful stop failed: {}", self.log());
        self.spawn();
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(&self.audit).unwrap_or_default()
    }

    pub fn anon(&self) -> Client {
        Client::new(&self.url, Some(&self.ca)).unwrap()
    }

    pub fn admin(&self, args: &[&str]) -> (bool, String, String) {
        let out =
            Command::new(PUSHD).arg("--config").arg(&self.config).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn add_host(&self, name: &str) -> Host {
        let file = self.dir.path().join(format!("host-{name}.json"));
        let (ok, stdout, stderr) =
            self.admin(&["host", "add", name, "--out", file.to_str().unwrap()]);
        assert!(ok, "host add: {stderr}");
        let cred: HostCredential =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(!stdout.contains(&cred.token) && !stderr.contains(&cred.token));
        Host { client: self.anon(), cred }
    }

    pub fn key_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("device-{name}.json"))
    }

    /// Runs `mfa-push-device --key-file KEY args...`: (success, stdout, stderr).
    pub fn device(&self, key: &Path, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(DEVICE).arg("--key-file").arg(key).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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
        let time = push_server::time::now();
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

/// The pairing code `mfa-push-device pair` printed ("pairing code: 123 456 ..."), digits only.
pub fn pairing_code(out: &str) -> Option<String> {
    let at = out.find("pairing code: ")?;
    let code: String = out[at + 14..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ')
        .filter(char::is_ascii_digit)
        .collect();
    (code.len() == 6).then_some(code)
}

/// The `error` code of an error reply.
pub fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}
