//! The service's configuration file (TOML, strict: unknown keys are errors).
//!
//! ```toml
//! listen = "127.0.0.1:8443"
//! public_url = "https://push.example:8443"
//! data_dir = "/var/lib/mfa-server"
//! tls_cert = "/etc/mfa-server/server.pem"
//! tls_key = "/etc/mfa-server/server.key"
//! audit_log = "/var/log/mfa-server/audit.log"
//! # database = "postgres:///mfa_server?host=/run/postgresql&user=mfa_server"  (default: SQLite)
//!
//! [limits]
//! challenge_ttl_max = 120
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the configuration is read from unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/mfa-server/mfa-server.toml";

/// Largest configuration file accepted.
const MAX_CONFIG: u64 = 64 * 1024;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// The service's URL as devices reach it (`https://host[:port]`), used in pairing links.
    pub public_url: String,
    /// Directory of the database (`pushd.db`) and the service key (`service.key`).
    pub data_dir: PathBuf,
    /// PEM certificate chain of the service.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the service certificate.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP; only allowed when `listen` is a loopback address (tests, a local
    /// TLS-terminating proxy).
    #[serde(default)]
    pub insecure_http_loopback: bool,
    /// JSON-lines audit log (appended; created with mode 0600).
    pub audit_log: PathBuf,
    /// PostgreSQL URL (`postgres:///db?host=/run/postgresql&user=u`) shared by every instance;
    /// absent: SQLite in `data_dir`. Never shown with its password.
    pub database: Option<crate::store::url::DatabaseUrl>,
    /// Limits against push spam and long holds.
    #[serde(default)]
    pub limits: Limits,
    /// `[web_push]`: waking the web app through browsers' push services (absent: off).
    pub web_push: Option<crate::webpush::WebPushConfig>,
    /// `[fleet]`: verification of codes for fleet hosts (issue 20).
    #[serde(default)]
    pub fleet: FleetLimits,
    /// `[offline]`: offline bundles for fleet hosts (issue 21).
    #[serde(default)]
    pub offline: OfflineConfig,
}

/// `[offline]`: the offline bundles the service gives fleet hosts (issue 21,
/// `docs/fleet.md`, "Offline").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfflineConfig {
    /// Whether hosts get bundles at all (off: every host is told to drop its bundles).
    pub enabled: bool,
    /// Seconds a bundle is valid, and how recent an online login from the host must be
    /// for it to get one (at most `push_proto::offline::MAX_LIFETIME`).
    pub bundle_lifetime: u64,
    /// Hours of TOTP codes hashed ahead (1 to 24).
    pub totp_window_hours: u32,
    /// Argon2id memory per hashed code, KiB.
    pub hash_memory_kib: u32,
    /// Argon2id passes per hashed code.
    pub hash_passes: u32,
}

impl Default for OfflineConfig {
    fn default() -> OfflineConfig {
        let cost = mfa_factors::offline_window::WindowCost::default();
        OfflineConfig {
            enabled: true,
            bundle_lifetime: 3 * 86_400,
            totp_window_hours: 4,
            hash_memory_kib: cost.memory_kib,
            hash_passes: cost.passes,
        }
    }
}

impl OfflineConfig {
    /// The Argon2id cost of each hashed code.
    pub fn cost(&self) -> mfa_factors::offline_window::WindowCost {
        mfa_factors::offline_window::WindowCost {
            memory_kib: self.hash_memory_kib,
            passes: self.hash_passes,
        }
    }

    fn validate(&self) -> Result<(), String> {
        use mfa_factors::offline_window::WindowCost;
        let max = push_proto::offline::MAX_LIFETIME;
        if !(3600..=max).contains(&self.bundle_lifetime) {
            return Err(format!("offline.bundle_lifetime must be 3600..={max} seconds"));
        }
        if !(1..=24).contains(&self.totp_window_hours) {
            return Err("offline.totp_window_hours must be 1..=24".into());
        }
        if !self.cost().in_bounds() {
            let (lo, hi) = (WindowCost::MIN, WindowCost::MAX);
            return Err(format!(
                "offline.hash_memory_kib must be {}..={} and offline.hash_passes {}..={}",
                lo.memory_kib, hi.memory_kib, lo.passes, hi.passes
            ));
        }
        Ok(())
    }
}

