//! A compromised push service on loopback: a stand-in for `mfa-server` that speaks protocol 2
//! (plain HTTP on 127.0.0.1, which the module and `mfa-push-device` accept for loopback), holds
//! the service key the host pins, and lies on request: it shows the phone another login than
//! the host created, swaps the numbers, rewrites or replays receipts (signing them with its
//! key), and reports another device than the one the user paired. Honest by default, so the
//! same world first enrolls and logs in normally: what the module refuses later it refuses
//! because of the lie.

use push_proto::SecretKey;
use push_proto::api::{
    AnswerRequest, ChallengeCreated, ChallengeState, CreateChallenge, CreatePairing, DeviceInfo,
    DeviceRef, HostCredential, PairRequest, Paired, PairingCreated, PairingState, PairingStatus,
    PendingChallenge, PendingList, Receipt, Status,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How the stand-in changes the login a device is shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Show this host name instead of the host's registered name.
    pub hostname: Option<String>,
    /// Show this user.
    pub user: Option<String>,
    /// Show this PAM service.
    pub service: Option<String>,
    /// Show this remote address.
    pub rhost: Option<Option<String>>,
    /// Show this nonce (another login's).
    pub nonce: Option<String>,
    /// Show the host's choices in the reverse order.
    pub reverse_choices: bool,
}

/// What the stand-in does to the receipt it hands the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ReceiptLie {
    /// The receipt states the login the device was shown (which may not be the host's).
    #[default]
    WhatTheDeviceSaw,
    /// The receipt states the host's own login, whatever the device was shown.
    TheHostsLogin,
    /// Like [`ReceiptLie::TheHostsLogin`], and approves this number instead of the one the
    /// user entered (an attacker at the host knows the number it shows).
    Number(u8),
    /// The last approved receipt of an earlier login, its login fields rewritten to the host's
    /// (so everything the service vouches for names this login).
    ReplayLast,
}

/// The stand-in's behaviour, changeable while it runs.
#[derive(Clone, Debug, Default)]
pub struct Lies {
    /// What devices are shown.
    pub view: View,
    /// What receipts say.
    pub receipt: ReceiptLie,
    /// Let a pairing link be used any number of times, and report the device that paired
    /// `report`-th (0: the first) to the host.
    pub pairing_report: Option<usize>,
}

struct Device {
    name: String,
    public_key: String,
}

struct Pairing {
    user: String,
    credential: String,
    devices: Vec<String>,
}

struct Challenge {
    host_id: String,
    hostname: String,
    req: CreateChallenge,
    expires_at: u64,
    devices: Vec<String>,
    shown: Option<PendingChallenge>,
    status: Status,
    receipt: Option<Receipt>,
}

#[derive(Default)]
struct State {
    hosts: HashMap<String, (String, String)>,
    pairings: HashMap<String, Pairing>,
    devices: HashMap<String, Device>,
    challenges: HashMap<String, Challenge>,
    last_approved: Option<Receipt>,
    lies: Lies,
}

struct Shared {
    key: SecretKey,
    base: String,
    state: Mutex<State>,
    changed: Condvar,
}

/// A running hostile service.
pub struct HostileService {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    port: u16,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn token(n: usize) -> String {
    push_proto::random_token(n).expect("randomness")
}

impl HostileService {
    /// Starts the stand-in with a fresh service key.
    pub fn start() -> HostileService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            key: SecretKey::generate().expect("key"),
            base: url.clone(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let sh = sh.clone();
                std::thread::spawn(move || {
                    let _ = serve(&sh, conn);
                });
            }
        });
        HostileService { url, shared, stop, port }
    }

    /// Registers a host and writes its credential (with this service's key) to `out`.
    pub fn add_host(&self, name: &str, out: &Path) -> HostCredential {
        let cred = HostCredential {
            version: 1,
            host_id: token(16),
            hostname: name.to_string(),
            token: token(32),
            service_key: self.shared.key.public().encode(),
        };
        self.shared
            .state
            .lock()
            .expect("state")
            .hosts
            .insert(cred.token.clone(), (cred.host_id.clone(), cred.hostname.clone()));
        let text = serde_json::to_vec(&cred).expect("json");
        write_private(out, &text);
        cred
    }

    /// Changes what the stand-in lies about.
    pub fn lie(&self, lies: Lies) {
        self.shared.state.lock().expect("state").lies = lies;
    }
}

