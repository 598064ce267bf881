//! A throwaway PostgreSQL cluster from Debian's `postgresql` package: `initdb` in a temporary
//! directory, `postgres` listening on a Unix socket in that directory and on 127.0.0.1 only,
//! trust authentication, stopped (with every backend) when dropped.
//!
//! As root the server runs as the `postgres` system user (it refuses to run as root); as
//! anyone else, as that user.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "install the PostgreSQL server: apt-get install postgresql \
                       (Debian 12: postgresql-15)";

/// The server binaries directory (`/usr/lib/postgresql/<newest>/bin`).
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!("PostgreSQL server binaries not found in /usr/lib/postgresql: {INSTALL}"),
    }
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} ({INSTALL})"))
}

fn check(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    check(Command::new("id").arg("-u")).trim() == "0"
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running throwaway cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    /// The directory of its Unix socket.
    pub socket_dir: PathBuf,
    /// Its port (also the socket's name).
    pub port: u16,
    child: Option<Child>,
    durable: bool,
}

impl PgCluster {
    /// Creates and starts a cluster for tests (fsync off: throwaway data); panics (saying how
    /// to install PostgreSQL) if it cannot.
    pub fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// A cluster with PostgreSQL's default durability (fsync, synchronous commit, full page
    /// writes), for benchmarks that compare it with SQLite, which fsyncs every commit.
    pub fn start_durable() -> PgCluster {
        PgCluster::start_with(true)
    }

    fn start_with(durable: bool) -> PgCluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("mfa_pg.").tempdir().expect("tempdir");
        let as_postgres = is_root();
        if as_postgres {
            check(Command::new("chown").arg("postgres:postgres").arg(dir.path()));
        }
        let mut c = PgCluster {
            socket_dir: dir.path().to_path_buf(),
            port: free_port(),
            dir,
            bin,
            as_postgres,
            child: None,
            durable,
        };
        let data = c.data_dir();
        check(c.server_cmd("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]));
        c.spawn();
        c
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program` from the server binaries, run as the cluster's owner.
    fn server_cmd(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let mut cmd = self.server_cmd("postgres");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]);
        if !self.durable {
            // Throwaway data: durability is not what these tests are about.
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // Its own process group, so dropping it also stops every backend.
            .process_group(0);
        self.child = Some(cmd.spawn().unwrap_or_else(|e| panic!("postgres: {e} ({INSTALL})")));
        let start = Instant::now();
        loop {
            let ready = output(
                Command::new(self.bin.join("pg_isready")).arg("-h").arg(&self.socket_dir).args([
                    "-p",
                    &self.port.to_string(),
                    "-q",
                ]),
            );
            if ready.status.success() {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("postgres exited ({st}): {}", self.log());
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "postgres did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs `sql` in database `db` as the superuser; returns psql's unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        check(
            Command::new(self.bin.join("psql"))
                .arg("-h")
                .arg(&self.socket_dir)
                .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]),
        )
    }

    /// Creates database `name` (letters, digits, `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// The URL of database `db` over the Unix socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres:///{db}?host={}&port={}&user=postgres",
            self.socket_dir.display(),
            self.port
        )
    }

    /// Ends the sessions of `db` whose `application_name` is `app`; returns how many.
    pub fn terminate(&self, db: &str, app: &str) -> usize {
        assert!(!app.contains('\''), "{app}");
        let out = self.psql(
            db,
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = '{app}' AND datname = current_database()"
            ),
        );
        out.trim().parse().expect("count")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = child.id().to_string();
        // Immediate shutdown; then the whole group, whatever is left of it.
        let quiet = |args: &[&str]| {
            let _ = Command::new("kill").args(args).stderr(Stdio::null()).status();
        };
        quiet(&["-QUIT", &pid]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        quiet(&["-KILL", "--", &format!("-{pid}")]);
        let _ = child.kill();
        let _ = child.wait();
    }
}
