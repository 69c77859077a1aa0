//! The ISO/IEC 18013-5 Annex D vectors (`fixtures/mdoc/iso18013-5-annex-d.json`), by name,
//! and the parts of their session transcript that the tests rebuild it from.

use carnet_identity::ndef::read_handover_select;
use carnet_identity::session::{Handover, SessionEstablishment, SessionTranscript};
use ciborium::Value;

/// The vector `ISO_18013_5_ANNEX_D_{name}`, as bytes.
pub fn vector(name: &str) -> Vec<u8> {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/mdoc/iso18013-5-annex-d.json"))
            .expect("fixtures/mdoc/iso18013-5-annex-d.json is JSON");
    let text = vectors
        .get(format!("ISO_18013_5_ANNEX_D_{name}"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("no Annex D vector {name}"));
    hex::decode(text).expect("Annex D vectors are hex")
}

/// The uncompressed point of the key `{prefix}_X`, `{prefix}_Y`.
pub fn point(prefix: &str) -> Vec<u8> {
    [
        vec![0x04],
        vector(&format!("{prefix}_X")),
        vector(&format!("{prefix}_Y")),
    ]
    .concat()
}

/// The two NDEF messages (Handover Select, Handover Request) of the transcript's NFC
/// handover, taken out of `SESSION_TRANSCRIPT_BYTES`.
pub fn nfc_handover() -> Handover {
    let bytes = vector("SESSION_TRANSCRIPT_BYTES");
    let Ok(Value::Tag(24, inner)) = ciborium::from_reader::<Value, _>(bytes.as_slice()) else {
        panic!("the Annex D transcript is tagged 24");
    };
    let inner = inner.as_bytes().expect("tag 24 holds bytes");
    let parts: Value = ciborium::from_reader(inner.as_slice()).expect("the transcript is CBOR");
    let message = |index: usize| {
        parts
            .as_array()
            .and_then(|parts| parts.get(2))
            .and_then(Value::as_array)
            .and_then(|handover| handover.get(index))
            .and_then(Value::as_bytes)
            .cloned()
            .expect("the handover is [select, request]")
    };
    Handover::Nfc {
        select: message(0),
        request: Some(message(1)),
    }
}

/// The vectors' session establishment.
pub fn establishment() -> SessionEstablishment {
    SessionEstablishment::from_bytes(&vector("SESSION_ESTABLISHMENT"))
        .expect("the Annex D session establishment reads")
}

/// The transcript rebuilt from its parts: the engagement read from the Handover Select, the
/// reader key of the establishment, the NFC handover.
pub fn transcript_with(handover: &Handover) -> SessionTranscript {
    let Handover::Nfc { select, .. } = nfc_handover() else {
        panic!("Annex D uses an NFC handover");
    };
    let engagement = read_handover_select(&select).expect("the Handover Select reads");
    SessionTranscript::new(&engagement, &establishment().e_reader_key, handover)
        .expect("the transcript encodes")
}
