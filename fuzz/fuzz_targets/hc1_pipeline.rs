//! The whole HC1 pipeline on arbitrary text: decode, schema, signature (against the CO3 test
//! signer), expiry, key usage, revocation hashes, verifier mode. Must never panic.
#![no_main]

use std::sync::OnceLock;

use carnet_certs::verifier::{self, VerifierPolicy};
use carnet_certs::{ListHeader, TrustList, hcert, schema};
use libfuzzer_sys::fuzz_target;

/// The DER signer certificate of the CO3 test vector.
const SIGNER: &[u8] = include_bytes!("../../fixtures/dcc/bindings/co3-signer.der");

fn trust() -> &'static TrustList {
    static TRUST: OnceLock<TrustList> = OnceLock::new();
    TRUST.get_or_init(|| {
        TrustList::new(
            ListHeader {
                version: 1,
                issued_at: 1_620_000_000,
            },
            vec![("XX".into(), SIGNER.to_vec())],
        )
        .expect("the test signer parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Bare base45 inputs reach the deeper layers more often with the prefix added.
    let prefixed = format!("HC1:{text}");
    for input in [text, prefixed.as_str()] {
        if let Ok(decoded) = hcert::decode(input) {
            let _ = schema::validate(&decoded.claims.payload, None);
            let _ = schema::content_checks(&decoded.claims.payload, Some(1_620_100_000));
        }
        let _ = verifier::verify(
            input,
            trust(),
            None,
            1_620_100_000,
            &VerifierPolicy::default(),
        );
    }
});
