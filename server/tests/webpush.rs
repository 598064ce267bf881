//! Web Push end to end: the real `mfa-server` sends to a push-service stand-in on loopback, and
//! an independent implementation (Python `http_ece` + `py_vapid`, from
//! `scripts/webpush-test-setup.sh`) decrypts the message with the subscription's keys and
//! verifies the VAPID token against the key the service publishes.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Server, code};
use mfa_server::client::Reply;
use push_proto::api::DeviceAuth;
use push_proto::{SecretKey, b64};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SUBJECT: &str = "mailto:admin@example.org";
const SUBSCRIPTION: &str = "/v2/device/push-subscription";

/// The Python virtualenv with http_ece and py_vapid.
fn venv_python() -> PathBuf {
    let venv = std::env::var("MFA_WEBPUSH_VENV")
        .unwrap_or_else(|_| "/opt/pam_mfa-test/webpush-venv".to_string());
    let python = Path::new(&venv).join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/webpush-test-setup.sh (Debian: apt-get install python3-venv)",
        python.display()
    );
    python
}

/// `[limits]` followed by a `[web_push]` table sending to loopback with a `timeout`.
fn config(timeout: u64) -> String {
    format!(
        "\n[web_push]\nsubject = \"{SUBJECT}\"\ntimeout = {timeout}\nallow_http_loopback = true\n"
    )
}

// ---- the push-service stand-in ---------------------------------------------------------------

/// One request as the stand-in received it.
#[derive(Debug)]
struct Captured {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// How the stand-in answers.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Status(u16),
    /// Reads the request, then never answers (until the stand-in is dropped).
    Hang,
}

/// A push service on 127.0.0.1 speaking just enough HTTP/1.1.
struct StandIn {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    received: Receiver<Captured>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    fn start(mode: Mode) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, received) = channel();
        let (m, s) = (mode.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(&listener, &m, &s, &tx));
        StandIn { port, mode, received, stop, thread: Some(thread) }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/push/{name}", self.port)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The next request, waiting at most `secs`.
    fn next(&self, secs: u64) -> Option<Captured> {
        self.received.recv_timeout(Duration::from_secs(secs)).ok()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept()
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: &TcpListener, mode: &Mutex<Mode>, stop: &AtomicBool, tx: &Sender<Captured>) {
    let mut held = Vec::new(); // connections left hanging, closed when the stand-in stops
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut conn) = conn else { continue };
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let Some(req) = read_request(&conn) else { continue };
        let _ = tx.send(req);
        match *mode.lock().unwrap() {
            Mode::Status(code) => {
                let _ = write!(
                    conn,
                    "HTTP/1.1 {code} Stand-in\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
            Mode::Hang => held.push(conn),
        }
    }
}

fn read_request(conn: &TcpStream) -> Option<Captured> {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length")?.1.parse().ok()?;
    assert!(len <= 8192, "a push message larger than push services take: {len}");
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Captured { method, path, headers, body })
}

// ---- the browser and the device ----------------------------------------------------------------

/// The browser side of a subscription: its message key pair and auth secret.
struct Browser {
    key: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let mut auth = [0u8; 16];
        getrandom::getrandom(&mut auth).unwrap();
        Browser { key: SecretKey::generate().unwrap(), auth }
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "p256dh": self.key.public().encode(), "auth": b64(&self.auth)})
    }
}

/// Sends a device-signed request with the device's key file.
fn device_call(s: &Server, key_file: &Path, method: &str, body: Option<&Value>) -> Reply {
    let kf: Value = serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let id = kf["device_id"].as_str().unwrap();
    let key = SecretKey::decode(kf["private_key"].as_str().unwrap()).unwrap();
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let now = mfa_server::time::now();
    let signed_body = bytes.as_deref().unwrap_or(b"");
    let auth = DeviceAuth::sign(&key, id, now, method, SUBSCRIPTION, signed_body).unwrap().header();
    s.anon()
        .request(
            method,
            SUBSCRIPTION,
            &[("authorization", &auth)],
            bytes.as_deref(),
            Duration::ZERO,
        )
        .unwrap()
}

fn vapid_key(s: &Server) -> String {
    let r = s.anon().request("GET", "/v2/web-push/key", &[], None, Duration::ZERO).unwrap();
    assert_eq!(r.status, 200, "{}", r.error_text());
    let v: Value = r.json().unwrap();
    v["vapid_public_key"].as_str().unwrap().to_string()
}

