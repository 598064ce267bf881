//! A real `mfa-pushd` on loopback with real TLS (its own `tls-init` CA), host credentials from
//! its admin CLI, and `mfa-push-device` as the phone: what the push tests log in against.

use crate::fixture::artifact_dir;
use crate::pg::PgCluster;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `mfa-pushd` binary.
pub fn pushd_path() -> PathBuf {
    artifact_dir().join("mfa-pushd")
}

/// Path of the `mfa-push-device` binary.
pub fn device_path() -> PathBuf {
    artifact_dir().join("mfa-push-device")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Where a [`PushService`] keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in its data directory (the default).
    Sqlite,
    /// A database in a throwaway PostgreSQL cluster of its own.
    Postgres,
}

/// A running push service in a temporary directory.
pub struct PushService {
    _dir: tempfile::TempDir,
    /// The temporary directory.
    pub root: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// `public_url` of its configuration (what pairing links and browsers use).
    pub public_url: String,
    /// The CA certificate made by `tls-init`.
    pub ca: PathBuf,
    /// The audit log.
    pub audit_log: PathBuf,
    child: Option<Child>,
    /// The PostgreSQL cluster (dropped after the service: fields drop after `Drop::drop`).
    pub pg: Option<PgCluster>,
}

impl PushService {
    /// Starts a service on SQLite with `limits` as the body of its `[limits]` table.
    pub fn start(limits: &str) -> PushService {
        PushService::start_on(Backend::Sqlite, limits)
    }

    /// Starts a service on `backend` with `limits` as the body of its `[limits]` table.
    pub fn start_on(backend: Backend, limits: &str) -> PushService {
        PushService::start_with(backend, limits, "127.0.0.1")
    }

    /// A service on `backend` whose `public_url` names `public_host`.
    pub fn start_with(backend: Backend, limits: &str, public_host: &str) -> PushService {
        let pg = (backend == Backend::Postgres).then(PgCluster::start);
        let database = match &pg {
            Some(pg) => format!("database = \"{}\"\n", pg.create_database("mfa_pushd")),
            None => String::new(),
        };
        let dir = tempfile::Builder::new().prefix("mfa_pushd_test.").tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let port = free_port();
        let tls = root.join("tls");
        let config = root.join("mfa-pushd.toml");
        let audit_log = root.join("audit.log");
        let url = format!("https://127.0.0.1:{port}");
        let public_url = format!("https://{public_host}:{port}");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"{public_url}\"\ndata_dir = \"{}\"\n\
                 tls_cert = \"{}\"\ntls_key = \"{}\"\naudit_log = \"{}\"\n{database}\
                 [limits]\n{limits}\n",
                root.join("data").display(),
                tls.join("server.pem").display(),
                tls.join("server.key").display(),
                audit_log.display()
            ),
        )
        .expect("write config");
        run_ok(
            Command::new(pushd_path())
                .arg("--config")
                .arg(&config)
                .arg("tls-init")
                .arg("--out-dir")
                .arg(&tls)
                .args(["--name", "localhost", "--ip", "127.0.0.1"]),
        );
        let mut s = PushService {
            _dir: dir,
            ca: tls.join("ca.pem"),
            root,
            config,
            url,
            public_url,
            audit_log,
            child: None,
            pg,
        };
        s.serve();
        s
    }

    /// Starts (or restarts) `mfa-pushd serve` and waits until it answers.
    pub fn serve(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.root.join("pushd.stderr")).expect("log");
        let child = Command::new(pushd_path())
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn mfa-pushd");
        self.child = Some(child);
        let start = Instant::now();
        let addr = self.url.trim_start_matches("https://").to_string();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "mfa-pushd did not start");
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "mfa-pushd exited ({status}): {}",
                        std::fs::read_to_string(self.root.join("pushd.stderr")).unwrap_or_default()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGKILL: a crash is also something it must survive).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs an admin command (`host add ...`) and returns its output.
    pub fn admin(&self, args: &[&str]) -> Output {
        run(Command::new(pushd_path()).arg("--config").arg(&self.config).args(args))
    }

    /// Registers a host and writes its credential to `out` (root-owned, 0600).
    pub fn add_host(&self, name: &str, out: &Path) {
        let o = self.admin(&["host", "add", name, "--out", &out.display().to_string()]);
        assert!(o.status.success(), "host add: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// The `[push]` table for a pam_mfa configuration using `credential`.
    pub fn push_section(&self, credential: &Path, extra: &str) -> String {
        format!(
            "[push]\nurl = \"{}\"\nca_file = \"{}\"\ncredential = \"{}\"\n{extra}\n",
            self.url,
            self.ca.display(),
            credential.display()
        )
    }

    /// The audit log so far.
    pub fn audit(&self) -> String {
        std::fs::read_to_string(&self.audit_log).unwrap_or_default()
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CLI device (`mfa-push-device`) with its key file.
pub struct Device {
    /// The key file.
    pub key_file: PathBuf,
    /// The CA it trusts.
    pub ca: PathBuf,
}

impl Device {
    /// A device whose key file will live at `key_file`.
    pub fn new(key_file: PathBuf, svc: &PushService) -> Device {
        Device { key_file, ca: svc.ca.clone() }
    }

    /// A device for a plain-HTTP service on loopback (no CA file).
    pub fn plain(key_file: PathBuf) -> Device {
        Device { key_file, ca: PathBuf::new() }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(device_path());
        c.arg("--key-file").arg(&self.key_file);
        c
    }

    /// Pairs with the link `uri`.
    pub fn pair(&self, uri: &str, name: &str) -> Output {
        let mut c = self.cmd();
        c.args(["pair", uri, "--name", name]);
        if !self.ca.as_os_str().is_empty() {
            c.arg("--ca-file").arg(&self.ca);
        }
        run(&mut c)
    }

    /// Pairs with the link `uri`, which must work; returns the pairing code it shows.
    pub fn pair_ok(&self, uri: &str, name: &str) -> String {
        let out = self.pair(uri, name);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "pair: {text}{}", String::from_utf8_lossy(&out.stderr));
        printed_pairing_code(&text).unwrap_or_else(|| panic!("no pairing code shown: {text}"))
    }

    /// Approves the single pending request with `number`, waiting up to 20 s for it.
    pub fn approve(&self, number: u8) -> Output {
        run(self.cmd().args(["approve", "--number", &number.to_string(), "--wait", "20"]))
    }

    /// Denies the single pending request.
    pub fn deny(&self) -> Output {
        run(self.cmd().args(["deny", "--wait", "20"]))
    }

    /// Reports the single pending request as not the user's.
    pub fn fraud(&self) -> Output {
        run(self.cmd().args(["fraud", "--wait", "20"]))
    }

    /// The pending requests as JSON.
    pub fn pending_json(&self, wait: u64) -> serde_json::Value {
        let o = run_ok(self.cmd().args(["pending", "--json", "--wait", &wait.to_string()]));
        serde_json::from_slice(&o.stdout).expect("pending JSON")
    }

    /// The device id from the key file.
    pub fn id(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&self.key_file).expect("key file"))
                .expect("key JSON");
        v["device_id"].as_str().expect("device_id").to_string()
    }
}

