//! The checks of one expanded `auth` stack that uses pam_mfa: how its control, arguments,
//! position and neighbours let logins around the code, or keep everyone out.

use super::control::{Action, Control};
use super::mfa::{self, Mfa, Source, StoreState};
use super::modules::{ModuleDirs, check_module_file};
use super::pam::{Item, ItemKind, Rule};
use super::report::{Finding, Severity};
use mfa_login::config::{Config, ModuleArgs};

/// The module's file name in a stack.
pub(crate) const MFA_MODULE: &str = "pam_mfa.so";

/// Return values pam_mfa uses to refuse a login (wrong code, bad configuration, store faults...).
const MFA_FAILURES: [&str; 6] =
    ["auth_err", "conv_err", "service_err", "authinfo_unavail", "user_unknown", "abort"];

/// Modules that check a password.
const PASSWORD_MODULES: [&str; 8] = [
    "pam_unix.so",
    "pam_unix2.so",
    "pam_sss.so",
    "pam_ldap.so",
    "pam_krb5.so",
    "pam_winbind.so",
    "pam_userdb.so",
    "pam_systemd_home.so",
];

/// Screen lockers' PAM services (the stacks the repository ships for them set `locker`).
const LOCKER_SERVICES: [&str; 4] = ["xscreensaver", "xsecurelock", "i3lock", "swaylock"];
/// Lockers that ask one question and answer every PAM prompt with the typed text: they need
/// `single_prompt` (password and code typed together).
const ONE_QUESTION_LOCKERS: [&str; 2] = ["i3lock", "swaylock"];

/// `auth` modules that never make a stack succeed (they return `PAM_IGNORE` or fail).
const NEUTRAL_MODULES: [&str; 13] = [
    "pam_mfa.so",
    "pam_deny.so",
    "pam_env.so",
    "pam_faildelay.so",
    "pam_nologin.so",
    "pam_group.so",
    "pam_warn.so",
    "pam_echo.so",
    "pam_motd.so",
    "pam_mail.so",
    "pam_keyinit.so",
    "pam_issue.so",
    "pam_lastlog.so",
];

/// Modules that succeed on a condition (group, user, origin): skipping pam_mfa through them is
/// usually deliberate, and a `[[rule]]` says it better.
const CONDITION_MODULES: [&str; 6] = [
    "pam_succeed_if.so",
    "pam_localuser.so",
    "pam_access.so",
    "pam_listfile.so",
    "pam_time.so",
    "pam_wheel.so",
];

/// Whether a result with this action fails the stack (rather than being ignored or jumped).
pub(crate) fn counts(action: Action) -> bool {
    matches!(action, Action::Ok | Action::Done | Action::Bad | Action::Die)
}

/// Everything the checks need besides the stack.
pub(crate) struct Env<'a> {
    /// The configurations and stores.
    pub(crate) mfa: &'a mut Mfa,
    /// Where modules are installed.
    pub(crate) modules: &'a ModuleDirs,
}

/// Runs every check on the `auth` stack of `service`; returns whether it uses pam_mfa.
pub(crate) fn check_stack(
    env: &mut Env<'_>,
    service: &str,
    stack: &[Item],
    out: &mut Vec<Finding>,
) -> bool {
    let uses_mfa =
        stack.iter().any(|it| rule_of(it).is_some_and(|r| r.module_name() == MFA_MODULE));
    if !uses_mfa {
        return false;
    }
    for (i, item) in stack.iter().enumerate() {
        let Some(rule) = rule_of(item) else { continue };
        check_module_file(env.modules, rule, out);
        if rule.module_name() == MFA_MODULE {
            check_mfa_rule(env, service, stack, i, rule, out);
        }
    }
    true
}

fn rule_of(item: &Item) -> Option<&Rule> {
    match &item.kind {
        ItemKind::Rule(r) => Some(r),
        ItemKind::Substack | ItemKind::Broken => None,
    }
}

