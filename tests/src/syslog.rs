//! Capturing `pam_syslog` output without a syslog daemon and without touching the host.
//!
//! In a new private mount namespace the process mounts an empty tmpfs on `/dev` and binds a
//! datagram socket at `/dev/log`; glibc's `syslog()` then writes to that socket. Only this
//! process sees the change, and it disappears with the process. Needs root.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;

/// A socket receiving this process's syslog messages.
pub struct Capture {
    socket: UnixDatagram,
}

impl Capture {
    /// Enters a private mount namespace and listens on `/dev/log` there.
    pub fn start() -> std::io::Result<Capture> {
        crate::client::private_mount_namespace()?;
        crate::client::mount_tmpfs(c"/dev")?;
        // The one device a login needs: the setuid helper is started with its standard error
        // on /dev/null. Best effort (without CAP_MKNOD only helper logins lack it, and they
        // then fail visibly).
        if crate::client::make_dev_null().is_ok() {
            std::fs::set_permissions("/dev/null", std::fs::Permissions::from_mode(0o666))?;
        }
        let socket = UnixDatagram::bind("/dev/log")?;
        // Writable for everyone: a client that drops to a user (`--as-uid`) still logs here.
        std::fs::set_permissions("/dev/log", std::fs::Permissions::from_mode(0o666))?;
        socket.set_nonblocking(true)?;
        Ok(Capture { socket })
    }

    /// All messages received so far, without the `<priority>` prefix.
    pub fn drain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.socket.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            let line = match line.find('>') {
                Some(i) if line.starts_with('<') => line[i + 1..].to_string(),
                _ => line,
            };
            out.push(line);
        }
        out
    }
}
