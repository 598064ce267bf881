//! A real display manager, headless (issue 18): LightDM 1.26 with its GTK greeter
//! (lightdm-gtk-greeter) on an Xvfb that LightDM starts itself, logging a sandbox user in with
//! the repository's `config/pam.d/lightdm` (password, then the code). LightDM runs as root in the
//! sandbox (`scripts/sandbox.sh`), in its own PID namespace, with a private D-Bus system bus,
//! its directories in the sandbox and the console's virtual terminals hidden, so nothing on the
//! host changes. The session it starts is a script that records who logged in.
//!
//! GDM (`config/pam.d/gdm-password`) is not run: its greeter is a GNOME Shell that needs
//! systemd-logind and a GPU or a full headless GNOME stack; its stack runs through the PAM test
//! client only (tests/tests/stacks.rs). The documentation says so.

use mfa_tests::desktop::{Session, UserProcess, WAIT, random_hex, require, wait_until_or};
use mfa_tests::fixture::Enrolled;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CONFIG: &str = "[lockout]\nmax_failures = 3\nfail_delay_ms = 0\n";

/// A private D-Bus system bus (LightDM owns org.freedesktop.DisplayManager on it).
struct Bus {
    child: Child,
    address: String,
}

impl Bus {
    fn start(dir: &Path) -> Bus {
        let socket = dir.join("system_bus_socket");
        let config = dir.join("dbus-system.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("bus config");
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon (apt-get install dbus)");
        wait_until_or(WAIT, "the D-Bus socket", || socket.exists().then_some(()), String::new);
        Bus { child, address: format!("unix:path={}", socket.display()) }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// LightDM and its greeter, for the session's user.
struct Lightdm {
    process: UserProcess,
    _bus: Bus,
    dir: PathBuf,
    home: PathBuf,
}

/// The X server LightDM runs: Xvfb with the display and authority LightDM gives it (the other
/// options are for a real Xorg on a VT).
const XSERVER: &str = r#"#!/bin/bash
args=()
while [ $# -gt 0 ]; do
  case $1 in
    :*) args+=("$1") ;;
    -auth) args+=(-auth "$2"); shift ;;
  esac
  shift
done
exec Xvfb "${args[@]}" -nolisten tcp -screen 0 1024x768x24
"#;

impl Lightdm {
    fn start(s: &mut Session) -> Lightdm {
        require(&[("lightdm", "lightdm"), ("lightdm-gtk-greeter", "lightdm-gtk-greeter")]);
        require(&[("dbus-daemon", "dbus"), ("Xvfb", "xvfb")]);
        let dir = s.sandbox.dir.join("lightdm");
        for sub in ["run", "cache", "log", "sessions", "data", "greeter-home"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        // The greeter runs as the system's `lightdm` user; in the sandbox its home is ours.
        let passwd_path = s.sandbox.dir.join("etc.upper/passwd");
        let passwd = std::fs::read_to_string(&passwd_path).expect("sandbox passwd");
        let greeter = passwd
            .lines()
            .find(|l| l.starts_with("lightdm:"))
            .expect("the lightdm package's user")
            .to_string();
        let mut fields: Vec<String> = greeter.split(':').map(str::to_string).collect();
        fields[5] = dir.join("greeter-home").display().to_string();
        std::fs::write(&passwd_path, passwd.replace(&greeter, &fields.join(":"))).expect("passwd");
        let gid: u32 = fields[3].parse().expect("gid");
        let uid: u32 = fields[2].parse().expect("uid");
        std::os::unix::fs::chown(dir.join("greeter-home"), Some(uid), Some(gid)).expect("chown");

        let xserver = dir.join("xserver");
        std::fs::write(&xserver, XSERVER).expect("xserver");
        // Written by the session, as the user.
        let marker = s.home.join("session-started");
        let wrapper = dir.join("session-wrapper");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nid -un > {}\nexec sleep 600\n", marker.display()),
        )
        .expect("wrapper");
        for f in [&xserver, &wrapper] {
            std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod");
        }
        std::fs::write(
            dir.join("sessions/mfa-test.desktop"),
            "[Desktop Entry]\nName=pam_mfa test session\nExec=/bin/true\nType=Application\n",
        )
        .expect("session");
        // A display number no other test uses, most likely.
        let first_display = 100 + u32::from_str_radix(&random_hex(1), 16).expect("hex") % 100;
        let config = format!(
            "[LightDM]\nminimum-display-number={first_display}\nrun-directory={d}/run\n\
             cache-directory={d}/cache\nlog-directory={d}/log\nsessions-directory={d}/sessions\n\
             [Seat:*]\nxserver-command={d}/xserver\ngreeter-session=lightdm-gtk-greeter\n\
             greeter-hide-users=true\nuser-session=mfa-test\nsession-wrapper={d}/session-wrapper\n",
            d = dir.display()
        );
        let etc = s.sandbox.dir.join("etc.upper/lightdm");
        std::fs::create_dir_all(&etc).expect("mkdir");
        std::fs::write(etc.join("lightdm.conf"), config).expect("lightdm.conf");

        let bus = Bus::start(&s.sandbox.dir);
        // In the sandbox's own /dev (an overlay, see PAM_MFA_SANDBOX_SYSLOG), the VTs are
        // removed so that LightDM cannot switch the host's console; /var/lib/lightdm-data
        // (hard-coded) is the sandbox's. Its own PID namespace ends every process it started
        // (X server, greeter, session) when the test drops it. (LightDM is not its PID 1: the
        // X server's ready signal would not reach it there.)
        let script = format!(
            "set -e\n\
             [ \"$(stat -f -c %T /dev)\" = overlayfs ] || {{ echo 'no private /dev' >&2; exit 1; }}\n\
             rm -f /dev/tty0 /dev/tty[0-9]*\n\
             mount --bind {d}/data /var/lib/lightdm-data\n\
             env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DBUS_SYSTEM_BUS_ADDRESS={bus} lightdm -d &\n\
             wait\n",
            d = dir.display(),
            bus = bus.address
        );
        let process = s.spawn_root(
            "lightdm",
            &["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", "-c", &script],
        );
        let log = dir.join("log/lightdm.log");
        let display: u32 = wait_until_or(
            WAIT,
            "LightDM's X server",
            || {
                let text = std::fs::read_to_string(&log).ok()?;
                let at = text.find("Got signal from X server :")?;
                let rest = &text[at + "Got signal from X server :".len()..];
                rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
            },
            || process.output(),
        );
        s.attach_x(display, dir.join(format!("run/root/:{display}")));
        Lightdm { process, _bus: bus, dir, home: s.home.clone() }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/lightdm.log")).unwrap_or_default()
            + &self.process.output()
    }

    /// Who the started session runs as, once it started.
    fn session_user(&self) -> Option<String> {
        std::fs::read_to_string(self.home.join("session-started"))
            .ok()
            .map(|u| u.trim().to_string())
    }
}

fn session() -> (Session, Enrolled) {
    let s = Session::new("lightdm", CONFIG, &[("config/pam.d/lightdm", "pam.d/lightdm")]);
    let e = s.sandbox.enroll(&s.user);
    (s, e)
}

/// Types the user name (unless the greeter kept it after a refusal) and the password, and waits
/// for the code prompt.
fn to_code_prompt(s: &Session, dm: &Lightdm, label: &str, name: bool) {
    s.wait_for_screen(&format!("{label}-greeter"), &["log in"]);
    if name {
        // LightDM's next prompt to the greeter follows the name.
        let prompts = || dm.log().matches("Prompt greeter with").count();
        let before = prompts();
        s.enter(&s.user);
        wait_until_or(
            WAIT,
            "the password prompt",
            || (prompts() > before).then_some(()),
            || dm.log(),
        );
    }
    s.enter(&s.password);
    s.wait_for_screen(&format!("{label}-code-prompt"), &["verification code"]);
}

#[test]
fn lightdm_logs_a_user_in_with_password_and_code() {
    let (mut s, e) = session();
    let dm = Lightdm::start(&mut s);

    // A wrong code: no session, and the greeter asks for the password again.
    to_code_prompt(&s, &dm, "wrong", true);
    s.enter("000000");
    let d = s.next_decision(0);
    assert!(d.contains("decision=deny") && d.contains("wrong code"), "{d}");
    s.wait_for_screen("wrong-refused", &["try again"]);
    assert_eq!(dm.session_user(), None);

    // The right code: LightDM starts the user's session.
    to_code_prompt(&s, &dm, "code", false);
    s.enter(&e.code_now());
    let d = s.next_decision(1);
    assert!(d.contains("decision=success"), "{d}\n{}", dm.log());
    let user = wait_until_or(WAIT, "the session", || dm.session_user(), || dm.log());
    assert_eq!(user, s.user);
    s.screenshot("logged-in");
    s.assert_no_secrets_logged(&[&e.secret]);
}
