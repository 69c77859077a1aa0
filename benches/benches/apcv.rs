//! ApCV presentations against the raw signature operations they need, in one run:
//! - build + sign a presentation (select the items, encode the DeviceResponse, one device
//!   signature over the transcript) against one raw ECDSA P-256 signature over a message of
//!   the same size as the transcript;
//! - check a presentation as the pharmacy's reader does (parse, document signer by key id,
//!   issuer signature, validity, item digests, device signature, status list, rights at the
//!   date of care) against the two raw verifications it needs (issuer over the MSO's signed
//!   bytes, device over the transcript's signed bytes).
//!
//! Also prints the ISO/IEC 18013-5 engagement QR's version at level M, and the size of
//! Carnet's counter QR (`APCV1:` text, credential without its certificate) and its QR version
//! at levels M and Q.

use carnet_bench::paired;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{ApcvClaims, DEFAULT_DISCLOSURE};
use carnet_identity::authority::{CertificateValidity, IssuerAuthority};
use carnet_identity::engagement::{DeviceEngagement, RetrievalMethod};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{DeviceKey, StatusReference, Validity};
use carnet_identity::presentation::{Binding, DeviceSigner};
use carnet_identity::qr_text::counter_to_text;
use carnet_identity::reader::{CheckTime, Reader};
use carnet_identity::session::{EphemeralKey, KeyAgreement};
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

struct Keystore(EcdsaKeyPair, SystemRandom);

impl DeviceSigner for Keystore {
    fn device_key(&self) -> DeviceKey {
        DeviceKey::P256(self.0.public_key().as_ref().to_vec())
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.0.sign(&self.1, message).unwrap().as_ref().to_vec())
    }
}

fn main() {
    let rng = SystemRandom::new();
    let authority = IssuerAuthority::create(
        "Carnet bench issuer",
        CertificateValidity {
            not_before: NOW - 365 * DAY,
            not_after: NOW + 365 * DAY,
        },
    )
    .unwrap();
    let signer = authority.document_signer();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let device = Keystore(
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap(),
        SystemRandom::new(),
    );
    // The card's holder of the shared fixture, without complementary insurance.
    let family: Vec<ApcvClaims> =
        serde_json::from_str(include_str!("../../fixtures/apcv/family.json")).unwrap();
    let claims = ApcvClaims {
        amc: None,
        ..family[0].clone()
    };
    let terms = IssuanceTerms {
        validity: Validity {
            signed: NOW - 60,
            valid_from: NOW - 60,
            valid_until: NOW + 365 * DAY,
        },
        status: Some(StatusReference {
            index: 41,
            uri: "http://127.0.0.1:8470/v1/issuer/status".into(),
        }),
    };
    let full = issue(&claims, &device.device_key(), &terms, &signer, &rng).unwrap();
    let credential = full.without_certificate();
    let handover = Binding::Counter { slot: NOW / 30 };
    let response = credential
        .present(&DEFAULT_DISCLOSURE, &handover, &device)
        .unwrap();
    let mut reader =
        Reader::new(IssuerTrust::new(&[authority.root_certificate().to_vec()]).unwrap());
    let status = StatusList::new(100_000, NOW, NOW + DAY, signer.x5chain.clone())
        .sign(&signer, &rng)
        .unwrap();
    reader.update_status(&status, NOW).unwrap().unwrap();
    let time = CheckTime {
        now: NOW,
        date_of_care: Some(time::macros::date!(2027 - 01 - 15)),
    };
    assert!(reader.check(&response, &handover, time).unwrap().is_ok());

    // The raw operations' inputs: the MSO's signed bytes and the transcript's.
    let issuer_point = signer.key.public_key().as_ref().to_vec();
    let issuer_sign1 = credential.issuer_auth().unwrap();
    let issuer_tbs = issuer_sign1.to_be_signed();
    let issuer_signature = issuer_sign1.signature().to_vec();
    // The device's raw signature is timed over a message of the transcript's size
    // (DeviceAuthenticationBytes for a counter QR: about 120 bytes); ECDSA's cost is the curve
    // operation, not the hashing.
    let device_message = vec![0x42u8; 120];
    let device_point = device.0.public_key().as_ref().to_vec();
    let raw_device_signature = device.0.sign(&rng, &device_message).unwrap();

    let rounds = 15;
    let batch = 200;
    let (present, raw_sign, ratio) = paired(
        rounds,
        || {
            for _ in 0..batch {
                std::hint::black_box(
                    credential
                        .present(&DEFAULT_DISCLOSURE, &handover, &device)
                        .unwrap(),
                );
            }
        },
        || {
            for _ in 0..batch {
                std::hint::black_box(device.0.sign(&rng, &device_message).unwrap());
            }
        },
    );
    println!(
        "build + sign a presentation: {:.1} µs; one raw device signature: {:.1} µs; \
         presentation / raw = {:.2}× (target ≤ 2×)",
        present.as_secs_f64() * 1e6 / batch as f64,
        raw_sign.as_secs_f64() * 1e6 / batch as f64,
        1.0 / ratio
    );

    let (verified, raw_verify, ratio) = paired(
        rounds,
        || {
            for _ in 0..batch {
                std::hint::black_box(reader.check(&response, &handover, time).unwrap().is_ok());
            }
        },
        || {
            for _ in 0..batch {
                let issuer_ok = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &issuer_point)
                    .verify(&issuer_tbs, &issuer_signature);
                let device_ok = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &device_point)
                    .verify(&device_message, raw_device_signature.as_ref());
                std::hint::black_box((issuer_ok.is_ok(), device_ok.is_ok()));
            }
        },
    );
    println!(
        "check a presentation: {:.1} µs; the two raw verifications (issuer + device): {:.1} µs; \
         check / raw = {:.2}× (target ≤ 2×)",
        verified.as_secs_f64() * 1e6 / batch as f64,
        raw_verify.as_secs_f64() * 1e6 / batch as f64,
        1.0 / ratio
    );

    let text = counter_to_text(&response, NOW / 30).unwrap();
    let with_certificate = full
        .present(&DEFAULT_DISCLOSURE, &handover, &device)
        .unwrap();
    let version = |level| {
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), level)
            .map(|code| format!("{:?}", code.version()))
            .unwrap_or_else(|e| format!("none ({e})"))
    };
    // The ISO/IEC 18013-5 engagement a phone shows: a fresh key, BLE with its service UUID.
    let engagement = DeviceEngagement::new(
        &EphemeralKey::generate().unwrap().public_point(),
        vec![RetrievalMethod::Ble {
            peripheral_server: Some([0x5a; 16]),
            central_client: None,
        }],
    )
    .unwrap()
    .to_qr_text();
    let engagement_version = |level| {
        qrcode::QrCode::with_error_correction_level(engagement.as_bytes(), level)
            .map(|code| format!("{:?}", code.version()))
            .unwrap_or_else(|e| format!("none ({e})"))
    };
    println!(
        "ISO/IEC 18013-5 engagement QR: mdoc: text {} characters, QR {} at level M (target ≤ 7)",
        engagement.len(),
        engagement_version(qrcode::EcLevel::M),
    );
    println!(
        "counter QR, default disclosure ({} items), certificate left out: DeviceResponse {} bytes \
         ({} with the certificate), APCV1: text {} characters, QR {} at level M, {} at level Q",
        DEFAULT_DISCLOSURE.len(),
        response.len(),
        with_certificate.len(),
        text.len(),
        version(qrcode::EcLevel::M),
        version(qrcode::EcLevel::Q),
    );
}
