//! The user database `doctor` checks rule names against: the system's (NSS) on this machine,
//! or, for an image below `--root`, its `etc/passwd` and `etc/group` files (other sources such
//! as LDAP cannot be asked for an image).

use mfa_login::account::{Account, Directory, PasswdEntry};
use std::path::Path;

/// `etc/passwd` and `etc/group` of an image, parsed (missing files are empty).
pub(crate) struct FileDirectory {
    users: Vec<PasswdEntry>,
    groups: Vec<(String, u32, Vec<String>)>,
}

impl FileDirectory {
    /// Reads `passwd` and `group`.
    pub(crate) fn read(passwd: &Path, group: &Path) -> FileDirectory {
        let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let users = text(passwd)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some(PasswdEntry {
                    name: f.first()?.to_string(),
                    uid: f.get(2)?.parse().ok()?,
                    gid: f.get(3)?.parse().ok()?,
                })
            })
            .collect();
        let groups = text(group)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let members = f.get(3).map_or(Vec::new(), |m| {
                    m.split(',').filter(|m| !m.is_empty()).map(str::to_string).collect()
                });
                Some((f.first()?.to_string(), f.get(2)?.parse().ok()?, members))
            })
            .collect();
        FileDirectory { users, groups }
    }
}

impl Directory for FileDirectory {
    fn user_by_name(&self, name: &str) -> mfa_login::Result<Option<PasswdEntry>> {
        Ok(self.users.iter().find(|u| u.name == name).cloned())
    }
    fn user_by_uid(&self, uid: u32) -> mfa_login::Result<Option<PasswdEntry>> {
        Ok(self.users.iter().find(|u| u.uid == uid).cloned())
    }
    fn group_by_name(&self, name: &str) -> mfa_login::Result<Option<u32>> {
        Ok(self.groups.iter().find(|g| g.0 == name).map(|g| g.1))
    }
    fn group_ids(&self, account: &Account) -> mfa_login::Result<Vec<u32>> {
        let mut ids = vec![account.gid];
        let name = account.name.as_str();
        ids.extend(self.groups.iter().filter(|g| g.2.iter().any(|m| m == name)).map(|g| g.1));
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passwd_and_group_lines() {
        let d = tempfile::tempdir().expect("tempdir");
        let (p, g) = (d.path().join("passwd"), d.path().join("group"));
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken\n",
        )
        .expect("write");
        std::fs::write(&g, "root:x:0:\nwheel:x:10:alice,bob\n").expect("write");
        let dir = FileDirectory::read(&p, &g);
        assert_eq!(dir.user_by_name("alice").expect("lookup").map(|u| u.uid), Some(1000));
        assert_eq!(dir.group_by_name("wheel").expect("lookup"), Some(10));
        assert_eq!(dir.group_by_name("sudo").expect("lookup"), None);
        let alice = mfa_login::account::resolve(&dir, "alice").expect("alice");
        assert_eq!(dir.group_ids(&alice).expect("groups"), vec![1000, 10]);
    }
}
