//! The ISO/IEC 18013-5 Annex D vectors (`fixtures/mdoc/`), read and rebuilt by Carnet's own
//! code: the engagement, the NFC handover and the session transcript built from its parts,
//! the session establishment, the device request with the reader's authentication verified
//! against the reader certificate, and the session termination. The session keys need the
//! vectors' private keys, which `ring` cannot import: `interop/tests/annex_d.rs` derives them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use carnet_codec::cbor;
use carnet_identity::IdentityError;
use carnet_identity::engagement::{DeviceEngagement, RetrievalMethod};
use carnet_identity::ndef::read_handover_select;
use carnet_identity::request::DeviceRequest;
use carnet_identity::session::{Handover, SessionData, SessionStatus, SessionTranscript};
use carnet_testing::annex_d::{establishment, nfc_handover, point, transcript_with, vector};
use ciborium::Value;

fn transcript() -> SessionTranscript {
    transcript_with(&nfc_handover())
}

#[test]
fn the_qr_engagement_reads_with_its_key_and_ble_method() {
    let engagement = DeviceEngagement::from_bytes(&vector("DEVICE_ENGAGEMENT")).unwrap();
    assert_eq!(engagement.version, "1.0");
    assert_eq!(engagement.e_device_point, point("EPHEMERAL_DEVICE_KEY"));
    assert_eq!(
        engagement.e_device_key().to_value(),
        cbor::from_slice(&vector("E_DEVICE_KEY_BYTES")).unwrap()
    );
    let uuid: [u8; 16] = hex::decode("45efef742b2c4837a9a3b0e1d05a6917")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        engagement.methods,
        vec![RetrievalMethod::Ble {
            peripheral_server: None,
            central_client: Some(uuid),
        }]
    );
    // Shown as a QR code and read back, the bytes are the same.
    let again = DeviceEngagement::from_qr_text(&engagement.to_qr_text()).unwrap();
    assert_eq!(again.bytes(), vector("DEVICE_ENGAGEMENT").as_slice());
}

#[test]
fn the_session_transcript_is_rebuilt_from_the_nfc_handover_and_the_reader_key() {
    let Handover::Nfc { select, .. } = nfc_handover() else {
        panic!("Annex D uses an NFC handover");
    };
    let engagement = read_handover_select(&select).unwrap();
    assert_eq!(engagement.e_device_point, point("EPHEMERAL_DEVICE_KEY"));
    let establishment = establishment();
    assert_eq!(
        establishment.e_reader_point().unwrap(),
        point("EPHEMERAL_READER_KEY")
    );
    assert_eq!(
        establishment.to_bytes().unwrap(),
        vector("SESSION_ESTABLISHMENT")
    );
    assert_eq!(
        transcript().bytes(),
        vector("SESSION_TRANSCRIPT_BYTES").as_slice()
    );
}

#[test]
fn the_device_request_reads_and_its_reader_authentication_verifies() {
    let request = DeviceRequest::from_bytes(&vector("DEVICE_REQUEST")).unwrap();
    assert_eq!(request.version, "1.0");
    assert_eq!(request.to_bytes().unwrap(), vector("DEVICE_REQUEST"));
    let [document] = request.documents.as_slice() else {
        panic!("one document asked");
    };
    assert_eq!(document.items.doc_type, "org.iso.18013.5.1.mDL");
    let Value::Tag(24, items) = document.items.to_value() else {
        panic!("items are embedded");
    };
    assert_eq!(items.as_bytes().unwrap(), &vector("ITEMS_REQUEST"));
    let asked: Vec<(&str, bool)> = document
        .items
        .elements
        .iter()
        .map(|e| (e.name.as_str(), e.intent_to_retain))
        .collect();
    assert_eq!(asked.len(), 6);
    assert!(asked.contains(&("family_name", true)));
    assert!(asked.contains(&("portrait", false)));
    assert_eq!(
        document.reader_auth.as_ref().unwrap(),
        &cbor::from_slice(&vector("READER_AUTH")).unwrap()
    );
    let chain = document.verify_reader(&transcript()).unwrap().unwrap();
    assert_eq!(chain, vec![vector("READER_CERT")]);

    // The same signature over another session's transcript does not verify.
    let qr = transcript_with(&Handover::Qr);
    assert!(matches!(
        document.verify_reader(&qr),
        Err(IdentityError::Signature(_))
    ));
}

#[test]
fn the_session_messages_read_as_the_standard_writes_them() {
    let termination = SessionData::from_bytes(&vector("SESSION_TERMINATION")).unwrap();
    assert_eq!(termination.status, Some(SessionStatus::Termination));
    assert_eq!(termination.data, None);
    assert_eq!(
        termination.to_bytes().unwrap(),
        vector("SESSION_TERMINATION")
    );
    let data = SessionData::from_bytes(&vector("SESSION_DATA")).unwrap();
    assert_eq!(data.status, None);
    assert!(data.data.unwrap().len() > 3000);
}
