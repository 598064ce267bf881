//! A real `mfa-server` on loopback with real TLS (its own `tls-init` CA), host credentials from
//! its admin CLI, and `mfa-push-device` as the phone: what the push tests log in against.

use push_harness::{Options, Service};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use push_harness::{Backend, Bins, Device, printed_pairing_code};

/// A running push service ([`push_harness::Service`], whose fields and methods it derefs to),
/// with the programs built beside the test binary.
pub struct PushService {
    svc: Service,
}

impl Deref for PushService {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.svc
    }
}

impl DerefMut for PushService {
    fn deref_mut(&mut self) -> &mut Service {
        &mut self.svc
    }
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
        let opts = Options { public_host, ..Options::new(limits) };
        PushService { svc: Service::start(Bins::beside_test(), backend, &opts) }
    }

    /// A service on `backend` run from `bins` (a benchmark's release build, say).
    pub fn start_from(bins: Bins, backend: Backend, limits: &str) -> PushService {
        PushService { svc: Service::start(bins, backend, &Options::new(limits)) }
    }

    /// Stops the server (SIGKILL: a crash is also something it must survive).
    pub fn stop(&mut self) {
        self.svc.kill();
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
        self.svc.audit_log()
    }
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
