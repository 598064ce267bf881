//! The admin CLI without a running service: `host add --out -` prints the credential (for a
//! pipe to the host) and registers the host like `--out FILE` does.

use push_proto::PublicKey;
use push_proto::api::HostCredential;
use std::process::Command;

fn pushd(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mfa-pushd"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run mfa-pushd")
}

#[test]
fn host_add_can_print_the_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("mfa-pushd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:8443\"\npublic_url = \"https://push.example:8443\"\n\
             data_dir = \"{}\"\naudit_log = \"{}\"\n\
             tls_cert = \"/nonexistent/server.pem\"\ntls_key = \"/nonexistent/server.key\"\n",
            dir.path().join("data").display(),
            dir.path().join("audit.log").display()
        ),
    )
    .expect("config");
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
