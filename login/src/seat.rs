//! Whether a login happens at this computer's own keyboard and screen (its local seat), for
//! security keys (issue 15, finding 6).
//!
//! A security key touch proves that someone is at the key. If a login from elsewhere (SSH,
//! `sudo` inside an SSH session) offered the key, the user at the desk could be asked to touch
//! it for a login that is not theirs, or touch it by habit. So keys are offered only when the
//! login is positively local, decided from facts the caller cannot change:
//!
//! 1. `PAM_RHOST` set (any value, also one that is not UTF-8): remote.
//! 2. The process's kernel audit session (`/proc/self/sessionid`, set at login by
//!    `pam_loginuid`; only `CAP_AUDIT_CONTROL` changes it, and children inherit it: `sudo`,
//!    `su`, `screen`, a screen locker and the setuid helper all keep their login's session).
//!    systemd-logind keeps a record of it in `/run/systemd/sessions/<id>` (root-owned): local
//!    if that record has a seat and is not remote. A session logind does not know: not local.
//! 3. No audit session at all: the process was started by a system service, not from a login
//!    (a console `login`, a display manager). Local if `PAM_TTY` names a virtual console
//!    (`/dev/tty1`, `tty1`) or an X display (`:0`), which only root services set this way.
//!
//! Everything else is not local, and keys are not offered (a code is asked for instead).
//! Limits are in docs/threat-model.md.

use std::path::Path;

/// Where a login happens, for security keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Seat {
    /// At this computer's own keyboard and screen.
    Local,
    /// Remote, or not known to be local: security keys are not offered.
    #[default]
    NotLocal,
}

/// The login session of a process, as the kernel and logind know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Session {
    /// No audit session: started by a system service, before any login.
    None,
    /// An audit session that logind has a record of.
    Logind {
        /// `REMOTE=1`.
        remote: bool,
        /// `SEAT=` (absent for SSH, cron and other seatless sessions).
        seat: Option<String>,
    },
    /// An audit session without a logind record (no logind, or it could not be read).
    Unknown,
}

/// The unset value of `/proc/self/sessionid`.
const NO_SESSION: &str = "4294967295";

/// Where logind keeps its session records.
pub const LOGIND_SESSIONS: &str = "/run/systemd/sessions";

/// The session of this process.
pub fn current_session() -> Session {
    session_from(Path::new("/proc/self/sessionid"), Path::new(LOGIND_SESSIONS))
}

fn session_from(sessionid: &Path, sessions: &Path) -> Session {
    let Ok(id) = std::fs::read_to_string(sessionid) else {
        // No audit support in the kernel: nothing tells sessions apart.
        return Session::Unknown;
    };
    let id = id.trim();
    if id == NO_SESSION {
        return Session::None;
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 10 {
        return Session::Unknown;
    }
    let Ok(record) = crate::secure_fs::read_file(
        &sessions.join(id),
        crate::secure_fs::FilePolicy::config(64 * 1024),
    ) else {
        return Session::Unknown;
    };
    let text = String::from_utf8_lossy(&record);
    let mut remote = None;
    let mut seat = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("REMOTE", v)) => remote = Some(v == "1"),
            Some(("SEAT", v)) if !v.is_empty() => seat = Some(v.to_string()),
            _ => {}
        }
    }
    match remote {
        Some(remote) => Session::Logind { remote, seat },
        None => Session::Unknown,
    }
}

/// Whether `tty` (`PAM_TTY`) names a virtual console or an X display.
fn local_terminal(tty: &str) -> bool {
    let console = |n: &str| {
        !n.is_empty()
            && n.len() <= 2
            && n.bytes().all(|b| b.is_ascii_digit())
            && n.parse::<u8>().is_ok_and(|n| (1..=63).contains(&n))
    };
    if let Some(n) = tty.strip_prefix("/dev/tty").or_else(|| tty.strip_prefix("tty")) {
        return console(n);
    }
    if let Some(display) = tty.strip_prefix(':') {
        let screen = display.split_once('.').map_or(display, |(d, _)| d);
        return !screen.is_empty()
            && screen.len() <= 3
            && screen.bytes().all(|b| b.is_ascii_digit());
    }
    false
}

