//! Whether the modules a stack names are installed: Linux-PAM fails a rule whose module it
//! cannot load (`PAM_MODULE_UNKNOWN`), also for `-auth` lines, which only log less.

use super::Root;
use super::pam::Rule;
use super::pam_checks::{MFA_MODULE, counts};
use super::report::{Finding, Severity};
use std::path::{Path, PathBuf};

/// The directories Linux-PAM loads modules from, below `--root`.
pub(crate) struct ModuleDirs {
    root: Root,
    dirs: Vec<PathBuf>,
}

impl ModuleDirs {
    /// `/lib/security`, `/usr/lib/security`, their `lib64` twins and the multiarch
    /// directories (`/usr/lib/x86_64-linux-gnu/security`...).
    pub(crate) fn find(root: &Root) -> ModuleDirs {
        let mut dirs = Vec::new();
        for lib in ["/lib", "/lib64", "/usr/lib", "/usr/lib64"] {
            let host = root.host(Path::new(lib));
            dirs.push(host.join("security"));
            let Ok(entries) = std::fs::read_dir(&host) else { continue };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().contains("-linux-") {
                    dirs.push(e.path().join("security"));
                }
            }
        }
        ModuleDirs { root: root.clone(), dirs }
    }

    fn exists(&self, module: &str) -> bool {
        if module.contains('$') {
            return true; // "$ISA" paths: not resolved here
        }
        if module.starts_with('/') {
            return self.root.host(Path::new(module)).is_file();
        }
        self.dirs.iter().any(|d| d.join(module).is_file())
    }
}

pub(crate) fn check_module_file(modules: &ModuleDirs, rule: &Rule, out: &mut Vec<Finding>) {
    if modules.exists(&rule.module) {
        return;
    }
    let fails = counts(rule.control.action("module_unknown"));
    let is_mfa = rule.module_name() == MFA_MODULE;
    let (severity, what) = match (fails, is_mfa) {
        (true, _) => {
            (Severity::Error, "Linux-PAM fails this rule, so every login through the stack fails")
        }
        (false, true) => (Severity::Error, "its failure is ignored, so no code is ever asked"),
        (false, false) => (Severity::Warning, "this rule does nothing"),
    };
    let fix = if is_mfa {
        "install the module (scripts/install.sh or the libpam-mfa package), or correct the path \
         (by default /usr/lib/<multiarch>/security/pam_mfa.so)"
    } else {
        "install the module or correct its name, or remove the line"
    };
    let missing = if rule.module.starts_with('/') {
        format!("{} does not exist", rule.module)
    } else {
        format!("{} is not installed in the module directory", rule.module)
    };
    out.push(
        Finding::new("pam.module-missing", severity, &rule.file, format!("{missing}: {what}"), fix)
            .at(rule.line),
    );
}
