//! `offline-bundle`: fleet mode offline (issue 21), measured in one run against a real
//! mfa-server on SQLite, next to online verification.
//!
//! 1. The TOTP window the service hashes for a bundle (one Argon2id hash per 30-second step,
//!    the service's default cost, `mfa_factors::offline_window`, the code the service runs):
//!    build time and size per hour of window, for 1, 4 and 24 hours (`--quick`: 1 and 4).
//! 2. Per user (`--users`, default 20): an online fleet verification (the module's client,
//!    receipt checked), the admin's `fleet offline mark` (which makes the user's window at
//!    the service: build time per user), the host's bundle fetch (`/v2/fleet/offline/bundle`,
//!    a Fresh bundle from the stored window) and its signed size, and the offline check a host
//!    makes during an outage (open the bundle with the pinned key, check a code against the
//!    window: the current step and its neighbours).
//!
//! ```text
//! offline-bundle [--quick] [--users N] [--out FILE] [--pushd PATH]
//! ```
//!
//! Timing assertions do not belong in tests: this reports, people judge.

use mfa_factors::offline_window::{self, Binding, HashedWindow, WindowCost};
use mfa_factors::totp::{self, Params};
use mfa_login::fleet::FleetConfig;
use mfa_remote::fleet::FleetClient;
use mfa_tests::push::{Backend, Bins, PushService};
use push_proto::fleet::{Factor, Verdict, VerifyRequest};
use push_proto::offline::{BundleAnswer, BundleRequest};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"12345678901234567890";
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const WINDOW_HOURS: u32 = 4;

struct Args {
    quick: bool,
    users: usize,
    out: Option<PathBuf>,
    pushd: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut a = Args { quick: false, users: 20, out: None, pushd: PathBuf::from("mfa-server") };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--users" => a.users = value()?.parse().map_err(|e| format!("--users: {e}"))?,
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--pushd" => a.pushd = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}; see the source's header")),
        }
    }
    if a.quick {
        a.users = a.users.min(5);
    }
    Ok(a)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Build time and wire size of a window of `hours`, at the service's default cost.
fn window_row(hours: u32) -> Result<String, String> {
    let who = Binding { host_id: "HHHHHHHHHHHHHHHHHHHHHH", user: "alice" };
    let steps = hours * 120;
    let start = Instant::now();
    let w = offline_window::build(
        SECRET,
        &Params::default(),
        now() / 30,
        steps,
        who,
        WindowCost::default(),
    )
    .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let bytes = serde_json::to_vec(&w.to_wire()).map_err(|e| e.to_string())?.len();
    let per_day = took.as_secs_f64() * 24.0 / f64::from(hours);
    Ok(format!(
        "| {hours} h ({steps} steps) | {:.2} s | {per_day:.1} s | {bytes} B | {:.0} B |",
        took.as_secs_f64(),
        bytes as f64 * 24.0 / f64::from(hours)
    ))
}

struct PerUser {
    online: Vec<Duration>,
    mark: Vec<Duration>,
    fetch: Vec<Duration>,
    offline: Vec<Duration>,
    size: Vec<usize>,
}

