//! A real privacyIDEA server on loopback for the privacyIDEA backend's tests (and benchmark).
//!
//! privacyIDEA comes from PyPI, pinned, in the virtualenv made by
//! `scripts/privacyidea-setup.sh` (`$MFA_PRIVACYIDEA_VENV`, default
//! `/opt/pam_mfa-test/privacyidea-venv`). [`PiServer::start`] makes a throwaway instance in a
//! temporary directory: `pi.cfg` with a sqlite database, encryption and audit keys, an admin,
//! a test CA and a server certificate for 127.0.0.1, and gunicorn serving it over TLS on a free
//! port. The server runs under a shell that kills it as soon as its standard input closes,
//! which happens when the test process ends however it ends (even killed), so no server
//! outlives its tests.
//!
//! The admin and phone sides speak privacyIDEA's REST API through `tests/privacyidea/pi_helper.py`
//! (run with the venv's python, which has `requests` and `cryptography`): realm, resolver and
//! policies, token enrollment, and a phone that follows the documented `/ttype/push` protocol.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The virtualenv with privacyIDEA.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("MFA_PRIVACYIDEA_VENV")
        .map_or_else(|| PathBuf::from("/opt/pam_mfa-test/privacyidea-venv"), PathBuf::from);
    assert!(
        v.join("bin/pi-manage").is_file() && v.join("bin/gunicorn").is_file(),
        "privacyIDEA is not installed in {}: run scripts/privacyidea-setup.sh",
        v.display()
    );
    v
}