impl Drop for HostileService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn write_private(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("credential file");
    f.write_all(bytes).expect("write");
}

struct Request {
    method: String,
    path: String,
    query: String,
    auth: String,
    body: Vec<u8>,
}

fn read_request(conn: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut auth, mut len) = (String::new(), 0usize);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "authorization" => auth = v.trim().to_string(),
            "content-length" => len = v.trim().parse().ok()?,
            _ => {}
        }
    }
    let mut body = vec![0; len.min(1 << 20)];
    r.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request { method, path, query, auth, body })
}

fn wait_param(query: &str) -> u64 {
    query
        .split('&')
        .find_map(|p| p.strip_prefix("wait="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(25)
}

fn reply(conn: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body)?;
    conn.flush()
}

fn error(code: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"error": code, "message": code})).unwrap_or_default()
}

fn serve(sh: &Shared, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let Some(req) = read_request(&conn) else { return Ok(()) };
    let (status, body) = route(sh, &req);
    reply(&mut conn, status, &body)
}

fn json<T: serde::Serialize>(status: u16, v: &T) -> (u16, Vec<u8>) {
    (status, serde_json::to_vec(v).unwrap_or_default())
}

fn route(sh: &Shared, req: &Request) -> (u16, Vec<u8>) {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let host = || {
        let token = req.auth.strip_prefix("Bearer ")?;
        sh.state.lock().ok()?.hosts.get(token).cloned()
    };
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v2", "health"]) => {
            json(200, &serde_json::json!({"status": "ok", "protocol": push_proto::api::VERSION}))
        }
        ("POST", ["v2", "pairings"]) => match (host(), serde_json::from_slice(&req.body)) {
            (Some(_), Ok(CreatePairing { user, .. })) => create_pairing(sh, user),
            _ => (400, error("bad_request")),
        },
        ("GET", ["v2", "pairings", id]) => match host() {
            Some(_) => pairing_state(sh, id, wait_param(&req.query)),
            None => (401, error("unauthorized")),
        },
        ("POST", ["v2", "device", "pair"]) => match serde_json::from_slice(&req.body) {
            Ok(p) => pair(sh, p),
            Err(_) => (400, error("bad_request")),
        },
        ("POST", ["v2", "challenges"]) => match (host(), serde_json::from_slice(&req.body)) {
            (Some((host_id, hostname)), Ok(c)) => create_challenge(sh, host_id, hostname, c),
            _ => (400, error("bad_request")),
        },
        ("GET", ["v2", "challenges", txid]) => match host() {
            Some(_) => challenge_state(sh, txid, wait_param(&req.query)),
            None => (401, error("unauthorized")),
        },
        ("DELETE", ["v2", "challenges", txid]) => {
            let mut st = sh.state.lock().expect("state");
            if let Some(c) = st.challenges.get_mut(*txid) {
                if c.status == Status::Pending {
                    c.status = Status::Cancelled;
                }
            }
            drop(st);
            sh.changed.notify_all();
            challenge_state(sh, txid, 0)
        }
        ("GET", ["v2", "device", "challenges"]) => {
            // A hostile service need not check device signatures; it only needs the id.
            let id = device_id(&req.auth);
            pending(sh, &id, wait_param(&req.query))
        }
        ("POST", ["v2", "device", "challenges", txid, "answer"]) => {
            match serde_json::from_slice::<AnswerRequest>(&req.body) {
                Ok(a) => answer(sh, txid, &device_id(&req.auth), a),
                Err(_) => (400, error("bad_request")),
            }
        }
        _ => (404, error("not_found")),
    }
}

fn device_id(auth: &str) -> String {
    push_proto::api::DeviceAuth::parse(auth).map(|a| a.device_id).unwrap_or_default()
}

