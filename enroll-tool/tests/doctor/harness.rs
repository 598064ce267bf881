//! The harness of `tests/doctor.rs`: fixture trees copied into a temporary root with a real
//! store, `doctor --root` run on them, and exact comparison of the findings.

use crate::common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctor");

/// What the store below the root holds.
#[derive(PartialEq)]
pub(crate) enum Store {
    /// `init`, then alice enrolled.
    Enrolled,
    /// `init` only: nobody enrolled.
    Empty,
    /// No store at all.
    Missing,
}

pub(crate) struct Tree {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    /// Alice's TOTP secret (must never appear in a report).
    pub(crate) secret: Option<String>,
}

impl Tree {
    pub(crate) fn new(case: &str, store: Store) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        copy_tree(&Path::new(FIXTURES).join("good"), &root);
        if case != "good" {
            let overlay = Path::new(FIXTURES).join(case);
            assert!(overlay.is_dir(), "no fixture {case}");
            copy_tree(&overlay, &root);
        }
        let mut tree = Tree { dir, root, secret: None };
        if store != Store::Missing {
            let config = tree.dir.path().join("store.toml");
            let text = format!(
                "[store]\nstate_dir = \"{}\"\nmaster_key = \"{}\"\n",
                tree.root.join("var/lib/pam_mfa").display(),
                tree.root.join("etc/pam_mfa/master.key").display()
            );
            std::fs::write(&config, text).expect("write");
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
            let cmd = |args: &[&str]| {
                let mut c = Command::new(BIN);
                with_users(&mut c, tree.dir.path(), args);
                let out = c.arg("--config").arg(&config).args(args).output();
                let out = out.expect("run");
                assert_ok(&out);
                out
            };
            cmd(&["init"]);
            if store == Store::Enrolled {
                let out = cmd(&["--user", "alice", "totp", "--yes", "--json"]);
                let v: Value = serde_json::from_slice(&out.stdout).expect("json");
                tree.secret = v["secret"].as_str().map(str::to_string);
            }
        }
        tree
    }

    pub(crate) fn doctor(&self, extra: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(["doctor", "--root"]).arg(&self.root).args(extra);
        cmd.output().expect("run doctor")
    }

    /// `doctor --json`: the output and its findings.
    pub(crate) fn findings(&self, extra: &[&str]) -> (Output, Vec<Value>) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.doctor(&args);
        let list: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
        (out, list.as_array().expect("array").clone())
    }
}

/// Copies a fixture tree: directories 0755, files 0644, owned by whoever runs the test.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
    }
}

/// Asserts the findings are exactly these (id, severity, file, line), in order.
#[track_caller]
pub(crate) fn assert_findings(
    out: &Output,
    list: &[Value],
    expected: &[(&str, &str, &str, Option<u64>)],
) {
    let got: Vec<(String, String, String, Option<u64>)> = list
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("?").to_string();
            (s("id"), s("severity"), s("file"), f["line"].as_u64())
        })
        .collect();
    let want: Vec<(String, String, String, Option<u64>)> = expected
        .iter()
        .map(|(i, s, f, l)| (i.to_string(), s.to_string(), f.to_string(), *l))
        .collect();
    assert_eq!(got, want, "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
    for f in list {
        assert!(!f["message"].as_str().unwrap_or("").is_empty(), "{f}");
        assert!(!f["fix"].as_str().unwrap_or("").is_empty(), "{f}");
    }
}

/// Runs `case` and checks its one finding and the exit status (1 for errors, 0 otherwise).
#[track_caller]
pub(crate) fn one_finding(
    case: &str,
    id: &str,
    severity: &str,
    file: &str,
    line: Option<u64>,
) -> Value {
    let tree = Tree::new(case, Store::Enrolled);
    let (out, list) = tree.findings(&[]);
    assert_findings(&out, &list, &[(id, severity, file, line)]);
    assert_exit(&out, if severity == "error" { 1 } else { 0 });
    list[0].clone()
}
