//! Real desktop clients, headless: an X server (Xvfb) or a Wayland compositor (sway with its
//! headless backend), a throwaway user that exists only in a sandbox (`scripts/sandbox.sh`,
//! with the setuid helper installed), the user's programs (screen lockers) run as that user in
//! the sandbox, keys typed with `xdotool` (X) or `wtype` (Wayland), the screen read back with
//! `import` / `grim` and OCR (`tesseract`), and every syslog line of the sandbox (the module,
//! the helper, pam_unix) captured.
//!
//! Screenshots are kept under `target/test-artifacts/desktop/<session>/`.
//!
//! Debian packages: xvfb xdotool imagemagick tesseract-ocr tesseract-ocr-eng, plus sway wtype
//! grim for Wayland and the clients themselves.

use crate::fixture::{artifact_dir, module_path};
use crate::sandbox::{Sandbox, repo};
use std::cell::RefCell;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Lowercase hex from the kernel's random source.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").expect("urandom"), &mut buf)
        .expect("urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A user name and uid that the host does not use (the user exists only in the sandbox).
fn unique_user(prefix: &str) -> (String, u32) {
    let taken = |file: &str, field: usize| -> HashSet<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(':').nth(field).map(str::to_string))
            .collect()
    };
    let names = taken("/etc/passwd", 0);
    let ids: HashSet<String> =
        taken("/etc/passwd", 2).union(&taken("/etc/group", 2)).cloned().collect();
    loop {
        let r = random_hex(4);
        let uid = 40_000 + u32::from_str_radix(&r[..4], 16).expect("hex") % 20_000;
        let name = format!("{prefix}{}", &r[4..]);
        if !names.contains(&name) && !ids.contains(&uid.to_string()) {
            return (name, uid);
        }
    }
}

/// Panics with the Debian packages to install when a program is missing.
pub fn require(programs: &[(&str, &str)]) {
    let missing: Vec<&str> = programs
        .iter()
        .filter(|(program, _)| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(_, package)| *package)
        .collect();
    assert!(missing.is_empty(), "missing programs: apt-get install {}", missing.join(" "));
}

/// Receives the syslog lines of everything that runs in the sandbox (`/dev/log` there is this
/// socket; see `PAM_MFA_SANDBOX_SYSLOG` in `scripts/sandbox.sh`).
pub struct SyslogSink {
    socket: UnixDatagram,
    path: PathBuf,
    lines: RefCell<Vec<String>>,
}

impl SyslogSink {
    fn bind(path: PathBuf) -> SyslogSink {
        let socket = UnixDatagram::bind(&path).expect("bind syslog socket");
        socket.set_nonblocking(true).expect("nonblocking");
        // The user's processes (and the setuid helper) send to it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        SyslogSink { socket, path, lines: RefCell::new(Vec::new()) }
    }

    /// Every line received so far, without the `<priority>` prefix and timestamp.
    pub fn lines(&self) -> Vec<String> {
        let mut buf = vec![0u8; 65536];
        let mut lines = self.lines.borrow_mut();
        while let Ok(n) = self.socket.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            // "<85>Dec  3 10:35:47 prog[pid]: text" -> "prog[pid]: text"
            let line = match line.find('>') {
                Some(i) if line.starts_with('<') => line[i + 1..].to_string(),
                _ => line,
            };
            let line = if line.len() > 16 && line.as_bytes()[15] == b' ' {
                line[16..].to_string()
            } else {
                line
            };
            lines.push(line);
        }
        lines.clone()
    }

    /// pam_mfa's decision lines (the module's, not the helper's) so far.
    pub fn decisions(&self) -> Vec<String> {
        self.lines().into_iter().filter(|l| is_decision(l)).collect()
    }
}

/// A decision line of the module (not the helper's).
pub fn is_decision(line: &str) -> bool {
    line.contains("pam_mfa(") && line.contains("decision=")
}

/// An X server (Xvfb) on a free display, with a random MIT-MAGIC-COOKIE.
pub struct Xvfb {
    /// None for a server someone else started (a display manager's).
    child: Option<Child>,
    /// The display number.
    pub display: u32,
    /// An authority file for root's clients (xdotool, import).
    pub root_auth: PathBuf,
    cookie: Option<String>,
}