/// The pairing code `mfa-push-device pair` printed ("pairing code: 123 456 ..."), digits only.
pub fn printed_pairing_code(text: &str) -> Option<String> {
    let at = text.find("pairing code: ")?;
    let code: String = text[at + 14..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ')
        .filter(char::is_ascii_digit)
        .collect();
    (code.len() == 6).then_some(code)
}

/// The pairing link in enrollment output, if shown.
pub fn pairing_link(text: &str) -> Option<String> {
    let at = text.find("/pair#c=")?;
    // https:// links, or http:// to loopback (a plain-HTTP stand-in).
    let start = text[..at].rfind("https://").max(text[..at].rfind("http://"))?;
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    // Only a link whose end has arrived: output is read in chunks, which may end inside it.
    text[start + link.len()..].starts_with(char::is_whitespace).then_some(link)
}

/// A change a compromised service makes to a receipt before re-signing it with its key.
pub type ReceiptEdit = std::sync::Arc<dyn Fn(&mut push_proto::api::Receipt) + Send + Sync>;

/// What the [`Proxy`] does with status replies.
#[derive(Clone, Default)]
pub enum ProxyMode {
    /// Pass everything through (and remember the last approved status).
    #[default]
    Forward,
    /// Answer status requests with the remembered approved status of an earlier login, its
    /// `txid` field set to the one asked about (a replayed receipt).
    ReplayApproved,
    /// Apply the edit to every receipt and sign it again with this key (the service's own:
    /// the proxy plays a compromised service).
    EditReceipts(ReceiptEdit, push_proto::SecretKey),
}

impl std::fmt::Debug for ProxyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyMode::Forward => "Forward",
            ProxyMode::ReplayApproved => "ReplayApproved",
            ProxyMode::EditReceipts(..) => "EditReceipts",
        })
    }
}

impl PushService {
    /// The service's signing key (what a compromised service's operator holds).
    pub fn service_key(&self) -> push_proto::SecretKey {
        let text = std::fs::read_to_string(self.root.join("data/service.key")).expect("key");
        push_proto::SecretKey::decode(&text).expect("service key")
    }
}

/// A plain-HTTP man in the middle on loopback in front of the real service: forwards requests
/// (over TLS, with the service's CA) and can replay an old receipt. The module may use
/// `http://` to a loopback address, which is what this exercises too.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// What it does now.
    pub mode: std::sync::Arc<std::sync::Mutex<ProxyMode>>,
    /// The last approved status body seen.
    pub approved: std::sync::Arc<std::sync::Mutex<Option<serde_json::Value>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    port: u16,
}

