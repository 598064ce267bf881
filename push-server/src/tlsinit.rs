//! `mfa-pushd tls-init`: a private CA and a server certificate signed by it, so TLS needs no
//! outside PKI. ECDSA P-256 keys, generated with `ring` through `rcgen`.
//!
//! Files written into the output directory (never overwritten):
//! `ca.pem` (give to hosts and devices as their CA file), `ca.key` (0600, keep offline after
//! issuing), `server.pem` and `server.key` (0600) for `tls_cert` / `tls_key`.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The files [`init`] writes.
pub const FILES: [&str; 4] = ["ca.pem", "ca.key", "server.pem", "server.key"];

/// Creates the CA and a server certificate for DNS name `name` and addresses `ips` in
/// `out_dir`; returns the paths written.
pub fn init(out_dir: &Path, name: &str, ips: &[IpAddr]) -> Result<Vec<PathBuf>, String> {
    if name.is_empty()
        || name.len() > 253
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!("--name {name:?} is not a DNS name"));
    }
    let paths: Vec<PathBuf> = FILES.iter().map(|f| out_dir.join(f)).collect();
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        return Err(format!("{} exists; refusing to overwrite", p.display()));
    }
    if !out_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(out_dir)
            .map_err(|e| format!("{}: {e}", out_dir.display()))?;
    }
    let err = |e: rcgen::Error| format!("certificate generation: {e}");
    let (y, m, d) =
        crate::time::civil_from_days(i64::try_from(crate::time::now() / 86_400).unwrap_or(0));
    let (y, m, d) = (
        i32::try_from(y).unwrap_or(2026),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1).min(28),
    );
    // Start yesterday-ish (day clamped to 28, month start otherwise) to tolerate clock skew.
    let from = rcgen::date_time_ymd(y, m, d.saturating_sub(1).max(1));

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, format!("mfa-pushd CA for {name}"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = from;
    ca.not_after = rcgen::date_time_ymd(y + 10, m, d);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let server_key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(vec![name.to_string()]).map_err(err)?;
    server.subject_alt_names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    server.distinguished_name.push(DnType::CommonName, name);
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = from;
    // Two years: within what Apple and browsers accept for any server certificate.
    server.not_after = rcgen::date_time_ymd(y + 2, m, d);
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).map_err(err)?;

    let contents = [
        (ca_cert.pem(), false),
        (ca_key.serialize_pem(), true),
        (server_cert.pem(), false),
        (server_key.serialize_pem(), true),
    ];
    for (path, (text, private)) in paths.iter().zip(contents) {
        let text = zeroize::Zeroizing::new(text);
        if private {
            crate::files::write_new_private(path, text.as_bytes())
        } else {
            write_new_public(path, text.as_bytes())
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(paths)
}

fn write_new_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
