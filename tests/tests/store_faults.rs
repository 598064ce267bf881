//! Every fault in the store, master key or directories denies the login — also with nullok,
//! since a broken file must never read as "not enrolled" — logs why, and changes nothing.

use mfa_tests::client::*;
use mfa_tests::fixture::{Enrolled, Fixture};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), None).expect("chown");
}

/// Sets up alice (enrolled) and bob, applies `fault`, and checks that a login with a valid
/// code is refused with `expected`, with and without nullok, and that the fault's reason is
/// logged.
fn assert_denied(
    name: &str,
    expected: i32,
    log_hint: &str,
    fault: impl FnOnce(&Fixture, &Enrolled),
) {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    f.enroll("bob");
    fault(&f, &alice);
    let before = f.snapshot();
    f.stack("mfa-nullok", "auth required {module} {config} nullok");
    for service in ["mfa", "mfa-nullok"] {
        let o = f.login_with(service, "alice", &[&alice.code_now()], &[]);
        assert_eq!(o.code, expected, "{name} ({service}): {o:?}");
        let lines = o.decision_lines();
        assert_eq!(lines.len(), 1, "{name}: {:?}", o.syslog);
        assert!(lines[0].contains("decision=deny"), "{name}: {}", lines[0]);
        assert!(lines[0].contains(log_hint), "{name}: expected '{log_hint}' in {}", lines[0]);
    }
    assert_eq!(f.snapshot(), before, "{name}: a refused login changed files");
}

const UNAVAIL: i32 = PAM_AUTHINFO_UNAVAIL;

#[test]
fn master_key_missing() {
    assert_denied("master key missing", UNAVAIL, "master key", |f, _| {
        std::fs::remove_file(f.master_key()).unwrap();
    });
}

#[test]
fn master_key_wrong_length() {
    assert_denied("master key short", UNAVAIL, "exactly 32 bytes", |f, _| {
        std::fs::write(f.master_key(), [7u8; 31]).unwrap();
    });
}

#[test]
fn master_key_replaced_by_another_key() {
    assert_denied("other master key", UNAVAIL, "authentication failed", |f, _| {
        std::fs::write(f.master_key(), [7u8; 32]).unwrap();
    });
}

#[test]
fn master_key_readable_by_others() {
    assert_denied("master key 0644", UNAVAIL, "want 0600", |f, _| chmod(&f.master_key(), 0o644));
}

#[test]
fn master_key_owned_by_another_user() {
    assert_denied("master key owner", UNAVAIL, "owned by uid 65534", |f, _| {
        chown(&f.master_key(), 65534)
    });
}

#[test]
fn master_key_symlink() {
    assert_denied("master key symlink", UNAVAIL, "master key", |f, _| {
        let real = f.root.join("real.key");
        std::fs::rename(f.master_key(), &real).unwrap();
        symlink(&real, f.master_key()).unwrap();
    });
}

#[test]
fn state_dir_missing() {
    assert_denied("state dir missing", UNAVAIL, "open directory", |f, _| {
        std::fs::rename(f.state_dir(), f.root.join("moved")).unwrap();
    });
}

#[test]
fn users_dir_group_writable() {
    assert_denied("users dir 0770", UNAVAIL, "group- or world-writable", |f, _| {
        chmod(&f.state_dir().join("users"), 0o770)
    });
}

#[test]
fn state_dir_symlink() {
    assert_denied("state dir symlink", UNAVAIL, "open directory", |f, _| {
        let moved = f.root.join("moved");
        std::fs::rename(f.state_dir(), &moved).unwrap();
        symlink(&moved, f.state_dir()).unwrap();
    });
}

#[test]
fn user_file_corrupt() {
    assert_denied("bit flip", UNAVAIL, "authentication failed", |f, _| {
        let p = f.user_file("alice");
        let mut b = std::fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x40;
        std::fs::write(&p, b).unwrap();
    });
}

#[test]
fn user_file_truncated() {
    assert_denied("truncated", UNAVAIL, "authentication failed", |f, _| {
        let p = f.user_file("alice");
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 10]).unwrap();
    });
}

#[test]
fn user_file_truncated_to_header() {
    assert_denied("header only", UNAVAIL, "truncated", |f, _| {
        let p = f.user_file("alice");
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..20]).unwrap();
    });
}

#[test]
fn user_file_empty() {
    assert_denied("empty", UNAVAIL, "truncated", |f, _| {
        std::fs::write(f.user_file("alice"), b"").unwrap()
    });
}

#[test]
fn user_file_garbage() {
    assert_denied("garbage", UNAVAIL, "bad magic", |f, _| {
        std::fs::write(f.user_file("alice"), vec![b'x'; 500]).unwrap()
    });
}

