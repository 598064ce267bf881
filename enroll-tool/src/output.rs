//! What the commands print: enrollment summaries (no secrets), recovery code lists, the secret
//! in groups for typing, and dates.

use crate::error::{Error, Result};
use mfa_login::store::UserRecord;
use serde::Serialize;
use std::io::Write;
use zeroize::Zeroizing;

/// A user's enrollment without secrets, as `status` and `list` show it (also as JSON).
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct Summary {
    /// User name.
    pub(crate) user: String,
    /// Whether the user has a second factor that can be used to log in.
    pub(crate) enrolled: bool,
    /// The authenticator app, if one is enrolled.
    pub(crate) totp: Option<TotpSummary>,
    /// Unused recovery codes.
    pub(crate) recovery_codes_left: usize,
    /// When the current recovery code set was made (Unix seconds).
    pub(crate) recovery_codes_generated: Option<u64>,
    /// Locked after too many wrong codes until this time (Unix seconds), if locked now.
    pub(crate) locked_until: Option<u64>,
    /// Enroll-on-login: logins on which enrollment was skipped.
    pub(crate) skips: u32,
    /// Enroll-on-login: the user opted out.
    pub(crate) opted_out: bool,
    /// Paired push devices (mfa-server), as `mfa-enroll push --list` shows them.
    pub(crate) push_devices: Vec<DeviceSummary>,
    /// Registered security keys (FIDO2), by name.
    pub(crate) security_keys: Vec<String>,
}

/// A paired push device: its name (what prompts show and `push --remove` takes) and its id at
/// the service (what `mfa-server device revoke` takes).
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct DeviceSummary {
    /// The name the device gave itself.
    pub(crate) name: String,
    /// The device id at the push service.
    pub(crate) id: String,
    /// When it was paired on this host (Unix seconds).
    pub(crate) added: u64,
}

/// The enrolled authenticator app's parameters.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct TotpSummary {
    /// HMAC algorithm name, e.g. `SHA1`.
    pub(crate) algorithm: &'static str,
    /// Code length.
    pub(crate) digits: u8,
    /// Seconds per code.
    pub(crate) period: u64,
    /// When it was enrolled (Unix seconds).
    pub(crate) enrolled: u64,
}

impl Summary {
    /// Summarizes a stored record as of `now` (Unix seconds).
    pub(crate) fn of(record: &UserRecord, now: u64) -> Summary {
        Summary {
            locked_until: record.lockout.locked_for(now).map(|left| now + left),
            skips: record.enrollment.skips,
            opted_out: record.enrollment.opted_out,
            user: record.user.clone(),
            enrolled: record.is_enrolled(),
            totp: record.totp.as_ref().map(|t| TotpSummary {
                algorithm: t.params.algorithm.name(),
                digits: t.params.digits,
                period: t.params.step,
                enrolled: t.enrolled,
            }),
            recovery_codes_left: record.recovery.as_ref().map_or(0, |r| r.remaining()),
            recovery_codes_generated: record.recovery.as_ref().map(|r| r.generated),
            push_devices: record
                .push
                .iter()
                .map(|d| DeviceSummary { name: d.name.clone(), id: d.id.clone(), added: d.added })
                .collect(),
            security_keys: record.fido2.iter().map(|k| k.name.clone()).collect(),
        }
    }

    /// The summary of a user with nothing stored.
    pub(crate) fn nothing(user: &str) -> Summary {
        Summary {
            user: user.to_string(),
            enrolled: false,
            totp: None,
            recovery_codes_left: 0,
            recovery_codes_generated: None,
            locked_until: None,
            skips: 0,
            opted_out: false,
            push_devices: Vec::new(),
            security_keys: Vec::new(),
        }
    }

    /// Writes the summary as a few indented lines of text.
    pub(crate) fn write_text(&self, out: &mut dyn Write) -> Result<()> {
        let state = if self.enrolled { "enrolled" } else { "not enrolled" };
        writeln!(out, "{}: {state}", self.user).map_err(Error::stdout)?;
        if let Some(t) = &self.totp {
            writeln!(
                out,
                "  Authenticator app: {}, {} digits, {} s; enrolled {}",
                t.algorithm,
                t.digits,
                t.period,
                utc(t.enrolled)
            )
            .map_err(Error::stdout)?;
        } else if self.recovery_codes_generated.is_some() {
            writeln!(out, "  Authenticator app: none").map_err(Error::stdout)?;
        }
        if let Some(made) = self.recovery_codes_generated {
            writeln!(
                out,
                "  Recovery codes:    {} of {} left (made {})",
                self.recovery_codes_left,
                mfa_login::recovery::CODE_COUNT,
                utc(made)
            )
            .map_err(Error::stdout)?;
        }
        for d in &self.push_devices {
            writeln!(out, "  Push device:       {} (id {}; paired {})", d.name, d.id, utc(d.added))
                .map_err(Error::stdout)?;
        }
        if !self.security_keys.is_empty() {
            writeln!(out, "  Security keys:     {}", self.security_keys.join(", "))
                .map_err(Error::stdout)?;
        }
        if let Some(until) = self.locked_until {
            writeln!(
                out,
                "  Locked:            until {} (too many wrong codes; `admin unlock` lifts it)",
                utc(until)
            )
            .map_err(Error::stdout)?;
        }
        if self.opted_out {
            writeln!(out, "  Enrollment:        opted out at login (`opt-in` undoes it)")
                .map_err(Error::stdout)?;
        } else if self.skips > 0 && !self.enrolled {
            writeln!(out, "  Enrollment:        skipped at {} login(s)", self.skips)
                .map_err(Error::stdout)?;
        }
        Ok(())
    }
}

/// Prints a warning on standard error (never on standard output, which may carry JSON).
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "mfa-enroll: warning: {message}");
}

/// Writes `value` as one line of JSON.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<()> {
    // Kept in Zeroizing: the enrollment JSON holds the secret and the recovery codes.
    let text = Zeroizing::new(serde_json::to_string(value).map_err(|e| {
        Error::io("encode JSON", std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    })?);
    writeln!(out, "{}", text.as_str()).map_err(Error::stdout)
}

/// Shows a freshly made set of recovery codes, with what the user must know about them.
pub(crate) fn write_recovery_codes(
    out: &mut dyn Write,
    user: &str,
    codes: &[Zeroizing<String>],
) -> Result<()> {
    let mut text = Zeroizing::new(format!(
        "\nRecovery codes for {user}. Each one works once, in place of a code from the app,\n\
         for when the phone is lost or broken:\n\n"
    ));
    for code in codes {
        text.push_str("    ");
        text.push_str(code);
        text.push('\n');
    }
    text.push_str(
        "\nStore them somewhere safe now (a password manager, or on paper away from the phone).\n\
         They are shown only this once. They replace any earlier recovery codes, which no longer\n\
         work.\n",
    );
    out.write_all(text.as_bytes()).map_err(Error::stdout)
}

/// A base32 secret in groups of four letters, as typed into an app by hand.
pub(crate) fn group4(secret: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(secret.len() * 5 / 4 + 1));
    for (i, c) in secret.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59 UTC");
    }

    #[test]
    fn secret_groups() {
        assert_eq!(&*group4("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(&*group4("ABCDEF"), "ABCD EF");
        assert_eq!(&*group4(""), "");
    }

    #[test]
    fn nothing_stored_is_not_enrolled() {
        let mut out = Vec::new();
        Summary::nothing("alice").write_text(&mut out).expect("writes");
        assert_eq!(String::from_utf8(out).expect("utf8"), "alice: not enrolled\n");
    }
}
