//! The admin CLI without a running service: `host add --out -` prints the credential (for a
//! pipe to the host) and registers the host like `--out FILE` does; processes that open a new
//! database at the same time migrate it once.

use push_proto::PublicKey;
use push_proto::api::HostCredential;
use std::process::Command;

fn pushd(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mfa-server"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run mfa-server")
}

/// A configuration in `dir` for a service that is not running.
fn config_in(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("mfa-server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:8443\"\npublic_url = \"https://push.example:8443\"\n\
             data_dir = \"{}\"\naudit_log = \"{}\"\n\
             tls_cert = \"/nonexistent/server.pem\"\ntls_key = \"/nonexistent/server.key\"\n",
            dir.join("data").display(),
            dir.join("audit.log").display()
        ),
    )
    .expect("config");
    config
}

#[test]
fn host_add_can_print_the_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_in(dir.path());
    let out = pushd(&config, &["host", "add", "web1", "--out", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cred: HostCredential = serde_json::from_slice(&out.stdout).expect("credential JSON");
    assert_eq!((cred.version, cred.hostname.as_str()), (1, "web1"));
    assert!(PublicKey::decode(&cred.service_key).is_ok());
    assert!(push_proto::limits::is_token(&cred.token, push_proto::limits::NONCE_LEN));
    assert!(!dir.path().join("-").exists(), "wrote a file named '-'");
    let list = pushd(&config, &["host", "list", "--json"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("web1"));
    // The token is in the output only, never in the audit log.
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).expect("audit");
    assert!(audit.contains("host.added") && !audit.contains(&cred.token), "{audit}");
    // A second host with the same name is refused, and prints no credential.
    let again = pushd(&config, &["host", "add", "web1", "--out", "-"]);
    assert!(!again.status.success() && again.stdout.is_empty());
}

/// The service starting and an admin command (or two admin commands) may open a database that
/// does not exist yet at the same moment: each migration is applied once, and every command
/// succeeds (before, one could fail with "table ... already exists").
#[test]
fn processes_opening_a_new_database_together_migrate_it_once() {
    for _trial in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_in(dir.path());
        let children: Vec<_> = (0..6)
            .map(|n| {
                Command::new(env!("CARGO_BIN_EXE_mfa-server"))
                    .arg("--config")
                    .arg(&config)
                    .args(["host", "add", &format!("web{n}"), "--out", "-"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn mfa-server")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let list = pushd(&config, &["host", "list", "--json"]);
        let text = String::from_utf8_lossy(&list.stdout);
        assert!((0..6).all(|n| text.contains(&format!("web{n}"))), "{text}");
    }
}
