//! The load generator's `mfa-server` backend: a real `mfa-server` started on loopback with its
//! own CA, hosts registered through its admin CLI and devices paired through the API.
//! [`Service`], everything but the devices, is also `fleet-load`'s (`fleet_load/pushd.rs`).
//!
//! Its state lives in SQLite (the default), or in a throwaway PostgreSQL cluster
//! (`mfa_tests::pg`, Debian's server binaries) served by one or more instances that share the
//! database, the service key and the fleet master key (docs/push-service.md, "PostgreSQL and
//! several instances").
//! With several instances the hosts talk to the first and the devices to the last, so every
//! challenge is created on one instance and answered on another, and the host's long-poll
//! learns of the answer through PostgreSQL's `LISTEN/NOTIFY`.

use super::backend::Backend;
use super::http::Http;
use mfa_tests::pg::PgCluster;
use push_proto::api::path;
use push_proto::api::{
    AnswerRequest, ChallengeCreated, ChallengeState, Decision, DeviceAuth, HostCredential,
    PairRequest, Paired, PairingCreated, PendingList,
};
use push_proto::numbers::Entry;
use push_proto::{SecretKey, pairing_uri, signed};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One login in flight on mfa-server.
pub(crate) struct Login {
    txid: String,
    /// The number the host picked (and would show): the device types it.
    number: u8,
    user: usize,
}

struct Device {
    id: String,
    key: SecretKey,
    host: usize,
}

/// Where the service keeps its state, and how many instances serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// SQLite in the data directory, one instance (the default deployment).
    Sqlite,
    /// One database in a throwaway PostgreSQL cluster, served by `instances` instances (≥ 1)
    /// with the same service key.
    Postgres { instances: usize },
}

impl Store {
    /// The service's short name on this store, for the report (a column heading).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "mfa-server (SQLite)",
            Store::Postgres { instances: 1 } => "mfa-server (PostgreSQL ×1)",
            Store::Postgres { instances: 2 } => "mfa-server (PostgreSQL ×2)",
            Store::Postgres { .. } => "mfa-server (PostgreSQL ×n)",
        }
    }
}

/// A running mfa-server (one or more instances) with its registered hosts: what `push-load`
/// and `fleet-load` share (`Pushd` adds paired devices, `fleet-load` TOTP users).
pub(crate) struct Service {
    pub(crate) store: Store,
    /// One HTTPS client per instance, in order.
    pub(crate) clients: Vec<Arc<Http>>,
    /// Each instance's configuration file and port, in order.
    pub(crate) configs: Vec<(PathBuf, u16)>,
    pub(crate) hosts: Vec<HostCredential>,
    /// Each host's credential file (`host add --out`), in the order of `hosts` (fleet-load's
    /// clients read them; push-load sends the tokens itself).
    #[allow(dead_code)]
    pub(crate) host_files: Vec<PathBuf>,
    /// The instances, in order.
    children: Vec<Child>,
    /// The PostgreSQL cluster, stopped (dropped) after the instances: fields drop after
    /// `Drop::drop` has killed them.
    pub(crate) pg: Option<PgCluster>,
    /// PostgreSQL's `server_version`, for the report.
    pub(crate) pg_version: String,
    /// Removed when dropped; fleet-load reads the CA from it.
    #[allow(dead_code)]
    dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running mfa-server with its hosts and devices.
pub(crate) struct Pushd {
    svc: Service,
    /// The hosts' connection: the first instance.
    host_http: Arc<Http>,
    /// The devices' connection: the last instance (the first too when there is only one).
    device_http: Arc<Http>,
    devices: Vec<Device>,
}

/// The parent of `pid` (`/proc/<pid>/stat`: after the command name in parentheses come the
/// state and the parent's pid); `None` if it is gone.
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Proportional set size of `pid` in KiB (`/proc/<pid>/smaps_rollup`, `Pss:`).
fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// PSS summed over a PostgreSQL server's processes: the postmaster (its pid from
/// `postmaster.pid` in the data directory) and its children (backends, checkpointer, …).
fn postgres_pss_kib(pg: &PgCluster) -> Result<u64, String> {
    let pid_file = pg.socket_dir.join("data/postmaster.pid");
    let text =
        std::fs::read_to_string(&pid_file).map_err(|e| format!("{}: {e}", pid_file.display()))?;
    let postmaster: u32 = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no pid in postmaster.pid")?;
    let mut total = 0;
    let mut processes = 0;
    for e in std::fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == postmaster || parent_pid(pid) == Some(postmaster) {
            // A backend may exit between the listing and the read: it then counts nothing.
            total += pss_kib(pid).unwrap_or(0);
            processes += 1;
        }
    }
    if processes == 0 || total == 0 {
        return Err(format!("no readable PostgreSQL process under postmaster {postmaster}"));
    }
    Ok(total)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

fn device_auth(d: &Device, method: &str, path: &str, body: &[u8]) -> Result<String, String> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DeviceAuth::sign(&d.key, &d.id, ts, method, path, body).map(|a| a.header()).map_err(|e| e.0)
}

