//! What `fleet-load` needs from a service that verifies TOTP codes: one client per worker that
//! sends a code the way pam_mfa's module does and returns the service's decision, and the size
//! of what the service stores per user.

use push_proto::fleet::Verdict;

/// One worker's connection, in the module's place: blocking, one verification at a time.
pub(crate) trait Verify: Send {
    /// Sends `code` for `user` and returns the decision, only once it is proven (mfa-server: the
    /// signed receipt checked against this request and the pinned service key).
    fn verify(&mut self, user: &str, code: &str) -> Result<Verdict, String>;
}

/// What the service's database holds for its enrolled users, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DbUsage {
    /// The TOTP records: tables and their indexes (mfa-server: `fleet_totp`; privacyIDEA:
    /// `token`, `tokenowner`, `tokenrealm`, `tokeninfo`).
    pub(crate) records: u64,
    /// The whole database.
    pub(crate) total: u64,
}

/// A service under test.
pub(crate) trait FleetBackend: Sync {
    /// Short name (a column heading).
    fn name(&self) -> &'static str;
    /// How it runs here (one line).
    fn setup(&self) -> String;
    /// What one verification is on the wire.
    fn flow(&self) -> &'static str;
    /// A client for worker `worker` (spread over hosts and instances).
    fn client(&self, worker: usize) -> Result<Box<dyn Verify>, String>;
    /// What the database holds now.
    fn db_usage(&self) -> Result<DbUsage, String>;
    /// Resident memory of the service's processes, KiB.
    fn service_rss_kib(&self) -> Option<u64>;
}

/// `sqlite3`'s answer to `sql` on the database file `db` (rows of `|`-separated values).
pub(crate) fn sqlite3(db: &std::path::Path, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .map_err(|e| format!("sqlite3: {e} (Debian: apt-get install sqlite3)"))?;
    if !out.status.success() {
        return Err(format!("sqlite3: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// [`DbUsage`] of an SQLite database, the records being the tables named and their indexes
/// (`dbstat`, which reads through the write-ahead log).
pub(crate) fn sqlite_usage(db: &std::path::Path, tables: &[&str]) -> Result<DbUsage, String> {
    let list = tables.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(",");
    let text = sqlite3(
        db,
        &format!(
            "SELECT (SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m \
             ON m.name = d.name WHERE m.tbl_name IN ({list})), \
             (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size());"
        ),
    )?;
    parse_pair(&text)
}

/// Two integers separated by `|`, as `sqlite3` and `psql -A -t` print them.
pub(crate) fn parse_pair(text: &str) -> Result<DbUsage, String> {
    let mut it = text.trim().split('|').map(|v| v.trim().parse::<u64>());
    match (it.next(), it.next()) {
        (Some(Ok(records)), Some(Ok(total))) => Ok(DbUsage { records, total }),
        _ => Err(format!("unexpected database sizes: {text:?}")),
    }
}

/// Runs `part(k)` for `k` in `0..n` as concurrent tasks and waits for all of them; the first
/// error is returned.
pub(crate) async fn in_parallel<F, Fut>(n: usize, part: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for k in 0..n {
        set.spawn(part(k));
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(())
}