/// Screen lockers: one that asks one question never unlocks under a two-prompt stack (it types
/// the password at the code prompt), and a message after success can hold any locker's unlock.
fn check_locker(
    service: &str,
    args: Option<&ModuleArgs>,
    single_prompt: bool,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    if ONE_QUESTION_LOCKERS.contains(&service) && !single_prompt {
        out.push(
            Finding::new(
                "pam.locker-one-question",
                Severity::Error,
                &rule.file,
                format!(
                    "{service} asks one question and answers every prompt with it: under this \
                     two-prompt stack it sends the password as the code, and the screen never \
                     unlocks"
                ),
                format!(
                    "use the single-prompt stack shipped for it (password and code typed \
                     together): auth requisite pam_mfa.so split_password locker, auth \
                     requisite pam_unix.so use_first_pass, auth required pam_mfa.so \
                     single_prompt locker (the repository's config/pam.d/{service})"
                ),
            )
            .at(rule.line),
        );
    }
    if LOCKER_SERVICES.contains(&service) && args.is_some_and(|a| !a.locker) {
        out.push(
            Finding::new(
                "pam.locker-messages",
                Severity::Warning,
                &rule.file,
                format!(
                    "{service} is a screen locker, and pam_mfa here may send a message after a \
                     recovery code is accepted, which some lockers (xscreensaver) show with an \
                     OK button and stay locked until it is pressed"
                ),
                "add the argument locker to the pam_mfa line".to_string(),
            )
            .at(rule.line),
        );
    }
}

/// `auth required pam_mfa.so ARGS`, the line to write instead.
fn required_line(rule: &Rule) -> String {
    let mut line = format!("auth required {}", rule.module);
    for a in &rule.args {
        line.push(' ');
        line.push_str(a);
    }
    line
}

/// A finding about the pam_mfa line `rule`.
fn finding_at(
    rule: &Rule,
    id: &'static str,
    severity: Severity,
    message: String,
    fix: String,
) -> Finding {
    Finding::new(id, severity, &rule.file, message, fix).at(rule.line)
}

/// Every check of the pam_mfa line `rule` (item `i` of `stack`), in the order they report:
/// its arguments, its control, what happens to logins it ignores, its place before the
/// password, screen lockers, rules that skip it, and the store it uses.
fn check_mfa_rule(
    env: &mut Env<'_>,
    service: &str,
    stack: &[Item],
    i: usize,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    let args = parse_args(rule, out);
    check_control(rule, out);

    let src = env.mfa.source(args.as_ref().and_then(|a| a.config.as_deref()));
    let cfg = env.mfa.config(&src, out).map(|mut cfg| {
        if let Some(a) = &args {
            cfg.apply(a);
        }
        cfg
    });
    let nullok = args.as_ref().is_some_and(|a| a.nullok);
    let ignore_reason = match &cfg {
        Some(c) => mfa::ignore_reason(c, service),
        None => nullok.then_some("nullok"),
    };
    let others_grant = stack.iter().enumerate().any(|(j, it)| j != i && grants(it));
    check_ignored_logins(rule, nullok, ignore_reason, others_grant, out);
    let single_prompt = asks_single_prompt(cfg.as_ref(), args.as_ref());
    check_before_password(stack, i, single_prompt, rule, out);
    check_locker(service, args.as_ref(), single_prompt, rule, out);
    check_skipped(stack, i, rule, out);

    let Some(cfg) = cfg else { return };
    if !counts(rule.control.action("auth_err")) {
        return;
    }
    check_store(env, &cfg, &src, service, rule, out);
}

/// The module's arguments as pam_mfa parses them; `None` (and an error) when it refuses them.
fn parse_args(rule: &Rule, out: &mut Vec<Finding>) -> Option<ModuleArgs> {
    match ModuleArgs::parse(rule.args.iter().map(String::as_str)) {
        Ok(args) => Some(args),
        Err(e) => {
            out.push(finding_at(
                rule,
                "pam.bad-argument",
                Severity::Error,
                format!("pam_mfa refuses its arguments ({e}), so it denies every login here"),
                "use only config=/absolute/path.toml, nullok, single_prompt, split_password, locker and \
                 debug"
                    .into(),
            ));
            None
        }
    }
}

