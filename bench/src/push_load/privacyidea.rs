//! The load generator's privacyIDEA backend: a throwaway privacyIDEA (the pinned one from
//! `scripts/privacyidea-setup.sh`) started over TLS on loopback by the integration tests'
//! harness (`mfa_tests::privacyidea`), which also configures it through
//! `tests/privacyidea/pi_helper.py`: a realm over a passwd resolver, a poll-only push
//! enrollment policy, and one push token per user whose phone key the helper generates and
//! registers (`enroll-push-many`, which writes each phone's state to a JSON file).
//!
//! Everything after the setup is Rust, over the same HTTP client as the mfa-server backend:
//!
//! * relying party: `POST /validate/check user, realm, pass=""` → `transaction_id`;
//!   `GET /validate/polltransaction?transaction_id=` every `poll` until `accept`; then the
//!   finalizing `POST /validate/check … transaction_id` must answer `ACCEPT` (what pam_mfa's
//!   privacyIDEA backend does, see docs/privacyidea.md);
//! * phone (privacyIDEA's documented `/ttype/push` protocol): `GET /ttype/push?serial,
//!   timestamp, signature` signed over `serial|timestamp`, then `POST /ttype/push serial, nonce,
//!   signature` signed over `nonce|serial`; RSA PKCS#1 v1.5 with SHA-256, signatures in base32.
//!   The phone does not check the server's signature on the challenges (a real app does; that
//!   is the phone's CPU, not the server's).

use super::backend::Backend;
use super::http::{Http, Reply};
use mfa_tests::privacyidea::PiServer;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The realm `PiServer::configure` makes.
pub(crate) const REALM: &str = "pam_mfa";

/// Why the pending-challenge ramp is not run against privacyIDEA.
const NO_RAMP: &str = "privacyIDEA keeps a pending push challenge as a database row, with no \
     connection held open: the relying party polls `/validate/polltransaction` instead of a \
     long-poll, so there is no per-instance limit of open waits or memory per pending login to \
     ramp against. What pending logins cost privacyIDEA is their polling, which the throughput \
     run includes (every worker polls every poll interval while its login is pending).";

/// One login in flight on privacyIDEA.
pub(crate) struct Login {
    txid: String,
    user: usize,
}

/// A simulated phone: one push token and the phone's RSA key registered for it.
struct Phone {
    serial: String,
    key: SigningKey<Sha256>,
}

impl Phone {
    fn load(file: &Path) -> Result<Phone, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let serial = v["serial"].as_str().ok_or("phone state without serial")?.to_string();
        let pem = v["key"].as_str().ok_or("phone state without key")?;
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        Ok(Phone { serial, key: SigningKey::new(key) })
    }

    /// `text` signed as privacyIDEA expects: RSA PKCS#1 v1.5 over SHA-256, base32 (padded).
    fn sign(&self, text: &str) -> String {
        data_encoding::BASE32.encode(&self.key.sign(text.as_bytes()).to_bytes())
    }
}

/// A running privacyIDEA with one push token (and phone) per user.
pub(crate) struct PrivacyIdea {
    http: Arc<Http>,
    phones: Vec<Phone>,
    poll: Duration,
    version: String,
    /// Dropping it stops the server.
    server: PiServer,
}

/// `s` percent-encoded for a query string.
pub(crate) fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The current time as ISO 8601 in UTC with microseconds (`2026-11-22T09:17:51.123456+00:00`),
/// what privacyIDEA's app sends with a poll.
fn iso_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (days, secs) = ((now.as_secs() / 86400) as i64, now.as_secs() % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_micros()
    )
}

/// The JSON body of a privacyIDEA reply with `result.status` true.
pub(crate) fn pi_json(r: &Reply) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|_| format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)))?;
    if r.status != 200 || v["result"]["status"] != json!(true) {
        let err = v["result"]["error"]["message"].as_str().unwrap_or("");
        return Err(format!("HTTP {}: {err}", r.status));
    }
    Ok(v)
}

