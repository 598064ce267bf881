//! The load generator's `mfa-pushd` backend: a real `mfa-pushd` started on loopback with its
//! own CA, hosts registered through its admin CLI and devices paired through the API.

use super::backend::Backend;
use super::http::Http;
use push_proto::api::{
    AnswerRequest, ChallengeCreated, ChallengeState, Decision, DeviceAuth, HostCredential,
    PairRequest, Paired, PairingCreated, PendingList,
};
use push_proto::{SecretKey, pairing_uri, signed};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One login in flight on mfa-pushd.
pub(crate) struct Login {
    txid: String,
    number: u8,
    nonce: String,
    user: usize,
}

struct Device {
    id: String,
    key: SecretKey,
    host: usize,
}

/// A running mfa-pushd with its hosts and devices.
pub(crate) struct Pushd {
    http: Arc<Http>,
    hosts: Vec<HostCredential>,
    devices: Vec<Device>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Pushd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

fn device_auth(d: &Device, method: &str, path: &str) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = d.key.sign(&signed::device_request(&d.id, ts, method, path));
    DeviceAuth { device_id: d.id.clone(), timestamp: ts, signature }.header()
}

fn json<T: serde::de::DeserializeOwned>(r: &super::http::Reply, want: u16) -> Result<T, String> {
    if r.status != want {
        return Err(format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    serde_json::from_slice(&r.body).map_err(|e| e.to_string())
}

impl Pushd {
    /// Starts `pushd` (the binary) with limits opened up for load, registers `hosts` hosts
    /// and pairs `devices` devices (one user each).
    pub(crate) async fn start(pushd: &Path, hosts: usize, devices: usize) -> Result<Pushd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        run(Command::new(pushd).args(["tls-init", "--out-dir"]).arg(d.join("tls")).args([
            "--name",
            "localhost",
            "--ip",
            "127.0.0.1",
        ]))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let config = d.join("mfa-pushd.toml");
        let dd = d.display();
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://localhost:{port}\"\n\
                 data_dir = \"{dd}/data\"\ntls_cert = \"{dd}/tls/server.pem\"\n\
                 tls_key = \"{dd}/tls/server.key\"\naudit_log = \"{dd}/audit.log\"\n\
                 [limits]\nchallenge_ttl_max = 600\nuser_per_minute = 1000000\n\
                 host_per_minute = 1000000\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut creds = Vec::new();
        for h in 0..hosts {
            let out = d.join(format!("host{h}.json"));
            run(Command::new(pushd)
                .arg("--config")
                .arg(&config)
                .args(["host", "add", &format!("load-host-{h}"), "--out"])
                .arg(&out))?;
            let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
            creds.push(serde_json::from_str::<HostCredential>(&text).map_err(|e| e.to_string())?);
        }
        // The audit log goes to stderr too; the benchmark does not read it.
        let child = Command::new(pushd)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", pushd.display()))?;
        let addr = format!("127.0.0.1:{port}").parse().map_err(|e| format!("{e}"))?;
        let http = Arc::new(Http::new(addr, "localhost", &d.join("tls/ca.pem"))?);
        let mut me = Pushd { http, hosts: creds, devices: Vec::new(), child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while me.http.send("GET", "/v1/health", "", None).await.map(|r| r.status) != Ok(200) {
            if Instant::now() > deadline {
                return Err("mfa-pushd did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        me.devices = me.pair_all(devices).await?;
        Ok(me)
    }

    async fn pair_all(&self, n: usize) -> Result<Vec<Device>, String> {
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(16));
        for i in 0..n {
            let (http, sem) = (self.http.clone(), sem.clone());
            let host = i % self.hosts.len();
            let token = format!("Bearer {}", self.hosts[host].token);
            set.spawn(async move {
                let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
                pair_one(&http, &token, i, host).await.map(|d| (i, d))
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
        format!("Bearer {}", self.hosts[host].token)
    }
}

async fn pair_one(http: &Http, token: &str, i: usize, host: usize) -> Result<Device, String> {
    let body = serde_json::json!({"user": format!("load{i}"), "ttl": 600}).to_string();
    let r = http.send("POST", "/v1/pairings", token, Some(body.into_bytes())).await?;
    let created: PairingCreated = json(&r, 201)?;
    let (_, credential) = pairing_uri::parse(&created.uri).ok_or("bad pairing link")?;
    let key = SecretKey::generate().map_err(|e| e.0)?;
    let public_key = key.public().encode();
    let name = format!("load-device-{i}");
    let req = PairRequest {
        signature: key.sign(&signed::pair(&credential, &name, &public_key)),
        credential,
        name,
        public_key,
    };
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let r = http.send("POST", "/v1/device/pair", "", Some(body)).await?;
    let paired: Paired = json(&r, 201)?;
    Ok(Device { id: paired.device_id, key, host })
}

impl Backend for Pushd {
    type Login = Login;

    fn name(&self) -> &'static str {
        "mfa-pushd"
    }

    fn setup(&self) -> String {
        format!("mfa-pushd (SQLite store), {} registered hosts, TLS on loopback", self.hosts.len())
    }

    fn flow(&self) -> &'static str {
        "host `POST /v1/challenges` → host long-poll `GET /v1/challenges/{txid}?wait=25` held \
         open → device `GET /v1/device/challenges` (signed) → device signs and sends \
         `POST …/answer`; **approve → login** runs from sending that answer to the host's \
         long-poll returning `approved`"
    }

    fn server_pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn users(&self) -> usize {
        self.devices.len()
    }

    async fn start_login(&self, user: usize) -> Result<Login, String> {
        let d = self.devices.get(user).ok_or("no such user")?;
        let nonce = push_proto::random_token(32).map_err(|e| e.0)?;
        let body = serde_json::json!({
            "user": format!("load{user}"), "service": "sshd", "rhost": "192.0.2.1",
            "time": 0, "nonce": nonce, "devices": [d.id], "ttl": 600,
        });
        let r = self
            .http
            .send("POST", "/v1/challenges", &self.bearer(d.host), Some(body.to_string().into()))
            .await?;
        let c: ChallengeCreated = json(&r, 201)?;
        Ok(Login { txid: c.txid, number: c.number, nonce, user })
    }

    async fn wait_login(&self, l: &Login, wait: u64) -> Result<String, String> {
        let d = &self.devices[l.user];
        let path = format!("/v1/challenges/{}?wait={wait}", l.txid);
        let r = self.http.send("GET", &path, &self.bearer(d.host), None).await?;
        let s: ChallengeState = json(&r, 200)?;
        Ok(serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default())
    }

    async fn approve(&self, l: &Login) -> Result<Instant, String> {
        let d = &self.devices[l.user];
        let path = "/v1/device/challenges?wait=0";
        let r = self.http.send("GET", path, &device_auth(d, "GET", path), None).await?;
        let list: PendingList = json(&r, 200)?;
        let c = list.challenges.iter().find(|c| c.txid == l.txid).ok_or("not pending")?;
        let number = Some(l.number);
        let req = AnswerRequest {
            decision: Decision::Approve,
            number,
            signature: d.key.sign(&signed::answer(&c.txid, &l.nonce, Decision::Approve, number)),
            passkey: None,
        };
        let path = format!("/v1/device/challenges/{}/answer", l.txid);
        let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
        let auth = device_auth(d, "POST", &path);
        let sent = Instant::now();
        let r = self.http.send("POST", &path, &auth, Some(body)).await?;
        json::<serde_json::Value>(&r, 200).map(|_| sent)
    }

    async fn cancel(&self, l: &Login) -> Result<(), String> {
        let d = &self.devices[l.user];
        let path = format!("/v1/challenges/{}", l.txid);
        let r = self.http.send("DELETE", &path, &self.bearer(d.host), None).await?;
        json::<serde_json::Value>(&r, 200).map(|_| ())
    }
}

/// The `mfa-pushd` binary next to this one (`target/<profile>/`), unless given.
pub(crate) fn default_pushd() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.join("mfa-pushd")))
        .unwrap_or_else(|| PathBuf::from("mfa-pushd"))
}
