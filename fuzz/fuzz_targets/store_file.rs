//! The store's decoders (`mfa_login::fuzzing`, feature `fuzzing`). The first input byte picks
//! what the rest is:
//!
//! * even: a whole store file as read from disk — header checks, XChaCha20-Poly1305 open and
//!   JSON record decode (random bytes rarely get past the tag; the seeds are real files sealed
//!   with the fuzzing master key);
//! * odd: a decrypted JSON payload, decoded directly, and also sealed with the fuzzing master
//!   key and decoded as a file, so the JSON decoder behind the AEAD sees every input. Both
//!   paths must agree, another user's name must never open the file, and a decoded record
//!   must survive encode → decode unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::fuzzing::{
    decode_record, decode_store_file, encode_record, seal_store_file, test_master_key,
};
use mfa_login::store::{MasterKey, UserRecord};
use mfa_login::username::UserName;
use std::sync::OnceLock;

struct Keys {
    master: MasterKey,
    alice: UserName,
    bob: UserName,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        master: test_master_key(),
        alice: UserName::parse("alice").expect("user name"),
        bob: UserName::parse("bob").expect("user name"),
    })
}

fn check_record(k: &Keys, rec: &UserRecord) {
    assert_eq!(rec.user, "alice", "decoded a record of another user");
    let plain = encode_record(rec);
    let again = decode_record(&plain, &k.alice).expect("an encoded record decodes");
    assert_eq!(&again, rec, "encode/decode round trip changed the record");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let k = keys();
    if mode % 2 == 0 {
        if let Ok(rec) = decode_store_file(&k.master, &k.alice, rest) {
            check_record(k, &rec);
        }
        return;
    }
    let direct = decode_record(rest, &k.alice);
    let sealed = seal_store_file(&k.master, &k.alice, rest).expect("sealing cannot fail");
    let via_file = decode_store_file(&k.master, &k.alice, &sealed);
    assert!(decode_store_file(&k.master, &k.bob, &sealed).is_err(), "bob opened alice's file");
    match (direct, via_file) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "the file decoder and the payload decoder disagree");
            check_record(k, &a);
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("payload decoder: {:?}, file decoder: {:?}", a.is_ok(), b.is_ok()),
    }
});