/// Runs the Python verifier on `req`; (passed, its output).
fn verify(
    s: &Server,
    req: &Captured,
    browser: &Browser,
    endpoint: &str,
    expect: &Value,
    vapid: &str,
    now: u64,
) -> (bool, String) {
    let headers: serde_json::Map<String, Value> =
        req.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let case = json!({
        "method": req.method, "headers": headers, "body_b64": b64(&req.body),
        "ua_private": browser.key.encode().as_str(), "auth": b64(&browser.auth),
        "vapid_public_key": vapid, "endpoint": endpoint, "subject": SUBJECT,
        "expect": expect, "now": now,
    });
    let file = s.dir.path().join("push-case.json");
    std::fs::write(&file, serde_json::to_vec(&case).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webpush/verify_push.py");
    let out = std::process::Command::new(venv_python()).arg(script).arg(&file).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

// ---- the tests ---------------------------------------------------------------------------------

fn delivers_an_encrypted_vapid_signed_message(backend: Backend) {
    let python = venv_python(); // fail early, with the setup hint, if it is missing
    assert!(python.exists());
    let push = StandIn::start(Mode::Status(201));
    let mut s = Server::start(backend, &config(5));
    let vapid = vapid_key(&s);
    assert!(push_proto::PublicKey::decode(&vapid).is_ok(), "an uncompressed P-256 point");
    let vapid_file = s.dir.path().join("data/vapid.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&vapid_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    s.restart();
    assert_eq!(vapid_key(&s), vapid, "the VAPID key is created once and reused");

    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "alice", "phone");
    let browser = Browser::new();
    let endpoint = push.endpoint("sub-1");
    let r = device_call(&s, &key, "PUT", Some(&browser.subscription(&endpoint)));
    assert_eq!(r.status, 204, "{}", r.error_text());

    let (st, created, sent) = host.challenge("alice", &[&dev], 60);
    let nonce = sent.nonce;
    let now = mfa_server::time::now();
    assert_eq!(st, 201, "{created}");
    let req = push.next(10).expect("the stand-in received no push message");
    assert_eq!(req.path, "/push/sub-1");
    assert_eq!(req.header("content-encoding"), Some("aes128gcm"));
    let expect = json!({
        "type": "challenge", "txid": created["txid"], "user": "alice", "hostname": "web1",
        "service": "sshd", "expires_at": created["expires_at"],
    });
    let (ok, out) = verify(&s, &req, &browser, &endpoint, &expect, &vapid, now);
    assert!(ok, "independent verification failed: {out}");
    let txid = created["txid"].as_str().unwrap();
    assert!(out.starts_with(&format!("ok txid={txid} ")), "{out}");
    eprintln!("verify_push.py: {}", out.trim());

    // The verifier is not a rubber stamp: each of these fails it, for its own reason.
    let fails = |req: &Captured, b: &Browser, expect: &Value, vapid: &str, why: &str| {
        let (ok, out) = verify(&s, req, b, &endpoint, expect, vapid, now);
        assert!(!ok && out.contains(why), "expected a failure with {why:?}: {out}");
    };
    let mut tampered = clone_head(&req);
    tampered.body = req.body.clone();
    let last = tampered.body.len() - 1;
    tampered.body[last] ^= 1;
    fails(&tampered, &browser, &expect, &vapid, "cannot decrypt");
    fails(&req, &Browser::new(), &expect, &vapid, "cannot decrypt");
    let mut other = expect.clone();
    other["user"] = json!("mallory");
    fails(&req, &browser, &other, &vapid, "not the expected");
    let stranger = SecretKey::generate().unwrap().public().encode();
    fails(&req, &browser, &expect, &stranger, "not the service's published VAPID key");
    let mut forged = clone_head(&req);
    forged.body = req.body.clone();
    for (k, v) in forged.headers.iter_mut() {
        if k == "authorization" {
            // Another claim set under the same signature.
            let (t, rest) = v.strip_prefix("vapid t=").unwrap().split_once(',').unwrap();
            let parts: Vec<&str> = t.split('.').collect();
            let claims = b64(br#"{"aud":"http://127.0.0.1:1","exp":9999999999,"sub":"x"}"#);
            *v = format!("vapid t={}.{claims}.{},{rest}", parts[0], parts[2]);
        }
    }
    fails(&forged, &browser, &expect, &vapid, "signature does not verify");

    // Nothing secret reaches the logs: not the endpoint, the browser's keys, or the nonce.
    let logs = format!("{}{}", s.audit_log(), s.log());
    assert!(logs.contains("\"event\":\"web_push.sent\""), "{logs}");
    for secret in [endpoint.as_str(), &b64(&browser.auth), &browser.key.public().encode(), &nonce] {
        assert!(!logs.contains(secret), "a secret in the logs: {secret}");
    }

    // Unsubscribed: the next challenge sends nothing.
    assert_eq!(host.call("DELETE", &format!("/v2/challenges/{txid}"), None).0, 200);
    assert_eq!(device_call(&s, &key, "DELETE", None).status, 204);
    assert_eq!(device_call(&s, &key, "DELETE", None).status, 204, "idempotent");
    let (st, c, _) = host.challenge("alice", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    assert!(push.next(2).is_none(), "a message after the device unsubscribed");
}

fn clone_head(c: &Captured) -> Captured {
    Captured {
        method: c.method.clone(),
        path: c.path.clone(),
        headers: c.headers.clone(),
        body: Vec::new(),
    }
}

fn gone_subscription_is_removed(backend: Backend) {
    let push = StandIn::start(Mode::Status(410));
    let s = Server::start(backend, &config(5));
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "bob", "phone");
    let sub = Browser::new().subscription(&push.endpoint("gone"));
    assert_eq!(device_call(&s, &key, "PUT", Some(&sub)).status, 204);

    let (st, c, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    assert!(push.next(10).is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.audit_log().contains("\"event\":\"web_push.unsubscribed\"") {
        assert!(Instant::now() < deadline, "no unsubscribe audited: {}", s.audit_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The push service would accept now, but the subscription is gone: nothing is sent.
    push.set(Mode::Status(201));
    let txid = c["txid"].as_str().unwrap();
    assert_eq!(host.call("DELETE", &format!("/v2/challenges/{txid}"), None).0, 200);
    let (st, c, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    assert!(push.next(2).is_none(), "a message to a subscription the push service ended");
}

fn hanging_push_service_delays_nothing(backend: Backend) {
    let push = StandIn::start(Mode::Hang);
    let mut s = Server::start(backend, &config(3));
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "carol", "phone");
    let sub = Browser::new().subscription(&push.endpoint("hang"));
    assert_eq!(device_call(&s, &key, "PUT", Some(&sub)).status, 204);

    let t = Instant::now();
    let (st, c, sent) = host.challenge("carol", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    assert!(t.elapsed() < Duration::from_secs(3), "creation waited for the push service");
    assert!(push.next(10).is_some(), "the message was sent");
    // The device (long-poll fallback) answers and the host's long-poll returns, while the push
    // service still holds the message.
    let txid = c["txid"].as_str().unwrap().to_string();
    let t = Instant::now();
    let (ok, out, err) = s.device(&key, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "approve: {out} {err}");
    let (st, v) = host.call("GET", &format!("/v2/challenges/{txid}?wait=20"), None);
    assert_eq!((st, v["status"].as_str()), (200, Some("approved")));
    assert!(t.elapsed() < Duration::from_secs(3), "the login waited for the push service");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s.audit_log().contains("did not answer in time") {
        assert!(Instant::now() < deadline, "the timeout was not audited: {}", s.audit_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.stop(), "graceful stop with a push service hanging: {}", s.log());
}

/// A global address for names that must resolve somewhere public (nothing is sent there).
const PUBLIC: &str = "93.184.215.14";

fn subscription_bodies_are_checked(backend: Backend) {
    let hosts = format!("{PUBLIC} push.example.org\n");
    let mut s = Server::start_with_hosts(backend, &config(5), Some(&hosts));
    let host = s.add_host("web1");
    let (key, _) = s.pair(&host, "dave", "phone");
    let b = Browser::new();
    let good = b.subscription("https://push.example.org/sub/1");
    assert_eq!(device_call(&s, &key, "PUT", Some(&good)).status, 204, "a real-looking one");
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        v
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("auth");
    let cases = [
        ("unknown field", with("extra", json!(1))),
        ("missing auth", missing),
        ("short auth", with("auth", json!(b64(&[1; 15])))),
        ("long auth", with("auth", json!(b64(&[1; 17])))),
        ("compressed p256dh", with("p256dh", json!(b64(&[2; 33])))),
        ("p256dh off the curve", with("p256dh", json!(b64(&[4; 65])))),
        ("http to a non-loopback host", with("endpoint", json!("http://push.example.org/s"))),
        ("http to a non-loopback address", with("endpoint", json!("http://192.0.2.1/s"))),
        ("https to an IP literal", with("endpoint", json!("https://192.0.2.1/s"))),
        ("user info", with("endpoint", json!("https://u:p@push.example.org/s"))),
        ("other scheme", with("endpoint", json!("ftp://push.example.org/s"))),
        ("too long", with("endpoint", json!(format!("https://a.example/{}", "x".repeat(3000))))),
    ];
    for (what, body) in cases {
        let r = device_call(&s, &key, "PUT", Some(&body));
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert_eq!((r.status, code(&v)), (400, "bad_request"), "{what}");
    }
    let r = s
        .anon()
        .request(
            "PUT",
            SUBSCRIPTION,
            &[],
            Some(&serde_json::to_vec(&good).unwrap()),
            Duration::ZERO,
        )
        .unwrap();
    assert_eq!(r.status, 401, "no device signature");
    assert!(s.audit_log().contains("\"event\":\"web_push.subscribed\""));
    assert!(s.stop());

    // Without allow_http_loopback, loopback http is refused too; without [web_push], the
    // endpoints say it is off.
    let strict = Server::start(backend, &format!("\n[web_push]\nsubject = \"{SUBJECT}\"\n"));
    let host = strict.add_host("web1");
    let (key, _) = strict.pair(&host, "dave", "phone");
    let r = device_call(&strict, &key, "PUT", Some(&b.subscription("http://127.0.0.1:9/p")));
    assert_eq!(r.status, 400, "loopback http without allow_http_loopback");
    let off = Server::start(backend, "");
    let r = off.anon().request("GET", "/v2/web-push/key", &[], None, Duration::ZERO).unwrap();
    assert_eq!(r.status, 404);
    let host = off.add_host("web1");
    let (key, _) = off.pair(&host, "dave", "phone");
    assert_eq!(device_call(&off, &key, "PUT", Some(&good)).status, 404);
    assert!(!off.dir.path().join("data/vapid.key").exists(), "no VAPID key when off");
}

/// A TCP listener on 127.0.0.1 that counts the connections made to it (a TLS handshake
/// counts: the service got through to a loopback address).
struct Counter {
    port: u16,
    seen: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Counter {
    fn start() -> Counter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if conn.is_ok() {
                    n.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Counter { port, seen, stop }
    }

    fn count(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Endpoints are judged by what their names resolve to: names of private, loopback,
/// link-local, shared, unique-local and unspecified addresses are refused when registered, and
/// a name that resolved to a public address then and to loopback later (DNS rebinding) gets no
/// connection when a message is sent. The names resolve through the service's own resolver,
/// from an `/etc/hosts` of its own (mount namespace). The tests' loopback switch
/// (`allow_http_loopback`) stays on: it admits loopback IP literals only, never names.
fn endpoints_resolving_to_private_addresses_are_refused(backend: Backend) {
    let trap = Counter::start();
    let port = trap.port;
    let private = [
        ("loop", "127.0.0.1"),
        ("loop2", "127.9.9.9"),
        ("ten", "10.1.2.3"),
        ("lan", "192.168.1.20"),
        ("corp", "172.20.0.1"),
        ("metadata", "169.254.169.254"),
        ("cgnat", "100.64.1.1"),
        ("zero", "0.0.0.0"),
        ("loop6", "::1"),
        ("ula", "fd00::5"),
        ("mapped", "::ffff:127.0.0.1"),
    ];
    let mut hosts = format!("{PUBLIC} public.push.test\n{PUBLIC} rebind.push.test\n");
    for (name, ip) in private {
        hosts.push_str(&format!("{ip} {name}.push.test\n"));
    }
    let s = Server::start_with_hosts(backend, &config(3), Some(&hosts));
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "olga", "phone");
    let b = Browser::new();
    let put = |url: String| device_call(&s, &key, "PUT", Some(&b.subscription(&url)));
    let r = put(format!("https://public.push.test:{port}/sub"));
    assert_eq!(r.status, 204, "a name with a public address: {}", r.error_text());
    for (name, ip) in private {
        let r = put(format!("https://{name}.push.test:{port}/sub"));
        assert_eq!(r.status, 400, "{name} -> {ip} was accepted");
        assert!(r.error_text().contains("non-global address"), "{ip}: {}", r.error_text());
    }
    let r = put(format!("https://nowhere.push.test:{port}/sub"));
    assert_eq!(r.status, 400, "a name that does not resolve");
    // IP literals stay refused for https, and loopback literals pass only as the tests' http.
    assert_eq!(put(format!("https://127.0.0.1:{port}/sub")).status, 204);
    assert_eq!(put("https://10.0.0.1/sub".into()).status, 400);

    // DNS rebinding: public when registered, loopback when the message goes out.
    let r = put(format!("https://rebind.push.test:{port}/sub"));
    assert_eq!(r.status, 204, "{}", r.error_text());
    s.set_hosts(
        &hosts.replace(&format!("{PUBLIC} rebind.push.test"), "127.0.0.1 rebind.push.test"),
    );
    let (st, c, _) = host.challenge("olga", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s.audit_log().contains("\"event\":\"web_push.failed\"") {
        assert!(Instant::now() < deadline, "no web_push outcome audited: {}", s.audit_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(trap.count(), 0, "the service connected to a loopback address");
    let audit = s.audit_log();
    assert!(
        audit.contains("endpoint resolves to a private, loopback or other non-global address"),
        "{audit}"
    );
    assert!(!audit.contains("rebind.push.test"), "the endpoint in the audit log");
}

on_both_backends!(
    endpoints_resolving_to_private_addresses_are_refused,
    delivers_an_encrypted_vapid_signed_message,
    gone_subscription_is_removed,
    hanging_push_service_delays_nothing,
    subscription_bodies_are_checked,
);
