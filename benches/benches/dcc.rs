//! DCC verification and decoding, against the floor of their primitives and against the `dgc`
//! crate, on the same messages, in one run. Prints throughputs and ratios.
//!
//! Messages: every ES256 certificate of the EU test data whose signature verifies and that the
//! `dgc` crate can decode (it refuses payloads without `fnt`, for example).

#[path = "../../core/codec/tests/support/degrade.rs"]
#[allow(dead_code)]
mod degrade;

use std::hint::black_box;
use std::time::Duration;

use carnet_bench::paired;

use base64::Engine;
use carnet_certs::{Dsc, TrustStore, hcert, verify_signature};
use carnet_codec::cose::VerifyingKey;
use coset::{CborSerializable, TaggedCborSerializable};

struct Message {
    text: String,
    certificate_b64: String,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    point: Vec<u8>,
}

fn messages() -> Vec<Message> {
    degrade::fixture_files()
        .iter()
        .filter_map(|path| {
            let case: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
            let text = case["PREFIX"].as_str()?.to_owned();
            let certificate_b64 = case["TESTCTX"]["CERTIFICATE"].as_str()?.to_owned();
            let der = base64::engine::general_purpose::STANDARD
                .decode(&certificate_b64)
                .ok()?;
            let dsc = Dsc::from_der(&der).ok()?;
            let VerifyingKey::EcdsaP256(point) = dsc.key().clone() else {
                return None;
            };
            // Only messages both implementations accept, so that both do the same work.
            dgc::decode(&text).ok()?;
            let decoded = hcert::decode(&text).ok()?;
            verify_signature(&decoded, &TrustStore::new(vec![dsc])).ok()?;
            // The signed bytes, built independently with coset for the raw-ring floor.
            let cose = hcert::decompress(&hcert::decode_base45(hcert::unprefix(&text).ok()?).ok()?)
                .ok()?;
            let sign1 = coset::CoseSign1::from_tagged_slice(&cose)
                .or_else(|_| coset::CoseSign1::from_slice(&cose))
                .ok()?;
            let tbs = sign1.tbs_data(&[]);
            Some(Message {
                text,
                certificate_b64,
                tbs,
                signature: sign1.signature.clone(),
                point,
            })
        })
        .collect()
}

fn main() {
    let messages = messages();
    let count = messages.len();
    assert!(count > 100, "only {count} ES256 messages");
    let store = TrustStore::new(
        messages
            .iter()
            .map(|m| {
                Dsc::from_der(
                    &base64::engine::general_purpose::STANDARD
                        .decode(&m.certificate_b64)
                        .unwrap(),
                )
                .unwrap()
            })
            .collect(),
    );
    let mut dgc_trust = dgc::TrustList::default();
    for m in &messages {
        dgc_trust
            .add_key_from_certificate(&m.certificate_b64)
            .unwrap();
    }
    let rounds = 21;
    let mut dgc_invalid = 0;
    for m in &messages {
        if !dgc::validate(&m.text, &dgc_trust).unwrap().1.is_valid() {
            dgc_invalid += 1;
        }
    }
    assert_eq!(
        dgc_invalid, 0,
        "dgc must verify every message it is timed on"
    );

    let raw_pass = || {
        for m in &messages {
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &m.point,
            );
            key.verify(black_box(&m.tbs), &m.signature).unwrap();
        }
    };
    let carnet_verify_pass = || {
        for m in &messages {
            let decoded = hcert::decode(black_box(&m.text)).unwrap();
            verify_signature(&decoded, &store).unwrap();
        }
    };
    let dgc_verify_pass = || {
        for m in &messages {
            let (_, validity) = dgc::validate(black_box(&m.text), &dgc_trust).unwrap();
            assert!(validity.is_valid());
        }
    };
    let carnet_decode_pass = || {
        for m in &messages {
            black_box(hcert::decode(black_box(&m.text)).unwrap());
        }
    };
    let dgc_decode_pass = || {
        for m in &messages {
            black_box(dgc::decode(black_box(&m.text)).unwrap());
        }
    };
    let (carnet_verify, raw, versus_raw) = paired(rounds, carnet_verify_pass, raw_pass);
    let (_, dgc_verify, versus_dgc) = paired(rounds, carnet_verify_pass, dgc_verify_pass);
    let (carnet_decode, dgc_decode, decode_versus_dgc) =
        paired(rounds * 4, carnet_decode_pass, dgc_decode_pass);

    let per_second = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "DCC benchmark: {count} ES256 certificates of the EU test data, median of {rounds}+ passes"
    );
    println!(
        "  raw ring ECDSA P-256 verify     {:>10.0} /s",
        per_second(raw)
    );
    println!(
        "  Carnet HC1 -> verified           {:>10.0} /s",
        per_second(carnet_verify)
    );
    println!(
        "  dgc::validate                    {:>10.0} /s",
        per_second(dgc_verify)
    );
    println!(
        "  Carnet decode (no signature)     {:>10.0} /s",
        per_second(carnet_decode)
    );
    println!(
        "  dgc::decode                      {:>10.0} /s",
        per_second(dgc_decode)
    );
    println!("ratios (target in brackets):");
    println!("  Carnet verify / raw ring         {versus_raw:.2}  [>= 0.85]");
    println!("  Carnet verify / dgc::validate    {versus_dgc:.2}  [>= 1.5]");
    println!("  Carnet decode / dgc::decode      {decode_versus_dgc:.2}  [>= 1.5]");
    println!(
        "(ratios: median over rounds of reference time / Carnet time, the two timed alternately)"
    );
}
