//! `TotpUri::parse` on arbitrary text; a URI that parses must survive `to_uri` and a second
//! parse unchanged (as long as the rendering stays within the parser's 4096-byte limit).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::otpauth::TotpUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(uri) = TotpUri::parse(text) else { return };
    let rendered = uri.to_uri();
    if rendered.len() > 4096 {
        // Percent-encoding can triple a long label; the parser refuses such URIs by design.
        return;
    }
    let again = TotpUri::parse(&rendered)
        .unwrap_or_else(|e| panic!("rendered URI does not parse again: {e}"));
    assert_eq!(again, uri, "round trip changed the URI");
    assert_eq!(*again.to_uri(), *rendered, "rendering is not stable");
});
