//! The audit log: one JSON line per decision or event, appended to the configured file and
//! echoed to stderr.
//!
//! Events carry identifiers (host, user, device, transaction) and outcomes, never tokens,
//! pairing credentials, nonces, signatures or keys: the types here have no field for them.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;

/// One audit line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Event<'a> {
    /// What happened (`challenge.created`, `challenge.answered`, `auth.failed`, ...).
    pub event: &'a str,
    /// The host id involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<&'a str>,
    /// The user involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// The device id involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'a str>,
    /// The transaction or pairing id involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<&'a str>,
    /// `ok`, `refused`, or the resulting status.
    pub outcome: &'a str,
    /// Why (for refusals), or a short human explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

/// The audit sink.
pub struct Audit {
    file: Option<Mutex<File>>,
}

impl Audit {
    /// Opens (creating with mode 0600) the log file for appending. Its directory is created
    /// (mode 0700) if it does not exist yet, as the data directory is: a first start needs
    /// nothing made by hand.
    pub fn open(path: &Path) -> Result<Audit, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("audit log directory {}: {e}", dir.display()))?;
        }
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("audit log {}: {e}", path.display()))?;
        Ok(Audit { file: Some(Mutex::new(f)) })
    }

    /// An audit sink that only writes to stderr (admin commands without a log file).
    pub fn stderr_only() -> Audit {
        Audit { file: None }
    }

    /// Records `event`. A write failure is reported on stderr; it does not stop the service.
    pub fn record(&self, event: &Event<'_>) {
        let line = Line { time: crate::time::rfc3339(crate::time::now()), event };
        let Ok(mut text) = serde_json::to_string(&line) else { return };
        text.push('\n');
        eprint!("audit: {text}");
        if let Some(f) = &self.file {
            let mut f = match f.lock() {
                Ok(f) => f,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Err(e) = f.write_all(text.as_bytes()) {
                eprintln!("mfa-server: cannot write the audit log: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_log_directory_is_made_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log/mfa-server/audit.log");
        let audit = Audit::open(&path).expect("open");
        audit.record(&Event { event: "service.started", outcome: "ok", ..Event::default() });
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("log/mfa-server")), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert!(std::fs::read_to_string(&path).expect("read").contains("service.started"));
    }
}
