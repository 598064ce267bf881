//! `/etc/ssh/sshd_config` read as sshd reads it (`Include` globs expanded in place, the first
//! value of a keyword wins, `Match` blocks apply only to matching connections), and the
//! settings that decide whether sshd runs pam_mfa at all.

use super::Root;
use super::report::{Finding, Severity};
use crate::error::{Error, Result};
use std::path::Path;

/// The main configuration file.
pub(crate) const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// Where the repository's drop-in goes (named in fixes).
const DROP_IN: &str = "/etc/ssh/sshd_config.d/pam_mfa.conf";
/// sshd's own limit on nested `Include`s.
const MAX_DEPTH: usize = 16;

/// One `Keyword arguments` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directive {
    /// The keyword, lower-cased.
    pub(crate) keyword: String,
    /// The keyword as written (for messages).
    pub(crate) written: String,
    /// Its arguments, quotes removed.
    pub(crate) args: Vec<String>,
    /// The file (system path).
    pub(crate) file: String,
    /// The line.
    pub(crate) line: usize,
    /// The criteria of the enclosing `Match` block, if any.
    pub(crate) condition: Option<String>,
}

/// Reads the configuration below the root; `None` when sshd_config does not exist.
pub(crate) fn load(root: &Root) -> Result<Option<Vec<Directive>>> {
    if !root.host(Path::new(SSHD_CONFIG)).is_file() {
        return Ok(None);
    }
    let mut out = Vec::new();
    read_file(root, SSHD_CONFIG, None, 0, &mut out)?;
    Ok(Some(out))
}

fn read_file(
    root: &Root,
    sys: &str,
    outer: Option<String>,
    depth: usize,
    out: &mut Vec<Directive>,
) -> Result<()> {
    let host = root.host(Path::new(sys));
    let text =
        std::fs::read(&host).map_err(|e| Error::io(format!("read {}", host.display()), e))?;
    let mut condition = outer.clone();
    for (i, raw) in String::from_utf8_lossy(&text).lines().enumerate() {
        let Some((written, args)) = split_line(raw) else { continue };
        let keyword = written.to_ascii_lowercase();
        match keyword.as_str() {
            // A Match block lasts until the next Match or the end of this file.
            "match" => condition = Some(args.join(" ")),
            "include" if depth < MAX_DEPTH => {
                for pattern in &args {
                    let pattern = if pattern.starts_with('/') {
                        pattern.clone()
                    } else {
                        format!("/etc/ssh/{pattern}")
                    };
                    for file in glob(root, &pattern) {
                        read_file(root, &file, condition.clone(), depth + 1, out)?;
                    }
                }
            }
            _ => out.push(Directive {
                keyword,
                written: written.to_string(),
                args,
                file: sys.to_string(),
                line: i + 1,
                condition: condition.clone(),
            }),
        }
    }
    Ok(())
}

/// Splits `Keyword args`, `Keyword=args` or `Keyword = args`; `None` for blank and comment
/// lines. Arguments may be quoted; a `#` starting an argument starts a comment.
fn split_line(raw: &str) -> Option<(&str, Vec<String>)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            _ => {}
        }
        let mut arg = String::new();
        let mut quote = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, '\\') => arg.extend(chars.next()),
                (_, c) => arg.push(c),
            }
        }
        args.push(arg);
    }
    Some((keyword, args))
}

/// The files matching an absolute pattern (`*`, `?` and `[...]` in any component), sorted,
/// as system paths.
fn glob(root: &Root, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?', '[']) {
                next.push(format!("{base}/{part}"));
                continue;
            }
            let dir = root.host(Path::new(if base.is_empty() { "/" } else { base }));
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (!n.starts_with('.') || part.starts_with('.')) && wildcard(part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| format!("{base}/{n}")));
        }
        found = next;
    }
    found.retain(|f| root.host(Path::new(f)).is_file());
    found
}

