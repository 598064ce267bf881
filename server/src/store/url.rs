//! `database = "postgres://..."`: the PostgreSQL connection URL of the service config, checked
//! when the config is read and never shown with its password.

use serde::{Deserialize, Deserializer};
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use zeroize::Zeroizing;

/// A checked PostgreSQL URL. `Debug` and `Display` show user, host, port and database only:
/// a password (in the URL or its `password=` parameter) never reaches a log or an error.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: Zeroizing<String>,
}

impl DatabaseUrl {
    /// Checks `url`: `postgres://` or `postgresql://`, parsed by the driver. The error never
    /// repeats the URL.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("database must be a postgres:// or postgresql:// URL".into());
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("database URL contains spaces or control characters".into());
        }
        PgConnectOptions::from_str(url)
            .map_err(|_| "database is not a valid PostgreSQL URL".to_string())?;
        Ok(DatabaseUrl { url: Zeroizing::new(url.to_string()) })
    }

    /// The driver's connection options (environment defaults such as `PGPASSWORD` apply to
    /// what the URL leaves out).
    pub fn options(&self) -> PgConnectOptions {
        // Checked in `parse`; parsing again gives the same result.
        PgConnectOptions::from_str(&self.url)
            .unwrap_or_else(|_| PgConnectOptions::new().database("invalid-database-url"))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = self.options();
        let db = o.get_database().unwrap_or("");
        match o.get_socket() {
            Some(dir) => write!(
                f,
                "postgresql:///{db}?host={}&port={}&user={}",
                dir.display(),
                o.get_port(),
                o.get_username()
            ),
            None => write!(
                f,
                "postgresql://{}@{}:{}/{db}",
                o.get_username(),
                o.get_host(),
                o.get_port()
            ),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DatabaseUrl, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        DatabaseUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_never_shown() {
        for url in [
            "postgres://mfa:s3cretpw@db.example:6432/pushd",
            "postgresql://mfa@db.example/pushd?password=s3cretpw",
        ] {
            let u = DatabaseUrl::parse(url).unwrap();
            let shown = format!("{u} {u:?}");
            assert!(!shown.contains("s3cretpw"), "{shown}");
            assert!(shown.contains("mfa@db.example:") && shown.contains("/pushd"), "{shown}");
        }
        let u = DatabaseUrl::parse("postgres:///pushd?host=/run/postgresql&user=pushd").unwrap();
        assert_eq!(u.to_string(), "postgresql:///pushd?host=/run/postgresql&port=5432&user=pushd");
    }

    #[test]
    fn refusals_do_not_repeat_the_url() {
        for url in ["sqlite:///x.db", "postgres://mfa:pw@db/x y", "mysql://mfa:pw@db/x", ""] {
            let e = DatabaseUrl::parse(url).unwrap_err();
            assert!(!e.contains("pw@"), "{e}");
        }
    }
}
