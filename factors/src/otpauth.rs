//! `otpauth://totp/...` URIs (the Key Uri Format understood by authenticator apps).

use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::totp::{Algorithm, Params};
use zeroize::Zeroizing;

/// The parts of an otpauth TOTP URI.
#[derive(Debug, PartialEq)]
pub struct TotpUri {
    /// Issuer (service name shown in the app).
    pub issuer: String,
    /// Account name, e.g. `alice@host`.
    pub account: String,
    /// The shared secret.
    pub secret: SecretBytes,
    /// Algorithm, digits, period.
    pub params: Params,
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error::Invalid("bad percent-encoding in otpauth URI".into()))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::Invalid("otpauth URI is not UTF-8".into()))
}

impl TotpUri {
    /// Renders the URI. It contains the secret: show it only to the enrolling user.
    pub fn to_uri(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
            encode(&self.issuer),
            encode(&self.account),
            &*self.secret.to_base32(),
            encode(&self.issuer),
            self.params.algorithm.name(),
            self.params.digits,
            self.params.step,
        ))
    }

    /// Parses a TOTP otpauth URI. Missing algorithm/digits/period take the RFC defaults
    /// (SHA1, 6, 30); unsupported values are errors.
    pub fn parse(uri: &str) -> Result<TotpUri> {
        let bad = |m: &str| Error::Invalid(format!("otpauth URI: {m}"));
        if uri.len() > 4096 {
            return Err(bad("too long"));
        }
        let rest = uri.strip_prefix("otpauth://totp/").ok_or_else(|| bad("not otpauth://totp/"))?;
        let (label, query) = rest.split_once('?').ok_or_else(|| bad("no parameters"))?;
        // Split at a literal ':' before decoding, so an encoded colon inside the issuer (as
        // `to_uri` writes it) stays part of it; otherwise the separator may be encoded (`%3A`).
        let (label_issuer, account) = match label.split_once(':') {
            Some((i, a)) => (Some(decode(i)?), decode(a)?),
            None => {
                let label = decode(label)?;
                match label.split_once(':') {
                    Some((i, a)) => (Some(i.to_string()), a.to_string()),
                    None => (None, label),
                }
            }
        };
        let label_issuer = label_issuer.map(|i| i.trim().to_string());
        let account = account.trim().to_string();
        let mut secret = None;
        let mut issuer = None;
        let mut params = Params::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| bad("parameter without value"))?;
            let v = Zeroizing::new(decode(v)?);
            match k {
                "secret" => {
                    secret = Some(SecretBytes::from_base32(&v).ok_or_else(|| bad("bad secret"))?)
                }
                "issuer" => issuer = Some(v.to_string()),
                "algorithm" => {
                    params.algorithm =
                        Algorithm::from_name(&v).ok_or_else(|| bad("unsupported algorithm"))?
                }
                "digits" => {
                    params.digits = match v.as_str() {
                        "6" => 6,
                        "8" => 8,
                        _ => return Err(bad("digits must be 6 or 8")),
                    }
                }
                "period" => {
                    params.step = v
                        .parse()
                        .ok()
                        .filter(|p| (1..=3600).contains(p))
                        .ok_or_else(|| bad("bad period"))?
                }
                _ => {} // unknown parameters (image=, color=...) are ignored, as apps do
            }
        }
        let secret = secret.ok_or_else(|| bad("no secret"))?;
        let issuer = issuer.or(label_issuer).unwrap_or_default();
        Ok(TotpUri { issuer, account, secret, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let u = TotpUri {
            issuer: "ACME Corp".into(),
            account: "alice@web 1".into(),
            secret: SecretBytes::new(b"12345678901234567890".to_vec()),
            params: Params { algorithm: Algorithm::Sha256, digits: 8, step: 30 },
        };
        let s = u.to_uri();
        assert_eq!(
            &*s,
            "otpauth://totp/ACME%20Corp:alice@web%201?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Corp&algorithm=SHA256&digits=8&period=30"
        );
        assert_eq!(TotpUri::parse(&s).unwrap(), u);
    }

    #[test]
    fn issuer_with_a_colon_round_trips() {
        // Found by the `otpauth` fuzz target: the label was percent-decoded before it was split,
        // so the encoded colon of an issuer like "Exam:ple" was taken for the separator.
        let u = TotpUri::parse(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Exam:ple",
        )
        .unwrap();
        assert_eq!((u.issuer.as_str(), u.account.as_str()), ("Exam:ple", "alice@google.com"));
        assert_eq!(TotpUri::parse(&u.to_uri()).unwrap(), u);
        // Without a literal colon, the separator may be percent-encoded.
        let e =
            TotpUri::parse("otpauth://totp/ACME%20Co%3A%20john?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!((e.issuer.as_str(), e.account.as_str()), ("ACME Co", "john"));
    }

    #[test]
    fn defaults_and_errors() {
        let u = TotpUri::parse("otpauth://totp/bob?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(u.params, Params::default());
        assert_eq!(u.account, "bob");
        for bad in [
            "otpauth://hotp/x?secret=JBSWY3DP",
            "otpauth://totp/x",
            "otpauth://totp/x?issuer=a",
            "otpauth://totp/x?secret=!!",
            "otpauth://totp/x?secret=JBSWY3DP&digits=7",
            "otpauth://totp/x?secret=JBSWY3DP&algorithm=MD5",
            "otpauth://totp/%zz?secret=JBSWY3DP",
            "otpauth://totp/x?secret=JBSWY3DP&period=0",
        ] {
            assert!(TotpUri::parse(bad).is_err(), "{bad}");
        }
    }
}
