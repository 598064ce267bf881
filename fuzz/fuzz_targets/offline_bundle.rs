//! What a fleet host parses from the service for offline logins (issue 21): a bundle answer
//! (opened with the pinned key, for this host and user) and the TOTP window inside a bundle.
//! Nothing may panic, and no input may ever open: the fuzzer cannot sign with the pinned
//! service key. A window taken from the input (as if a signed bundle carried it) may be
//! malformed in any way and still never match a code without its hash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::offline_window::{Binding, HashedWindow, WindowCost};
use push_proto::offline::{BundleResponse, TotpWindow};
use push_proto::{PublicKey, SecretKey};
use std::sync::OnceLock;

fn service() -> &'static PublicKey {
    static K: OnceLock<PublicKey> = OnceLock::new();
    K.get_or_init(|| SecretKey::generate().expect("key").public())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<BundleResponse>(data) {
        if let push_proto::offline::BundleAnswer::Fresh { bundle } = r.answer {
            if bundle.open(service(), "HHHHHHHHHHHHHHHHHHHHHH", "alice", 1_800_000_000).is_ok() {
                panic!("a bundle not signed by the pinned key opened");
            }
        }
    }
    if let Ok(w) = serde_json::from_slice::<TotpWindow>(data) {
        // Cheap windows are refused before any hashing; only the least cost is hashed here,
        // so that each input stays fast.
        let least = w.memory_kib == WindowCost::MIN.memory_kib && w.passes == WindowCost::MIN.passes;
        if let Some(window) = HashedWindow::from_wire(&w).ok().filter(|_| least) {
            let who = Binding { host_id: "HHHHHHHHHHHHHHHHHHHHHH", user: "alice" };
            let _ = window.check("123456", 1_800_000_000, None, who);
        }
    }
});