/// The installed privacyIDEA's version, from the venv's package metadata.
fn installed_version(venv: &Path) -> Option<String> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    for py in lib.flatten() {
        let Ok(site) = std::fs::read_dir(py.path().join("site-packages")) else { continue };
        for e in site.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(v) =
                name.strip_prefix("privacyidea-").and_then(|n| n.strip_suffix(".dist-info"))
            {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// A started privacyIDEA, configured: a realm over a passwd resolver with the users.
pub(crate) struct Started {
    /// Dropping it stops the server.
    pub(crate) server: PiServer,
    /// The benchmark's HTTPS client for it.
    pub(crate) http: Arc<Http>,
    /// privacyIDEA's version, for the report.
    pub(crate) version: String,
}

impl Started {
    /// Starts a fresh privacyIDEA and configures it for `names` (`PiServer::configure`).
    pub(crate) async fn start(names: Vec<String>) -> Result<Started, String> {
        // The harness is blocking and reports failure by panicking (it is test code).
        let server = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let server = PiServer::start();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            server.configure(&refs, &[]);
            eprintln!(
                "privacyIDEA up and configured for {} users in {:.1} s",
                names.len(),
                started.elapsed().as_secs_f64()
            );
            server
        })
        .await
        .map_err(|e| format!("privacyIDEA setup failed (see above): {e}"))?;
        let addr = server
            .url
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("unexpected privacyIDEA URL {}", server.url))?;
        let http = Arc::new(Http::new(addr, "127.0.0.1", &server.ca_file)?);
        let version = installed_version(&mfa_tests::privacyidea::venv())
            .unwrap_or_else(|| "(version unknown)".into());
        Ok(Started { server, http, version })
    }
}

impl PrivacyIdea {
    /// Starts and configures privacyIDEA with `users` users, each with a push token and a
    /// registered phone; the relying party will poll every `poll`.
    pub(crate) async fn start(users: usize, poll: Duration) -> Result<PrivacyIdea, String> {
        let names: Vec<String> = (0..users).map(|i| format!("load{i}")).collect();
        let Started { server, http, version } = Started::start(names.clone()).await?;
        let enroll = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let dir = server.dir().display().to_string();
            server.helper(&["enroll-push-many", "--users", &names.join(","), "--state-dir", &dir]);
            eprintln!(
                "push-load: {users} push tokens enrolled in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let phones = names
                .iter()
                .map(|u| Phone::load(&server.dir().join(format!("phone-{u}.json"))))
                .collect::<Result<Vec<_>, _>>();
            (server, phones)
        });
        let (server, phones) =
            enroll.await.map_err(|e| format!("privacyIDEA setup failed (see above): {e}"))?;
        Ok(PrivacyIdea { http, phones: phones?, poll, version, server })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        pi_json(&self.http.send("POST", path, "", Some(body.to_string().into_bytes())).await?)
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        pi_json(&self.http.send("GET", path, "", None).await?)
    }
}

/// RSS of gunicorn's master and workers: the processes whose command line names this
/// instance's directory.
pub(crate) fn gunicorn_rss_kib(server: &PiServer) -> Option<u64> {
    let dir = server.dir().display().to_string();
    let mut total = 0;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("gunicorn") && cmd.contains(&dir) {
            total += crate::rss_kib(pid);
        }
    }
    (total > 0).then_some(total)
}

impl Backend for PrivacyIdea {
    type Login = Login;

