//! `pam-test-client`: runs one `pam_authenticate` through libpam with scripted answers and
//! prints the outcome as one JSON line. Used by the integration tests (one process per login,
//! as sshd does) and handy for trying a pam.d stack by hand.
//!
//! ```text
//! pam-test-client [--confdir DIR] --service NAME --user USER [--rhost HOST | --rhost-hex HEX]
//!                 [--tty TTY] [--session none|local|remote|unknown]
//!                 [--answer TEXT | --answer-hex HEX | --answer-fill N | --answer-shown-code
//!                  | --answer-stdin | --null-answer | --conv-error]...
//!                 [--silent] [--capture-syslog] [--as-uid UID] [--wait-stdin] [--echo-messages]
//! pam-test-client session none|local|remote|unknown -- COMMAND [ARGS...]
//! ```
//! Output: `{"code":0,"name":"PAM_SUCCESS","messages":[[1,"Verification code: "]],"syslog":[...]}`

use mfa_tests::client::{self, Reply};
use std::io::BufRead;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: pam-test-client [--confdir DIR] --service NAME --user USER [--rhost HOST|--rhost-hex HEX] \
         [--tty TTY] [--session none|local|remote|unknown] \
         [--answer TEXT|--answer-hex HEX|--answer-fill N|--answer-shown-code|--answer-stdin|--null-answer|--conv-error]... [--silent] \
         [--capture-syslog] [--as-uid UID] [--wait-stdin] [--echo-messages]"
    );
    std::process::exit(2)
}

/// `pam-test-client session KIND -- COMMAND [ARGS...]`: enters a login session (see
/// [`client::LoginSession`]; as root) and runs COMMAND in it, e.g. `setpriv` dropping to a user
/// who then runs a screen locker's login through the setuid helper.
fn run_in_session(args: &[String]) -> ! {
    use std::os::unix::process::CommandExt;
    let (Some(kind), Some("--"), Some(program)) =
        (args.first(), args.get(1).map(String::as_str), args.get(2))
    else {
        usage()
    };
    let session = client::LoginSession::parse(kind).unwrap_or_else(|| usage());
    if let Err(e) = session.enter(false) {
        eprintln!("pam-test-client: cannot enter the {session:?} login session (needs root): {e}");
        std::process::exit(1)
    }
    let e = std::process::Command::new(program).args(&args[3..]).exec();
    eprintln!("pam-test-client: cannot run {program}: {e}");
    std::process::exit(1)
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("session") {
        run_in_session(&all[1..]);
    }
    let mut confdir = None;
    let mut service = None;
    let mut user = None;
    let mut rhost: Option<Vec<u8>> = None;
    let mut tty = None;
    let mut session = None;
    let mut replies = Vec::new();
    let mut flags = 0;
    let mut capture = false;
    let mut as_uid = None;
    let mut wait = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--confdir" => confdir = Some(PathBuf::from(value())),
            "--service" => service = Some(value()),
            "--user" => user = Some(value()),
            "--rhost" => rhost = Some(value().into_bytes()),
            "--rhost-hex" => rhost = Some(hex(&value()).unwrap_or_else(|| usage())),
            "--tty" => tty = Some(value()),
            "--session" => {
                session = Some(client::LoginSession::parse(&value()).unwrap_or_else(|| usage()))
            }
            "--answer" => replies.push(Reply::text(&value())),
            "--answer-hex" => replies.push(Reply::Text(hex(&value()).unwrap_or_else(|| usage()))),
            "--answer-fill" => {
                // An answer of N digits, for answers too long for one argv string (1 MB).
                let n: usize = value().parse().unwrap_or_else(|_| usage());
                replies.push(Reply::Text(vec![b'1'; n]));
            }
            "--null-answer" => replies.push(Reply::Null),
            "--answer-shown-code" => replies.push(Reply::CodeForShownUri),
            "--answer-stdin" => replies.push(Reply::Stdin),
            "--conv-error" => replies.push(Reply::ConvError),
            "--silent" => flags |= client::PAM_SILENT,
            "--capture-syslog" => capture = true,
            "--as-uid" => as_uid = Some(value().parse::<u32>().unwrap_or_else(|_| usage())),
            "--wait-stdin" => wait = true,
            "--echo-messages" => {
                client::ECHO_MESSAGES.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            _ => usage(),
        }
    }
    let (Some(service), Some(user)) = (service, user) else { usage() };
    let syslog = if capture {
        match mfa_tests::syslog::Capture::start() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("pam-test-client: cannot capture syslog (needs root): {e}");
                std::process::exit(1)
            }
        }
    } else {
        None
    };
    if let Some(session) = session {
        if let Err(e) = session.enter(syslog.is_some()) {
            eprintln!(
                "pam-test-client: cannot enter the {session:?} login session (needs root): {e}"
            );
            std::process::exit(1)
        }
    }
    if let Some(uid) = as_uid {
        // After the root-only steps (syslog capture, the login session): the login runs as the
        // user, as a screen locker's does, with the module's and the setuid helper's log lines
        // still captured.
        if let Err(e) = become_user(uid) {
            eprintln!("pam-test-client: cannot become uid {uid}: {e}");
            std::process::exit(1)
        }
    }
    if wait {
        // Start line for parallel tests: all clients begin together.
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
    let items = client::Items { rhost, tty };
    let t = client::authenticate_with_items(
        confdir.as_deref(),
        &service,
        &user,
        &items,
        replies,
        flags,
    );
    let out = serde_json::json!({
        "code": t.code,
        "name": client::code_name(t.code),
        "messages": t.messages,
        "unused_replies": t.unused_replies,
        "syslog": syslog.map(|s| s.drain()).unwrap_or_default(),
    });
    println!("{out}");
}

/// Drops every privilege for good: no supplementary groups, real, effective and saved ids
/// `uid` (the group id too, as the sandbox's users have a group of their uid).
fn become_user(uid: u32) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    };
    // SAFETY: plain system calls without pointers (setgroups with a count of 0 reads none).
    unsafe {
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(uid, uid, uid))?;
        check(libc::setresuid(uid, uid, uid))
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}
