//! Trust and revocation lists from arbitrary bytes: parsing stops at the signature check or
//! at a typed error, never a panic.
#![no_main]

use carnet_certs::{RevocationList, TrustList};
use carnet_codec::cose::{Sign1, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let anchor = VerifyingKey::EcdsaP256(vec![4; 65]);
    let _ = TrustList::open(data, &anchor);
    let _ = RevocationList::open(data, &anchor);
    if let Ok(message) = Sign1::from_slice(data) {
        let _ = message.kid();
        let _ = message.verify(&anchor);
    }
});