/// Logins pam_mfa ignores (`PAM_IGNORE`, for `ignore_reason`): with `nullok` and another module
/// that grants, the unenrolled pass on the first factor alone; with no other module that grants,
/// those logins are refused.
fn check_ignored_logins(
    rule: &Rule,
    nullok: bool,
    ignore_reason: Option<&str>,
    others_grant: bool,
    out: &mut Vec<Finding>,
) {
    if nullok && others_grant {
        out.push(finding_at(
            rule,
            "pam.nullok",
            Severity::Warning,
            "nullok: users who have not enrolled log in with the first factor alone (expected \
             during a rollout, not after)"
                .into(),
            "once everyone has enrolled, remove nullok (`mfa-enroll list` shows who has)".into(),
        ));
    }
    if let (Some(why), false) = (ignore_reason, others_grant) {
        out.push(finding_at(
            rule,
            "pam.no-permit",
            Severity::Warning,
            format!(
                "pam_mfa is the only module that decides this auth stack and returns PAM_IGNORE \
                 for some logins ({why}); a stack in which every module ignores fails, so those \
                 logins are refused"
            ),
            format!("add `auth required pam_permit.so` after line {}", rule.line),
        ));
    }
}

/// Whether pam_mfa asks one prompt (password and code together): from the configuration with
/// the arguments applied, or from the arguments alone when the configuration does not load.
/// `split_password` (the first line of a single-prompt stack that checks the password first)
/// asks the single prompt too.
fn asks_single_prompt(cfg: Option<&Config>, args: Option<&ModuleArgs>) -> bool {
    cfg.map_or(args.is_some_and(|a| a.single_prompt || a.split_password), |c| {
        c.single_prompt || c.split_password
    })
}

/// A password module after a two-prompt pam_mfa (item `i`): the code is asked before the
/// password.
fn check_before_password(
    stack: &[Item],
    i: usize,
    single_prompt: bool,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    let password_after = stack[i + 1..]
        .iter()
        .filter_map(rule_of)
        .find(|r| PASSWORD_MODULES.contains(&r.module_name()));
    if let (false, Some(pw)) = (single_prompt, password_after) {
        out.push(finding_at(
            rule,
            "pam.before-password",
            Severity::Warning,
            format!(
                "pam_mfa asks for the code before the password ({} at {}:{}): anyone who knows \
                 a user name can use up the user's wrong-code limit (locking the user out) and \
                 learn whether the user is enrolled",
                pw.module_name(),
                pw.file,
                pw.line
            ),
            "move the pam_mfa line after the password (after `@include common-auth`), or set \
             single_prompt if password and code are typed together"
                .into(),
        ));
    }
}

/// The store of `cfg` (loaded from `src`): one that cannot be opened, or one where nobody is
/// enrolled while enrollment is required, refuses every login.
fn check_store(
    env: &mut Env<'_>,
    cfg: &Config,
    src: &Source,
    service: &str,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    match env.mfa.store(cfg) {
        StoreState::Unusable(e) => out.push(Finding::new(
            "store.unusable",
            Severity::Error,
            cfg.store.state_dir.display().to_string(),
            format!("the store cannot be opened ({e}), so pam_mfa denies every login"),
            if src.shown == mfa_login::config::DEFAULT_PATH {
                "create it with `sudo mfa-enroll init`".to_string()
            } else {
                format!("create it with `sudo mfa-enroll --config {} init`", src.shown)
            },
        )),
        StoreState::NobodyEnrolled if mfa::enrollment_required_for_all(cfg, service) => {
            out.push(finding_at(
                rule,
                "store.nobody-enrolled",
                Severity::Error,
                "enrollment is required and no user has enrolled yet, so every login through \
                 this stack is refused"
                    .into(),
                "enroll first (`sudo mfa-enroll --user NAME totp`), or roll out with \
                 enrollment = \"on-login\" or the nullok argument"
                    .into(),
            ))
        }
        StoreState::NobodyEnrolled | StoreState::Someone => {}
    }
}

