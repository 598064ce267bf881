use super::*;

#[test]
fn lines_are_split_like_sshd() {
    let args = |l: &str| split_line(l).map(|(k, a)| (k.to_string(), a));
    assert_eq!(args("  # comment"), None);
    assert_eq!(args(""), None);
    assert_eq!(args("UsePAM yes"), Some(("UsePAM".into(), vec!["yes".into()])));
    assert_eq!(args("UsePAM=no"), Some(("UsePAM".into(), vec!["no".into()])));
    assert_eq!(args("UsePAM = no # why"), Some(("UsePAM".into(), vec!["no".into()])));
    assert_eq!(
        args("AuthenticationMethods \"publickey,keyboard-interactive\" 'a b'"),
        Some((
            "AuthenticationMethods".into(),
            vec!["publickey,keyboard-interactive".into(), "a b".into()]
        ))
    );
}

#[test]
fn wildcards() {
    assert!(wildcard("*.conf", "pam_mfa.conf"));
    assert!(!wildcard("*.conf", "pam_mfa.conf.bak"));
    assert!(wildcard("?0-[a-c]*", "10-b.conf"));
    assert!(!wildcard("[!a]x", "ax"));
}

#[test]
fn includes_in_order_and_match_blocks_end_with_their_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ssh = dir.path().join("etc/ssh");
    std::fs::create_dir_all(ssh.join("sshd_config.d")).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(ssh.join(name), text).expect("write");
    write(
        "sshd_config",
        "Include sshd_config.d/*.conf\nUsePAM yes\nMatch User bob\nInclude extra\n",
    );
    write("sshd_config.d/20-b.conf", "PasswordAuthentication no\n");
    write("sshd_config.d/10-a.conf", "Match Address 10.0.0.0/8\nAuthenticationMethods publickey\n");
    write("sshd_config.d/.hidden.conf", "UsePAM no\n");
    write("extra", "KbdInteractiveAuthentication no\n");
    let all = load(&Root::new(Some(dir.path().to_path_buf()))).expect("load").expect("exists");
    let got: Vec<(&str, &str, usize, Option<&str>)> = all
        .iter()
        .map(|d| (d.keyword.as_str(), d.file.as_str(), d.line, d.condition.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "authenticationmethods",
                "/etc/ssh/sshd_config.d/10-a.conf",
                2,
                Some("Address 10.0.0.0/8")
            ),
            ("passwordauthentication", "/etc/ssh/sshd_config.d/20-b.conf", 1, None),
            ("usepam", "/etc/ssh/sshd_config", 2, None),
            ("kbdinteractiveauthentication", "/etc/ssh/extra", 1, Some("User bob")),
        ]
    );
}

fn directives(text: &str) -> Vec<Directive> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("etc/ssh")).expect("mkdir");
    std::fs::write(dir.path().join("etc/ssh/sshd_config"), text).expect("write");
    load(&Root::new(Some(dir.path().to_path_buf()))).expect("load").expect("exists")
}

fn ids(text: &str) -> Vec<(&'static str, Severity, Option<usize>)> {
    let mut out = Vec::new();
    check(&directives(text), &mut out);
    out.iter().map(|f| (f.id, f.severity, f.line)).collect()
}

#[test]
fn checks() {
    let good = "UsePAM yes\nKbdInteractiveAuthentication yes\n\
                AuthenticationMethods publickey,keyboard-interactive\nPasswordAuthentication no\n";
    assert_eq!(ids(good), []);
    // The first value wins; ChallengeResponseAuthentication is the same setting.
    assert_eq!(
        ids(&format!("ChallengeResponseAuthentication no\n{good}")),
        [("sshd.kbdinteractive", Severity::Error, Some(1))]
    );
    assert_eq!(ids("PasswordAuthentication no\n"), [("sshd.usepam", Severity::Error, None)]);
    assert_eq!(
        ids("UsePAM yes\nPasswordAuthentication no\n"),
        [("sshd.authentication-methods", Severity::Error, None)]
    );
    assert_eq!(
        ids("UsePAM yes\nAuthenticationMethods publickey,password\n"),
        [("sshd.password-authentication", Severity::Warning, None)]
    );
    assert_eq!(
        ids(&format!("{good}Match Group ops\n  AuthenticationMethods publickey\n")),
        [("sshd.authentication-methods", Severity::Warning, Some(6))]
    );
}
