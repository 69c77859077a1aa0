//! The ISO/IEC 18013-5 session's parsers on arbitrary bytes: a device engagement (CBOR and
//! `mdoc:` text), an NDEF Handover Select, a SessionEstablishment and a SessionData, kept
//! holder and reader sessions, BLE fragments, a DeviceRequest with its reader authentication,
//! a reader revocation list and chain, a remote reader's reply, endpoint and verdict, and the
//! holder's whole path from an establishment to the consent screen — the bytes decrypted
//! there are the fuzzer's, sealed with the session's own keys. Must never panic.
#![no_main]

use carnet_identity::IdentityError;
use carnet_identity::engagement::DeviceEngagement;
use carnet_identity::holder::{EngagementKind, HolderSession};
use carnet_identity::ndef;
use carnet_identity::reader_trust::ReaderTrust;
use carnet_identity::request::DeviceRequest;
use carnet_identity::session::{
    Handover, KeyAgreement, Role, SessionCipher, SessionData, SessionEstablishment, SessionKeys,
    SessionTranscript,
};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;

/// A key agreement with a fixed secret, so that the fuzzer's bytes can be sealed for the
/// holder: the point is the P-256 generator's.
struct Fixed;

const POINT: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

impl KeyAgreement for Fixed {
    fn public_point(&self) -> Vec<u8> {
        POINT.to_vec()
    }
    fn agree(self: Box<Self>, _peer: &[u8]) -> Result<[u8; 32], IdentityError> {
        Ok([7; 32])
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = DeviceEngagement::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DeviceEngagement::from_qr_text(&format!("mdoc:{text}"));
    }
    let _ = ndef::read_handover_select(data);
    let _ = SessionEstablishment::from_bytes(data);
    let _ = SessionData::from_bytes(data);
    // The sessions a tool keeps between two runs, and BLE fragments joined.
    let _ = HolderSession::from_bytes(data, None);
    let _ = carnet_identity::reader_session::ReaderSession::from_bytes(data);
    let mut joined = carnet_identity::ble::Reassembly::default();
    for fragment in data.chunks(20) {
        let _ = joined.push(fragment);
    }
    // What a remote reader sends back, and where it says it is.
    let _ = carnet_identity::remote::RemoteReply::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = carnet_identity::remote::Endpoint::parse(text);
        let _ = carnet_identity::remote::Endpoint::session_path(text);
    }
    let trust = ReaderTrust::new(&[]).unwrap_or_else(|_| unreachable!());
    let mut revocations = trust.clone();
    let _ = revocations.update_revocations(data);
    let _ = trust.validate(&[data.to_vec()], NOW);

    let Ok(mut holder) = HolderSession::new(Box::new(Fixed), Vec::new(), EngagementKind::Qr, NOW)
    else {
        return;
    };
    // The raw bytes as the reader's first message.
    let _ = HolderSession::new(Box::new(Fixed), Vec::new(), EngagementKind::Nfc, NOW)
        .map(|mut other| other.receive(data, &trust, NOW));
    // The bytes as the decrypted request of a well-formed establishment.
    let Ok(sealed) = SessionEstablishment::new(&POINT, Vec::new()) else {
        return;
    };
    let Ok(transcript) =
        SessionTranscript::new(holder.engagement(), &sealed.e_reader_key, &Handover::Qr)
    else {
        return;
    };
    let Ok(mut reader) =
        SessionCipher::new(Role::Reader, &SessionKeys::derive(&[7; 32], &transcript))
    else {
        return;
    };
    if let Ok(request) = DeviceRequest::from_bytes(data) {
        for document in &request.documents {
            let _ = document.verify_reader(&transcript);
        }
    }
    let Ok(ciphertext) = reader.seal(data) else {
        return;
    };
    let establishment = SessionEstablishment {
        data: ciphertext,
        ..sealed
    };
    if let Ok(bytes) = establishment.to_bytes() {
        let _ = holder.receive(&bytes, &trust, NOW);
    }
    // The bytes as a verdict on this session, checked with the generator as the reader's key.
    let _ = carnet_identity::remote::RemoteVerdict::verify(data, &transcript, &POINT);
});