/// The seat of a login in this process: `remote_host` when `PAM_RHOST` is set (non-empty, in
/// any encoding), `tty` is `PAM_TTY`.
pub fn of_login(remote_host: bool, tty: Option<&str>, session: &Session) -> Seat {
    if remote_host {
        return Seat::NotLocal;
    }
    match session {
        Session::Logind { remote: false, seat: Some(_) } => Seat::Local,
        Session::Logind { .. } | Session::Unknown => Seat::NotLocal,
        Session::None if tty.is_some_and(local_terminal) => Seat::Local,
        Session::None => Seat::NotLocal,
    }
}

/// The seat of a helper login: its caller's session (inherited; the caller cannot change it)
/// and nothing the caller says, except that it is remote. A caller without a login session
/// is not known to be local (it could name any terminal).
pub fn of_helper_caller(remote: bool, session: &Session) -> Seat {
    match session {
        Session::None => Seat::NotLocal,
        s => of_login(remote, None, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logind(remote: bool, seat: Option<&str>) -> Session {
        Session::Logind { remote, seat: seat.map(str::to_string) }
    }

    #[test]
    fn only_positively_local_logins_are_local() {
        let local = logind(false, Some("seat0"));
        assert_eq!(
            of_login(false, Some("/dev/pts/3"), &local),
            Seat::Local,
            "terminal at the desk"
        );
        assert_eq!(of_login(true, None, &local), Seat::NotLocal, "PAM_RHOST wins");
        assert_eq!(of_login(false, None, &logind(true, None)), Seat::NotLocal, "sudo over SSH");
        assert_eq!(of_login(false, None, &logind(false, None)), Seat::NotLocal, "no seat (cron)");
        assert_eq!(of_login(false, Some("tty1"), &Session::Unknown), Seat::NotLocal);
        for tty in ["/dev/tty1", "tty2", ":0", ":1.0"] {
            assert_eq!(of_login(false, Some(tty), &Session::None), Seat::Local, "{tty}");
        }
        for tty in ["/dev/pts/0", "ssh", "/dev/tty0", "tty64", "/dev/ttyS0", ":", "", "tty1x"] {
            assert_eq!(of_login(false, Some(tty), &Session::None), Seat::NotLocal, "{tty}");
        }
        assert_eq!(of_login(false, None, &Session::None), Seat::NotLocal);
    }

    #[test]
    fn a_helper_caller_is_judged_by_its_session_only() {
        assert_eq!(of_helper_caller(false, &logind(false, Some("seat0"))), Seat::Local);
        assert_eq!(of_helper_caller(true, &logind(false, Some("seat0"))), Seat::NotLocal);
        assert_eq!(of_helper_caller(false, &Session::None), Seat::NotLocal);
        assert_eq!(of_helper_caller(false, &logind(true, None)), Seat::NotLocal);
    }

    #[test]
    fn logind_records_are_read() {
        let d = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let id = d.path().join("sessionid");
        let sessions = d.path().join("sessions");
        std::fs::create_dir(&sessions).unwrap();
        std::fs::write(&id, "4294967295").unwrap();
        assert_eq!(session_from(&id, &sessions), Session::None);
        std::fs::write(&id, "7").unwrap();
        assert_eq!(session_from(&id, &sessions), Session::Unknown, "no record");
        std::fs::write(sessions.join("7"), "# comment\nUID=1000\nREMOTE=0\nSEAT=seat0\n").unwrap();
        assert_eq!(session_from(&id, &sessions), logind(false, Some("seat0")));
        std::fs::write(sessions.join("7"), "REMOTE=1\nREMOTE_HOST=192.0.2.7\n").unwrap();
        assert_eq!(session_from(&id, &sessions), logind(true, None));
        std::fs::write(&id, "../7").unwrap();
        assert_eq!(session_from(&id, &sessions), Session::Unknown);
    }
}
