use super::*;
use crate::doctor::control::Action;

fn rules(text: &str) -> Vec<(String, Rule)> {
    PamFile::parse("/etc/pam.d/x", text)
        .entries
        .into_iter()
        .filter_map(|e| match e {
            Entry::Rule { ty, rule } => Some((ty, rule)),
            Entry::Include { .. } => None,
        })
        .collect()
}

#[test]
fn comments_continuations_and_brackets() {
    let text = "# a comment\n\
                auth [success=1 default=ignore]\tpam_unix.so nullok # trailing\n\
                \n\
                -auth \\\n   required pam_mfa.so debug\n\
                session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_x.so\n";
    let got = rules(text);
    assert_eq!(got.len(), 3);
    let (ty, unix) = &got[0];
    assert_eq!((ty.as_str(), unix.line, unix.module_name()), ("auth", 2, "pam_unix.so"));
    assert_eq!(unix.args, ["nullok"]);
    assert_eq!(unix.control.action("success"), Action::Jump(1));
    assert_eq!(unix.control.action("auth_err"), Action::Ignore);
    let (ty, mfa) = &got[1];
    assert_eq!((ty.as_str(), mfa.line, &mfa.control), ("auth", 4, &Control::Required));
    assert_eq!(mfa.args, ["debug"]);
    assert_eq!(got[2].1.control.action("module_unknown"), Action::Ignore);
}

#[test]
fn includes_are_recognised() {
    let f = PamFile::parse(
        "/etc/pam.d/x",
        "@include common-auth\nauth substack /etc/pam.d/y\naccount include common-account\n",
    );
    let targets: Vec<&str> = f.includes().collect();
    assert_eq!(targets, ["common-auth", "/etc/pam.d/y", "common-account"]);
}

#[test]
fn controls_follow_linux_pam() {
    use Action::*;
    let check = |c: Control, expect: [Action; 3]| {
        let got = ["success", "ignore", "auth_err"].map(|v| c.action(v));
        assert_eq!(got, expect, "{}", c.text());
    };
    check(Control::Required, [Ok, Ignore, Bad]);
    check(Control::Requisite, [Ok, Ignore, Die]);
    check(Control::Sufficient, [Done, Ignore, Ignore]);
    check(Control::Optional, [Ok, Ignore, Ignore]);
    // Unset values without `default=` fail.
    check(Control::Bracket(parse_bracket("[success=ok]")), [Ok, Bad, Bad]);
    check(Control::Bracket(parse_bracket("[success=2 default=reset]")), [Jump(2), Reset, Reset]);
    assert_eq!(
        tokenize("auth [a=b c=d] m.so [x y\\]z] q"),
        ["auth", "[a=b c=d]", "m.so", "[x y]z]", "q"]
    );
}

#[test]
fn stacks_expand_includes_and_report_broken_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pamd = dir.path().join("etc/pam.d");
    std::fs::create_dir_all(&pamd).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(pamd.join(name), text).expect("write");
    write("common-auth", "auth required pam_unix.so\naccount required pam_unix.so\n");
    write("sub", "auth sufficient pam_x.so\n");
    write(
        "svc",
        "@include common-auth\nauth substack sub\nauth include missing\nauth required pam_mfa.so\n",
    );
    write("loop", "@include loop\n");
    write("svc.dpkg-old", "auth required pam_permit.so\n");
    let root = Root::new(Some(dir.path().to_path_buf()));
    let mut tree = Tree::load(&root).expect("load");
    assert_eq!(tree.services(), ["loop", "svc"]);
    let stack = tree.auth_stack(&root, "svc").expect("stack");
    let shape: Vec<(usize, String)> = stack
        .iter()
        .map(|it| match &it.kind {
            ItemKind::Rule(r) => (it.level, format!("{}:{}", r.file, r.module)),
            ItemKind::Substack => (it.level, "substack".into()),
            ItemKind::Broken => (it.level, "broken".into()),
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0, "/etc/pam.d/common-auth:pam_unix.so".to_string()),
            (0, "substack".into()),
            (1, "/etc/pam.d/sub:pam_x.so".into()),
            (0, "broken".into()),
            (0, "/etc/pam.d/svc:pam_mfa.so".into()),
        ]
    );
    tree.auth_stack(&root, "loop").expect("stack");
    let broken: Vec<(String, usize, bool)> =
        tree.broken_includes().map(|b| (b.file.clone(), b.line, b.too_deep)).collect();
    assert_eq!(
        broken,
        [("/etc/pam.d/loop".to_string(), 1, true), ("/etc/pam.d/svc".to_string(), 3, false)]
    );
}
