//! Test users that resolve without touching the machine's user database.
//!
//! pam_mfa resolves every user name to an account before anything else (a name the user
//! database does not know is refused), so the users the fixture tests invent must exist for
//! the processes under test. Those processes (`pam-test-client` loading the module,
//! `mfa-enroll`) run with Debian's `libnss-wrapper` preloaded, which answers passwd and group
//! lookups from files of ours instead of the system's. Tests of the system's own user database
//! (aliases, the setuid helper, `su`) use the sandbox's passwd instead (`scripts/sandbox.sh`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The preloaded library (Debian package `libnss-wrapper`).
pub const LIBRARY: &str = "libnss_wrapper.so";

/// First uid handed out.
const FIRST_UID: u32 = 61_000;

/// A passwd and a group file, and the environment that makes a process use them.
#[derive(Debug)]
pub struct NssFiles {
    passwd: PathBuf,
    group: PathBuf,
    names: RefCell<Vec<String>>,
}

fn installed() -> bool {
    ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]
        .iter()
        .any(|d| Path::new(d).join(LIBRARY).exists())
}

impl NssFiles {
    /// Files in `dir` holding root only.
    pub fn new(dir: &Path) -> NssFiles {
        assert!(
            installed(),
            "{LIBRARY} not found: the PAM tests need Debian's libnss-wrapper \
             (apt-get install libnss-wrapper)"
        );
        let n = NssFiles {
            passwd: dir.join("nss-passwd"),
            group: dir.join("nss-group"),
            names: RefCell::new(Vec::new()),
        };
        std::fs::write(&n.passwd, "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
        std::fs::write(&n.group, "root:x:0:\n").expect("group");
        n
    }

    /// The files a [`crate::fixture::Fixture`] keeps beside its configuration `config`, if
    /// there are any (for helpers that are handed only the configuration's path).
    pub fn beside(config: &Path) -> Option<NssFiles> {
        let dir = config.parent()?;
        let passwd = dir.join("nss-passwd");
        let text = std::fs::read_to_string(&passwd).ok()?;
        let names = text
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|n| *n != "root")
            .map(str::to_string)
            .collect();
        Some(NssFiles { passwd, group: dir.join("nss-group"), names: RefCell::new(names) })
    }

    /// Makes sure `name` is a user (with its own group of the same id).
    pub fn ensure(&self, name: &str) {
        if name == "root" || self.names.borrow().iter().any(|n| n == name) {
            return;
        }
        // Names the module refuses anyway (empty, with '/' or control characters) are not
        // written: they would corrupt the file.
        if name.is_empty() || name.contains([':', '\n', '/']) || name.chars().any(char::is_control)
        {
            return;
        }
        let mut names = self.names.borrow_mut();
        let taken = std::fs::read_to_string(&self.passwd).map_or(0, |t| t.lines().count());
        let uid = FIRST_UID + taken as u32;
        append(
            &self.passwd,
            &format!("{name}:x:{uid}:{uid}:pam_mfa test user:/nonexistent:/bin/sh\n"),
        );
        append(&self.group, &format!("{name}:x:{uid}:\n"));
        names.push(name.to_string());
    }

    /// Adds a group with these members.
    pub fn add_group(&self, group: &str, gid: u32, members: &[&str]) {
        append(&self.group, &format!("{group}:x:{gid}:{}\n", members.join(",")));
    }

    /// Sets `cmd`'s environment so its user lookups use these files, after adding the user of
    /// a `--user NAME` argument among `args`.
    pub fn apply(&self, cmd: &mut Command, args: &[&str]) {
        if let Some(i) = args.iter().position(|a| *a == "--user") {
            if let Some(name) = args.get(i + 1) {
                self.ensure(name);
            }
        }
        cmd.env("LD_PRELOAD", LIBRARY)
            .env("NSS_WRAPPER_PASSWD", &self.passwd)
            .env("NSS_WRAPPER_GROUP", &self.group);
    }
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open");
    f.write_all(line.as_bytes()).expect("append");
}