#[test]
fn user_file_wrong_owner() {
    assert_denied("wrong owner", UNAVAIL, "owned by uid 65534", |f, _| {
        chown(&f.user_file("alice"), 65534)
    });
}

#[test]
fn user_file_group_writable() {
    assert_denied("0660", UNAVAIL, "group- or world-writable", |f, _| {
        chmod(&f.user_file("alice"), 0o660)
    });
}

#[test]
fn user_file_world_readable() {
    assert_denied("0604", UNAVAIL, "want 0600", |f, _| chmod(&f.user_file("alice"), 0o604));
}

#[test]
fn user_file_symlink_to_a_valid_file() {
    assert_denied("symlink", UNAVAIL, "symbolic link", |f, _| {
        let p = f.user_file("alice");
        let moved = f.state_dir().join("alice.real");
        std::fs::rename(&p, &moved).unwrap();
        symlink(&moved, &p).unwrap();
    });
}

#[test]
fn user_file_symlink_to_etc_shadow() {
    assert_denied("symlink to /etc/shadow", UNAVAIL, "symbolic link", |f, _| {
        let p = f.user_file("alice");
        std::fs::remove_file(&p).unwrap();
        symlink("/etc/shadow", &p).unwrap();
    });
}

#[test]
fn user_file_is_a_directory() {
    assert_denied("directory", UNAVAIL, "not a regular file", |f, _| {
        let p = f.user_file("alice");
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        chmod(&p, 0o700);
    });
}

#[test]
fn user_file_hard_link() {
    assert_denied("hard link", UNAVAIL, "hard links", |f, _| {
        std::fs::hard_link(f.user_file("alice"), f.root.join("alice.link")).unwrap();
    });
}

#[test]
fn another_users_file_renamed_over_this_user() {
    assert_denied("bob's file as alice", UNAVAIL, "authentication failed", |f, _| {
        std::fs::rename(f.user_file("bob"), f.user_file("alice")).unwrap();
    });
}

#[test]
fn lock_file_symlink() {
    assert_denied("lock symlink", UNAVAIL, "symbolic link", |f, _| {
        let lock = f.state_dir().join("locks/alice");
        std::fs::remove_file(&lock).unwrap();
        symlink("/etc/shadow", &lock).unwrap();
    });
}

/// Unmounts a filesystem when dropped (also when the test fails).
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

/// Disk full: the code is right, but its use cannot be recorded, and accepting it would allow
/// a replay. The login is refused and the stored record is intact.
#[test]
fn disk_full_refuses_a_code_whose_use_cannot_be_recorded() {
    let f = Fixture::new();
    let users = f.state_dir().join("users");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "pam_mfa_test_full"])
        .arg(&users)
        .status()
        .expect("mount");
    assert!(mounted.success(), "mounting a tmpfs needs root");
    let _guard = Mounted(&users);
    let alice = f.enroll("alice");
    // Fill the filesystem (a dot-file: the store ignores it).
    let mut filler = std::fs::File::create(users.join(".filler")).unwrap();
    let chunk = [0u8; 512];
    while std::io::Write::write_all(&mut filler, &chunk).and_then(|()| filler.sync_all()).is_ok() {}
    let before = std::fs::read(f.user_file("alice")).unwrap();
    // The lockout is off in this fixture, so the right code is checked; it cannot be recorded
    // as used and is refused exactly like a wrong one (issue 15, finding 1).
    let o = f.login("alice", &[&alice.code_now()]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(o.decision_lines()[0].contains("could not be recorded as used"), "{:?}", o.syslog);
    assert_eq!(std::fs::read(f.user_file("alice")).unwrap(), before, "record intact");
    let leftovers: Vec<_> = std::fs::read_dir(&users)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary file removed after the failed write");
}

#[test]
fn master_key_empty() {
    assert_denied("master key empty", UNAVAIL, "exactly 32 bytes", |f, _| {
        std::fs::write(f.master_key(), b"").expect("write");
    });
}

#[test]
fn master_key_is_a_directory() {
    assert_denied("master key directory", UNAVAIL, "not a regular file", |f, _| {
        std::fs::remove_file(f.master_key()).expect("rm");
        std::fs::create_dir(f.master_key()).expect("mkdir");
    });
}

#[test]
fn lock_file_is_a_directory() {
    assert_denied("lock directory", UNAVAIL, "locks/alice", |f, _| {
        let lock = f.state_dir().join("locks/alice");
        std::fs::remove_file(&lock).expect("rm");
        std::fs::create_dir(&lock).expect("mkdir");
    });
}

#[test]
fn users_dir_is_a_file() {
    assert_denied("users is a file", UNAVAIL, "users", |f, _| {
        let users = f.state_dir().join("users");
        std::fs::rename(&users, f.root.join("users.moved")).expect("mv");
        std::fs::write(&users, b"x").expect("write");
        chmod(&users, 0o600);
    });
}