/// Shell-style matching of one path component.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let set = &p[1..close];
                let (negate, set) = match set.first() {
                    Some('!' | '^') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut k = 0;
                while k < set.len() {
                    if k + 2 < set.len() && set[k + 1] == '-' {
                        hit |= (set[k]..=set[k + 2]).contains(&c);
                        k += 3;
                    } else {
                        hit |= set[k] == c;
                        k += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The value of a keyword (and its aliases) for a view of the configuration.
type Value<'a> = Option<&'a Directive>;

/// The settings that matter, as seen by connections outside any `Match` block (`condition`
/// `None`) or inside one (its own settings first, then the global ones).
struct View<'a> {
    use_pam: Value<'a>,
    kbd: Value<'a>,
    methods: Value<'a>,
    password: Value<'a>,
}

fn first<'a>(all: &'a [Directive], keys: &[&str], condition: Option<&str>) -> Value<'a> {
    all.iter().find(|d| keys.contains(&d.keyword.as_str()) && d.condition.as_deref() == condition)
}

fn view<'a>(all: &'a [Directive], condition: Option<&str>) -> View<'a> {
    let get = |keys: &[&str]| first(all, keys, condition).or_else(|| first(all, keys, None));
    View {
        use_pam: get(&["usepam"]),
        kbd: get(&["kbdinteractiveauthentication", "challengeresponseauthentication"]),
        methods: get(&["authenticationmethods"]),
        password: get(&["passwordauthentication"]),
    }
}

fn is_yes(v: Value<'_>, default: bool) -> bool {
    v.and_then(|d| d.args.first()).map_or(default, |a| a.eq_ignore_ascii_case("yes"))
}

fn is_kbd(method: &str) -> bool {
    method == "keyboard-interactive" || method.starts_with("keyboard-interactive:")
}

/// Checks the global settings, then each `Match` block's own settings (reported with their
/// condition, as warnings: they apply only to some connections).
pub(crate) fn check(all: &[Directive], out: &mut Vec<Finding>) {
    check_view(&view(all, None), out);
    let mut conditions: Vec<&str> = Vec::new();
    for d in all {
        if let Some(c) = d.condition.as_deref() {
            if !conditions.contains(&c) {
                conditions.push(c);
            }
        }
    }
    for c in conditions {
        let mut found = Vec::new();
        check_view(&view(all, Some(c)), &mut found);
        // Only what the block itself sets: the rest was reported for everyone above.
        out.extend(found.into_iter().filter(|f| f.condition.is_some()).map(|mut f| {
            if f.severity == Severity::Error {
                f.severity = Severity::Warning;
            }
            f
        }));
    }
}

/// The checks of one view, in order: without `UsePAM yes` nothing else matters; then
/// keyboard-interactive, `AuthenticationMethods` and `PasswordAuthentication`.
fn check_view(v: &View<'_>, out: &mut Vec<Finding>) {
    if !is_yes(v.use_pam, false) {
        out.push(setting_finding(
            "sshd.usepam",
            Severity::Error,
            v.use_pam,
            format!(
                "{}: sshd never runs the PAM stack, so pam_mfa never asks for a code",
                shown(v.use_pam, "UsePAM no")
            ),
            "UsePAM yes",
        ));
        return;
    }
    let lists = method_lists(v);
    check_kbd(v, lists.as_deref(), out);
    check_methods(v, lists.as_deref(), out);
    check_password(v, lists.as_deref(), out);
}

/// A finding about the directive `cause` (or, when it is not set, the default), whose fix is
/// to write `setting`.
fn setting_finding(
    id: &'static str,
    severity: Severity,
    cause: Value<'_>,
    message: String,
    setting: &str,
) -> Finding {
    let (file, line, fix) = match cause {
        Some(d) => (d.file.clone(), Some(d.line), format!("change it to `{setting}`")),
        None => (
            SSHD_CONFIG.to_string(),
            None,
            format!("add `{setting}` to {DROP_IN} (the first value sshd reads wins)"),
        ),
    };
    let mut f = Finding::new(id, severity, file, message, fix);
    f.line = line;
    f.condition = cause.and_then(|d| d.condition.clone());
    f
}

/// A directive as written, or `default` marked as not set.
fn shown(d: Value<'_>, default: &str) -> String {
    match d {
        Some(d) => format!("{} {}", d.written, d.args.join(" ")),
        None => format!("{default} (not set: the default)"),
    }
}