fn create_pairing(sh: &Shared, user: String) -> (u16, Vec<u8>) {
    let (id, credential) = (token(16), token(32));
    let uri = push_proto::pairing_uri::build(&sh.base, &credential);
    sh.state
        .lock()
        .expect("state")
        .pairings
        .insert(id.clone(), Pairing { user, credential, devices: Vec::new() });
    json(201, &PairingCreated { pairing_id: id, uri, expires_at: now() + 600 })
}

fn pairing_state(sh: &Shared, id: &str, wait: u64) -> (u16, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut st = sh.state.lock().expect("state");
    loop {
        let Some(p) = st.pairings.get(id) else { return (404, error("not_found")) };
        let pick = st.lies.pairing_report.unwrap_or(0);
        if let Some(d) = p.devices.get(pick).and_then(|d| st.devices.get(d).map(|x| (d, x))) {
            let (id, dev) = d;
            return json(
                200,
                &PairingState {
                    status: PairingStatus::Paired,
                    device: Some(DeviceInfo {
                        id: id.clone(),
                        name: dev.name.clone(),
                        public_key: dev.public_key.clone(),
                        passkey: None,
                    }),
                },
            );
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return json(200, &PairingState { status: PairingStatus::Pending, device: None });
        }
        st = sh.changed.wait_timeout(st, left).expect("state").0;
    }
}

fn pair(sh: &Shared, p: PairRequest) -> (u16, Vec<u8>) {
    let mut st = sh.state.lock().expect("state");
    let many = st.lies.pairing_report.is_some();
    let Some((pid, pairing)) = st.pairings.iter().find(|(_, x)| x.credential == p.credential)
    else {
        return (401, error("unauthorized"));
    };
    if !pairing.devices.is_empty() && !many {
        return (409, error("already_used"));
    }
    let (pid, user) = (pid.clone(), pairing.user.clone());
    let id = token(16);
    st.devices.insert(id.clone(), Device { name: p.name, public_key: p.public_key });
    if let Some(x) = st.pairings.get_mut(&pid) {
        x.devices.push(id.clone());
    }
    drop(st);
    sh.changed.notify_all();
    json(201, &Paired { device_id: id, user, service_key: sh.key.public().encode() })
}

fn create_challenge(
    sh: &Shared,
    host_id: String,
    hostname: String,
    req: CreateChallenge,
) -> (u16, Vec<u8>) {
    let mut st = sh.state.lock().expect("state");
    let devices: Vec<DeviceRef> = req
        .devices
        .iter()
        .filter_map(|id| {
            st.devices.get(id).map(|d| DeviceRef { id: id.clone(), name: d.name.clone() })
        })
        .collect();
    if devices.is_empty() {
        return (404, error("no_device"));
    }
    let txid = token(16);
    let expires_at = now() + req.ttl.clamp(10, 120);
    let ids = devices.iter().map(|d| d.id.clone()).collect();
    st.challenges.insert(
        txid.clone(),
        Challenge {
            host_id,
            hostname,
            req,
            expires_at,
            devices: ids,
            shown: None,
            status: Status::Pending,
            receipt: None,
        },
    );
    drop(st);
    sh.changed.notify_all();
    json(201, &ChallengeCreated { txid, expires_at, devices })
}

/// The login as the host created it.
fn true_view(txid: &str, c: &Challenge) -> PendingChallenge {
    PendingChallenge {
        txid: txid.to_string(),
        host_id: c.host_id.clone(),
        hostname: c.hostname.clone(),
        user: c.req.user.clone(),
        service: c.req.service.clone(),
        rhost: c.req.rhost.clone(),
        time: c.req.time,
        nonce: c.req.nonce.clone(),
        choices: c.req.choices.clone(),
        expires_at: c.expires_at,
        signature: String::new(),
    }
}

