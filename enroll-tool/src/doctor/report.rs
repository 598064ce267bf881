//! What `doctor` found, and how it is shown: a short text report grouped by file, or a JSON
//! array for scripts.

use crate::error::{Error, Result};
use crate::output::write_json;
use serde::Serialize;
use std::io::Write;

/// How bad a finding is. Only errors make `doctor` exit with status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// pam_mfa can be bypassed, or logins fail for everyone.
    Error,
    /// A weakness or a lockout of some logins; may be intended (e.g. during a rollout).
    Warning,
    /// Worth knowing; nothing is wrong.
    Info,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem, where it is, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// A stable identifier, e.g. `pam.sufficient`.
    pub(crate) id: &'static str,
    /// How bad it is.
    pub(crate) severity: Severity,
    /// The file to change, as the system sees it (below `--root`, shown without it).
    pub(crate) file: String,
    /// The line in `file` (1-based), when the problem is one line.
    pub(crate) line: Option<usize>,
    /// For settings that apply only to some connections (an sshd `Match` block): its criteria.
    pub(crate) condition: Option<String>,
    /// What is wrong and what follows from it.
    pub(crate) message: String,
    /// The concrete change that fixes it.
    pub(crate) fix: String,
}

impl Finding {
    /// A finding without line or condition (set them with the builders below).
    pub(crate) fn new(
        id: &'static str,
        severity: Severity,
        file: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            id,
            severity,
            file: file.into(),
            line: None,
            condition: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// Sets the line.
    pub(crate) fn at(mut self, line: usize) -> Finding {
        self.line = Some(line);
        self
    }
}

/// Sorts by file and line and drops repeats (a line in `common-auth` is seen once per stack
/// that includes it).
pub(crate) fn normalize(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.severity, a.id, &a.condition).cmp(&(
            &b.file,
            b.line,
            b.severity,
            b.id,
            &b.condition,
        ))
    });
    findings.dedup_by(|a, b| {
        a.id == b.id && a.file == b.file && a.line == b.line && a.condition == b.condition
    });
}

/// Number of findings with `severity`.
pub(crate) fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

/// "2 errors, 1 warning" (and ", 1 info" when there are notes).
pub(crate) fn summary(findings: &[Finding]) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "{}, {}",
        plural(count(findings, Severity::Error), "error"),
        plural(count(findings, Severity::Warning), "warning")
    );
    let infos = count(findings, Severity::Info);
    if infos > 0 {
        text.push_str(&format!(", {infos} info"));
    }
    text
}

/// The text report: a heading per file, each finding with its fix, then the summary line.
pub(crate) fn write_text(out: &mut dyn Write, checked: &str, findings: &[Finding]) -> Result<()> {
    let mut w = |s: String| writeln!(out, "{s}").map_err(Error::stdout);
    w(format!("Checked {checked}."))?;
    let mut file: Option<&str> = None;
    for f in findings {
        if file != Some(f.file.as_str()) {
            w(String::new())?;
            w(format!("{}:", f.file))?;
            file = Some(&f.file);
        }
        let place = f.line.map_or_else(String::new, |l| format!("line {l}: "));
        w(format!("  {place}{} [{}] {}", f.severity.word(), f.id, f.message))?;
        if let Some(c) = &f.condition {
            w(format!("    only for connections matching `Match {c}`"))?;
        }
        w(format!("    fix: {}", f.fix))?;
    }
    if findings.is_empty() {
        w("No problems found.".to_string())?;
    } else {
        w(String::new())?;
    }
    w(summary(findings))
}

/// The JSON report: one array of findings.
pub(crate) fn write_json_report(out: &mut dyn Write, findings: &[Finding]) -> Result<()> {
    write_json(out, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &'static str, severity: Severity, file: &str, line: usize) -> Finding {
        Finding::new(id, severity, file, "m", "f").at(line)
    }

    #[test]
    fn summary_counts_and_plurals() {
        assert_eq!(summary(&[]), "0 errors, 0 warnings");
        let list = [
            finding("a", Severity::Error, "/x", 1),
            finding("b", Severity::Error, "/x", 2),
            finding("c", Severity::Warning, "/y", 1),
            finding("d", Severity::Info, "/y", 2),
        ];
        assert_eq!(summary(&list), "2 errors, 1 warning, 1 info");
    }

    #[test]
    fn repeats_are_dropped_and_order_is_by_file_and_line() {
        let mut list = vec![
            finding("a", Severity::Error, "/b", 3),
            finding("a", Severity::Error, "/a", 9),
            finding("a", Severity::Error, "/b", 3),
            finding("b", Severity::Warning, "/a", 1),
        ];
        normalize(&mut list);
        let got: Vec<(&str, Option<usize>)> =
            list.iter().map(|f| (f.file.as_str(), f.line)).collect();
        assert_eq!(got, [("/a", Some(1)), ("/a", Some(9)), ("/b", Some(3))]);
    }

    #[test]
    fn text_groups_by_file() {
        let list = [finding("x.y", Severity::Error, "/etc/pam.d/sshd", 8)];
        let mut out = Vec::new();
        write_text(&mut out, "/etc/pam.d", &list).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("/etc/pam.d/sshd:\n  line 8: error [x.y] m\n    fix: f\n"), "{text}");
        assert!(text.ends_with("\n1 error, 0 warnings\n"), "{text}");
    }
}
