//! The one test harness for `mfa-server` (not shipped): a real service on loopback with real TLS
//! (its own `tls-init` CA), on SQLite or on a throwaway PostgreSQL cluster ([`pg`]), started,
//! stopped and restarted as a process, with its admin CLI, its logs, and `mfa-push-device` as
//! the phone. `mfa-server`'s integration tests and `mfa-tests` (the PAM tests that log in
//! against it) both build on it, each with its own thin wrappers.

#![forbid(unsafe_code)]

pub mod pg;

use pg::PgCluster;
use push_proto::api::HostCredential;
use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The two programs the harness runs.
#[derive(Clone, Debug)]
pub struct Bins {
    /// `mfa-server`.
    pub pushd: PathBuf,
    /// `mfa-push-device`.
    pub device: PathBuf,
}

impl Bins {
    /// The programs built beside the running test binary (`target/<profile>/deps/<test>` →
    /// `target/<profile>/`).
    pub fn beside_test() -> Bins {
        let exe = std::env::current_exe().expect("current_exe");
        let dir =
            exe.parent().and_then(Path::parent).expect("test binary in target/<profile>/deps");
        Bins { pushd: dir.join("mfa-server"), device: dir.join("mfa-push-device") }
    }
}

/// Where a [`Service`] keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in its data directory (the default).
    Sqlite,
    /// A database in a throwaway PostgreSQL cluster of its own.
    Postgres,
}

/// A PostgreSQL database the instances of one test share.
#[derive(Clone)]
pub struct Database {
    /// The cluster (stopped when the last instance using it is dropped).
    pub cluster: Arc<PgCluster>,
    /// The database's URL (`database =` of the configuration).
    pub url: String,
}

impl Database {
    /// A new cluster with database `mfa_server`.
    pub fn start() -> Database {
        let cluster = PgCluster::start();
        let url = cluster.create_database("mfa_server");
        Database { cluster: Arc::new(cluster), url }
    }
}

/// How to start a [`Service`]; [`Options::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    /// The body of its `[limits]` table (later tables may follow it).
    pub limits: &'a str,
    /// The host name of its `public_url` (what pairing links and browsers use).
    pub public_host: &'a str,
    /// A service key to start with (a copy of another instance's: every instance signs as the
    /// service).
    pub service_key: Option<&'a Path>,
    /// A fleet master key to start with (a copy of another instance's: every instance opens
    /// the same sealed TOTP secrets).
    pub fleet_key: Option<&'a Path>,
    /// The `/etc/hosts` the service sees: it then runs in a private mount namespace
    /// (`unshare -m`) with this text bound over `/etc/hosts`, so the system's resolver (glibc's
    /// `files` source) answers what the test says and the machine's file is never touched.
    pub hosts: Option<&'a str>,
}