impl Xvfb {
    /// Starts Xvfb (1024x768) with files in `dir`; waits until it accepts clients.
    ///
    /// The display number is one this test process has not used before ([`next_display`]),
    /// tried upwards while a number is taken. With `-displayfd` alone, Xvfb took the lowest free
    /// number, so a test could start its server on the number of another test's server that was
    /// just shutting down, and its clients then reached that server's abstract socket
    /// (`@/tmp/.X11-unix/X<n>`) or none ("unable to open X server"), a flaky failure.
    pub fn start(dir: &Path) -> Xvfb {
        let cookie = random_hex(16);
        let server_auth = dir.join("xauth.server");
        xauth(&server_auth, ":0", &cookie);
        let mut tries = 0;
        let (child, display) = loop {
            let wanted = next_display();
            match Self::spawn(dir, &server_auth, wanted) {
                Some(started) => break started,
                None if tries < 20 => tries += 1,
                None => panic!(
                    "Xvfb did not start: {}",
                    std::fs::read_to_string(dir.join("xvfb.log")).unwrap_or_default()
                ),
            }
        };
        let root_auth = dir.join("xauth.root");
        xauth(&root_auth, &format!(":{display}"), &cookie);
        Xvfb { child: Some(child), display, root_auth, cookie: Some(cookie) }
    }

    /// Starts Xvfb on display `wanted`; `None` if it does not come up (the number is taken).
    fn spawn(dir: &Path, server_auth: &Path, wanted: u32) -> Option<(Child, u32)> {
        let mut child = Command::new("Xvfb")
            .arg(format!(":{wanted}"))
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1024x768x24", "-auth"])
            .arg(server_auth)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("xvfb.log")).expect("log"))
            .process_group(0)
            .spawn()
            .expect("start Xvfb (apt-get install xvfb)");
        let mut number = String::new();
        let mut out = child.stdout.take().expect("stdout");
        let mut byte = [0u8; 1];
        while std::io::Read::read(&mut out, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            number.push(char::from(byte[0]));
        }
        match number.trim().parse() {
            Ok(display) => Some((child, display)),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// A server started by someone else (a display manager), reached with `root_auth`.
    pub fn existing(display: u32, root_auth: PathBuf) -> Xvfb {
        Xvfb { child: None, display, root_auth, cookie: None }
    }

    /// Writes an authority file for `user` (owned by `uid`) at `path`.
    pub fn authorize(&self, path: &Path, uid: u32) {
        let cookie = self.cookie.as_deref().expect("our own server");
        xauth(path, &format!(":{}", self.display), cookie);
        std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown");
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", format!(":{}", self.display)).env("XAUTHORITY", &self.root_auth);
        c
    }
}

/// A display number this process has not handed out before: from a base that differs between
/// processes (by pid), counting up.
fn next_display() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = 200 + (std::process::id() % 300) * 20;
    base + NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn xauth(file: &Path, display: &str, cookie: &str) {
    let out = Command::new("xauth")
        .arg("-f")
        .arg(file)
        .args(["add", display, ".", cookie])
        .output()
        .expect("xauth (apt-get install xauth)");
    assert!(out.status.success(), "xauth: {}", String::from_utf8_lossy(&out.stderr));
}

/// Where the user's programs draw and how keys reach them.
pub enum Screen {
    /// An X server; keys through XTEST (`xdotool`), screenshots with `import`.
    X(Xvfb),
    /// sway (headless backend) running as the user; keys through the virtual-keyboard
    /// protocol (`wtype`), screenshots with `grim`.
    Wayland {
        /// The compositor.
        compositor: UserProcess,
        /// The user's `XDG_RUNTIME_DIR`.
        runtime_dir: PathBuf,
        /// The socket name in it.
        socket: String,
    },
}

/// A program the test started as the session's user in the sandbox; its output goes to a
/// file. Killed (with everything it started) when dropped.
pub struct UserProcess {
    child: RefCell<Child>,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl UserProcess {
    /// Its exit status, once it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child.borrow_mut().try_wait().expect("try_wait")
    }

