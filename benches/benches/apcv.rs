//! ApCV presentations against the raw signature operations they need, in one run:
//! - build + sign a presentation (select the items, encode the DeviceResponse, one device
//!   signature over the transcript) against one raw ECDSA P-256 signature over a message of
//!   the same size as the transcript;
//! - verify a presentation (parse, issuer signature, validity, item digests, device signature)
//!   against the two raw verifications it needs (issuer over the MSO's signed bytes, device
//!   over the transcript's signed bytes).
//! Also prints the size of the holder's default disclosure as an `APCV1:` text and its QR
//! version.

use carnet_bench::paired;
use carnet_codec::cose::VerifyingKey;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{ApcvClaims, DocumentSigner, issue};
use carnet_identity::mdoc::{DeviceKey, Validity};
use carnet_identity::presentation::{DeviceSigner, Handover, verify};
use carnet_identity::qr_text::{Mode, response_to_text};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

const NOW: i64 = 1_800_000_000;
/// What the holder shows by default at the pharmacy: identity, regime and rights.
const DEFAULT_DISCLOSURE: [&str; 8] = [
    "family_name",
    "given_names",
    "birth_date",
    "nir",
    "regime",
    "caisse",
    "amo_valid_from",
    "amo_valid_until",
];

fn p256() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

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
    let issuer = p256();
    let issuer_point = issuer.public_key().as_ref().to_vec();
    let device = Keystore(p256(), SystemRandom::new());
    let claims = ApcvClaims {
        nir: "253072B07300470".into(),
        ins_matricule: "253072B07300470".into(),
        ins_oid: "1.2.250.1.213.1.4.8".into(),
        family_name: "DUPONT".into(),
        given_names: "MARIE ANNE".into(),
        birth_date: "1953-07-14".into(),
        sex: "F".into(),
        birth_place: "2B073".into(),
        beneficiary_rank: 1,
        regime: "01".into(),
        caisse: "751".into(),
        centre: "0001".into(),
        amo_valid_from: "2026-01-01".into(),
        amo_valid_until: "2027-12-31".into(),
        amc: None,
    };
    let validity = Validity {
        signed: NOW - 60,
        valid_from: NOW - 60,
        valid_until: NOW + 86_400 * 365,
    };
    // A document signer certificate of realistic size (about 500 bytes).
    let signer = DocumentSigner {
        key: &issuer,
        x5chain: vec![vec![0x30; 500]],
    };
    let credential = issue(&claims, &device.device_key(), validity, &signer, &rng).unwrap();
    let handover = Handover::Challenge {
        nonce: vec![7; 16],
        reader: "10003456789".into(),
        time: NOW,
    };
    let response = credential
        .present(&DEFAULT_DISCLOSURE, &handover, &device)
        .unwrap();
    let issuer_key = VerifyingKey::EcdsaP256(issuer_point.clone());
    assert!(verify(&response, &issuer_key, &handover, NOW).unwrap().is_ok());

    // The raw operations' inputs: the MSO's signed bytes and the transcript's.
    let issuer_sign1 = credential.issuer_auth().unwrap();
    let issuer_tbs = issuer_sign1.to_be_signed();
    let issuer_signature = issuer_sign1.signature().to_vec();
    // The device's raw signature is timed over a message of the transcript's size
    // (DeviceAuthenticationBytes for a challenge: about 120 bytes); ECDSA's cost is the curve
    // operation, not the hashing.
    let transcript_len = 120;
    let device_message = vec![0x42u8; transcript_len];
    let device_point = match device.device_key() {
        DeviceKey::P256(point) => point,
        DeviceKey::Ed25519(_) => unreachable!(),
    };
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
                std::hint::black_box(verify(&response, &issuer_key, &handover, NOW).unwrap().is_ok());
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
        "verify a presentation: {:.1} µs; the two raw verifications (issuer + device): {:.1} µs; \
         verify / raw = {:.2}× (target ≤ 2×)",
        verified.as_secs_f64() * 1e6 / batch as f64,
        raw_verify.as_secs_f64() * 1e6 / batch as f64,
        1.0 / ratio
    );

    let text = response_to_text(&response, Mode::Challenge).unwrap();
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q).unwrap();
    println!(
        "default disclosure ({} items): DeviceResponse {} bytes, APCV1: text {} characters, QR version {:?} at level Q",
        DEFAULT_DISCLOSURE.len(),
        response.len(),
        text.len(),
        code.version()
    );
}