fn json<T: serde::de::DeserializeOwned>(r: &super::http::Reply, want: u16) -> Result<T, String> {
    if r.status != want {
        return Err(format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    serde_json::from_slice(&r.body).map_err(|e| e.to_string())
}

/// A throwaway PostgreSQL cluster with the service's database: the cluster, the `database = …`
/// line for the configuration and its `server_version`.
async fn start_postgres() -> Result<(PgCluster, String, String), String> {
    // The harness is blocking and reports failure by panicking (it is test code).
    let (pg, url, version) = tokio::task::spawn_blocking(|| {
        let pg = PgCluster::start_durable();
        let url = pg.create_database("mfa_server");
        let version = pg.psql("postgres", "SHOW server_version").trim().to_string();
        (pg, url, version)
    })
    .await
    .map_err(|e| format!("PostgreSQL did not start (see above): {e}"))?;
    Ok((pg, format!("database = \"{url}\"\n"), version))
}

/// Writes one configuration per instance into `d`: its own port, data directory and audit log;
/// the same certificate and database. Returns each configuration's path and port, in order.
fn write_configs(
    d: &Path,
    instances: usize,
    database: &str,
) -> Result<Vec<(PathBuf, u16)>, String> {
    let mut configs = Vec::new();
    for i in 0..instances {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let config = d.join(format!("mfa-server-{i}.toml"));
        let dd = d.display();
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://localhost:{port}\"\n\
                 data_dir = \"{dd}/data{i}\"\ntls_cert = \"{dd}/tls/server.pem\"\n\
                 tls_key = \"{dd}/tls/server.key\"\naudit_log = \"{dd}/audit{i}.log\"\n\
                 {database}[limits]\nchallenge_ttl_max = 600\nuser_per_minute = 1000000\n\
                 host_per_minute = 1000000\n[fleet]\nuser_per_minute = 1000000\n\
                 host_per_minute = 1000000\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        configs.push((config, port));
    }
    Ok(configs)
}

/// Registers `hosts` hosts through the admin CLI (`host add`) of the instance configured by
/// `config`, and returns their credentials.
fn add_hosts(
    pushd: &Path,
    d: &Path,
    config: &Path,
    hosts: usize,
) -> Result<(Vec<HostCredential>, Vec<PathBuf>), String> {
    let mut creds = Vec::new();
    let mut files = Vec::new();
    for h in 0..hosts {
        let out = d.join(format!("host{h}.json"));
        run(Command::new(pushd)
            .arg("--config")
            .arg(config)
            .args(["host", "add", &format!("load-host-{h}"), "--out"])
            .arg(&out))?;
        let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
        creds.push(serde_json::from_str::<HostCredential>(&text).map_err(|e| e.to_string())?);
        files.push(out);
    }
    Ok((creds, files))
}

/// `host add` made the first instance's service key; every other instance needs the same one
/// (hosts pin it), and the same fleet master key (made here, as the first start would, so
/// that it exists before any instance starts). `fs::copy` keeps their mode, 0600.
fn share_service_key(d: &Path, instances: usize) -> Result<(), String> {
    mfa_server::fleet::master_key::MasterKey::load_or_create(&d.join("data0/fleet.key"))?;
    for i in 1..instances {
        let data = d.join(format!("data{i}"));
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        for key in ["service.key", "fleet.key"] {
            std::fs::copy(d.join("data0").join(key), data.join(key))
                .map_err(|e| format!("{key}: {e}"))?;
        }
    }
    Ok(())
}

/// One HTTPS client per instance (by port), trusting the run's own CA `ca`.
fn instance_clients(configs: &[(PathBuf, u16)], ca: &Path) -> Result<Vec<Arc<Http>>, String> {
    let mut clients = Vec::new();
    for (_, port) in configs {
        let addr = format!("127.0.0.1:{port}").parse().map_err(|e| format!("{e}"))?;
        clients.push(Arc::new(Http::new(addr, "localhost", ca)?));
    }
    Ok(clients)
}

impl Service {
    /// Starts `pushd` (the binary) on `store` with limits opened up for load (push and fleet)
    /// and registers `hosts` hosts.
    pub(crate) async fn start(pushd: &Path, store: Store, hosts: usize) -> Result<Service, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let (pg, database, instances, pg_version) = match store {
            Store::Sqlite => (None, String::new(), 1, String::new()),
            Store::Postgres { instances } => {
                let (pg, database, version) = start_postgres().await?;
                (Some(pg), database, instances.max(1), version)
            }
        };
        run(Command::new(pushd).args(["tls-init", "--out-dir"]).arg(d.join("tls")).args([
            "--name",
            "localhost",
            "--ip",
            "127.0.0.1",
        ]))?;
        let configs = write_configs(d, instances, &database)?;
        let (creds, host_files) = add_hosts(pushd, d, &configs[0].0, hosts)?;
        share_service_key(d, instances)?;
        let clients = instance_clients(&configs, &d.join("tls/ca.pem"))?;
        let mut me = Service {
            store,
            clients,
            configs,
            hosts: creds,
            host_files,
            children: Vec::new(),
            pg,
            pg_version,
            dir,
        };
        me.serve_all(pushd).await?;
        Ok(me)
    }

    /// The run's own CA (the services' certificate is signed by it); fleet-load's.
    #[allow(dead_code)]
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// The instances' process ids, in order.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// The memory of the PostgreSQL server, if there is one.
    pub(crate) fn database_memory_kib(&self) -> Option<Result<u64, String>> {
        self.pg.as_ref().map(postgres_pss_kib)
    }

    /// Starts each instance in turn and waits (up to 20 s) until it answers its health check.
    /// Each child is kept in `self.children` as soon as it runs, so dropping `self` on an
    /// error stops it.
    async fn serve_all(&mut self, pushd: &Path) -> Result<(), String> {
        for ((config, _), http) in self.configs.iter().zip(&self.clients) {
            // The audit log goes to stderr too; the benchmark does not read it.
            let child = Command::new(pushd)
                .arg("--config")
                .arg(config)
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("{}: {e}", pushd.display()))?;
            self.children.push(child);
            let deadline = Instant::now() + Duration::from_secs(20);
            while http.send("GET", path::HEALTH, "", None).await.map(|r| r.status) != Ok(200) {
                if Instant::now() > deadline {
                    return Err(format!("mfa-server ({}) did not start", config.display()));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

impl Pushd {
    /// Starts `pushd` (the binary) on `store` with limits opened up for load, registers `hosts`
    /// hosts and pairs `devices` devices (one user each).
    pub(crate) async fn start(
        pushd: &Path,
        store: Store,
        hosts: usize,
        devices: usize,
    ) -> Result<Pushd, String> {
        let svc = Service::start(pushd, store, hosts).await?;
        let host_http = svc.clients[0].clone();
        let device_http = svc.clients[svc.clients.len() - 1].clone();
        let mut me = Pushd { svc, host_http, device_http, devices: Vec::new() };
        me.devices = me.pair_all(devices).await?;
        Ok(me)
    }

    async fn pair_all(&self, n: usize) -> Result<Vec<Device>, String> {
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(16));
        for i in 0..n {
            let (host_http, device_http) = (self.host_http.clone(), self.device_http.clone());
            let sem = sem.clone();
            let host = i % self.svc.hosts.len();
            let token = format!("Bearer {}", self.svc.hosts[host].token);
            set.spawn(async move {
                let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
                pair_one(&host_http, &device_http, &token, i, host).await.map(|d| (i, d))
            });
        }
        let mut out: Vec<Option<Device>> = (0..n).map(|_| None).collect();
        while let Some(r) = set.join_next().await {
            let (i, d) = r.map_err(|e| e.to_string())??;
            out[i] = Some(d);
        }
        Ok(out.into_iter().flatten().collect())
    }

    fn bearer(&self, host: usize) -> String {
        format!("Bearer {}", self.svc.hosts[host].token)
    }
}

/// The host asks its instance for a pairing link; the device pairs on its own instance.
async fn pair_one(
    host_http: &Http,
    device_http: &Http,
    token: &str,
    i: usize,
    host: usize,
) -> Result<Device, String> {
    let body = serde_json::json!({"user": format!("load{i}"), "ttl": 600}).to_string();
    let r = host_http.send("POST", path::PAIRINGS, token, Some(body.into_bytes())).await?;
    let created: PairingCreated = json(&r, 201)?;
    let credential = pairing_uri::parse(&created.uri).ok_or("bad pairing link")?.credential;
    let key = SecretKey::generate().map_err(|e| e.0)?;
    let public_key = key.public().encode();
    let name = format!("load-device-{i}");
    let req = PairRequest {
        signature: key.sign(&signed::pair(&credential, &name, &public_key)),
        credential,
        name,
        public_key,
        passkey: None,
    };
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let r = device_http.send("POST", path::DEVICE_PAIR, "", Some(body)).await?;
    let paired: Paired = json(&r, 201)?;
    Ok(Device { id: paired.device_id, key, host })
}

impl Backend for Pushd {
    type Login = Login;

    fn name(&self) -> &'static str {
        self.svc.store.name()
    }

    fn setup(&self) -> String {
        let hosts = self.svc.hosts.len();
        match self.svc.store {
            Store::Sqlite => {
                format!("mfa-server (SQLite store), {hosts} registered hosts, TLS on loopback")
            }
            Store::Postgres { instances } => {
                let how = if instances == 1 {
                    "one instance".to_string()
                } else {
                    format!(
                        "{instances} instances sharing the database and the service key; hosts \
                         create challenges and long-poll on the first, devices list and answer \
                         on the last, so every approval reaches the waiting host through \
                         `LISTEN/NOTIFY` (and the pending ramp's open waits are all held by the \
                         first instance)"
                    )
                };
                format!(
                    "mfa-server on PostgreSQL {} (a throwaway local cluster on a Unix socket with \
                     PostgreSQL's default durability: fsync and synchronous commit on, as the \
                     SQLite store commits with `synchronous = FULL`), {how}; {hosts} registered \
                     hosts, TLS on loopback; the service's memory is summed over its instances",
                    self.svc.pg_version
                )
            }
        }
    }

    fn flow(&self) -> &'static str {
        "host `POST /v2/challenges` → host long-poll `GET /v2/challenges/{txid}?wait=25` held \
         open → device `GET /v2/device/challenges` (signed) → device signs and sends \
         `POST …/answer`; **approve → login** runs from sending that answer to the host's \
         long-poll returning `approved`"
    }

    fn server_pid(&self) -> Option<u32> {
        self.svc.pids().first().copied()
    }

    /// Summed over the instances.
    fn service_rss_kib(&self) -> Option<u64> {
        Some(self.svc.pids().into_iter().map(crate::rss_kib).sum())
    }

    fn database_memory_kib(&self) -> Option<Result<u64, String>> {
        self.svc.database_memory_kib()
    }

    fn users(&self) -> usize {
        self.devices.len()
    }

    async fn start_login(&self, user: usize) -> Result<Login, String> {
        let d = self.devices.get(user).ok_or("no such user")?;
        let nonce = push_proto::random_token(32).map_err(|e| e.0)?;
        // The host picks the number; the device types it (the default number entry).
        let (number, choices) = push_proto::numbers::login_numbers(Entry::Type)
            .map_err(|e| format!("no randomness: {e}"))?;
        let body = serde_json::json!({
            "user": format!("load{user}"), "service": "sshd", "rhost": "192.0.2.1",
            "time": 0, "nonce": nonce, "choices": choices, "devices": [d.id], "ttl": 600,
        });
        let r = self
            .host_http
            .send("POST", path::CHALLENGES, &self.bearer(d.host), Some(body.to_string().into()))
            .await?;
        let c: ChallengeCreated = json(&r, 201)?;
        Ok(Login { txid: c.txid, number, user })
    }

    async fn wait_login(&self, l: &Login, wait: u64) -> Result<String, String> {
        let d = &self.devices[l.user];
        let path = format!("{}?wait={wait}", path::challenge(&l.txid));
        let r = self.host_http.send("GET", &path, &self.bearer(d.host), None).await?;
        let s: ChallengeState = json(&r, 200)?;
        Ok(serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default())
    }

    async fn approve(&self, l: &Login) -> Result<Instant, String> {
        let d = &self.devices[l.user];
        let path = format!("{}?wait=0", path::DEVICE_CHALLENGES);
        let auth = device_auth(d, "GET", &path, b"")?;
        let r = self.device_http.send("GET", &path, &auth, None).await?;
        let list: PendingList = json(&r, 200)?;
        let c = list.challenges.iter().find(|c| c.txid == l.txid).ok_or("not pending")?;
        let number = Some(l.number);
        let req = AnswerRequest {
            decision: Decision::Approve,
            number,
            // Over the hash of the login as the device received it, as a real device does.
            signature: d.key.sign(&signed::answer(&c.login_hash(), Decision::Approve, number)),
            passkey: None,
        };
        let path = path::device_answer(&l.txid);
        let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
        let auth = device_auth(d, "POST", &path, &body)?;
        let sent = Instant::now();
        let r = self.device_http.send("POST", &path, &auth, Some(body)).await?;
        json::<serde_json::Value>(&r, 200).map(|_| sent)
    }

    async fn cancel(&self, l: &Login) -> Result<(), String> {
        let d = &self.devices[l.user];
        let path = path::challenge(&l.txid);
        let r = self.host_http.send("DELETE", &path, &self.bearer(d.host), None).await?;
        json::<serde_json::Value>(&r, 200).map(|_| ())
    }
}

/// The `mfa-server` binary next to this one (`target/<profile>/`), unless given.
pub(crate) fn default_pushd() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.join("mfa-server")))
        .unwrap_or_else(|| PathBuf::from("mfa-server"))
}