    /// What it wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for UserProcess {
    fn drop(&mut self) {
        let child = self.child.get_mut();
        if child.try_wait().ok().flatten().is_none() {
            // SAFETY: signalling the process group of our own child (it is its leader).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// The user, their sandbox and their screen.
pub struct Session {
    /// The sandbox (config, store, stacks, the setuid helper).
    pub sandbox: Sandbox,
    /// The user's name (unique, sandbox only).
    pub user: String,
    /// The user's uid (free on the host).
    pub uid: u32,
    /// The user's password.
    pub password: String,
    /// The user's home directory.
    pub home: PathBuf,
    /// Every syslog line from the sandbox.
    pub syslog: SyslogSink,
    /// Where this session's screenshots go.
    pub artifacts: PathBuf,
    screen: Option<Screen>,
    shots: RefCell<u32>,
}

/// How long the tests wait for a client to react before failing.
pub const WAIT: Duration = Duration::from_secs(30);

impl Session {
    /// A sandbox with a new user (password set), the setuid helper, the configuration
    /// (`helper = ...` then `config`) and the stacks `(repository file, /etc path)`;
    /// screenshots under `target/test-artifacts/desktop/<name>/`.
    pub fn new(name: &str, config: &str, stacks: &[(&str, &str)]) -> Session {
        require(&[("Xvfb", "xvfb"), ("xdotool", "xdotool"), ("import", "imagemagick")]);
        require(&[("tesseract", "tesseract-ocr tesseract-ocr-eng"), ("xauth", "xauth")]);
        let sandbox = Sandbox::new();
        let (user, uid) = unique_user("mfa");
        let password = format!("pw {}", random_hex(4));
        sandbox.add_user(&user, uid, Some(&password));
        let helper = sandbox.install_helper();
        for (from, to) in stacks {
            sandbox.install(from, to);
        }
        sandbox.configure(&format!("helper = \"{}\"\n{config}", helper.display()));
        let syslog = SyslogSink::bind(sandbox.dir.join("syslog.sock"));
        let home = sandbox.dir.join("home").join(&user);
        let artifacts = artifact_dir().join("../test-artifacts/desktop").join(name);
        let _ = std::fs::remove_dir_all(&artifacts);
        std::fs::create_dir_all(&artifacts).expect("artifacts dir");
        Session {
            sandbox,
            user,
            uid,
            password,
            home,
            syslog,
            artifacts,
            screen: None,
            shots: RefCell::new(0),
        }
    }

    /// Starts an X server for the user (`~/.Xauthority`).
    pub fn start_x(&mut self) {
        let x = Xvfb::start(&self.sandbox.dir);
        x.authorize(&self.home.join(".Xauthority"), self.uid);
        self.screen = Some(Screen::X(x));
    }

    /// Uses an X server someone else started (a display manager's), reached with `root_auth`.
    pub fn attach_x(&mut self, display: u32, root_auth: PathBuf) {
        self.screen = Some(Screen::X(Xvfb::existing(display, root_auth)));
    }

    /// Starts sway with the headless backend as the user; waits for its socket.
    pub fn start_wayland(&mut self) {
        require(&[("sway", "sway"), ("wtype", "wtype"), ("grim", "grim")]);
        let runtime_dir = self.sandbox.dir.join("run-user");
        std::fs::create_dir_all(&runtime_dir).expect("mkdir");
        std::os::unix::fs::chown(&runtime_dir, Some(self.uid), Some(self.uid)).expect("chown");
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let config = self.home.join("sway.conf");
        std::fs::write(&config, "output HEADLESS-1 resolution 1024x768\n").expect("sway config");
        let rd = runtime_dir.display().to_string();
        let compositor = self.spawn(
            "sway",
            &["-c", &config.display().to_string()],
            &[
                ("XDG_RUNTIME_DIR", &rd),
                ("WLR_BACKENDS", "headless"),
                ("WLR_LIBINPUT_NO_DEVICES", "1"),
                ("WLR_RENDERER", "pixman"),
            ],
        );
        let socket = wait_until(WAIT, "sway's socket", || {
            std::fs::read_dir(&runtime_dir).ok()?.flatten().find_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n.starts_with("wayland-") && !n.ends_with(".lock")).then_some(n)
            })
        });
        self.screen = Some(Screen::Wayland { compositor, runtime_dir, socket });
    }

    /// The screen.
    pub fn screen(&self) -> &Screen {
        self.screen.as_ref().expect("start_x or start_wayland first")
    }

