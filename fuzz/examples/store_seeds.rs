//! Writes the `store_file` seed corpus: record payloads (first byte 1) and the same payloads
//! sealed as store files with the fuzzing master key (first byte 0). Run it again after a
//! change to the record or file format:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example store_seeds
//! ```

use mfa_login::fuzzing::{decode_record, encode_record, seal_store_file, test_master_key};
use mfa_login::username::UserName;
use std::path::Path;

const PAYLOADS: &[(&str, &str)] = &[
    ("minimal", r#"{"user":"alice","created":1763800000,"totp":null,"recovery":null}"#),
    (
        "enrolled",
        r#"{"user":"alice","created":1763800000,
  "totp":{"secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","params":{"algorithm":"SHA1","digits":6,"step":30},
          "enrolled":1763800000,"last_used_step":58793333},
  "recovery":{"generated":1763800000,"slots":[
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$Nyh3XH7xCf/pCZkv1AzJ1L9JUQ6k1z3b3aLhw9aXX+o",
    null,"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    null,null,null,null,null,null,null]},
  "enrollment":{"skips":0,"first_skipped":null,"opted_out":false},
  "lockout":{"failures":[1763800100,1763800200],"locked_until":null}}"#,
    ),
    (
        "sha512-8-digits-locked",
        r#"{"user":"alice","created":1,"totp":{"secret":"JBSWY3DPEHPK3PXP","params":{"algorithm":"SHA512","digits":8,"step":60},"enrolled":2,"last_used_step":null},"recovery":null,"lockout":{"failures":[],"locked_until":18446744073709551615}}"#,
    ),
    (
        "skipped-enrollment",
        r#"{"user":"alice","created":1763800000,"totp":null,"recovery":null,"enrollment":{"skips":2,"first_skipped":1763800000,"opted_out":true}}"#,
    ),
    (
        "security-key-and-imported-codes",
        r#"{"user":"alice","created":1763800000,"totp":{"secret":"X5LIOP3PKXDZK2HVWXU4BYWHYY","params":{"algorithm":"SHA1","digits":6,"step":30},"enrolled":1763800000,"last_used_step":58793334,"window":2},
  "recovery":{"generated":1763800000,"slots":[],"legacy":{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA","macs":["5d41402abc4b2a76b9719d911017c592",null]}},
  "fido2":[{"name":"yubikey-blue","credential_id":"AAECAwQFBgcICQ","public_key":"pQECAyYgASFYIA","rp_id":"pam://host","sign_count":7,"user_verification":true,"created":1763800000}]}"#,
    ),
    ("other-user", r#"{"user":"bob","created":1763800000,"totp":null,"recovery":null}"#),
];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/store_file");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let master = test_master_key();
    let alice = UserName::parse("alice").expect("user name");
    for (name, json) in PAYLOADS {
        // Records that decode are written as the module writes them (compact JSON).
        let plain = match decode_record(json.as_bytes(), &alice) {
            Ok(rec) => encode_record(&rec).to_vec(),
            Err(_) => json.as_bytes().to_vec(),
        };
        let sealed = seal_store_file(&master, &alice, &plain).expect("seal");
        for (prefix, kind, bytes) in [(1u8, "payload", &plain), (0u8, "file", &sealed)] {
            let mut seed = vec![prefix];
            seed.extend_from_slice(bytes);
            std::fs::write(dir.join(format!("{kind}-{name}")), seed).expect("write seed");
        }
    }
    println!("wrote {}", dir.display());
}
