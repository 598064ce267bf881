//! Who a login is for: the user name PAM gives, resolved to the account it names.
//!
//! One uid can have several passwd names (root/toor), and directories such as sssd against
//! Active Directory accept other spellings of a name (case). If the second factor used the name
//! as typed, every other spelling would be a fresh, unenrolled account to it. So the name is
//! resolved first, `getpwnam(name)` → uid → `getpwuid(uid)`, and records, the replay floor,
//! the lockout and the rules all use that account: its uid, and the first passwd name of the
//! uid as the store key. A name that resolves to nobody is an error, never a lenient outcome.
//!
//! The lookups go through [`Directory`], so the login logic is tested without system users;
//! [`SystemDirectory`] asks the system's user database (NSS).

use crate::error::{Error, Result};
use crate::username::UserName;

/// A user account as the user database knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account's name: the first passwd name of its uid (the store key).
    pub name: UserName,
    /// The uid.
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
}

/// One passwd entry as a lookup returned it (the name not yet checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    /// `pw_name`.
    pub name: String,
    /// `pw_uid`.
    pub uid: u32,
    /// `pw_gid`.
    pub gid: u32,
}

/// The user and group database (injected, so tests need no system users).
///
/// `Ok(None)` means the database answered and has no such entry; `Err` that it could not
/// answer. Both deny a login.
pub trait Directory {
    /// `getpwnam`.
    fn user_by_name(&self, name: &str) -> Result<Option<PasswdEntry>>;
    /// `getpwuid`: the uid's first entry.
    fn user_by_uid(&self, uid: u32) -> Result<Option<PasswdEntry>>;
    /// `getgrnam`: the group's gid.
    fn group_by_name(&self, name: &str) -> Result<Option<u32>>;
    /// `getgrouplist`: every group of `account`, the primary one included.
    fn group_ids(&self, account: &Account) -> Result<Vec<u32>>;
}

/// The system's user database (NSS).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemDirectory;

fn lookup_failed(what: &str, e: nix::Error) -> Error {
    Error::UserDatabase(format!("{what}: {e}"))
}

/// `getpwnam_r` and friends may report "no such entry" as an error number instead of a null
/// result (POSIX allows ENOENT, ESRCH, EBADF and EPERM; libnss-wrapper uses ENOENT). Those are
/// "not found"; both outcomes deny a login, this only keeps the log message precise.
fn not_found_is_none<T>(r: nix::Result<Option<T>>, what: &str) -> Result<Option<T>> {
    use nix::errno::Errno;
    match r {
        Ok(v) => Ok(v),
        Err(Errno::ENOENT | Errno::ESRCH) => Ok(None),
        Err(e) => Err(lookup_failed(what, e)),
    }
}

impl Directory for SystemDirectory {
    fn user_by_name(&self, name: &str) -> Result<Option<PasswdEntry>> {
        let u = not_found_is_none(nix::unistd::User::from_name(name), "user lookup by name")?;
        Ok(u.map(|u| PasswdEntry { name: u.name, uid: u.uid.as_raw(), gid: u.gid.as_raw() }))
    }

    fn user_by_uid(&self, uid: u32) -> Result<Option<PasswdEntry>> {
        let uid_ = nix::unistd::Uid::from_raw(uid);
        let u = not_found_is_none(nix::unistd::User::from_uid(uid_), "user lookup by uid")?;
        Ok(u.map(|u| PasswdEntry { name: u.name, uid: u.uid.as_raw(), gid: u.gid.as_raw() }))
    }

    fn group_by_name(&self, name: &str) -> Result<Option<u32>> {
        let g = not_found_is_none(nix::unistd::Group::from_name(name), "group lookup by name")?;
        Ok(g.map(|g| g.gid.as_raw()))
    }

    fn group_ids(&self, account: &Account) -> Result<Vec<u32>> {
        let name = std::ffi::CString::new(account.name.as_str())
            .map_err(|_| Error::InvalidUserName("contains NUL".into()))?;
        let gids = nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(account.gid))
            .map_err(|e| lookup_failed("group list", e))?;
        Ok(gids.into_iter().map(|g| g.as_raw()).collect())
    }
}