impl<'a> Options<'a> {
    /// `limits`, `public_url` on 127.0.0.1, a new service key, the system's `/etc/hosts`.
    pub fn new(limits: &'a str) -> Options<'a> {
        Options {
            limits,
            public_host: "127.0.0.1",
            service_key: None,
            fleet_key: None,
            hosts: None,
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An output as (success, stdout, stderr).
pub fn texts(out: &Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `mfa-server serve` in a temporary directory: `tls/` (its CA and certificate),
/// `data/` (service key, SQLite database), `log/audit.log`, `pushd.stderr`.
pub struct Service {
    /// The programs it runs.
    pub bins: Bins,
    /// The PostgreSQL database, if it uses one (dropped after the service: fields drop after
    /// `Drop::drop`).
    pub pg: Option<Database>,
    /// The temporary directory.
    pub dir: tempfile::TempDir,
    /// Its path.
    pub root: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// `public_url` of its configuration.
    pub public_url: String,
    /// The CA certificate made by `tls-init`.
    pub ca: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its audit log (its directory is made by the first start).
    pub audit: PathBuf,
    /// The `/etc/hosts` it sees, if [`Options::hosts`] gave one.
    pub hosts: Option<PathBuf>,
    child: Option<Child>,
}

impl Service {
    /// Writes the configuration and TLS files of a service on `backend` (a new cluster for
    /// PostgreSQL) and starts it.
    pub fn start(bins: Bins, backend: Backend, opts: &Options<'_>) -> Service {
        let pg = (backend == Backend::Postgres).then(Database::start);
        Service::start_on(bins, pg, opts)
    }

    /// [`Service::start`] on SQLite (`pg` none) or on the given PostgreSQL database.
    pub fn start_on(bins: Bins, pg: Option<Database>, opts: &Options<'_>) -> Service {
        let dir = tempfile::Builder::new().prefix("mfa_server_test.").tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, Permissions::from_mode(0o700)).expect("chmod");
        let tls = root.join("tls");
        run_ok(Command::new(&bins.pushd).args(["tls-init", "--out-dir"]).arg(&tls).args([
            "--name",
            "localhost",
            "--ip",
            "127.0.0.1",
        ]));
        let data = root.join("data");
        if let Some(key) = opts.service_key {
            std::fs::create_dir(&data).expect("mkdir data");
            std::fs::set_permissions(&data, Permissions::from_mode(0o700)).expect("chmod data");
            std::fs::copy(key, data.join("service.key")).expect("copy service key");
        }
        if let Some(key) = opts.fleet_key {
            std::fs::create_dir_all(&data).expect("mkdir data");
            std::fs::set_permissions(&data, Permissions::from_mode(0o700)).expect("chmod data");
            std::fs::copy(key, data.join("fleet.key")).expect("copy fleet key");
        }
        let database = match &pg {
            Some(db) => format!("database = \"{}\"\n", db.url),
            None => String::new(),
        };
        let port = free_port();
        let url = format!("https://127.0.0.1:{port}");
        let public_url = format!("https://{}:{port}", opts.public_host);
        let config = root.join("mfa-server.toml");
        let audit = root.join("log/audit.log");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"{public_url}\"\n\
                 data_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\naudit_log = \"{}\"\n\
                 {database}[limits]\n{}\n",
                data.display(),
                tls.join("server.pem").display(),
                tls.join("server.key").display(),
                audit.display(),
                opts.limits
            ),
        )
        .expect("write config");
        let hosts = opts.hosts.map(|text| {
            let path = root.join("hosts");
            std::fs::write(&path, text).expect("write hosts");
            path
        });
        let mut s = Service {
            bins,
            pg,
            dir,
            root,
            port,
            url,
            public_url,
            ca: tls.join("ca.pem"),
            config,
            audit,
            hosts,
            child: None,
        };
        s.serve();
        s
    }

    /// Starts another instance on this one's PostgreSQL database, with its own port, TLS and
    /// audit log, and a copy of this one's service key and fleet master key.
    pub fn second_instance(&self, limits: &str) -> Service {
        assert!(self.pg.is_some(), "a second instance needs PostgreSQL");
        let key = self.root.join("data/service.key");
        let fleet_key = self.root.join("data/fleet.key");
        let opts = Options {
            service_key: Some(&key),
            fleet_key: Some(&fleet_key),
            ..Options::new(limits)
        };
        Service::start_on(self.bins.clone(), self.pg.clone(), &opts)
    }

    /// Starts (or restarts, killing a running one) `mfa-server serve` and waits until it
    /// accepts connections; panics with its log if it exits first. Its stderr is appended to
    /// `pushd.stderr` ([`Service::log`]).
    pub fn serve(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("pushd.stderr"))
            .expect("log");
        let mut cmd = match &self.hosts {
            None => Command::new(&self.bins.pushd),
            Some(hosts) => {
                // unshare execs sh (no fork) and sh execs the service: one pid throughout.
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "sh", "-c"])
                    .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
                    .arg(hosts)
                    .arg(&self.bins.pushd);
                c
            }
        };
        let logged_before = self.log().len();
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn mfa-server");
        self.child = Some(child);
        // Ready when this start has logged that it listens (it binds only after opening and
        // migrating its database) and the port answers: a port that answers alone could be
        // another test's service that took the same free port, while this one still migrates.
        let listening = format!("listening on https://127.0.0.1:{}", self.port);
        let start = Instant::now();
        while !self.log().get(logged_before..).is_some_and(|new| new.contains(&listening))
            || std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
        {
            assert!(start.elapsed() < Duration::from_secs(20), "mfa-server did not start");
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("mfa-server exited ({status}): {}", self.log());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops with SIGTERM and waits (at most 15 s, then SIGKILL); whether it exited
    /// successfully (true if none was running).
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        run_ok(Command::new("kill").args(["-TERM", &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it (SIGKILL: a crash is also something it must survive).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGSTOP (`true`) or SIGCONT (`false`): a stopped service still completes TCP
    /// connections (the kernel's backlog) but never answers, i.e. a service that hangs.
    pub fn pause(&self, stop: bool) {
        let child = self.child.as_ref().expect("a running service");
        let signal = if stop { "-STOP" } else { "-CONT" };
        run_ok(Command::new("kill").args([signal, &child.id().to_string()]));
    }

    /// Stops it gracefully (which must succeed) and starts it again.
    pub fn restart(&mut self) {
        assert!(self.terminate(), "graceful stop failed: {}", self.log());
        self.serve();
    }

    /// Everything it wrote to stderr so far, over every start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("pushd.stderr")).unwrap_or_default()
    }

    /// The audit log so far.
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(&self.audit).unwrap_or_default()
    }

    /// Rewrites the service's `/etc/hosts` in place (the same inode, which the bind mount
    /// shows).
    pub fn set_hosts(&self, text: &str) {
        let path = self.hosts.as_ref().expect("a service started with a hosts file");
        let mut f =
            std::fs::OpenOptions::new().write(true).truncate(true).open(path).expect("hosts");
        f.write_all(text.as_bytes()).expect("write hosts");
        f.sync_all().expect("sync hosts");
    }

    /// Runs an admin command (`mfa-server --config CONFIG args...`).
    pub fn admin(&self, args: &[&str]) -> Output {
        run(Command::new(&self.bins.pushd).arg("--config").arg(&self.config).args(args))
    }

    /// Registers host `name` with `host add`, its credential written to `out` (which must
    /// work, and must not print the token); returns the credential.
    pub fn add_host(&self, name: &str, out: &Path) -> HostCredential {
        let o = self.admin(&["host", "add", name, "--out", &out.display().to_string()]);
        let (ok, stdout, stderr) = texts(&o);
        assert!(ok, "host add: {stderr}");
        let text = std::fs::read_to_string(out).expect("host credential");
        let cred: HostCredential = serde_json::from_str(&text).expect("host credential JSON");
        assert!(!stdout.contains(&cred.token) && !stderr.contains(&cred.token));
        cred
    }

    /// The service's signing key (what a compromised service's operator holds).
    pub fn service_key(&self) -> push_proto::SecretKey {
        let text = std::fs::read_to_string(self.root.join("data/service.key")).expect("key");
        push_proto::SecretKey::decode(&text).expect("service key")
    }

    /// A device trusting this service's CA, its key file at `key_file`.
    pub fn device(&self, key_file: PathBuf) -> Device {
        Device { bin: self.bins.device.clone(), key_file, ca: Some(self.ca.clone()) }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A CLI device (`mfa-push-device`) with its key file.
#[derive(Clone, Debug)]
pub struct Device {
    /// The program.
    pub bin: PathBuf,
    /// The key file.
    pub key_file: PathBuf,
    /// The CA it trusts when pairing (none: a plain-HTTP service on loopback).
    pub ca: Option<PathBuf>,
}

impl Device {
    /// A device whose key file will live at `key_file`, trusting `svc`'s CA.
    pub fn new(key_file: PathBuf, svc: &Service) -> Device {
        svc.device(key_file)
    }

    /// A device for a plain-HTTP service on loopback (no CA file), the program beside the
    /// test binary.
    pub fn plain(key_file: PathBuf) -> Device {
        Device { bin: Bins::beside_test().device, key_file, ca: None }
    }

    /// Runs `mfa-push-device --key-file KEY args...`.
    pub fn run(&self, args: &[&str]) -> Output {
        run(Command::new(&self.bin).arg("--key-file").arg(&self.key_file).args(args))
    }

    /// Pairs with the link `uri`.
    pub fn pair(&self, uri: &str, name: &str) -> Output {
        let mut c = Command::new(&self.bin);
        c.arg("--key-file").arg(&self.key_file).args(["pair", uri, "--name", name]);
        if let Some(ca) = &self.ca {
            c.arg("--ca-file").arg(ca);
        }
        run(&mut c)
    }

    /// Pairs with the link `uri`, which must work; returns the pairing code it shows.
    pub fn pair_ok(&self, uri: &str, name: &str) -> String {
        let (ok, out, err) = texts(&self.pair(uri, name));
        assert!(ok, "pair: {out}{err}");
        printed_pairing_code(&out).unwrap_or_else(|| panic!("no pairing code shown: {out}"))
    }

    /// Approves the single pending request with `number`, waiting up to 20 s for it.
    pub fn approve(&self, number: u8) -> Output {
        self.run(&["approve", "--number", &number.to_string(), "--wait", "20"])
    }

    /// Denies the single pending request.
    pub fn deny(&self) -> Output {
        self.run(&["deny", "--wait", "20"])
    }

    /// Reports the single pending request as not the user's.
    pub fn fraud(&self) -> Output {
        self.run(&["fraud", "--wait", "20"])
    }

    /// The pending requests as JSON.
    pub fn pending_json(&self, wait: u64) -> serde_json::Value {
        let (ok, out, err) = texts(&self.run(&["pending", "--json", "--wait", &wait.to_string()]));
        assert!(ok, "pending: {out}{err}");
        serde_json::from_str(&out).expect("pending JSON")
    }

    /// The device id from the key file.
    pub fn id(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&self.key_file).expect("key file"))
                .expect("key JSON");
        v["device_id"].as_str().expect("device_id").to_string()
    }
}

/// The pairing code `mfa-push-device pair` printed ("pairing code: 123 456 ..."), digits only.
pub fn printed_pairing_code(text: &str) -> Option<String> {
    let at = text.find("pairing code: ")?;
    let code: String = text[at + 14..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ')
        .filter(char::is_ascii_digit)
        .collect();
    (code.len() == 6).then_some(code)
}