fn lying_view(key: &SecretKey, mut v: PendingChallenge, lie: &View) -> PendingChallenge {
    if let Some(name) = &lie.hostname {
        v.hostname = name.clone();
    }
    if let Some(u) = &lie.user {
        v.user = u.clone();
    }
    if let Some(s) = &lie.service {
        v.service = s.clone();
    }
    if let Some(r) = &lie.rhost {
        v.rhost = r.clone();
    }
    if let Some(n) = &lie.nonce {
        v.nonce = n.clone();
    }
    if lie.reverse_choices {
        v.choices.reverse();
    }
    v.signature = key.sign(&v.signed_bytes());
    v
}

fn pending(sh: &Shared, device: &str, wait: u64) -> (u16, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut st = sh.state.lock().expect("state");
    loop {
        let lie = st.lies.view.clone();
        let mut list = Vec::new();
        for (txid, c) in st.challenges.iter_mut() {
            if c.status == Status::Pending && c.devices.iter().any(|d| d == device) {
                let shown = lying_view(&sh.key, true_view(txid, c), &lie);
                c.shown = Some(shown.clone());
                list.push(shown);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if !list.is_empty() || left.is_zero() {
            return json(200, &PendingList { challenges: list });
        }
        st = sh.changed.wait_timeout(st, left).expect("state").0;
    }
}

fn answer(sh: &Shared, txid: &str, device: &str, a: AnswerRequest) -> (u16, Vec<u8>) {
    let mut st = sh.state.lock().expect("state");
    let lie = st.lies.receipt.clone();
    let last = st.last_approved.clone();
    let Some(c) = st.challenges.get_mut(txid) else { return (404, error("not_found")) };
    if c.status != Status::Pending {
        return (409, error("already_used"));
    }
    let status = match a.decision {
        push_proto::api::Decision::Approve => Status::Approved,
        push_proto::api::Decision::Deny => Status::Denied,
        push_proto::api::Decision::Fraud => Status::Fraud,
    };
    let truth = true_view(txid, c);
    let shown = c.shown.clone().unwrap_or_else(|| truth.clone());
    let stated = match lie {
        ReceiptLie::WhatTheDeviceSaw => &shown,
        _ => &truth,
    };
    let mut r = Receipt {
        txid: stated.txid.clone(),
        host_id: stated.host_id.clone(),
        hostname: stated.hostname.clone(),
        user: stated.user.clone(),
        service: stated.service.clone(),
        rhost: stated.rhost.clone(),
        time: stated.time,
        nonce: stated.nonce.clone(),
        choices: stated.choices.clone(),
        decision: a.decision,
        number: a.number,
        device_id: device.to_string(),
        device_signature: a.signature,
        passkey: a.passkey,
        answered_at: now(),
        signature: String::new(),
    };
    match lie {
        ReceiptLie::Number(n) => r.number = Some(n),
        ReceiptLie::ReplayLast => {
            if let Some(old) = last {
                r = Receipt {
                    txid: truth.txid.clone(),
                    host_id: truth.host_id.clone(),
                    hostname: truth.hostname.clone(),
                    user: truth.user.clone(),
                    service: truth.service.clone(),
                    rhost: truth.rhost.clone(),
                    time: truth.time,
                    nonce: truth.nonce.clone(),
                    choices: truth.choices.clone(),
                    ..old
                };
            }
        }
        _ => {}
    }
    r.signature = sh.key.sign(&r.signed_bytes());
    c.status = status;
    c.receipt = Some(r.clone());
    if status == Status::Approved && lie == ReceiptLie::WhatTheDeviceSaw {
        st.last_approved = Some(r);
    }
    drop(st);
    sh.changed.notify_all();
    json(200, &serde_json::json!({"status": status}))
}

fn challenge_state(sh: &Shared, txid: &str, wait: u64) -> (u16, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut st = sh.state.lock().expect("state");
    loop {
        let Some(c) = st.challenges.get(txid) else { return (404, error("not_found")) };
        let left = deadline.saturating_duration_since(Instant::now());
        if c.status != Status::Pending || left.is_zero() {
            let state = ChallengeState {
                txid: txid.to_string(),
                status: c.status,
                receipt: c.receipt.clone(),
            };
            return json(200, &state);
        }
        st = sh.changed.wait_timeout(st, left).expect("state").0;
    }
}