/// Resolves a user name as given (PAM_USER, `--user`, a locker's user) to its account:
/// `getpwnam(name)` → uid → `getpwuid(uid)`. Errors: [`Error::InvalidUserName`] for a name
/// that cannot be one, [`Error::UnknownUser`] when the database has no such user (or the uid
/// no entry, or the account's name is unusable), [`Error::UserDatabase`] when it cannot answer.
pub fn resolve(dir: &dyn Directory, name: &str) -> Result<Account> {
    // The raw name goes to NSS (perhaps LDAP or sssd): only names that could be ours.
    UserName::parse(name)?;
    let entry = dir
        .user_by_name(name)?
        .ok_or_else(|| Error::UnknownUser(crate::username::log_safe(name)))?;
    by_uid(dir, entry.uid)
}

/// The account of `uid` (the helper's caller): its first passwd name.
pub fn by_uid(dir: &dyn Directory, uid: u32) -> Result<Account> {
    let first = dir.user_by_uid(uid)?.ok_or_else(|| Error::UnknownUser(format!("uid {uid}")))?;
    if first.uid != uid {
        return Err(Error::UserDatabase(format!("uid {uid} resolved to uid {}", first.uid)));
    }
    let name = UserName::parse(&first.name)
        .map_err(|e| Error::UnknownUser(format!("uid {uid} has an unusable name ({e})")))?;
    Ok(Account { name, uid, gid: first.gid })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A directory from a passwd-like list: `(name, uid, gid)` in file order, and groups
    /// `(name, gid, members)`.
    pub(crate) struct ListDirectory {
        pub(crate) users: Vec<(&'static str, u32, u32)>,
        pub(crate) groups: Vec<(&'static str, u32, Vec<&'static str>)>,
    }

    impl Directory for ListDirectory {
        fn user_by_name(&self, name: &str) -> Result<Option<PasswdEntry>> {
            if name == "broken" {
                return Err(Error::UserDatabase("directory down".into()));
            }
            Ok(self.users.iter().find(|u| u.0 == name).map(|u| PasswdEntry {
                name: u.0.into(),
                uid: u.1,
                gid: u.2,
            }))
        }
        fn user_by_uid(&self, uid: u32) -> Result<Option<PasswdEntry>> {
            Ok(self.users.iter().find(|u| u.1 == uid).map(|u| PasswdEntry {
                name: u.0.into(),
                uid: u.1,
                gid: u.2,
            }))
        }
        fn group_by_name(&self, name: &str) -> Result<Option<u32>> {
            if name == "broken" {
                return Err(Error::UserDatabase("directory down".into()));
            }
            Ok(self.groups.iter().find(|g| g.0 == name).map(|g| g.1))
        }
        fn group_ids(&self, account: &Account) -> Result<Vec<u32>> {
            let mut ids = vec![account.gid];
            ids.extend(
                self.groups.iter().filter(|g| g.2.contains(&account.name.as_str())).map(|g| g.1),
            );
            Ok(ids)
        }
    }

    fn dir() -> ListDirectory {
        ListDirectory {
            users: vec![
                ("root", 0, 0),
                ("alice", 1000, 1000),
                ("toor", 0, 0),
                ("ALICE", 1000, 1000),
            ],
            groups: vec![("wheel", 10, vec!["alice"])],
        }
    }

    #[test]
    fn every_spelling_of_a_uid_is_its_first_name() {
        let d = dir();
        for (typed, account) in [("alice", "alice"), ("ALICE", "alice"), ("toor", "root")] {
            let a = resolve(&d, typed).unwrap();
            assert_eq!(a.name.as_str(), account, "{typed}");
        }
        assert_eq!(resolve(&d, "ALICE").unwrap().uid, 1000);
    }

    #[test]
    fn unknown_names_and_failed_lookups_are_errors() {
        let d = dir();
        assert!(matches!(resolve(&d, "mallory"), Err(Error::UnknownUser(_))));
        assert!(matches!(resolve(&d, "broken"), Err(Error::UserDatabase(_))));
        assert!(matches!(resolve(&d, "../etc"), Err(Error::InvalidUserName(_))));
        assert!(matches!(by_uid(&d, 4242), Err(Error::UnknownUser(_))));
    }

    #[test]
    fn system_directory_knows_root() {
        let a = resolve(&SystemDirectory, "root").unwrap();
        assert_eq!((a.name.as_str(), a.uid), ("root", 0));
        assert!(SystemDirectory.group_ids(&a).unwrap().contains(&0));
        assert_eq!(SystemDirectory.user_by_name("no-such-user-pam-mfa-x").unwrap(), None);
        assert_eq!(SystemDirectory.group_by_name("no-such-group-pam-mfa-x").unwrap(), None);
    }
}