    fn name(&self) -> &'static str {
        "privacyIDEA"
    }

    fn setup(&self) -> String {
        format!(
            "privacyIDEA {} (gunicorn with 4 sync workers, SQLite, TLS on loopback; gunicorn's \
             sync workers close the connection after each reply), poll-only push tokens; the \
             relying party polls every {} ms (pam_mfa's `poll_interval` defaults to 1000 ms)",
            self.version,
            self.poll.as_millis()
        )
    }

    fn flow(&self) -> &'static str {
        "relying party `POST /validate/check pass=\"\"` → `transaction_id`, then polls \
         `GET /validate/polltransaction` → phone `GET /ttype/push` (signed poll) → phone signs \
         and sends `POST /ttype/push` (answer); **approve → login** runs from sending that \
         answer until `polltransaction` reported `accept` **and** the finalizing \
         `POST /validate/check transaction_id=…` answered `ACCEPT` (so it includes up to one \
         poll interval)"
    }

    fn server_pid(&self) -> Option<u32> {
        None
    }

    /// gunicorn's master and workers: the processes whose command line names this instance's
    /// directory.
    fn service_rss_kib(&self) -> Option<u64> {
        gunicorn_rss_kib(&self.server)
    }

    fn no_ramp(&self) -> Option<&'static str> {
        Some(NO_RAMP)
    }

    fn users(&self) -> usize {
        self.phones.len()
    }

    async fn start_login(&self, user: usize) -> Result<Login, String> {
        let body = json!({"user": format!("load{user}"), "realm": REALM, "pass": ""});
        let v = self.post("/validate/check", body).await?;
        if v["result"]["authentication"] != json!("CHALLENGE") {
            return Err(format!("no challenge: {}", v["result"]));
        }
        let txid = v["detail"]["transaction_id"].as_str().ok_or("no transaction_id")?;
        Ok(Login { txid: txid.to_string(), user })
    }

    async fn wait_login(&self, l: &Login, wait: u64) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(wait);
        let path = format!("/validate/polltransaction?transaction_id={}", query_escape(&l.txid));
        loop {
            let v = self.get(&path).await?;
            match v["detail"]["challenge_status"].as_str().unwrap_or("") {
                "accept" => break,
                "pending" if Instant::now() < deadline => tokio::time::sleep(self.poll).await,
                "pending" => return Ok("pending".into()),
                other => return Ok(other.to_string()),
            }
        }
        let body = json!({
            "user": format!("load{}", l.user), "realm": REALM, "pass": "",
            "transaction_id": l.txid,
        });
        let v = self.post("/validate/check", body).await?;
        match v["result"]["authentication"].as_str() {
            Some("ACCEPT") => Ok("approved".into()),
            other => Err(format!("finalizing check answered {other:?}")),
        }
    }

    /// Answers every challenge open for the user's token: normally exactly this login's (a
    /// login that failed earlier may have left one open, which is answered too).
    async fn approve(&self, l: &Login) -> Result<Instant, String> {
        let phone = &self.phones[l.user];
        let ts = iso_now();
        let signature = phone.sign(&format!("{}|{ts}", phone.serial));
        let path = format!(
            "/ttype/push?serial={}&timestamp={}&signature={}",
            query_escape(&phone.serial),
            query_escape(&ts),
            query_escape(&signature)
        );
        let v = self.get(&path).await?;
        let open = v["result"]["value"].as_array().cloned().unwrap_or_default();
        let mut sent = None;
        for c in &open {
            let nonce = c["nonce"].as_str().ok_or("challenge without nonce")?;
            let body = json!({
                "serial": phone.serial, "nonce": nonce,
                "signature": phone.sign(&format!("{nonce}|{}", phone.serial)),
            });
            sent.get_or_insert_with(Instant::now);
            let v = self.post("/ttype/push", body).await?;
            if v["result"]["value"] != json!(true) {
                return Err(format!("answer refused: {}", v["result"]));
            }
        }
        sent.ok_or_else(|| "not pending".to_string())
    }

    /// privacyIDEA has no call for the relying party to withdraw a challenge: it stays until
    /// it expires. (Not used: the ramp does not run against privacyIDEA.)
    async fn cancel(&self, _l: &Login) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_now_is_iso8601_utc() {
        let s = iso_now();
        assert_eq!(s.len(), "2026-11-22T09:17:51.123456+00:00".len(), "{s}");
        assert!(s.ends_with("+00:00") && &s[4..5] == "-" && &s[10..11] == "T", "{s}");
    }

    #[test]
    fn query_escape_keeps_unreserved() {
        assert_eq!(query_escape("a+b:c=/"), "a%2Bb%3Ac%3D%2F");
        assert_eq!(query_escape("AZaz09-._~"), "AZaz09-._~");
    }
}
