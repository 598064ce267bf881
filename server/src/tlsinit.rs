//! `mfa-server tls-init`: a private CA and a server certificate signed by it, so TLS needs no
//! outside PKI. ECDSA P-256 keys, generated with `ring` through `rcgen`.
//!
//! Files written into the output directory (never overwritten): `ca.pem` (give to hosts and
//! devices as their CA file), `server.pem` and `server.key` (0600) for `tls_cert` / `tls_key`.
//!
//! Phones install `ca.pem` as a trusted root, so the CA is made as harmless as a root can be:
//! * **name constraints** (RFC 5280 §4.2.1.10): it can only vouch for the service's own DNS
//!   name (and names below it) and the IP addresses given; a certificate it signed for any
//!   other name is invalid to clients that check constraints (rustls/webpki, browsers);
//! * **no key kept**: its private key signs the server certificate and is dropped, unless
//!   `--ca-key FILE` asks for it, and then never next to `server.key` (a copy of a stolen
//!   service machine's disk must not hold the key that phones trust);
//! * **a short life**: [`VALIDITY_DAYS`] for both certificates, renewed by running `tls-init`
//!   again into a new directory and handing out the new `ca.pem`.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};
use std::net::IpAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The files [`init`] writes into the output directory.
pub const FILES: [&str; 3] = ["ca.pem", "server.pem", "server.key"];

/// How long both certificates are valid: 825 days, the longest Apple platforms accept for a
/// TLS server certificate from a privately installed root.
pub const VALIDITY_DAYS: i64 = 825;

/// The civil date `days_since_epoch` days after 1970-01-01, as rcgen takes it.
fn ymd(days_since_epoch: i64) -> Result<(i32, u8, u8), String> {
    let (y, m, d) = crate::time::civil_from_days(days_since_epoch);
    let bad = |_| "date out of range".to_string();
    Ok((
        i32::try_from(y).map_err(bad)?,
        u8::try_from(m).map_err(bad)?,
        u8::try_from(d).map_err(bad)?,
    ))
}

/// Creates the CA and a server certificate for DNS name `name` and addresses `ips` in
/// `out_dir`, and the CA's private key in `ca_key` if asked (it must not be in `out_dir`);
/// returns the paths written.
pub fn init(
    out_dir: &Path,
    name: &str,
    ips: &[IpAddr],
    ca_key: Option<&Path>,
) -> Result<Vec<PathBuf>, String> {
    check_dns_name(name)?;
    let paths = output_paths(out_dir, ca_key)?;
    if !out_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(out_dir)
            .map_err(|e| format!("{}: {e}", out_dir.display()))?;
    }
    let today = i64::try_from(crate::time::now() / 86_400).unwrap_or(0);
    let validity = Validity::from_day(today)?;
    let (ca_cert, ca_key_pair) = make_ca(name, ips, &validity)?;
    let (server_cert, server_key) = make_server(name, ips, &validity, &ca_cert, &ca_key_pair)?;

    let mut contents = vec![
        (ca_cert.pem(), false),
        (server_cert.pem(), false),
        (server_key.serialize_pem(), true),
    ];
    if ca_key.is_some() {
        contents.push((ca_key_pair.serialize_pem(), true));
    }
    write_all_new(&paths, contents)?;
    Ok(paths)
}

/// `name` must be a DNS name: letters, digits, `-` and `.`, not starting or ending with a dot,
/// at most 253 characters.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 253
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        || name.starts_with('.')
        || name.ends_with('.')
    {
        return Err(format!("--name {name:?} is not a DNS name"));
    }
    Ok(())
}

/// The paths to write ([`FILES`] in `out_dir`, then `ca_key` if asked), once it is sure the CA
/// key is kept out of `out_dir` and none of them exists.
fn output_paths(out_dir: &Path, ca_key: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = FILES.iter().map(|f| out_dir.join(f)).collect();
    if let Some(key) = ca_key {
        let key_dir = key.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same(key_dir, out_dir) {
            return Err(format!(
                "--ca-key {} is in the output directory: keep the CA key away from server.key \
                 (offline, or at least another directory)",
                key.display()
            ));
        }
        paths.push(key.to_path_buf());
    }
    if let Some(p) = paths.iter().find(|p| p.symlink_metadata().is_ok()) {
        return Err(format!("{} exists; refusing to overwrite", p.display()));
    }
    Ok(paths)
}

/// Both certificates' validity, as civil dates: from yesterday (to tolerate clients whose
/// clocks are a little behind) for [`VALIDITY_DAYS`].
struct Validity {
    from: (i32, u8, u8),
    until: (i32, u8, u8),
}

impl Validity {
    fn from_day(today: i64) -> Result<Validity, String> {
        Ok(Validity { from: ymd(today - 1)?, until: ymd(today + VALIDITY_DAYS)? })
    }

    fn apply(&self, params: &mut CertificateParams) {
        let (y, m, d) = self.from;
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = self.until;
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
}

fn cert_err(e: rcgen::Error) -> String {
    format!("certificate generation: {e}")
}

/// The CA: self-signed, may sign end-entity certificates only (path length 0), and name
/// constrained to `name` (and names below it) and the addresses `ips`.
fn make_ca(
    name: &str,
    ips: &[IpAddr],
    validity: &Validity,
) -> Result<(Certificate, KeyPair), String> {
    let ca_key_pair = KeyPair::generate().map_err(cert_err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, format!("mfa-server CA for {name}"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut permitted = vec![GeneralSubtree::DnsName(name.to_string())];
    permitted.extend(ips.iter().map(|ip| {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, bits))
    }));
    ca.name_constraints =
        Some(NameConstraints { permitted_subtrees: permitted, excluded_subtrees: Vec::new() });
    validity.apply(&mut ca);
    let ca_cert = ca.self_signed(&ca_key_pair).map_err(cert_err)?;
    Ok((ca_cert, ca_key_pair))
}

/// The server certificate for `name` and `ips`, signed by the CA: a TLS server, not a CA.
fn make_server(
    name: &str,
    ips: &[IpAddr],
    validity: &Validity,
    ca_cert: &Certificate,
    ca_key_pair: &KeyPair,
) -> Result<(Certificate, KeyPair), String> {
    let server_key = KeyPair::generate().map_err(cert_err)?;
    let mut server = CertificateParams::new(vec![name.to_string()]).map_err(cert_err)?;
    server.subject_alt_names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    server.distinguished_name.push(DnType::CommonName, name);
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    validity.apply(&mut server);
    let server_cert = server.signed_by(&server_key, ca_cert, ca_key_pair).map_err(cert_err)?;
    Ok((server_cert, server_key))
}

/// Writes each text to its path, never over an existing file: the private ones 0600, the
/// others 0644. Each text is wiped from memory once written.
fn write_all_new(paths: &[PathBuf], contents: Vec<(String, bool)>) -> Result<(), String> {
    for (path, (text, private)) in paths.iter().zip(contents) {
        let text = zeroize::Zeroizing::new(text);
        if private {
            crate::files::write_new_private(path, text.as_bytes())
        } else {
            write_new_public(path, text.as_bytes())
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn write_new_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