/// `sufficient`, `optional` and `[...]` controls under which a refused code does not count.
fn check_control(rule: &Rule, out: &mut Vec<Finding>) {
    let fix = format!("make the control required: `{}`", required_line(rule));
    let finding = |id, message: String| {
        Finding::new(id, Severity::Error, &rule.file, message, fix.clone()).at(rule.line)
    };
    match &rule.control {
        Control::Sufficient => out.push(finding(
            "pam.sufficient",
            "pam_mfa is `sufficient`: a wrong code is ignored and the rest of the stack decides \
             (and a right code alone ends the stack), so the second factor can be bypassed"
                .into(),
        )),
        Control::Optional => out.push(finding(
            "pam.optional",
            "pam_mfa is `optional`: its result is ignored whenever another module decides, so \
             a wrong code does not stop the login"
                .into(),
        )),
        Control::Bracket(_) => {
            let ignored: Vec<String> = MFA_FAILURES
                .iter()
                .filter_map(|v| match rule.control.action(v) {
                    Action::Ignore => Some(format!("{v}=ignore")),
                    Action::Reset => Some(format!("{v}=reset")),
                    Action::Jump(n) => Some(format!("{v}={n}")),
                    _ => None,
                })
                .collect();
            if let Some(first) = ignored.first() {
                let more = match ignored.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                };
                out.push(finding(
                    "pam.control-bypass",
                    format!(
                        "the control {} does not count pam_mfa's refusals ({first}{more}), so a \
                         wrong code does not stop the login",
                        rule.control.text(),
                    ),
                ));
            }
        }
        Control::Required | Control::Requisite => {}
    }
}

/// Whether a module other than pam_mfa can make the stack succeed.
fn grants(item: &Item) -> bool {
    let Some(rule) = rule_of(item) else { return false };
    let name = rule.module_name();
    let neutral = NEUTRAL_MODULES.contains(&name)
        && !(name == "pam_nologin.so" && rule.args.iter().any(|a| a == "successok"));
    !neutral && matches!(rule.control.action("success"), Action::Ok | Action::Done)
}

/// Rules before pam_mfa that end the stack (`done`) or jump over it.
fn check_skipped(stack: &[Item], i: usize, mfa_rule: &Rule, out: &mut Vec<Finding>) {
    for j in 0..i {
        let Some(rule) = rule_of(&stack[j]) else { continue };
        if rule.module_name() == "pam_rootok.so" || rule.module_name() == MFA_MODULE {
            continue; // root needs no second factor to become root
        }
        let level = stack[j].level;
        let mut how = Vec::new();
        for value in ["success", "new_authtok_reqd", "ignore", "auth_err", "user_unknown"] {
            let skips = match rule.control.action(value) {
                Action::Done => {
                    value == "success"
                        && stack[i].level >= level
                        && stack[j..=i].iter().all(|it| it.level >= level)
                }
                Action::Jump(n) => jump_range(stack, j, n).contains(&i),
                _ => false,
            };
            if skips {
                how.push(value);
            }
        }
        if how.is_empty() {
            continue;
        }
        let deliberate = CONDITION_MODULES.contains(&rule.module_name());
        out.push(
            Finding::new(
                "pam.skipped",
                if deliberate { Severity::Warning } else { Severity::Error },
                &rule.file,
                format!(
                    "when {} returns {} (control {}), the stack ends or jumps past pam_mfa at \
                     {}:{}, so no code is asked",
                    rule.module_name(),
                    how.join(" or "),
                    rule.control.text(),
                    mfa_rule.file,
                    mfa_rule.line
                ),
                if deliberate {
                    "to exempt logins from the second factor, use a [[rule]] with exempt = true \
                     in pam_mfa.toml instead"
                } else {
                    "make this rule `required` (or correct the jump count) so that pam_mfa runs \
                     after it"
                },
            )
            .at(rule.line),
        );
    }
}

