//! What `mfa-push-device` does.

use super::keyfile::KeyFile;
use crate::client::Client;
use push_proto::api::path;
use push_proto::api::{
    AnswerRequest, AnswerResult, Decision, DeviceAuth, PairRequest, Paired, PendingChallenge,
    PendingList, Status,
};
use push_proto::limits;
use push_proto::signed;
use push_proto::{PublicKey, SecretKey, numbers, pairing_uri};
use std::path::Path;
use std::time::{Duration, Instant};

/// A command's result: what to print, and whether it counts as success.
pub struct Outcome {
    /// Text for stdout.
    pub stdout: String,
    /// Exit successfully.
    pub ok: bool,
    /// Message for stderr when not ok.
    pub error: Option<String>,
}

/// `pair URI --name NAME [--ca-file CA]`.
pub fn pair(key_file: &Path, uri: &str, name: &str, ca: Option<&Path>) -> Result<Outcome, String> {
    if key_file.symlink_metadata().is_ok() {
        return Err(format!("{} exists; refusing to overwrite", key_file.display()));
    }
    // pairing_uri::parse accepts plain http:// only to a loopback address (tests): a
    // credential is never sent in clear text anywhere else.
    let link = pairing_uri::parse(uri).ok_or(
        "not a pairing link (https://HOST/pair#c=...&k=..., or http:// to a loopback address \
         only)",
    )?;
    let Some(host_secret) = link.host_secret else {
        return Err("the link lacks the host's part (&k=...): use the link the host shows".into());
    };
    let (base, credential) = (link.base, link.credential);
    if !limits::is_text(name, limits::MAX_NAME) {
        return Err("--name must be 1 to 64 printable characters".into());
    }
    let ca = ca
        .map(|p| std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display())))
        .transpose()?;
    let client = Client::new(&base, ca.as_deref())?;
    let key = SecretKey::generate().map_err(|e| e.0)?;
    let public_key = key.public().encode();
    let req = PairRequest {
        credential: credential.clone(),
        name: name.to_string(),
        signature: key.sign(&signed::pair(&credential, name, &public_key)),
        public_key: public_key.clone(),
        passkey: None,
    };
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let reply = client.request("POST", path::DEVICE_PAIR, &[], Some(&body), Duration::ZERO)?;
    if reply.status != 201 {
        return Err(format!("the service refused to pair: {}", reply.error_text()));
    }
    let paired: Paired = reply.json()?;
    PublicKey::decode(&paired.service_key).map_err(|e| format!("service key: {e}"))?;
    let file = KeyFile {
        version: 1,
        service_url: base,
        device_id: paired.device_id.clone(),
        user: paired.user.clone(),
        name: name.to_string(),
        private_key: key.encode().to_string(),
        service_key: paired.service_key,
        ca_file: ca,
    };
    file.save_new(key_file)?;
    let code = signed::pairing_code(&host_secret, &credential, &public_key, None);
    Ok(Outcome {
        stdout: format!(
            "paired as device {} for user {}; key written to {}\n\
             pairing code: {} {} (type it where the pairing was started)",
            paired.device_id,
            paired.user,
            key_file.display(),
            &code[..3],
            &code[3..],
        ),
        ok: true,
        error: None,
    })
}

struct Device {
    file: KeyFile,
    key: SecretKey,
    service: PublicKey,
    client: Client,
}

impl Device {
    fn open(key_file: &Path) -> Result<Device, String> {
        let file = KeyFile::load(key_file)?;
        let client = Client::new(&file.service_url, file.ca_file.as_deref())?;
        Ok(Device { key: file.secret()?, service: file.service()?, file, client })
    }

    /// The `Authorization` header of one request (a fresh nonce each time).
    fn auth(&self, method: &str, path: &str, body: &[u8]) -> Result<String, String> {
        let ts = crate::time::now();
        DeviceAuth::sign(&self.key, &self.file.device_id, ts, method, path, body)
            .map(|a| a.header())
            .map_err(|e| e.0)
    }

    /// One fetch of the pending list, every entry's signature checked.
    fn fetch(&self, wait: u64) -> Result<Vec<PendingChallenge>, String> {
        let path = format!("{}?wait={wait}", path::DEVICE_CHALLENGES);
        let auth = self.auth("GET", &path, b"")?;
        let reply = self.client.request(
            "GET",
            &path,
            &[("authorization", &auth)],
            None,
            Duration::from_secs(wait),
        )?;
        if reply.status != 200 {
            return Err(format!("the service refused: {}", reply.error_text()));
        }
        let list: PendingList = reply.json()?;
        for c in &list.challenges {
            self.check(c)?;
        }
        Ok(list.challenges)
    }

    /// A request is shown (and answered) only if the service signed it, it names this device's
    /// user, and its choices are none or three distinct two-digit numbers. What is shown is
    /// what the answer signs (the login's hash), so a service that alters any of it gets an
    /// answer the host refuses.
    fn check(&self, c: &PendingChallenge) -> Result<(), String> {
        let msg = c.signed_bytes();
        if !self.service.verify(&msg, &c.signature)
            || !numbers::valid_choices(&c.choices)
            || c.user != self.file.user
        {
            return Err(format!(
                "request {} does not carry a valid service signature; refusing to show it",
                c.txid.chars().filter(char::is_ascii_alphanumeric).take(22).collect::<String>()
            ));
        }
        Ok(())
    }

