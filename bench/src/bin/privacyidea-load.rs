//! `privacyidea-load`: push logins through a real privacyIDEA (the pinned one from
//! `scripts/privacyidea-setup.sh`), for comparison with `push-load` on mfa-pushd.
//!
//! Starts a throwaway privacyIDEA over TLS on loopback (the integration tests' harness,
//! `mfa_tests::privacyidea`), then runs `tests/privacyidea/pi_helper.py load`: N users each with
//! a simulated phone (poll-only push), every worker looping trigger → phone approves (signed
//! `/ttype/push`) → `/validate/polltransaction` until accepted → finalizing `/validate/check`
//! → ACCEPT. Reports logins/s and approve-to-login latency (phone's answer acknowledged →
//! finalizing ACCEPT). The load generator is Python (the phone needs RSA; privacyIDEA's venv
//! has it) and shares the two cores with the server: the figures are a lower bound for the
//! server.
//!
//! ```text
//! privacyidea-load [--workers N] [--seconds N]
//! ```

use mfa_tests::privacyidea::PiServer;

fn main() {
    let mut workers = 4usize;
    let mut seconds = 15u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || args.next().and_then(|v| v.parse::<u64>().ok());
        match a.as_str() {
            "--workers" => workers = num().map_or(workers, |n| n.max(1) as usize),
            "--seconds" => seconds = num().map_or(seconds, |n| n.max(1)),
            _ => {
                eprintln!("usage: privacyidea-load [--workers N] [--seconds N]");
                std::process::exit(2);
            }
        }
    }
    let start = std::time::Instant::now();
    let server = PiServer::start();
    let users: Vec<String> = (0..workers).map(|i| format!("load{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    server.configure(&names, &[]);
    eprintln!("privacyIDEA 3.14 up and configured in {:.1} s", start.elapsed().as_secs_f64());
    let state_dir = server.dir().display().to_string();
    let v = server.helper(&[
        "load",
        "--workers",
        &workers.to_string(),
        "--seconds",
        &seconds.to_string(),
        "--state-dir",
        &state_dir,
    ]);
    println!("{}", serde_json::to_string_pretty(&v).expect("json"));
}
