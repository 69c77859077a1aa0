//! ISO/IEC 18013-5 sessions against the raw operations they need, in one run:
//! - the holder answering a request: the session's key agreement (a fresh ephemeral key, one
//!   ECDH), two HKDF derivations, decrypting the request, verifying the reader's
//!   authentication (its signature, its certificate's signature), building and signing the
//!   response, encrypting it — against those primitives timed alone on inputs of the same
//!   sizes;
//! - the reader building its request (ephemeral key, ECDH, two HKDF, reader authentication,
//!   encryption) and checking the response (decryption, then everything the reader checks:
//!   issuer signature, validity, digests, device signature, status list) — against its
//!   primitives.
//!
//! Also prints the engagement QR's version at level M and the bytes a default pharmacy
//! request and its answer take on NFC (APDUs) and on BLE (GATT writes and notifications at an
//! ATT MTU of 185).

use std::cell::RefCell;

use carnet_bench::paired;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{ApcvClaims, DEFAULT_DISCLOSURE};
use carnet_identity::apdu::{PhoneNfc, ReaderNfc, ReaderStep};
use carnet_identity::authority::{CertificateValidity, IssuerAuthority, ReaderPki, ReaderSubject};
use carnet_identity::engagement::{DeviceEngagement, RetrievalMethod};
use carnet_identity::holder::{EngagementKind, HolderEvent, HolderSession};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{DeviceKey, StatusReference, Validity};
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::reader::{CheckTime, Reader};
use carnet_identity::reader_session::{ReaderSession, apcv_items};
use carnet_identity::reader_trust::{ProfessionalId, ReaderRevocations, ReaderTrust};
use carnet_identity::request::ReaderSigner;
use carnet_identity::session::{EphemeralKey, Handover, KeyAgreement};
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Key(EcdsaKeyPair, Vec<Vec<u8>>);

impl Key {
    fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Key(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
            Vec::new(),
        )
    }
    fn point(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }
    fn raw_sign(&self, message: &[u8]) -> Vec<u8> {
        self.0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

impl DeviceSigner for Key {
    fn device_key(&self) -> DeviceKey {
        DeviceKey::P256(self.point())
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.raw_sign(message))
    }
}

impl ReaderSigner for Key {
    fn certificate_chain(&self) -> Vec<Vec<u8>> {
        self.1.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.raw_sign(message))
    }
}

/// The primitives' reference: AES-256-GCM of `length` bytes under a fresh key.
fn seal_open(length: usize) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let mut buffer = vec![0u8; length];
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::empty(),
        &mut buffer,
    )
    .unwrap();
    let opened = key
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::empty(),
            &mut buffer,
        )
        .unwrap();
    std::hint::black_box(opened.len());
}

/// The primitives' reference: two ECDSA P-256 verifications (a signature and a certificate's,
/// or the issuer's and the device's).
fn verify_twice(key: &Key, signature: &[u8], message: &[u8]) {
    for _ in 0..2 {
        let verified = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point())
            .verify(message, signature);
        std::hint::black_box(verified.is_ok());
    }
}

/// The primitives' reference: a fresh ephemeral key, one ECDH, two HKDF derivations.
fn agree_and_derive(peer: &[u8], transcript: &[u8]) {
    let key = EphemeralKey::generate().unwrap();
    let shared = Box::new(key).agree(peer).unwrap();
    let salt = ring::digest::digest(&ring::digest::SHA256, transcript);
    let prk = Salt::new(HKDF_SHA256, salt.as_ref()).extract(&shared);
    for info in [&b"SKReader"[..], b"SKDevice"] {
        let mut out = [0u8; 32];
        prk.expand(&[info], HKDF_SHA256)
            .unwrap()
            .fill(&mut out)
            .unwrap();
        std::hint::black_box(out);
    }
}