    /// Waits up to `wait` seconds for `txid` (or, without it, for exactly one request).
    fn find(&self, txid: Option<&str>, wait: u64) -> Result<PendingChallenge, String> {
        let deadline = Instant::now() + Duration::from_secs(wait);
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let list = self.fetch(left.min(limits::MAX_WAIT))?;
            let found: Vec<_> = match txid {
                Some(t) => list.into_iter().filter(|c| c.txid == t).collect(),
                None => list,
            };
            match found.len() {
                1 => return Ok(found.into_iter().next().ok_or("no request")?),
                0 if Instant::now() < deadline => {
                    // The service answered early with other requests; poll again shortly.
                    std::thread::sleep(Duration::from_millis(200));
                }
                0 => {
                    return Err(match txid {
                        Some(_) => "no such pending request".into(),
                        None => "no pending request".into(),
                    });
                }
                _ => {
                    let ids: Vec<_> = found.iter().map(|c| c.txid.as_str()).collect();
                    return Err(format!("several pending requests; name one: {}", ids.join(" ")));
                }
            }
        }
    }
}

fn describe(c: &PendingChallenge) -> String {
    let choices = if c.choices.is_empty() {
        "type the number shown at login".to_string()
    } else {
        let c: Vec<String> = c.choices.iter().map(u8::to_string).collect();
        format!("choices {}", c.join(" "))
    };
    format!(
        "{}  {}@{}  service {}  from {}  at {}  expires {}  {}",
        c.txid,
        c.user,
        c.hostname,
        c.service,
        c.rhost.as_deref().unwrap_or("-"),
        crate::time::rfc3339(c.time),
        crate::time::rfc3339(c.expires_at),
        choices
    )
}

/// `pending [--wait SECS] [--json]`.
pub fn pending(key_file: &Path, wait: u64, json: bool) -> Result<Outcome, String> {
    let device = Device::open(key_file)?;
    let list = device.fetch(wait.min(limits::MAX_WAIT))?;
    let stdout = if json {
        serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
    } else if list.is_empty() {
        "no pending requests".to_string()
    } else {
        list.iter().map(describe).collect::<Vec<_>>().join("\n")
    };
    Ok(Outcome { stdout, ok: true, error: None })
}

/// `approve|deny|fraud [TXID] [--number N] [--wait SECS] [--json]`.
pub fn answer(
    key_file: &Path,
    txid: Option<&str>,
    decision: Decision,
    number: Option<u8>,
    wait: u64,
    json: bool,
) -> Result<Outcome, String> {
    if txid.is_some_and(|t| !limits::is_id(t)) {
        return Err("TXID is malformed".into());
    }
    let device = Device::open(key_file)?;
    let c = device.find(txid, wait)?;
    if let Some(n) = number {
        if !numbers::acceptable(&c.choices, n) {
            return Err(if c.choices.is_empty() {
                format!("{n} is not a two-digit number")
            } else {
                format!("{n} is not one of the choices ({:?})", c.choices)
            });
        }
    }
    // The answer signs the hash of the login exactly as shown above.
    let signature = device.key.sign(&signed::answer(&c.login_hash(), decision, number));
    let body = serde_json::to_vec(&AnswerRequest { decision, number, signature, passkey: None })
        .map_err(|e| e.to_string())?;
    let path = path::device_answer(&c.txid);
    let auth = device.auth("POST", &path, &body)?;
    let reply = device.client.request(
        "POST",
        &path,
        &[("authorization", &auth)],
        Some(&body),
        Duration::ZERO,
    )?;
    if reply.status != 200 {
        return Err(format!("the service refused the answer: {}", reply.error_text()));
    }
    let result: AnswerResult = reply.json()?;
    let status = serde_json::to_value(result.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let stdout = if json {
        serde_json::json!({"txid": c.txid, "status": status}).to_string()
    } else {
        status.clone()
    };
    let intended = match decision {
        Decision::Approve => Status::Approved,
        Decision::Deny => Status::Denied,
        Decision::Fraud => Status::Fraud,
    };
    let ok = result.status == intended;
    let error = (!ok).then(|| format!("the service recorded {:?}", result.status));
    Ok(Outcome { stdout, ok, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_pairing_only_on_loopback_and_only_with_the_hosts_part() {
        let c = "A".repeat(pairing_uri::CREDENTIAL_LEN);
        let k = "K".repeat(pairing_uri::HOST_SECRET_LEN);
        let key = Path::new("/nonexistent-dir/key.json");
        let Err(e) = pair(key, &format!("http://192.0.2.1:80/pair#c={c}&k={k}"), "n", None) else {
            panic!("paired over plain http")
        };
        assert!(e.contains("not a pairing link"), "{e}");
        let Err(e) = pair(key, &format!("http://127.0.0.1:9/pair#c={c}"), "n", None) else {
            panic!("paired without the host's secret")
        };
        assert!(e.contains("lacks the host's part"), "{e}");
        // Loopback passes the check and fails later, at the connection.
        let Err(e) = pair(key, &format!("http://127.0.0.1:9/pair#c={c}&k={k}"), "n", None) else {
            panic!("paired with nobody")
        };
        assert!(!e.contains("not a pairing link"), "{e}");
    }
}
