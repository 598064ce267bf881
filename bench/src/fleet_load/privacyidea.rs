//! `fleet-load`'s privacyIDEA backend: the throwaway privacyIDEA `push-load` uses
//! (`push_load/privacyidea.rs`, `Started`), one TOTP token per user (SHA-1, 6 digits, 30 s, the
//! same secret as at mfa-server) created through its API (`POST /token/init`, as an admin the
//! benchmark adds with `pi-manage admin add`), and workers verifying codes with the module's
//! own privacyIDEA client (`mfa_remote::privacyidea::PrivacyIdea::check`: `POST
//! /validate/check` with user, realm, the code and the client address).

use super::fleet_backend::{DbUsage, FleetBackend, Verify, in_parallel, sqlite_usage};
use super::http::Http;
use super::privacyidea::{REALM, Started, gunicorn_rss_kib, pi_json};
use super::users::Users;
use mfa_login::privacyidea::{CheckResult, PrivacyIdeaConfig};
use mfa_remote::privacyidea::PrivacyIdea;
use push_proto::fleet::Verdict;
use serde_json::json;
use std::process::Command;
use std::sync::Arc;

/// privacyIDEA with TOTP tokens.
pub(crate) struct PiTotp {
    pi: Started,
}

/// One worker's connection: the module's privacyIDEA client.
struct PiClient {
    client: PrivacyIdea,
}

impl Verify for PiClient {
    fn verify(&mut self, user: &str, code: &str) -> Result<Verdict, String> {
        match self.client.check(user, code, None, Some("192.0.2.1")) {
            Ok(CheckResult::Accept) => Ok(Verdict::Accept),
            Ok(CheckResult::Reject(_)) => Ok(Verdict::Reject),
            Ok(CheckResult::Challenge { .. }) => Err("a challenge instead of a decision".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Adds an admin for the benchmark's own API calls (`pi-manage admin add`) and returns its
/// password.
fn add_admin(pi: &Started) -> Result<String, String> {
    let password = push_proto::random_token(18).map_err(|e| e.0)?;
    let dir = pi.server.dir();
    let out = Command::new(mfa_tests::privacyidea::venv().join("bin/pi-manage"))
        .args(["admin", "add", "fleetload", "-p", &password])
        .env("PRIVACYIDEA_CONFIGFILE", dir.join("pi.cfg"))
        .current_dir(dir)
        .output()
        .map_err(|e| format!("pi-manage: {e}"))?;
    if !out.status.success() {
        return Err(format!("pi-manage admin add: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(password)
}

/// Creates user `i`'s TOTP token.
async fn init_token(http: &Http, auth: &str, users: Users, i: usize) -> Result<(), String> {
    let body = json!({
        "type": "totp", "otpkey": data_encoding::HEXLOWER.encode(&users.secret(i)),
        "otplen": "6", "timeStep": "30", "hashlib": "sha1", "user": Users::name(i),
        "realm": REALM,
    });
    pi_json(&http.send("POST", "/token/init", auth, Some(body.to_string().into_bytes())).await?)
        .map(|_| ())
}

impl PiTotp {
    /// Starts privacyIDEA with `count` users in its realm (no tokens yet).
    pub(crate) async fn start(count: usize) -> Result<PiTotp, String> {
        Ok(PiTotp { pi: Started::start((0..count).map(Users::name).collect()).await? })
    }

    /// Creates the TOTP tokens of users `0..count`, one request per gunicorn worker in flight;
    /// returns the seconds it took.
    pub(crate) async fn enroll(&self, count: usize, users: Users) -> Result<f64, String> {
        let started = std::time::Instant::now();
        let password = add_admin(&self.pi)?;
        let body = json!({"username": "fleetload", "password": password}).to_string();
        let v = pi_json(&self.pi.http.send("POST", "/auth", "", Some(body.into_bytes())).await?)?;
        let auth: Arc<str> = v["result"]["value"]["token"].as_str().ok_or("no admin token")?.into();
        const IN_FLIGHT: usize = 4;
        in_parallel(IN_FLIGHT, |k| {
            let (http, auth) = (self.pi.http.clone(), auth.clone());
            async move {
                for i in (k..count).step_by(IN_FLIGHT) {
                    init_token(&http, &auth, users, i).await?;
                }
                Ok(())
            }
        })
        .await?;
        Ok(started.elapsed().as_secs_f64())
    }
}

impl FleetBackend for PiTotp {
    fn name(&self) -> &'static str {
        "privacyIDEA"
    }

    fn setup(&self) -> String {
        format!(
            "privacyIDEA {} (gunicorn with 4 sync workers, SQLite, TLS on loopback; its SQL \
             audit log in the same database, as configured by default), one TOTP token per user",
            self.pi.version
        )
    }

    fn flow(&self) -> &'static str {
        "the module's privacyIDEA client (`mfa_remote::privacyidea::PrivacyIdea::check`: a new \
         TLS connection per request) sends `POST /validate/check` with user, realm, the code \
         and the client address; privacyIDEA answers `ACCEPT` (nothing signed: TLS is the only \
         proof)"
    }

    fn client(&self, _worker: usize) -> Result<Box<dyn Verify>, String> {
        let cfg = PrivacyIdeaConfig {
            url: self.pi.server.url.clone(),
            ca_file: Some(self.pi.server.ca_file.clone()),
            proxy: None,
            // As for mfa-server: generous, a queue shows as latency (module: 5 and 10 s).
            connect_timeout: 30,
            io_timeout: 30,
            realm: REALM.to_string(),
            failmode: Default::default(),
            timeout: 60,
            poll_interval: 1000,
            pass_client_address: true,
        };
        let client = PrivacyIdea::new(&cfg).map_err(|e| e.to_string())?;
        Ok(Box::new(PiClient { client }))
    }

    fn db_usage(&self) -> Result<DbUsage, String> {
        let db = self.pi.server.dir().join("pi.sqlite");
        sqlite_usage(&db, &["token", "tokenowner", "tokenrealm", "tokeninfo"])
    }

    fn service_rss_kib(&self) -> Option<u64> {
        gunicorn_rss_kib(&self.pi.server)
    }
}