/// `[fleet]`: limits of `POST /v2/fleet/verify`. The lockout is always on: a fleet-wide count
/// of wrong answers is what fleet mode promises.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetLimits {
    /// Counted attempts (since the last success) after which a user is locked out.
    pub max_failures: u32,
    /// Lockout length, seconds.
    pub lockout: u64,
    /// Verifications per user per sliding minute.
    pub user_per_minute: u32,
    /// Verifications per host per sliding minute.
    pub host_per_minute: u32,
    /// TOTP steps accepted on either side of the service's current one (clock drift).
    pub totp_window: u32,
    /// The fleet's one relying-party id for security keys: keys registered at the service
    /// are registered for it, every host's login asks the key for it (a host whose own
    /// `[fleet] rp_id` differs refuses the challenge). Changing it orphans every key.
    pub rp_id: String,
    /// Seconds a security-key challenge stays usable.
    pub key_challenge_ttl: u64,
    /// Who may enroll a first factor from a fleet host (`"self"` or `"admin"`: only users
    /// opted in with `fleet user opt-in`). Any later change needs a current factor.
    pub first_enrollment: crate::store::fleet_enroll::FirstEnrollment,
}

/// The default `[fleet] rp_id`: not a host name, so no one host's standalone keys (RP id
/// `pam://<hostname>`) are mistaken for the fleet's.
pub const DEFAULT_FLEET_RP_ID: &str = "pam://fleet";

impl Default for FleetLimits {
    fn default() -> FleetLimits {
        FleetLimits {
            max_failures: 5,
            lockout: 900,
            user_per_minute: 10,
            host_per_minute: 600,
            totp_window: 1,
            rp_id: DEFAULT_FLEET_RP_ID.to_string(),
            key_challenge_ttl: 120,
            first_enrollment: Default::default(),
        }
    }
}

impl FleetLimits {
    fn validate(&self) -> Result<(), String> {
        if self.max_failures == 0 || self.max_failures > 1000 {
            return Err("fleet.max_failures must be 1..=1000 (the lockout cannot be off)".into());
        }
        if self.lockout == 0 || self.lockout > 30 * 86_400 {
            return Err("fleet.lockout must be 1 second to 30 days".into());
        }
        if self.user_per_minute == 0 || self.host_per_minute == 0 {
            return Err("fleet.user_per_minute and host_per_minute must be at least 1".into());
        }
        if self.totp_window > 10 {
            return Err("fleet.totp_window must be at most 10".into());
        }
        if !push_proto::limits::is_text(&self.rp_id, 255)
            || self.rp_id.contains(char::is_whitespace)
        {
            return Err("fleet.rp_id must be 1 to 255 characters without spaces".into());
        }
        if !(1..=600).contains(&self.key_challenge_ttl) {
            return Err("fleet.key_challenge_ttl must be 1..=600 seconds".into());
        }
        Ok(())
    }
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest challenge lifetime a host may ask for, seconds.
    pub challenge_ttl_max: u64,
    /// Longest pairing-credential lifetime a host may ask for, seconds.
    pub pairing_ttl_max: u64,
    /// Challenges per user per sliding minute.
    pub user_per_minute: u32,
    /// Challenges per host per sliding minute.
    pub host_per_minute: u32,
    /// Seconds new challenges for a user are refused after a device reported fraud.
    pub fraud_cooldown: u64,
    /// Longest long-poll hold, seconds (at most `push_proto::limits::MAX_WAIT`).
    pub max_wait: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            challenge_ttl_max: 120,
            pairing_ttl_max: 600,
            user_per_minute: 5,
            host_per_minute: 120,
            fraud_cooldown: 900,
            max_wait: 25,
        }
    }
}