fn measure_service(a: &Args) -> Result<PerUser, String> {
    let bins = Bins { pushd: a.pushd.clone(), device: a.pushd.with_file_name("mfa-push-device") };
    let limits = format!(
        "\n[fleet]\nuser_per_minute = 1000\nhost_per_minute = 1000000\n\
         [offline]\ntotp_window_hours = {WINDOW_HOURS}"
    );
    let svc = PushService::start_from(bins, Backend::Sqlite, &limits);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let credential = dir.path().join("host.json");
    let cred = svc.add_host("bench-host", &credential);
    let secret = dir.path().join("secret.b32");
    std::fs::write(&secret, SECRET_B32).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    let cfg = FleetConfig {
        url: svc.url.clone(),
        ca_file: Some(svc.ca.clone()),
        proxy: None,
        connect_timeout: 30,
        io_timeout: 60,
        credential,
        failmode: Default::default(),
        rp_id: None,
        offline: true,
    };
    let client = FleetClient::new(&cfg).map_err(|e| e.to_string())?;
    let mut m =
        PerUser { online: vec![], mark: vec![], fetch: vec![], offline: vec![], size: vec![] };
    for i in 0..a.users {
        let user = format!("bench{i}");
        let out = svc.admin(&[
            "fleet",
            "user",
            "set-totp",
            "--user",
            &user,
            "--secret-file",
            &secret.display().to_string(),
        ]);
        if !out.status.success() {
            return Err(format!("set-totp: {}", String::from_utf8_lossy(&out.stderr)));
        }
        // Online: one verification with the current code, the receipt checked.
        let code = totp::code_at(SECRET, &Params::default(), now()).to_string();
        let req = VerifyRequest {
            user: user.clone(),
            factor: Factor::Totp,
            answer: code,
            service: "sshd".into(),
            rhost: None,
            time: now(),
            nonce: push_proto::random_token(32).map_err(|e| e.0)?,
        };
        let start = Instant::now();
        let reply = client.verify(&req).map_err(|e| e.to_string())?;
        let verdict = reply
            .receipt
            .check(client.service_key(), client.host_id(), &req)
            .map_err(|e| e.to_string())?;
        m.online.push(start.elapsed());
        if verdict != Verdict::Accept {
            return Err(format!("online verification of {user}: {verdict:?}"));
        }
        // The window, made at the service (the admin's mark waits for it).
        let start = Instant::now();
        let out = svc.admin(&["fleet", "offline", "mark", "--user", &user, "--host", "bench-host"]);
        m.mark.push(start.elapsed());
        if !out.status.success() {
            return Err(format!("offline mark: {}", String::from_utf8_lossy(&out.stderr)));
        }
        // The host's fetch: a Fresh bundle from the stored window.
        let nonce = push_proto::random_token(32).map_err(|e| e.0)?;
        let req = BundleRequest {
            user: user.clone(),
            time: now(),
            nonce,
            held_issued_at: None,
            held_last_step: None,
        };
        let start = Instant::now();
        let answer = client.offline_bundle(&req).map_err(|e| e.to_string())?.answer;
        m.fetch.push(start.elapsed());
        let BundleAnswer::Fresh { bundle } = answer else {
            return Err(format!("bundle for {user}: {answer:?}"));
        };
        m.size.push(bundle.payload.len() + bundle.signature.len());
        // Offline, as the host does it during an outage: open, then check the next code.
        let code = totp::code_at(SECRET, &Params::default(), now() + 30).to_string();
        let start = Instant::now();
        let b = bundle
            .open(client.service_key(), &cred.host_id, &user, now())
            .map_err(|e| e.to_string())?;
        let w = HashedWindow::from_wire(b.totp.as_ref().ok_or("no window")?)
            .map_err(|e| e.to_string())?;
        let step =
            w.check(&code, now() + 30, b.watermark, Binding { host_id: &b.host_id, user: &b.user });
        m.offline.push(start.elapsed());
        if step.is_none() {
            return Err(format!("offline check of {user} refused the next code"));
        }
    }
    Ok(m)
}

fn main() -> Result<(), String> {
    let a = args()?;
    let started = Instant::now();
    let hours: &[u32] = if a.quick { &[1, 4] } else { &[1, 4, 24] };
    let mut text = String::from(
        "## Fleet offline bundles (issue 21)\n\nThe TOTP window, one Argon2id hash per step at the \
         service's default cost (16 MiB, 1 pass), as `mfa_factors::offline_window` builds it:\n\n\
         | window | build time | per user-day | window on the wire | per day |\n|---|---|---|---|---|\n",
    );
    for h in hours {
        text.push_str(&window_row(*h)?);
        text.push('\n');
    }
    let m = measure_service(&a)?;
    let size = m.size.iter().sum::<usize>() / m.size.len().max(1);
    text.push_str(&format!(
        "\nmfa-server (SQLite), {} users, a {WINDOW_HOURS}-hour window, medians:\n\n\
         | step | time |\n|---|---|\n\
         | online verification (module's client, receipt checked) | {} |\n\
         | offline check on the host (open the bundle, check a code against the window) | {} |\n\
         | the window made at the service (`fleet offline mark`, a process) | {} |\n\
         | bundle fetch after a login (Fresh from the stored window) | {} |\n\n\
         Signed bundle: {size} bytes (TOTP window, 0 recovery codes, 0 keys). Ratio offline / \
         online check: {:.1}.\n",
        a.users,
        ms(median(m.online.clone())),
        ms(median(m.offline.clone())),
        ms(median(m.mark.clone())),
        ms(median(m.fetch.clone())),
        median(m.offline).as_secs_f64() / median(m.online).as_secs_f64().max(1e-9),
    ));
    text.push_str(&format!("\n(took {:.0} s)\n", started.elapsed().as_secs_f64()));
    match &a.out {
        Some(p) => std::fs::write(p, &text).map_err(|e| e.to_string())?,
        None => print!("{text}"),
    }
    Ok(())
}