fn helper_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("privacyidea/pi_helper.py")
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn run(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A running privacyIDEA.
pub struct PiServer {
    dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The test CA that signed the server's certificate.
    pub ca_file: PathBuf,
    admin_password: String,
    venv: PathBuf,
    /// Closing it stops the server (see the module doc).
    _stop: ChildStdin,
    _keeper: Child,
}

impl PiServer {
    /// Sets up and starts a fresh instance; panics (fails the test) if anything is missing.
    pub fn start() -> PiServer {
        let venv = venv();
        let dir = tempfile::Builder::new().prefix("pam_mfa_pi.").tempdir().expect("tempdir");
        let d = dir.path();
        let admin_password = format!("admin-{}", std::process::id());
        let cfg = d.join("pi.cfg");
        std::fs::write(
            &cfg,
            format!(
                "SQLALCHEMY_DATABASE_URI = 'sqlite:///{db}'\nSECRET_KEY = '{k}'\nPI_PEPPER = '{p}'\n\
                 PI_ENCFILE = '{d}/enckey'\nPI_AUDIT_KEY_PRIVATE = '{d}/audit-private.pem'\n\
                 PI_AUDIT_KEY_PUBLIC = '{d}/audit-public.pem'\nPI_LOGFILE = '{d}/privacyidea.log'\n\
                 PI_LOGLEVEL = 20\n",
                db = d.join("pi.sqlite").display(),
                k = random_hex(16),
                p = random_hex(16),
                d = d.display(),
            ),
        )
        .expect("pi.cfg");
        let pi_manage = |args: &[&str]| {
            run(
                Command::new(venv.join("bin/pi-manage"))
                    .args(args)
                    .env("PRIVACYIDEA_CONFIGFILE", &cfg)
                    .current_dir(d),
                &format!("pi-manage {}", args.join(" ")),
            );
        };
        pi_manage(&["setup", "create_enckey"]);
        pi_manage(&["setup", "create_audit_keys"]);
        pi_manage(&["setup", "create_tables"]);
        pi_manage(&["admin", "add", "admin", "-p", &admin_password]);
        let ca_file = make_certificates(d);

        let port = free_port();
        let url = format!("https://127.0.0.1:{port}");
        let app = format!(
            "privacyidea.app:create_app(config_name='production', config_file='{}', silent=True)",
            cfg.display()
        );
        let log = std::fs::File::create(d.join("gunicorn.log")).expect("log");
        // The shell starts gunicorn and stops it when our end of its stdin closes.
        let mut keeper = Command::new("sh")
            .arg("-c")
            .arg("\"$@\" & pid=$!; read -r _; kill -TERM $pid; wait $pid")
            .arg("pi-keeper")
            .arg(venv.join("bin/gunicorn"))
            .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "4", "--timeout", "120"])
            .args(["--no-control-socket", "--certfile"])
            .arg(d.join("server.pem"))
            .arg("--keyfile")
            .arg(d.join("server.key"))
            .arg(app)
            .env("PRIVACYIDEA_CONFIGFILE", &cfg)
            .current_dir(d)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start gunicorn");
        let stop = keeper.stdin.take().expect("stdin");
        let server =
            PiServer { dir, url, ca_file, admin_password, venv, _stop: stop, _keeper: keeper };
        server.helper(&["health", "--wait", "60"]);
        server
    }

    /// The temporary directory of this instance.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn helper_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.venv.join("bin/python"));
        c.arg(helper_script())
            .args(["--url", &self.url, "--ca"])
            .arg(&self.ca_file)
            .args(["--admin-password", &self.admin_password])
            .args(args);
        c
    }

    /// Runs one helper command and returns its JSON output.
    pub fn helper(&self, args: &[&str]) -> serde_json::Value {
        let out = run(&mut self.helper_command(args), &format!("pi_helper {}", args.join(" ")));
        serde_json::from_slice(&out).expect("helper prints JSON")
    }

    /// A realm `pam_mfa` over a passwd-style resolver with `users`, poll-only push enrollment,
    /// number matching for `presence_users`, and 127.0.0.1 allowed to pass the client address.
    pub fn configure(&self, users: &[&str], presence_users: &[&str]) {
        let passwd = self.dir().join("passwd");
        let text: String = users
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{u}:x:{}:{}::/home/{u}:/bin/sh\n", 2000 + i, 2000 + i))
            .collect();
        std::fs::write(&passwd, text).expect("passwd");
        let passwd = passwd.display().to_string();
        let presence = presence_users.join(",");
        self.helper(&["configure", "--passwd", &passwd, "--presence-users", &presence]);
    }

    /// Enrolls a TOTP token (SHA1, 6 digits, 30 s) with the given hex seed.
    pub fn enroll_totp(&self, user: &str, seed_hex: &str) {
        self.helper(&["enroll-totp", "--user", user, "--secret-hex", seed_hex]);
    }

    /// Enrolls a push token and registers a simulated phone for it.
    pub fn enroll_push(&self, user: &str) -> PhoneState {
        let state = self.dir().join(format!("phone-{user}.json"));
        let s = state.display().to_string();
        self.helper(&["enroll-push", "--user", user, "--state", &s]);
        PhoneState(state)
    }

    /// Starts the phone: it waits (up to `wait` seconds) for a new challenge and answers it
    /// with `action` (`accept`, `decline`, `wrong-number`). Returns once the phone has noted
    /// the challenges already open, so a login started afterwards is the one it answers.
    pub fn phone(&self, phone: &PhoneState, action: &str, wait: u64) -> PhoneRun {
        let mut child = self
            .helper_command(&[
                "phone",
                "--state",
                &phone.0.display().to_string(),
                "--action",
                action,
                "--wait",
                &wait.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start phone");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("phone output");
        assert!(line.contains("\"ready\""), "phone did not start: {line}");
        PhoneRun { child, out }
    }

    /// The client addresses privacyIDEA's audit log recorded for `user`'s checks.
    pub fn audit_clients(&self, user: &str) -> Vec<String> {
        let v = self.helper(&["audit-clients", "--user", user]);
        v["clients"]
            .as_array()
            .expect("clients")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect()
    }
}

/// A simulated phone's key and token (a JSON file the helper reads).
pub struct PhoneState(pub PathBuf);

/// A phone waiting for a challenge.
pub struct PhoneRun {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl PhoneRun {
    /// Waits for the phone to finish and returns what it did (its JSON line).
    pub fn finish(mut self) -> serde_json::Value {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).expect("phone output");
        let status = self.child.wait().expect("phone");
        let v: serde_json::Value = serde_json::from_str(rest.trim())
            .unwrap_or_else(|e| panic!("phone output {e}: {rest}"));
        assert!(status.success(), "phone failed: {v}");
        v
    }
}

impl Drop for PhoneRun {
    fn drop(&mut self) {
        // Only if finish() was not called (a failing test): end the phone we started.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Random hex characters (2 per byte) from /dev/urandom.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").expect("urandom"), &mut buf)
        .expect("random");
    data_encoding::HEXLOWER.encode(&buf)
}

/// A test CA and a certificate for 127.0.0.1 signed by it; returns the CA file.
fn make_certificates(d: &Path) -> PathBuf {
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").args(args).current_dir(d), &format!("openssl {}", args[0]));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pam_mfa test CA",
    ]);
    openssl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(&csr);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    d.join("ca.pem")
}

/// How long a test may take beyond a configured time (process start, TLS, libpam).
pub const MARGIN: Duration = Duration::from_secs(4);
