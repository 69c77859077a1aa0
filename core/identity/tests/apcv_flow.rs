//! The ApCV exchange end to end through the public API, as the pharmacy and the phone run it:
//! issue, then (1) the reader's challenge as a QR text, the holder's answer as a QR text, the
//! reader's verdict; (2) the same challenge over NFC APDUs, only bytes crossing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use carnet_codec::cose::VerifyingKey;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{ApcvClaims, DocumentSigner, issue};
use carnet_identity::apdu::{HolderSession, ReaderExchange, ReaderStep, challenge_commands};
use carnet_identity::mdoc::{DeviceKey, Validity};
use carnet_identity::presentation::{DeviceSigner, verify};
use carnet_identity::qr_text::{Mode, ReaderChallenge, response_from_text, response_to_text};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

const NOW: i64 = 1_800_000_000;

struct SoftwareKey(Ed25519KeyPair);

impl DeviceSigner for SoftwareKey {
    fn device_key(&self) -> DeviceKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.0.public_key().as_ref());
        DeviceKey::Ed25519(public)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

#[test]
fn a_pharmacy_reads_the_card_by_qr_and_by_nfc() {
    let rng = SystemRandom::new();
    let issuer_pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let issuer = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        issuer_pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let issuer_key = VerifyingKey::EcdsaP256(issuer.public_key().as_ref().to_vec());
    let device = SoftwareKey(
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap(),
    );
    let claims = ApcvClaims {
        nir: "253072B07300470".into(),
        family_name: "DUPONT".into(),
        given_names: "MARIE ANNE".into(),
        birth_date: "1953-07-14".into(),
        regime: "01".into(),
        amo_valid_from: "2026-01-01".into(),
        amo_valid_until: "2027-12-31".into(),
        beneficiary_rank: 1,
        ..ApcvClaims::default()
    };
    let validity = Validity {
        signed: NOW - 60,
        valid_from: NOW - 60,
        valid_until: NOW + 86_400 * 365,
    };
    let signer = DocumentSigner {
        key: &issuer,
        x5chain: vec![b"document signer".to_vec()],
    };
    let credential = issue(&claims, &device.device_key(), validity, &signer, &rng).unwrap();

    // (1) QR: the pharmacy shows its challenge, the phone answers with a QR text.
    let challenge = ReaderChallenge {
        nonce: vec![0x5A; 16],
        reader: "10003456789".into(),
        purpose: "Délivrance de médicaments".into(),
        items: vec!["family_name".into(), "given_names".into(), "regime".into()],
        time: NOW,
    };
    let on_screen = challenge.to_text().unwrap();
    let scanned = ReaderChallenge::from_text(&on_screen).unwrap();
    let asked: Vec<&str> = scanned.items.iter().map(String::as_str).collect();
    let response = credential
        .present(&asked, &scanned.handover(), &device)
        .unwrap();
    let shown = response_to_text(&response, Mode::Challenge).unwrap();
    let (mode, read) = response_from_text(&shown).unwrap();
    assert_eq!(mode, Mode::Challenge);
    let disclosed = verify(&read, &issuer_key, &challenge.handover(), NOW)
        .unwrap()
        .unwrap();
    let names: Vec<&str> = disclosed
        .elements
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["family_name", "given_names", "regime"]);

    // (2) NFC: the same challenge as APDUs; the phone answers with the packed response.
    let mut phone = HolderSession::default();
    let mut reader = ReaderExchange::default();
    let mut answer = None;
    for command in challenge_commands(on_screen.as_bytes()) {
        let reply = phone.handle(&command.to_bytes(), |bytes| {
            let text = std::str::from_utf8(bytes).ok()?;
            let challenge = ReaderChallenge::from_text(text).ok()?;
            let asked: Vec<&str> = challenge.items.iter().map(String::as_str).collect();
            let response = credential
                .present(&asked, &challenge.handover(), &device)
                .ok()?;
            response_to_text(&response, Mode::Challenge)
                .ok()
                .map(String::into_bytes)
        });
        let mut step = reader.receive(&reply).unwrap();
        while let ReaderStep::Send(next) = step {
            let reply = phone.handle(&next.to_bytes(), |_| None);
            step = reader.receive(&reply).unwrap();
        }
        if let ReaderStep::Done(bytes) = step {
            answer = Some(bytes);
        }
    }
    let text = String::from_utf8(answer.expect("an answer over NFC")).unwrap();
    let (_, read) = response_from_text(&text).unwrap();
    assert!(
        verify(&read, &issuer_key, &challenge.handover(), NOW)
            .unwrap()
            .is_ok()
    );
}
