//! `mfa-server tls-init`: the CA phones trust as a root can vouch only for the service's own
//! names (name constraints, checked here with an independent verifier, the openssl CLI), lives
//! 825 days, and its private key is not kept next to `server.key` (by default not at all).

#![allow(clippy::unwrap_used)] // helpers outside test functions panic like assertions

mod common;

use common::PUSHD;
use std::path::Path;
use std::process::Command;

fn tls_init(args: &[&str]) -> (bool, String) {
    let out = Command::new(PUSHD).arg("tls-init").args(args).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A certificate for `name` signed with the CA key in `ca_key` (what whoever steals that key
/// could make), made with the openssl CLI.
fn rogue_certificate(dir: &Path, ca_pem: &Path, ca_key: &Path, name: &str) -> std::path::PathBuf {
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let (key, csr, cert) = (file("key"), file("csr"), file("pem"));
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let (ok, text) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        &format!("subjectAltName=DNS:{name}"),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(ca_pem),
        "-CAkey",
        &p(ca_key),
        "-CAcreateserial",
        "-days",
        "30",
        "-copy_extensions",
        "copyall",
        "-out",
        &p(&cert),
    ]);
    assert!(ok, "{text}");
    cert
}

#[test]
fn the_ca_is_name_constrained_short_lived_and_its_key_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let o = out.to_str().unwrap();
    let (ok, text) =
        tls_init(&["--out-dir", o, "--name", "push.example.org", "--ip", "192.0.2.10"]);
    assert!(ok, "{text}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.pem", "server.key", "server.pem"], "no CA key unless asked");
    let ca = out.join("ca.pem");
    let (ok, text) = openssl(&["x509", "-in", ca.to_str().unwrap(), "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    assert!(text.contains("DNS:push.example.org") && text.contains("IP:192.0.2.10"), "{text}");
    // Both certificates: at most 825 days from now (plus the day of slack before).
    for cert in [&ca, &out.join("server.pem")] {
        let (ok, _) = openssl(&[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-checkend",
            &(826 * 86_400).to_string(),
        ]);
        assert!(!ok, "{} is valid for more than 826 days", cert.display());
        let (ok, _) = openssl(&[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-checkend",
            &(820 * 86_400).to_string(),
        ]);
        assert!(ok, "{} expires too soon", cert.display());
    }
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        out.join("server.pem").to_str().unwrap(),
    ]);
    assert!(ok, "the server certificate does not verify: {text}");

    // The CA key only where asked, never in the output directory.
    let (ok, text) = tls_init(&[
        "--out-dir",
        dir.path().join("t2").to_str().unwrap(),
        "--name",
        "push.example.org",
        "--ca-key",
        dir.path().join("t2/ca.key").to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("in the output directory"), "{text}");
    assert!(!dir.path().join("t2").exists(), "written before refusing");
    let key = dir.path().join("offline/ca.key");
    std::fs::create_dir(dir.path().join("offline")).unwrap();
    let t3 = dir.path().join("t3");
    let (ok, text) = tls_init(&[
        "--out-dir",
        t3.to_str().unwrap(),
        "--name",
        "push.example.org",
        "--ca-key",
        key.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // Whoever holds that key can make certificates, but only for the service's own names:
    // one for another name fails verification (a verifier that honours name constraints,
    // as rustls and browsers do), one for the service's name verifies.
    let ca3 = t3.join("ca.pem");
    let other = rogue_certificate(dir.path(), &ca3, &key, "bank.example.com");
    let (ok, text) =
        openssl(&["verify", "-CAfile", ca3.to_str().unwrap(), other.to_str().unwrap()]);
    assert!(!ok && text.contains("subtree"), "a certificate for another name verified: {text}");
    let own = rogue_certificate(dir.path(), &ca3, &key, "www.push.example.org");
    let (ok, text) = openssl(&["verify", "-CAfile", ca3.to_str().unwrap(), own.to_str().unwrap()]);
    assert!(ok, "a certificate below the service's name did not verify: {text}");
}
