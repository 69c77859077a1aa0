//! The ApCV shown through the public API beyond the session itself (`mdoc_session.rs`):
//! Carnet's counter QR as a pharmacy reads it once, and a child on the parent's card.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use carnet_identity::apcv::DEFAULT_DISCLOSURE;
use carnet_identity::engagement::DeviceEngagement;
use carnet_identity::presentation::Binding;
use carnet_identity::qr_text::{counter_from_text, counter_to_text};
use carnet_identity::reader::{CheckTime, Disclosed, Refusal};
use carnet_identity::session::KeyAgreement;
use carnet_identity::session::{EphemeralKey, Handover, SessionEstablishment, SessionTranscript};
use carnet_testing::signers::Ed25519Key;
use carnet_testing::{lea, marie};
use support::{NOW, authority, credential, reader};

fn names(disclosed: &Disclosed) -> Vec<&str> {
    disclosed
        .elements
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

fn at_the_counter() -> CheckTime {
    CheckTime {
        now: NOW,
        date_of_care: Some(time::macros::date!(2027 - 01 - 15)),
    }
}

/// The transcript of a QR-engaged session with fresh keys.
fn session() -> Binding {
    let device = EphemeralKey::generate().unwrap().public_point();
    let reader = EphemeralKey::generate().unwrap().public_point();
    let engagement = DeviceEngagement::new(&device, Vec::new()).unwrap();
    let reader_key = SessionEstablishment::new(&reader, Vec::new())
        .unwrap()
        .e_reader_key;
    Binding::Session(SessionTranscript::new(&engagement, &reader_key, &Handover::Qr).unwrap())
}

#[test]
fn a_pharmacy_reads_a_counter_qr_once() {
    let issuer = authority();
    let device = Ed25519Key::generate();
    let credential = credential(&issuer, &marie(), &device, 3);
    let mut pharmacy = reader(&issuer, &[]);
    // No request: the slot travels with the answer, the certificate does not (the reader
    // knows the signer from its status list).
    let slot = NOW / 30;
    let response = credential
        .without_certificate()
        .present(&DEFAULT_DISCLOSURE, &Binding::Counter { slot }, &device)
        .unwrap();
    let text = counter_to_text(&response, slot).unwrap();
    let (read_slot, read) = counter_from_text(&text).unwrap();
    assert_eq!(read_slot, slot);
    let disclosed = pharmacy
        .check(
            &read,
            &Binding::Counter { slot: read_slot },
            at_the_counter(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(names(&disclosed), DEFAULT_DISCLOSURE);
    assert_eq!(disclosed.text("family_name"), Some("DUPONT"));
    assert_eq!(disclosed.text("amo_valid_until"), Some("2027-12-31"));
    let again = CheckTime {
        now: NOW + 40,
        date_of_care: None,
    };
    assert_eq!(
        pharmacy
            .check(&read, &Binding::Counter { slot: read_slot }, again)
            .unwrap()
            .map(drop),
        Err(Refusal::Replayed),
        "the same counter QR shown again"
    );
}

#[test]
fn a_child_is_shown_from_the_parents_phone() {
    let issuer = authority();
    let phone = Ed25519Key::generate();
    let child = credential(&issuer, &lea(), &phone, 4);
    let session = session();
    let response = child
        .present(
            &["ins_matricule", "given_names", "beneficiary_rank", "nir"],
            &session,
            &phone,
        )
        .unwrap();
    let disclosed = reader(&issuer, &[])
        .check(
            &response,
            &session,
            CheckTime {
                now: NOW,
                date_of_care: None,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(disclosed.text("given_names"), Some("LEA"));
    assert_eq!(disclosed.text("ins_matricule"), Some("216087511603014"));
    assert_eq!(
        disclosed.text("nir"),
        Some("253072B07300470"),
        "the card's NIR is the parent's"
    );
    assert_eq!(
        disclosed.get("beneficiary_rank"),
        Some(&ciborium::Value::from(2))
    );
}