/// The indices a jump of `n` from rule `j` skips, as Linux-PAM counts: one rule at the same
/// level per step, with any substack it opens.
fn jump_range(stack: &[Item], j: usize, n: usize) -> std::ops::RangeInclusive<usize> {
    let level = stack[j].level;
    let mut k = j;
    for _ in 0..n {
        if k + 1 >= stack.len() || stack[k + 1].level < level {
            break;
        }
        k += 1;
        while k + 1 < stack.len() && stack[k + 1].level > level {
            k += 1;
        }
    }
    j + 1..=k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Root;
    use crate::doctor::pam::Tree;

    /// The `pam.skipped` findings (line, severity) of a one-file stack.
    fn skipped(text: &str) -> Vec<(usize, Severity)> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc/pam.d")).expect("mkdir");
        std::fs::write(dir.path().join("etc/pam.d/svc"), text).expect("write");
        let root = Root::new(Some(dir.path().to_path_buf()));
        let stack = Tree::load(&root).expect("load").auth_stack(&root, "svc").expect("stack");
        let i = stack.iter().position(|it| rule_of(it).is_some_and(|r| r.module == MFA_MODULE));
        let i = i.expect("pam_mfa");
        let mut out = Vec::new();
        check_skipped(&stack, i, rule_of(&stack[i]).expect("rule"), &mut out);
        out.iter().map(|f| (f.line.expect("line"), f.severity)).collect()
    }

    #[test]
    fn jumps_and_done_over_pam_mfa() {
        let unix = "auth [success=1 default=ignore] pam_unix.so\n";
        let tail = "auth requisite pam_deny.so\nauth required pam_permit.so\n";
        // pam-auth-update's place (after pam_permit): the jump only skips pam_deny.
        assert_eq!(skipped(&format!("{unix}{tail}auth required pam_mfa.so\n")), []);
        // Inserted right after pam_unix: a right password jumps over the code.
        assert_eq!(
            skipped(&format!("{unix}auth required pam_mfa.so\n{tail}")),
            [(1, Severity::Error)]
        );
        assert_eq!(
            skipped("auth sufficient pam_unix.so\nauth required pam_mfa.so\n"),
            [(1, Severity::Error)]
        );
        assert_eq!(
            skipped(
                "auth [success=done default=ignore] pam_succeed_if.so user = x\n\
                 auth required pam_mfa.so\n"
            ),
            [(1, Severity::Warning)]
        );
        assert_eq!(skipped("auth sufficient pam_rootok.so\nauth required pam_mfa.so\n"), []);
        // `done` inside a substack ends only the substack.
        let dir_text = "auth optional pam_env.so\nauth substack inner\nauth required pam_mfa.so\n";
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc/pam.d")).expect("mkdir");
        std::fs::write(dir.path().join("etc/pam.d/inner"), "auth sufficient pam_unix.so\n")
            .expect("write");
        std::fs::write(dir.path().join("etc/pam.d/svc"), dir_text).expect("write");
        let root = Root::new(Some(dir.path().to_path_buf()));
        let stack = Tree::load(&root).expect("load").auth_stack(&root, "svc").expect("stack");
        let mut out = Vec::new();
        check_skipped(&stack, 3, rule_of(&stack[3]).expect("rule"), &mut out);
        assert_eq!(out, []);
        // A jump counts a substack as one rule: from pam_env, 1 skips the substack line and
        // its rules, 2 also pam_mfa.
        assert_eq!(jump_range(&stack, 0, 1), 1..=2);
        assert_eq!(jump_range(&stack, 0, 2), 1..=3);
        assert_eq!(jump_range(&stack, 0, 9), 1..=3);
    }
}