    /// The environment the user's programs get (display, home, ...).
    pub fn user_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_string(), self.home.display().to_string()),
            ("USER".to_string(), self.user.clone()),
            ("LOGNAME".to_string(), self.user.clone()),
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        match &self.screen {
            Some(Screen::X(x)) => {
                env.push(("DISPLAY".to_string(), format!(":{}", x.display)));
                env.push((
                    "XAUTHORITY".to_string(),
                    self.home.join(".Xauthority").display().to_string(),
                ));
            }
            Some(Screen::Wayland { runtime_dir, socket, .. }) => {
                env.push(("XDG_RUNTIME_DIR".to_string(), runtime_dir.display().to_string()));
                env.push(("WAYLAND_DISPLAY".to_string(), socket.clone()));
            }
            None => {}
        }
        env
    }

    /// Starts `program args` as the user inside the sandbox, with [`Session::user_env`] and
    /// `env`, output to `<sandbox>/<program>.log`.
    pub fn spawn(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> UserProcess {
        let mut argv: Vec<String> = [
            "setpriv",
            &format!("--reuid={}", self.uid),
            &format!("--regid={}", self.uid),
            "--clear-groups",
            "--",
            "env",
            "-i",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        argv.extend(self.user_env().into_iter().map(|(k, v)| format!("{k}={v}")));
        argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        argv.push(program.to_string());
        argv.extend(args.iter().map(|a| a.to_string()));
        self.spawn_in_sandbox(program, &argv)
    }

    /// Starts `argv` as root inside the sandbox (a display manager), output to
    /// `<sandbox>/<name>.log`.
    pub fn spawn_root(&self, name: &str, argv: &[&str]) -> UserProcess {
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        self.spawn_in_sandbox(name, &argv)
    }

    fn spawn_in_sandbox(&self, name: &str, argv: &[String]) -> UserProcess {
        let log = self.sandbox.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log");
        let mut c = Command::new(repo().join("scripts/sandbox.sh"));
        c.arg("run")
            .arg(&self.sandbox.dir)
            .arg(module_path())
            .args(argv)
            .env("PAM_MFA_SANDBOX_SYSLOG", &self.syslog.path)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .process_group(0);
        let child = c.spawn().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        UserProcess { child: RefCell::new(child), log }
    }

    /// Types `text` (no Enter).
    pub fn type_text(&self, text: &str) {
        match self.screen() {
            Screen::X(x) => run(x.command("xdotool").args(["type", "--delay", "40", "--", text])),
            Screen::Wayland { .. } => {
                // A new virtual keyboard's keymap takes a moment to reach the client: wait
                // before the first key, or it is lost.
                run(self.wayland("wtype").args(["-s", "300", "-d", "30", "--", text]));
            }
        }
    }

    /// Presses one key (X keysym name: `Return`, `shift`, `Escape`).
    pub fn key(&self, key: &str) {
        match self.screen() {
            Screen::X(x) => run(x.command("xdotool").args(["key", key])),
            Screen::Wayland { .. } => run(self.wayland("wtype").args(["-s", "300", "-k", key])),
        }
    }

    /// Types `text`, then Enter.
    pub fn enter(&self, text: &str) {
        match self.screen() {
            Screen::X(_) => {
                self.type_text(text);
                self.key("Return");
            }
            // One wtype: a second one would bring a new keymap and lose the first key. (No
            // "--": the options after the text would be typed; no answer starts with '-'.)
            Screen::Wayland { .. } => run(self
                .wayland("wtype")
                .args(["-s", "300", "-d", "30", text, "-s", "100", "-k", "Return"])),
        }
    }

    fn wayland(&self, program: &str) -> Command {
        let Screen::Wayland { runtime_dir, socket, .. } = self.screen() else {
            panic!("not a Wayland session")
        };
        let mut c = Command::new(program);
        c.env("XDG_RUNTIME_DIR", runtime_dir).env("WAYLAND_DISPLAY", socket);
        c
    }

    /// Runs an X client as root on the session's display (xscreensaver-command, xdotool
    /// search, ...).
    pub fn x_command(&self, program: &str) -> Command {
        let Screen::X(x) = self.screen() else { panic!("not an X session") };
        x.command(program)
    }

    /// Takes a screenshot, keeps it as `NN-<label>.png` in the artifacts and returns its path.
    pub fn screenshot(&self, label: &str) -> PathBuf {
        let n = {
            let mut n = self.shots.borrow_mut();
            *n += 1;
            *n
        };
        let path = self.artifacts.join(format!("{n:02}-{label}.png"));
        self.capture(&path);
        path
    }

    fn capture(&self, path: &Path) {
        match self.screen() {
            Screen::X(x) => run(x.command("import").args(["-window", "root"]).arg(path)),
            Screen::Wayland { .. } => run(self.wayland("grim").arg(path)),
        }
    }

    /// The text on the screen now (OCR), lowercase, whitespace collapsed.
    pub fn screen_text(&self) -> String {
        let path = self.sandbox.dir.join("ocr.png");
        self.capture(&path);
        ocr(&path)
    }

    /// [`Session::screen_text`], plus the text read from the image's brightness (the largest
    /// of red, green and blue), which also finds coloured text on a dark background
    /// (xsecurelock's red errors) that grey loses. Twice the OCR time: for reading a message
    /// once, not for polling.
    pub fn screen_text_all(&self) -> String {
        let path = self.sandbox.dir.join("ocr.png");
        self.capture(&path);
        format!(
            "{} {}",
            ocr(&path),
            ocr_with(&path, &["-colorspace", "HSB", "-channel", "B", "-separate"])
        )
    }

    /// Waits until every one of `phrases` (lowercase) is on the screen; keeps a screenshot
    /// labelled `label` and returns the text. Panics with the last text after [`WAIT`].
    pub fn wait_for_screen(&self, label: &str, phrases: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let text = self.screen_text();
            if phrases.iter().all(|p| text.contains(p)) {
                self.screenshot(label);
                return text;
            }
            if start.elapsed() > WAIT {
                self.screenshot(&format!("{label}-timeout"));
                panic!("waited for {phrases:?} on the screen; it shows: {text}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until `find` finds something in the syslog lines so far; panics with the log
    /// after [`WAIT`].
    pub fn wait_for_log<T>(&self, what: &str, find: impl Fn(&[String]) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            let lines = self.syslog.lines();
            if let Some(t) = find(&lines) {
                return t;
            }
            assert!(start.elapsed() < WAIT, "waited for {what}; the log:\n{}", lines.join("\n"));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the module's next decision line after `seen` of them were logged; returns it.
    pub fn next_decision(&self, seen: usize) -> String {
        self.wait_for_log("pam_mfa's next decision line", |lines| {
            lines.iter().filter(|l| is_decision(l)).nth(seen).cloned()
        })
    }

    /// Fails if a captured log line contains the password, a TOTP secret or recovery code of
    /// the user, or one of `typed` (answers typed in the test).
    pub fn assert_no_secrets_logged(&self, secrets: &[&str]) {
        for line in self.syslog.lines() {
            // The text after "prog[pid]: ", so that a pid never matches a code.
            let text = line.split_once(": ").map_or(line.as_str(), |(_, t)| t);
            for s in secrets.iter().chain(std::iter::once(&self.password.as_str())) {
                let compact = s.replace('-', "");
                assert!(
                    !text.contains(s) && (compact.len() < 6 || !text.contains(&compact)),
                    "a secret in the log: {line}"
                );
            }
        }
    }
}

/// Polls `find` every 100 ms until it returns something; panics after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, find: impl FnMut() -> Option<T>) -> T {
    wait_until_or(timeout, what, find, String::new)
}

/// [`wait_until`], with `context()` (logs) in the panic message.
pub fn wait_until_or<T>(
    timeout: Duration,
    what: &str,
    mut find: impl FnMut() -> Option<T>,
    context: impl FnOnce() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = find() {
            return t;
        }
        if start.elapsed() > timeout {
            panic!("waited {timeout:?} for {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text in a screenshot (tesseract on a grey, doubled image), lowercase, whitespace
/// collapsed.
pub fn ocr(png: &Path) -> String {
    ocr_with(png, &["-colorspace", "Gray"])
}

/// The text in a screenshot converted with `convert` options `to_grey`, doubled.
fn ocr_with(png: &Path, to_grey: &[&str]) -> String {
    let big = png.with_extension("ocr.png");
    run(Command::new("convert").arg(png).args(to_grey).args(["-resize", "200%"]).arg(&big));
    let out = Command::new("tesseract")
        .arg(&big)
        .arg("-")
        .stderr(Stdio::null())
        .output()
        .expect("tesseract (apt-get install tesseract-ocr tesseract-ocr-eng)");
    String::from_utf8_lossy(&out.stdout)
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
