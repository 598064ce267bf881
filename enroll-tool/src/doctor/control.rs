//! The control field of a PAM rule and what Linux-PAM does with each return value
//! (`libpam/pam_handlers.c` and `pam_dispatch.c`): `required`, `requisite`, `sufficient`,
//! `optional`, and `[value=action ...]` where unset values take `default`, else `bad`.

/// What Linux-PAM does with a module's return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Counts towards the result (a failure fails the stack, a success is a success).
    Ok,
    /// Like `Ok`, then ends the stack (unless it already failed).
    Done,
    /// Fails the stack; the rest still runs.
    Bad,
    /// Fails the stack at once.
    Die,
    /// Does not count.
    Ignore,
    /// Forgets everything decided so far.
    Reset,
    /// Skips this many following rules; the result itself does not count.
    Jump(usize),
}

/// The control field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// `required`.
    Required,
    /// `requisite`.
    Requisite,
    /// `sufficient`.
    Sufficient,
    /// `optional`.
    Optional,
    /// `[value=action ...]`, lower-cased, in order.
    Bracket(Vec<(String, String)>),
}

impl Control {
    /// The action for a return value named as in the bracket syntax (`success`, `auth_err`...).
    pub(crate) fn action(&self, value: &str) -> Action {
        let success = matches!(value, "success" | "new_authtok_reqd");
        match self {
            Control::Required if success => Action::Ok,
            Control::Requisite if success => Action::Ok,
            Control::Required | Control::Requisite if value == "ignore" => Action::Ignore,
            Control::Required => Action::Bad,
            Control::Requisite => Action::Die,
            Control::Sufficient if success => Action::Done,
            Control::Optional if success => Action::Ok,
            Control::Sufficient | Control::Optional => Action::Ignore,
            Control::Bracket(pairs) => {
                let find = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, a)| a);
                // Unset values take `default`, and without one they fail ("bad").
                find(value).or_else(|| find("default")).map_or(Action::Bad, |a| parse_action(a))
            }
        }
    }

    /// The control as written, for messages.
    pub(crate) fn text(&self) -> String {
        match self {
            Control::Required => "required".into(),
            Control::Requisite => "requisite".into(),
            Control::Sufficient => "sufficient".into(),
            Control::Optional => "optional".into(),
            Control::Bracket(pairs) => {
                let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", inner.join(" "))
            }
        }
    }
}

fn parse_action(a: &str) -> Action {
    match a {
        "ok" => Action::Ok,
        "done" => Action::Done,
        "die" => Action::Die,
        "ignore" => Action::Ignore,
        "reset" => Action::Reset,
        n => n.parse().map_or(Action::Bad, Action::Jump),
    }
}

/// The pairs of `[value=action ...]`, lower-cased.
pub(crate) fn parse_bracket(control: &str) -> Vec<(String, String)> {
    let inner = control.trim_start_matches('[').trim_end_matches(']');
    inner
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
