//! This computer's name, as accounts and relying-party ids in enrollment name it.

/// The host name (`gethostname`); bytes that are not UTF-8 are replaced.
pub fn hostname() -> std::io::Result<String> {
    let name = nix::unistd::gethostname().map_err(std::io::Error::from)?;
    Ok(name.to_string_lossy().into_owned())
}

/// The host name, or `localhost` when it cannot be read: for labels that must not fail a
/// login (the account name shown in an authenticator app).
pub fn hostname_or_localhost() -> String {
    hostname().unwrap_or_else(|_| "localhost".into())
}
