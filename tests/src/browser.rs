//! Real headless Chromium driven through Debian's `chromedriver` (W3C WebDriver over HTTP on
//! loopback): the phone of the web approver tests. The driver and the browser run in their own
//! process group, killed when the [`Browser`] is dropped (also when a test panics).
//!
//! Chromium trusts the test service's certificate by its public key hash
//! (`--ignore-certificate-errors-spki-list`): the page is then a secure context with a valid
//! certificate, so service workers, WebCrypto and WebAuthn behave as on a real phone.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "install Debian's chromium and chromium-driver packages \
     (apt-get install chromium chromium-driver; .ci/run does)";

/// The Chromium binary itself (Debian's `/usr/bin/chromium` is a wrapper script).
fn chromium_binary() -> PathBuf {
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.exists() { real.to_path_buf() } else { PathBuf::from("/usr/bin/chromium") }
}

/// Panics with how to install them when Chromium or chromedriver is missing.
pub fn require_chromium() {
    for p in [PathBuf::from(CHROMEDRIVER), chromium_binary()] {
        assert!(p.exists(), "{} not found: {INSTALL}", p.display());
    }
}

/// base64 (standard, padded) of SHA-256 of the certificate's SubjectPublicKeyInfo, as
/// `--ignore-certificate-errors-spki-list` wants it (computed with the openssl CLI).
pub fn spki_hash(cert_pem: &Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
        cert_pem.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().expect("run openssl");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && hash.len() == 44,
        "SPKI hash of {}: {hash:?}",
        cert_pem.display()
    );
    hash
}

/// One Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: tempfile::TempDir,
}

fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver may keep the connection open: read the head, then exactly the body.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut rest = raw[end + 4..].to_vec();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let done = match length {
            Some(len) => rest.len() >= len,
            None if chunked => rest.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        rest.extend_from_slice(&chunk[..n]);
    }
    if let Some(len) = length {
        rest.truncate(len);
    } else if chunked {
        rest = dechunk(&rest);
    }
    Ok((status, rest))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a phone-sized window that trusts the
    /// certificate whose SPKI hash is `spki`, with WebAuthn virtual authenticators enabled.
    pub fn start(spki: &str) -> Browser {
        require_chromium();
        let profile = tempfile::Builder::new().prefix("mfa_chromium.").tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).expect("log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}; {INSTALL}"));
        let mut b = Browser { driver, port, session: String::new(), profile };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http(port, "GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let user_data = b.profile.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "webauthn:virtualAuthenticators": true,
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                // A phone screen: 360 CSS pixels wide, touch input.
                "mobileEmulation": {"deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 1.0, "touch": true}},
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync", "--password-store=basic",
                    format!("--user-data-dir={}", user_data.display()),
                    format!("--ignore-certificate-errors-spki-list={spki}"),
                ],
            },
        }}});
        let v = b.call("POST", "/session", Some(&caps));
        b.session = v["sessionId"].as_str().expect("session id").to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = http(self.port, method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!("WebDriver {method} {path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes))
        });
        assert!(status == 200, "WebDriver {method} {path}: HTTP {status}: {}", v["value"]);
        v["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.session_call("POST", "/execute/sync", Some(&json!({ "script": script, "args": args })))
    }

    /// Polls `expr` (a JavaScript expression) until it is truthy; returns its value.
    pub fn wait_for(&self, what: &str, timeout: Duration, expr: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(&format!("return ({expr});"), json!([]));
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; page status: {}",
                self.js("return document.getElementById('status')?.textContent", json!([]))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let v = self
            .js("return document.querySelector(arguments[0])?.textContent ?? null", json!([css]));
        v.as_str().unwrap_or_else(|| panic!("no element {css}")).to_string()
    }

    fn element(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Clicks the element matching `css` the way a user does (a real input event, so the page
    /// gets user activation).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    /// Replaces the value of the input matching `css` by typing `text`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/clear"), Some(&json!({})));
        self.session_call("POST", &format!("/element/{id}/value"), Some(&json!({ "text": text })));
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self.session_call("GET", "/screenshot", None);
        let png = data_encoding::BASE64
            .decode(v.as_str().expect("screenshot").as_bytes())
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifact dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Adds a virtual platform authenticator (CTAP2, internal transport, user verification
    /// that succeeds: the phone's unlock). Returns its id.
    pub fn add_platform_authenticator(&self) -> String {
        let v = self.session_call(
            "POST",
            "/webauthn/authenticator",
            Some(&json!({
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserVerified": true,
            })),
        );
        v.as_str().expect("authenticator id").to_string()
    }

    /// The credentials the virtual authenticator `id` holds (with their sign counts).
    pub fn authenticator_credentials(&self, id: &str) -> Value {
        self.session_call("GET", &format!("/webauthn/authenticator/{id}/credentials"), None)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
        }
        // SAFETY: signalling our own child's process group (chromedriver and its Chromium).
        unsafe { libc::kill(-(self.driver.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}
