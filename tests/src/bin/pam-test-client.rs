//! `pam-test-client`: runs one `pam_authenticate` through libpam with scripted answers and
//! prints the outcome as one JSON line. Used by the integration tests (one process per login,
//! as sshd does) and handy for trying a pam.d stack by hand.
//!
//! ```text
//! pam-test-client [--confdir DIR] --service NAME --user USER [--rhost HOST]
//!                 [--answer TEXT | --answer-hex HEX | --answer-fill N | --answer-shown-code
//!                  | --answer-stdin | --null-answer | --conv-error]...
//!                 [--silent] [--capture-syslog] [--wait-stdin] [--echo-messages]
//! ```
//! Output: `{"code":0,"name":"PAM_SUCCESS","messages":[[1,"Verification code: "]],"syslog":[...]}`

use mfa_tests::client::{self, Reply};
use std::io::BufRead;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: pam-test-client [--confdir DIR] --service NAME --user USER [--rhost HOST] \
         [--answer TEXT|--answer-hex HEX|--answer-fill N|--answer-shown-code|--answer-stdin|--null-answer|--conv-error]... [--silent] \
         [--capture-syslog] [--wait-stdin] [--echo-messages]"
    );
    std::process::exit(2)
}

fn main() {
    let mut confdir = None;
    let mut service = None;
    let mut user = None;
    let mut rhost = None;
    let mut replies = Vec::new();
    let mut flags = 0;
    let mut capture = false;
    let mut wait = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--confdir" => confdir = Some(PathBuf::from(value())),
            "--service" => service = Some(value()),
            "--user" => user = Some(value()),
            "--rhost" => rhost = Some(value()),
            "--answer" => replies.push(Reply::text(&value())),
            "--answer-hex" => {
                let hex = value();
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| usage()))
                    .collect();
                replies.push(Reply::Text(bytes));
            }
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
    if wait {
        // Start line for parallel tests: all clients begin together.
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
    let t =
        client::authenticate(confdir.as_deref(), &service, &user, rhost.as_deref(), replies, flags);
    let out = serde_json::json!({
        "code": t.code,
        "name": client::code_name(t.code),
        "messages": t.messages,
        "unused_replies": t.unused_replies,
        "syslog": syslog.map(|s| s.drain()).unwrap_or_default(),
    });
    println!("{out}");
}