/// Shortest challenge or pairing lifetime, seconds (shorter requests are raised to it).
pub const MIN_TTL: u64 = 10;

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, String> {
        let bytes = crate::files::read_public(path, MAX_CONFIG)?;
        let text =
            String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.message().to_string())?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        for (key, p) in [("data_dir", Some(&self.data_dir)), ("audit_log", Some(&self.audit_log))]
            .into_iter()
            .chain([("tls_cert", self.tls_cert.as_ref()), ("tls_key", self.tls_key.as_ref())])
        {
            if p.is_some_and(|p| !p.is_absolute()) {
                return Err(format!("{key} must be an absolute path"));
            }
        }
        let url_ok = |u: &str| {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://").filter(|_| self.insecure_http_loopback));
            rest.is_some_and(|r| {
                !r.is_empty()
                    && r.len() <= 255
                    && !r.trim_end_matches('/').contains(['/', '?', '#', '@'])
                    && !r.chars().any(|c| c.is_control() || c.is_whitespace())
            })
        };
        if !url_ok(&self.public_url) {
            return Err("public_url must be https://host[:port] (no path, query or user)".into());
        }
        if self.insecure_http_loopback {
            if !self.listen.ip().is_loopback() {
                return Err("insecure_http_loopback needs a loopback listen address".into());
            }
        } else if self.tls_cert.is_none() || self.tls_key.is_none() {
            return Err("tls_cert and tls_key are required (TLS is not optional)".into());
        }
        let l = &self.limits;
        if l.challenge_ttl_max < MIN_TTL || l.challenge_ttl_max > 3600 {
            return Err(format!("limits.challenge_ttl_max must be {MIN_TTL}..=3600"));
        }
        if l.pairing_ttl_max < MIN_TTL || l.pairing_ttl_max > 86_400 {
            return Err(format!("limits.pairing_ttl_max must be {MIN_TTL}..=86400"));
        }
        if l.user_per_minute == 0 || l.host_per_minute == 0 {
            return Err("limits.user_per_minute and host_per_minute must be at least 1".into());
        }
        if l.max_wait > push_proto::limits::MAX_WAIT {
            return Err(format!(
                "limits.max_wait must be at most {}",
                push_proto::limits::MAX_WAIT
            ));
        }
        if l.fraud_cooldown > 30 * 86_400 {
            return Err("limits.fraud_cooldown must be at most 30 days".into());
        }
        if let Some(w) = &self.web_push {
            w.validate()?;
        }
        self.fleet.validate()?;
        self.offline.validate()
    }

    /// The SQLite database file (unless `database` names PostgreSQL).
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("pushd.db")
    }

    /// The service signing key file.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("service.key")
    }

    /// The fleet master key file: TOTP secrets are sealed with it
    /// ([`crate::fleet::master_key`]); never in the database.
    pub fn fleet_key_path(&self) -> PathBuf {
        self.data_dir.join("fleet.key")
    }

    /// The VAPID key file (Web Push).
    pub fn vapid_key_path(&self) -> PathBuf {
        self.data_dir.join("vapid.key")
    }

    /// `public_url` without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fleet_enroll::FirstEnrollment;

    const MIN: &str = r#"
        listen = "127.0.0.1:8443"
        public_url = "https://push.example:8443"
        data_dir = "/var/lib/mfa-server"
        tls_cert = "/etc/mfa-server/server.pem"
        tls_key = "/etc/mfa-server/server.key"
        audit_log = "/var/log/mfa-server/audit.log"
    "#;

    #[test]
    fn minimal_config_and_defaults() {
        let c = Config::parse(MIN).unwrap();
        assert_eq!(c.limits.user_per_minute, 5);
        assert_eq!(c.limits.max_wait, 25);
        assert_eq!(c.db_path(), PathBuf::from("/var/lib/mfa-server/pushd.db"));
        assert_eq!(c.fleet.max_failures, 5);
        assert_eq!(c.fleet.lockout, 900);
        assert_eq!(c.fleet.first_enrollment, FirstEnrollment::SelfService);
        let admin = Config::parse(&format!("{MIN}\n[fleet]\nfirst_enrollment = \"admin\"\n"));
        assert_eq!(admin.unwrap().fleet.first_enrollment, FirstEnrollment::Admin);
        let odd = format!("{MIN}\n[fleet]\nfirst_enrollment = \"anyone\"\n");
        assert!(Config::parse(&odd).is_err());
        let off = format!("{MIN}\n[fleet]\nmax_failures = 0\n");
        assert!(Config::parse(&off).is_err(), "the fleet lockout cannot be turned off");
        assert!(c.offline.enabled && c.offline.bundle_lifetime == 3 * 86_400);
        assert_eq!(c.offline.cost(), mfa_factors::offline_window::WindowCost::default());
        for bad in [
            "bundle_lifetime = 99999999",
            "bundle_lifetime = 10",
            "totp_window_hours = 0",
            "totp_window_hours = 25",
            "hash_memory_kib = 1024",
            "hash_passes = 0",
            "hash_passes = 9",
            "unknown = 1",
        ] {
            assert!(Config::parse(&format!("{MIN}\n[offline]\n{bad}\n")).is_err(), "{bad}");
        }
        let off = Config::parse(&format!("{MIN}\n[offline]\nenabled = false\n")).unwrap();
        assert!(!off.offline.enabled);
    }

    #[test]
    fn refusals() {
        for (from, to) in [
            ("\"/var/lib/mfa-server\"", "\"var/lib\""),
            ("https://push.example:8443", "http://push.example:8443"),
            ("https://push.example:8443", "https://push.example/x"),
            ("tls_key = \"/etc/mfa-server/server.key\"", ""),
            ("audit_log", "unknown = 1\naudit_log"),
        ] {
            assert!(Config::parse(&MIN.replace(from, to)).is_err(), "{to}");
        }
        let wait = format!("{MIN}\n[limits]\nmax_wait = 31\n");
        assert!(Config::parse(&wait).is_err());
        let http =
            format!("{MIN}\ninsecure_http_loopback = true\n").replace("127.0.0.1", "0.0.0.0");
        assert!(Config::parse(&http).is_err());
    }
}
