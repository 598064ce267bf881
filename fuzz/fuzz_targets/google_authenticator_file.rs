//! `import::google_authenticator::parse` on arbitrary text (a `~/.google_authenticator` file):
//! never a panic; what it accepts respects the documented limits, and an error never quotes
//! the secret.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::import::google_authenticator::parse;
use mfa_login::secret::SecretBytes;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text) {
        Ok(f) => {
            assert!(f.secret.len() >= 10, "secret shorter than 80 bits accepted");
            assert!((1..=300).contains(&f.step), "STEP_SIZE {} accepted", f.step);
            assert!(f.scratch_codes.len() <= 10);
            for c in &f.scratch_codes {
                assert!(c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()));
            }
            assert!(f.window().is_none_or(|w| w <= 10), "window {:?}", f.window());
            let _ = f.last_used_step();
        }
        Err(e) => {
            // Only meaningful when line 1 is a real secret (plain base32 as google-authenticator
            // writes it, not too short to occur in a message by chance) that appears on no other
            // line (errors quote other lines). Plain means letters and digits only: the fixed
            // wording of the errors ("google-authenticator file: ...") has hyphens and spaces,
            // which `from_base32` skips, so "google-authentica" once passed for a leaked secret.
            let first = text.lines().next().unwrap_or("").trim();
            let plain = first.bytes().all(|b| b.is_ascii_alphanumeric());
            let is_secret = plain && SecretBytes::from_base32(first).is_some();
            let elsewhere = text.lines().skip(1).any(|l| l.contains(first));
            if is_secret && first.len() >= 16 && !elsewhere {
                assert!(!e.to_string().contains(first), "the secret is in the error: {e}");
            }
        }
    }
});