/// The `AuthenticationMethods` lists, each split into its methods; `None` for "any" (the
/// default): one method alone is enough.
fn method_lists<'a>(v: &View<'a>) -> Option<Vec<Vec<&'a str>>> {
    v.methods
        .filter(|d| !d.args.iter().all(|a| a == "any"))
        .map(|d| d.args.iter().map(|l| l.split(',').collect()).collect())
}

/// Keyboard-interactive turned off: no code can be asked, and what that does to the
/// `AuthenticationMethods` lists.
fn check_kbd(v: &View<'_>, lists: Option<&[Vec<&str>]>, out: &mut Vec<Finding>) {
    if is_yes(v.kbd, true) {
        return;
    }
    let needs_kbd = |l: &Vec<&str>| l.iter().any(|m| is_kbd(m));
    let effect = match lists {
        Some(ls) if ls.iter().all(needs_kbd) => {
            "every AuthenticationMethods list needs keyboard-interactive, so sshd refuses \
             this configuration (`sshd -t` fails) and SSH does not start at the next restart"
        }
        Some(ls) if ls.iter().any(needs_kbd) => {
            "sshd disables the AuthenticationMethods lists with keyboard-interactive, and \
             the others skip the code"
        }
        _ => "no code can be asked, so public-key logins skip the second factor",
    };
    out.push(setting_finding(
        "sshd.kbdinteractive",
        Severity::Error,
        v.kbd,
        format!(
            "{}{}: {effect}",
            shown(v.kbd, "KbdInteractiveAuthentication yes"),
            match v.kbd {
                Some(d) if d.keyword == "challengeresponseauthentication" => {
                    " (the old name of KbdInteractiveAuthentication)"
                }
                _ => "",
            }
        ),
        "KbdInteractiveAuthentication yes",
    ));
}

/// `AuthenticationMethods`: "any", or a list that asks neither keyboard-interactive nor the
/// password, lets a login skip the code.
fn check_methods(v: &View<'_>, lists: Option<&[Vec<&str>]>, out: &mut Vec<Finding>) {
    // With UsePAM, "password" runs the PAM stack too (pam_mfa is asked, and gets the password).
    let skips = |l: &Vec<&str>| !l.iter().any(|m| is_kbd(m) || *m == "password");
    match lists {
        None => out.push(setting_finding(
            "sshd.authentication-methods",
            Severity::Error,
            v.methods,
            format!(
                "{}: any one method is enough, so a public key alone logs in without a code",
                shown(v.methods, "AuthenticationMethods any")
            ),
            "AuthenticationMethods publickey,keyboard-interactive",
        )),
        Some(ls) if ls.iter().any(skips) => {
            let bad: Vec<String> = ls.iter().filter(|l| skips(l)).map(|l| l.join(",")).collect();
            out.push(setting_finding(
                "sshd.authentication-methods",
                Severity::Error,
                v.methods,
                format!(
                    "the method list {} has no keyboard-interactive, so those logins skip the code",
                    bad.join(" and ")
                ),
                "AuthenticationMethods publickey,keyboard-interactive",
            ));
        }
        Some(_) => {}
    }
}

/// `PasswordAuthentication` where a login can use it: sshd answers the code prompt with the
/// password.
fn check_password(v: &View<'_>, lists: Option<&[Vec<&str>]>, out: &mut Vec<Finding>) {
    let password_usable = lists.is_none_or(|ls| ls.iter().any(|l| l.contains(&"password")));
    if is_yes(v.password, true) && password_usable {
        out.push(setting_finding(
            "sshd.password-authentication",
            Severity::Warning,
            v.password,
            format!(
                "{}: sshd's password method answers every PAM prompt with the password, so \
                 pam_mfa gets the password as the code and those logins fail confusingly",
                shown(v.password, "PasswordAuthentication yes")
            ),
            "PasswordAuthentication no",
        ));
    }
}

#[cfg(test)]
#[path = "sshd_tests.rs"]
mod tests;
