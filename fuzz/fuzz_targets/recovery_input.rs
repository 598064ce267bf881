//! `recovery::Attempt::parse` on arbitrary input, checked against the documented code format:
//! after dropping dashes and whitespace, one digit (the index) and ten Crockford base32
//! characters in any case, with O read as 0 and I/L as 1 (the index too). An accepted attempt
//! is checked against a set of unusable hashes and must be rejected without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::recovery::{Attempt, Check, RecoveryCodes};
use std::sync::OnceLock;

fn is_code_char(c: char) -> bool {
    // Crockford base32: digits and letters without I, L, O, U; I/L/O are read as 1/1/0.
    c.is_ascii_digit() || (c.is_ascii_alphabetic() && !matches!(c.to_ascii_uppercase(), 'U'))
}

fn is_index_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), 'O' | 'I' | 'L')
}

fn model(input: &str) -> bool {
    let kept: Vec<char> = input.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
    kept.len() == 11 && is_index_char(kept[0]) && kept[1..].iter().all(|c| is_code_char(*c))
}

/// Ten slots whose hashes are not valid PHC strings: nothing can match them.
fn bogus_set() -> &'static RecoveryCodes {
    static SET: OnceLock<RecoveryCodes> = OnceLock::new();
    SET.get_or_init(|| {
        let slots: Vec<Option<&str>> =
            vec![Some("not-a-phc-string"), None, Some("$argon2id$v=19$broken")];
        let json = format!(r#"{{"generated":0,"slots":{}}}"#, serde_json::json!(slots));
        serde_json::from_str(&json).expect("recovery code set")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let attempt = Attempt::parse(text);
    assert_eq!(attempt.is_some(), model(text), "input {text:?}");
    if let Some(a) = attempt {
        assert_eq!(bogus_set().clone().redeem(&a), Check::Rejected);
    }
});