impl Proxy {
    /// Starts a proxy in front of `svc`.
    pub fn start(svc: &PushService) -> Proxy {
        use std::sync::{Arc, Mutex, atomic::AtomicBool};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(Mutex::new(ProxyMode::Forward));
        let approved = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = mfa_remote::http::Client::new(&mfa_login::endpoint::Endpoint {
            url: svc.url.clone(),
            ca_file: Some(svc.ca.clone()),
            proxy: None,
            connect_timeout: 5,
            io_timeout: 10,
        })
        .expect("upstream client");
        let (m, a, s) = (mode.clone(), approved.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = proxy_one(conn, &upstream, &m, &a);
            }
        });
        Proxy { url: format!("http://127.0.0.1:{port}"), mode, approved, stop, port }
    }

    /// Switches the mode.
    pub fn set_mode(&self, mode: ProxyMode) {
        *self.mode.lock().expect("mode") = mode;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn proxy_one(
    mut conn: std::net::TcpStream,
    upstream: &mfa_remote::http::Client,
    mode: &std::sync::Mutex<ProxyMode>,
    approved: &std::sync::Mutex<Option<serde_json::Value>>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    conn.set_read_timeout(Some(Duration::from_secs(40)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) =
        (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let mut auth = String::new();
    let mut len = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => auth = v.trim().to_string(),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let challenge_prefix = push_proto::api::path::challenge("");
    let is_status = method == "GET" && path.starts_with(&challenge_prefix);
    let current = mode.lock().expect("mode").clone();
    let replay = matches!(current, ProxyMode::ReplayApproved);
    let (status, out) = if is_status && replay {
        let txid = path.trim_start_matches(&challenge_prefix).split('?').next().unwrap_or("");
        let mut old =
            approved.lock().expect("approved").clone().expect("an approved status to replay");
        old["txid"] = serde_json::Value::String(txid.to_string());
        (200, serde_json::to_vec(&old).expect("json"))
    } else {
        let headers = [("authorization", auth.as_str())];
        let b = if body.is_empty() {
            mfa_remote::http::Body::Empty
        } else {
            mfa_remote::http::Body::Json(&body)
        };
        match upstream.request(&method, &path, &headers, b, Duration::from_secs(30)) {
            Ok(r) => {
                let mut body = r.body;
                if is_status {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                        if v["status"] == "approved" {
                            *approved.lock().expect("approved") = Some(v);
                        }
                    }
                    if let ProxyMode::EditReceipts(edit, key) = &current {
                        let parsed =
                            serde_json::from_slice::<push_proto::api::ChallengeState>(&body);
                        if let Ok(mut state) = parsed {
                            if let Some(receipt) = state.receipt.as_mut() {
                                edit(receipt);
                                receipt.signature = key.sign(&receipt.signed_bytes());
                            }
                            body = serde_json::to_vec(&state).expect("json");
                        }
                    }
                }
                (r.status, body)
            }
            Err(_) => (502, b"{\"error\":\"bad_gateway\",\"message\":\"upstream\"}".to_vec()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        out.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&out)?;
    conn.flush()
}

/// Pairs `device` for `user` through the real `mfa-enroll --config CONFIG --user USER push`,
/// acting as the phone and its user: opens the pairing link, types the pairing code the device
/// shows, approves the test push with the number shown, confirms the recovery codes. Returns
/// what mfa-enroll printed (it must succeed).
pub fn pair_with_mfa_enroll(config: &Path, user: &str, device: &Device, name: &str) -> String {
    enroll_push_with(
        config,
        user,
        |link| device.pair_ok(link, name),
        |n| {
            let approved = device.approve(n);
            assert!(
                approved.status.success(),
                "approve: {}",
                String::from_utf8_lossy(&approved.stderr)
            );
        },
    )
}

/// Runs the real `mfa-enroll --config CONFIG --user USER push` with `pair` as the phone's
/// pairing (given the link it shows; it returns the pairing code the phone shows, which the
/// user types) and `approve` as its approval of the test push (given the number shown),
/// confirming the recovery codes at the end. Returns what mfa-enroll printed (it must
/// succeed).
pub fn enroll_push_with(
    config: &Path,
    user: &str,
    pair: impl FnOnce(&str) -> String,
    approve: impl FnOnce(u8),
) -> String {
    use crate::live::{Live, push_number};
    let wait = Duration::from_secs(30);
    let mut c = Command::new(crate::sandbox::enroll_tool());
    c.arg("--config").arg(config).args(["--user", user, "push"]);
    if let Some(nss) = crate::nss::NssFiles::beside(config) {
        nss.apply(&mut c, &["--user", user]);
    }
    let mut live = Live::spawn(c);
    let link = live.wait_for(wait, pairing_link);
    let code = pair(&link);
    live.wait_for(wait, |t| t.contains("Type the pairing code").then_some(()));
    live.send_line(&code);
    let n =
        live.wait_for(wait, |t| t.contains("Test push sent to").then(|| push_number(t)).flatten());
    approve(n);
    live.send_line("");
    live.wait_for(wait, |t| t.contains("Press Enter when you have stored").then_some(()));
    live.send_line("");
    let out = live.finish();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "mfa-enroll push: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The recovery codes (`3-abcde-fghij`) in enrollment output.
pub fn recovery_codes(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| {
            let b = w.as_bytes();
            b.len() == 13 && b[0].is_ascii_digit() && b[1] == b'-' && b[7] == b'-'
        })
        .map(str::to_string)
        .collect()
}
