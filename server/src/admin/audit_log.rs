//! `fleet audit`: reads the service's audit log ([`crate::audit`]: one JSON object per line,
//! `time` first as RFC 3339 UTC) with filters. Bounded: only the last [`MAX_READ`] bytes of
//! the file are read, and a line longer than [`MAX_LINE`] or that is not an audit object is
//! skipped and counted, never a panic.

use super::{Admin, e};
use serde_json::{Value, json};
use std::io::{Read, Seek, SeekFrom};

/// How much of the log's end is read at most.
pub const MAX_READ: u64 = 64 * 1024 * 1024;
/// The longest line taken as an event.
pub const MAX_LINE: usize = 64 * 1024;

/// What `fleet audit` selects.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only events about this user.
    pub user: Option<String>,
    /// Only events about this host (its name or id).
    pub host: Option<String>,
    /// Only events of the last this many seconds.
    pub since: Option<u64>,
    /// Only the last this many matching events.
    pub last: Option<usize>,
}

/// The matching events of `text` (a log's end; `partial`: its first line may be cut) and how
/// many lines were skipped as malformed. `host_ids`: the ids a host filter matches.
fn select(
    text: &[u8],
    partial: bool,
    f: &AuditFilter,
    host_ids: &[String],
    not_before: Option<String>,
) -> (Vec<Value>, usize) {
    let mut lines = text.split(|b| *b == b'\n');
    if partial {
        lines.next();
    }
    let (mut events, mut skipped) = (Vec::new(), 0);
    for line in lines.filter(|l| !l.is_empty()) {
        let v: Option<Value> = (line.len() <= MAX_LINE)
            .then(|| serde_json::from_slice(line).ok())
            .flatten()
            .filter(|v: &Value| v["time"].is_string() && v["event"].is_string());
        let Some(v) = v else {
            skipped += 1;
            continue;
        };
        let str_of = |k: &str| v[k].as_str().map(str::to_string);
        if f.user.as_ref().is_some_and(|u| str_of("user").as_ref() != Some(u))
            || (f.host.is_some() && !str_of("host").is_some_and(|h| host_ids.contains(&h)))
            || not_before.as_ref().is_some_and(|t| str_of("time").is_none_or(|at| at < *t))
        {
            continue;
        }
        events.push(v);
    }
    if let Some(n) = f.last {
        let drop = events.len().saturating_sub(n);
        events.drain(..drop);
    }
    (events, skipped)
}

impl Admin {
    /// `fleet audit`.
    pub async fn audit_list(&self, f: &AuditFilter, as_json: bool) -> Result<String, String> {
        let mut host_ids: Vec<String> = f.host.iter().cloned().collect();
        if let Some(h) = &f.host {
            let hosts = self.store.hosts().await.map_err(e)?;
            host_ids.extend(hosts.into_iter().filter(|x| &x.name == h).map(|x| x.id));
        }
        let path = &self.config.audit_log;
        let mut file =
            std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let len = file.metadata().map_err(|err| err.to_string())?.len();
        let start = len.saturating_sub(MAX_READ);
        file.seek(SeekFrom::Start(start)).map_err(|err| err.to_string())?;
        let mut text = Vec::new();
        file.take(MAX_READ).read_to_end(&mut text).map_err(|err| err.to_string())?;
        let not_before =
            f.since.map(|s| crate::time::rfc3339(crate::time::now().saturating_sub(s)));
        let (events, skipped) = select(&text, start > 0, f, &host_ids, not_before);
        if as_json {
            let v = json!({"events": events, "skipped_malformed": skipped});
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out = String::new();
        for v in &events {
            let field = |k: &str| v[k].as_str().unwrap_or("-").to_string();
            out += &format!(
                "{} {} outcome={} user={} host={} {}\n",
                field("time"),
                field("event"),
                field("outcome"),
                field("user"),
                field("host"),
                v["reason"].as_str().unwrap_or_default()
            );
        }
        if skipped > 0 {
            out += &format!("({skipped} malformed lines skipped)\n");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_counted_and_filters_apply() {
        let long = format!("{{\"time\":\"x\",\"event\":\"{}\"}}", "a".repeat(MAX_LINE));
        let text = format!(
            "cut\"}}\n{}\nnot json\n{}\n[1]\n{}\n{}\n",
            r#"{"time":"2026-01-01T00:00:00Z","event":"a","user":"alice","host":"h1","outcome":"ok"}"#,
            long,
            r#"{"time":"2026-01-02T00:00:00Z","event":"b","user":"bob","host":"h2","outcome":"ok"}"#,
            r#"{"time":"2026-01-03T00:00:00Z","event":"c","user":"alice","host":"h2","outcome":"ok"}"#,
        );
        let all = AuditFilter::default();
        let (ev, skipped) = select(text.as_bytes(), true, &all, &[], None);
        assert_eq!((ev.len(), skipped), (3, 3));
        let alice = AuditFilter { user: Some("alice".into()), ..AuditFilter::default() };
        assert_eq!(select(text.as_bytes(), true, &alice, &[], None).0.len(), 2);
        let h2 = AuditFilter { host: Some("web2".into()), ..AuditFilter::default() };
        assert_eq!(select(text.as_bytes(), true, &h2, &["h2".into()], None).0.len(), 2);
        let last = AuditFilter { last: Some(1), ..AuditFilter::default() };
        let (ev, _) = select(text.as_bytes(), true, &last, &[], None);
        assert_eq!(ev[0]["event"], "c");
        let since = Some("2026-01-02T00:00:00Z".to_string());
        assert_eq!(select(text.as_bytes(), true, &all, &[], since).0.len(), 2);
    }
}