fn main() {
    let validity = CertificateValidity {
        not_before: now() - DAY,
        not_after: now() + 365 * DAY,
    };
    let issuer = IssuerAuthority::create("Carnet bench issuer", validity).unwrap();
    let signer = issuer.document_signer();
    let device = Key::generate();
    let family: Vec<ApcvClaims> =
        serde_json::from_str(include_str!("../../fixtures/apcv/family.json")).unwrap();
    let terms = IssuanceTerms {
        validity: Validity {
            signed: now() - 60,
            valid_from: now() - 60,
            valid_until: now() + 30 * DAY,
        },
        status: Some(StatusReference {
            index: 41,
            uri: "http://127.0.0.1:8470/v1/issuer/status".into(),
        }),
    };
    let rng = SystemRandom::new();
    let credential = issue(&family[0], &device.device_key(), &terms, &signer, &rng).unwrap();
    let pki = ReaderPki::create("Carnet bench IGC-Santé", validity).unwrap();
    let mut reader_key = Key::generate();
    let subject = ReaderSubject {
        name: "Jeanne Martin".into(),
        organisation: "Pharmacie du Port".into(),
        identifier: ProfessionalId::Rpps("10003456789".into()),
        profession: "21".into(),
        hosts: Vec::new(),
    };
    reader_key.1 = vec![
        pki.issue(&subject, &reader_key.point(), &[0x41], validity)
            .unwrap(),
    ];
    let mut trust = ReaderTrust::new(&[pki.root_certificate().to_vec()]).unwrap();
    let revocations = ReaderRevocations {
        issued: now(),
        expires: now() + DAY,
        revoked: Vec::new(),
    };
    assert!(
        trust
            .update_revocations(&pki.sign_revocations(&revocations).unwrap())
            .unwrap()
    );
    let mut checker = Reader::new(IssuerTrust::new(&[issuer.root_certificate().to_vec()]).unwrap());
    let status = StatusList::new(100_000, now(), now() + DAY, signer.x5chain.clone())
        .sign(&signer, &rng)
        .unwrap();
    checker.update_status(&status, now()).unwrap().unwrap();
    let items: Vec<String> = DEFAULT_DISCLOSURE.iter().map(|i| (*i).to_owned()).collect();
    let approved = items.clone();
    let time = CheckTime {
        now: now(),
        date_of_care: None,
    };
    let methods = || {
        vec![RetrievalMethod::Ble {
            peripheral_server: Some([0x5a; 16]),
            central_client: None,
        }]
    };

    // A phone engaged by QR code, and a reader's session opened on its engagement.
    let new_holder = || {
        HolderSession::new(
            Box::new(EphemeralKey::generate().unwrap()),
            methods(),
            EngagementKind::Qr,
            now(),
        )
        .unwrap()
    };
    let open = |engagement: &DeviceEngagement| {
        ReaderSession::start(
            engagement,
            &Handover::Qr,
            Box::new(EphemeralKey::generate().unwrap()),
            apcv_items(&items, false, now()).unwrap(),
            Some(&reader_key),
        )
        .unwrap()
    };

    // One session, to know the sizes the primitives are timed on.
    let mut holder = new_holder();
    let engagement_text = holder.engagement().to_qr_text();
    let engagement = DeviceEngagement::from_qr_text(&engagement_text).unwrap();
    let (mut session, establishment) = open(&engagement);
    let HolderEvent::Request(_) = holder.receive(&establishment, &trust, now()).unwrap() else {
        panic!("a request");
    };
    let answer = holder.respond(&credential, &approved, &device).unwrap();
    assert!(matches!(
        session.receive(&mut checker, &answer, time).unwrap(),
        carnet_identity::reader_session::ReaderEvent::Checked(Ok(_))
    ));
    let transcript = session.transcript().bytes().to_vec();
    let peer = engagement.e_device_point.clone();
    let message = vec![0x42u8; 200];
    let message_signature = device.raw_sign(&message);
    let (request_len, response_len) = (establishment.len(), answer.len());

    // The holder: prepared sessions (each with the reader's establishment), answered in the
    // timed pass.
    let rounds = 15;
    let batch = 60;
    let prepared = RefCell::new(Vec::new());
    let prepare = || {
        let mut ready = Vec::with_capacity(batch);
        for _ in 0..batch {
            let holder = new_holder();
            let engagement = DeviceEngagement::from_bytes(holder.engagement().bytes()).unwrap();
            let (_, establishment) = open(&engagement);
            ready.push((holder, establishment));
        }
        ready
    };
    let reader_signature = reader_key.raw_sign(&message);
    let (held, raw, ratio) = paired(
        rounds,
        || {
            let ready = std::mem::take(&mut *prepared.borrow_mut());
            let ready = if ready.is_empty() { prepare() } else { ready };
            for (mut holder, establishment) in ready {
                holder.receive(&establishment, &trust, now()).unwrap();
                std::hint::black_box(holder.respond(&credential, &approved, &device).unwrap());
            }
            *prepared.borrow_mut() = prepare();
        },
        || {
            for _ in 0..batch {
                agree_and_derive(&peer, &transcript);
                seal_open(request_len);
                verify_twice(&reader_key, &reader_signature, &message);
                std::hint::black_box(device.raw_sign(&message));
                seal_open(response_len);
            }
        },
    );
    println!(
        "holder answers a request: {:.1} µs; its primitives (key, ECDH, 2 HKDF, 2 AES-GCM, \
         2 ECDSA verifications, 1 signature): {:.1} µs; holder / primitives = {:.2}× (target ≤ 2×)",
        held.as_secs_f64() * 1e6 / batch as f64,
        raw.as_secs_f64() * 1e6 / batch as f64,
        1.0 / ratio
    );

    // The reader: building requests and checking the answers of prepared holders.
    let (read, raw, ratio) = paired(
        rounds,
        || {
            for _ in 0..batch {
                let mut holder = new_holder();
                let engagement = DeviceEngagement::from_bytes(holder.engagement().bytes()).unwrap();
                let (mut session, establishment) = open(&engagement);
                holder.receive(&establishment, &trust, now()).unwrap();
                let answer = holder.respond(&credential, &approved, &device).unwrap();
                std::hint::black_box(session.receive(&mut checker, &answer, time).unwrap());
            }
        },
        || {
            for _ in 0..batch {
                // The holder's side, run in the subject too.
                agree_and_derive(&peer, &transcript);
                seal_open(request_len);
                verify_twice(&reader_key, &reader_signature, &message);
                std::hint::black_box(device.raw_sign(&message));
                seal_open(response_len);
                // The reader's: its key and ECDH, its authentication, the issuer's and the
                // device's signatures.
                agree_and_derive(&peer, &transcript);
                std::hint::black_box(reader_key.raw_sign(&message));
                seal_open(request_len);
                seal_open(response_len);
                verify_twice(&device, &message_signature, &message);
            }
        },
    );
    println!(
        "holder + reader, a whole session: {:.1} µs; the same primitives on both sides: {:.1} µs; \
         session / primitives = {:.2}× (target ≤ 2×)",
        read.as_secs_f64() * 1e6 / batch as f64,
        raw.as_secs_f64() * 1e6 / batch as f64,
        1.0 / ratio
    );

    // The reader alone: only its own work is timed (building the request, then checking the
    // answer); the holder answers between the two, off the clock. Subject and reference
    // alternate round by round; round 0 warms up.
    let mut reader_times = Vec::with_capacity(rounds);
    let mut primitive_times = Vec::with_capacity(rounds);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let mut spent = std::time::Duration::ZERO;
        for _ in 0..batch {
            let mut holder = new_holder();
            let text = holder.engagement().to_qr_text();
            let started = std::time::Instant::now();
            let engagement = DeviceEngagement::from_qr_text(&text).unwrap();
            let (mut session, establishment) = open(&engagement);
            spent += started.elapsed();
            holder.receive(&establishment, &trust, now()).unwrap();
            let answer = holder.respond(&credential, &approved, &device).unwrap();
            let started = std::time::Instant::now();
            std::hint::black_box(session.receive(&mut checker, &answer, time).unwrap());
            spent += started.elapsed();
        }
        let started = std::time::Instant::now();
        for _ in 0..batch {
            agree_and_derive(&peer, &transcript);
            std::hint::black_box(reader_key.raw_sign(&message));
            seal_open(request_len);
            seal_open(response_len);
            verify_twice(&device, &message_signature, &message);
        }
        let raw = started.elapsed();
        if round > 0 {
            reader_times.push(spent);
            primitive_times.push(raw);
            ratios.push(spent.as_secs_f64() / raw.as_secs_f64());
        }
    }
    reader_times.sort();
    primitive_times.sort();
    ratios.sort_by(f64::total_cmp);
    println!(
        "reader builds the request and checks the answer: {:.1} µs; its primitives (key, ECDH, \
         2 HKDF, 1 signature, 2 AES-GCM, 2 ECDSA verifications): {:.1} µs; reader / primitives \
         = {:.2}× (target ≤ 2×)",
        reader_times[rounds / 2].as_secs_f64() * 1e6 / batch as f64,
        primitive_times[rounds / 2].as_secs_f64() * 1e6 / batch as f64,
        ratios[rounds / 2]
    );

    let version =
        qrcode::QrCode::with_error_correction_level(engagement_text.as_bytes(), qrcode::EcLevel::M)
            .map(|code| format!("{:?}", code.version()))
            .unwrap_or_else(|e| format!("none ({e})"));
    println!(
        "engagement QR: mdoc: text {} characters, QR {version} at level M (target ≤ 7)",
        engagement_text.len()
    );

    // The default pharmacy request and its answer on NFC: every APDU byte, both ways.
    let mut phone = PhoneNfc::new(None);
    let mut nfc_bytes = 0;
    let mut apdus = 0;
    let (mut exchange, mut command) = ReaderNfc::send(&establishment);
    loop {
        let bytes = command.to_bytes().unwrap();
        let response = phone.handle(&bytes, |_| Some(answer.clone()));
        nfc_bytes += bytes.len() + response.len();
        apdus += 1;
        match exchange.receive(&response).unwrap() {
            ReaderStep::Send(next) => command = next,
            ReaderStep::Done(_) => break,
        }
    }
    // BLE at an ATT MTU of 185: one byte of header per fragment of up to 182 bytes of data.
    let fragments = |length: usize| length.div_ceil(182);
    let ble_bytes = request_len + fragments(request_len) + response_len + fragments(response_len);
    println!(
        "default pharmacy request ({} elements): SessionEstablishment {request_len} bytes, \
         answer {response_len} bytes; NFC {nfc_bytes} bytes in {apdus} APDUs; BLE {ble_bytes} \
         bytes in {} writes and {} notifications",
        items.len(),
        fragments(request_len),
        fragments(response_len)
    );
}
