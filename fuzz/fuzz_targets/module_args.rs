//! `ModuleArgs::parse` over NUL/space-separated arguments, checked against a model of the
//! documented grammar: `nullok`, `single_prompt`, `locker`,
//! `split_password`, `debug` and `config=<absolute path>` are
//! accepted, anything else is an error whose message is safe for one syslog line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::config::ModuleArgs;
use std::path::PathBuf;

/// What the arguments should parse to, by the README's description.
fn model(args: &[&str]) -> Option<ModuleArgs> {
    let mut want = ModuleArgs::default();
    for arg in args {
        match *arg {
            "nullok" => want.nullok = true,
            "single_prompt" => want.single_prompt = true,
            "locker" => want.locker = true,
            "split_password" => want.split_password = true,
            "debug" => want.debug = true,
            other => match other.strip_prefix("config=") {
                Some(path) if path.starts_with('/') => want.config = Some(PathBuf::from(path)),
                _ => return None,
            },
        }
    }
    Some(want)
}

fuzz_target!(|data: &[u8]| {
    // The module refuses non-UTF-8 arguments before parsing them.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args: Vec<&str> = text.split(['\0', ' ']).filter(|a| !a.is_empty()).collect();
    match (ModuleArgs::parse(args.iter().copied()), model(&args)) {
        (Ok(got), Some(want)) => {
            assert_eq!(got, want);
            assert!(got.config_path().is_absolute());
        }
        (Err(e), None) => {
            let msg = e.to_string();
            assert!(!msg.chars().any(char::is_control), "control character in {msg:?}");
            assert!(msg.len() < 600, "unbounded error message ({} bytes)", msg.len());
        }
        (got, want) => panic!("args {args:?}: parsed {got:?}, expected {want:?}"),
    }
});
