//! The reader's checks, one refusal each (`docs/protocols/apcv.md`, "Reader checks"): forged
//! and wrong presentations are refused with their own reason, hostile bytes are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use carnet_codec::cbor;
use carnet_identity::apcv::Credential;
use carnet_identity::authority::{CertificateValidity, IssuerAuthority};
use carnet_identity::engagement::DeviceEngagement;
use carnet_identity::presentation::{Binding, DeviceSigner, MAX_RESPONSE_BYTES};
use carnet_identity::reader::{CheckTime, Reader, Refusal};
use carnet_identity::session::{Handover, SessionEstablishment, SessionTranscript};
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use carnet_testing::marie;
use carnet_testing::signers::{Ed25519Key, P256Key};
use ciborium::Value;
use ring::rand::SystemRandom;
use support::{NOW, authority, credential, reader, status_list};

const DAY: i64 = 86_400;

/// The binding of an ISO/IEC 18013-5 session whose two ephemeral keys are made of `seed`,
/// reached through `handover`.
fn session_with(seed: u8, handover: &Handover) -> Binding {
    let point = [vec![4], vec![seed; 64]].concat();
    let engagement = DeviceEngagement::new(&point, Vec::new()).unwrap();
    let reader_key = SessionEstablishment::new(&point, Vec::new())
        .unwrap()
        .e_reader_key;
    Binding::Session(SessionTranscript::new(&engagement, &reader_key, handover).unwrap())
}

/// A session reached by a QR code.
fn session(seed: u8) -> Binding {
    session_with(seed, &Handover::Qr)
}

fn at(now: i64) -> CheckTime {
    CheckTime {
        now,
        date_of_care: None,
    }
}

/// The verdict, without what was disclosed.
fn verdict(
    reader: &mut Reader,
    response: &[u8],
    expected: &Binding,
    time: CheckTime,
) -> Result<(), Refusal> {
    reader.check(response, expected, time).unwrap().map(drop)
}

#[test]
fn only_the_requested_items_are_disclosed_with_either_device_key() {
    let issuer = authority();
    let devices: [Box<dyn DeviceSigner>; 2] = [
        Box::new(P256Key::generate()),
        Box::new(Ed25519Key::generate()),
    ];
    for device in &devices {
        let credential = credential(&issuer, &marie(), device.as_ref(), 1);
        let response = credential
            .present(
                &["family_name", "birth_date", "family_name"],
                &session(1),
                device.as_ref(),
            )
            .unwrap();
        let disclosed = reader(&issuer, &[])
            .check(&response, &session(1), at(NOW))
            .unwrap()
            .unwrap();
        let names: Vec<&str> = disclosed.elements.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["family_name", "birth_date"],
            "asked twice, shown once"
        );
        assert_eq!(disclosed.text("birth_date"), Some("1953-07-14"));
        assert!(
            !response.windows(15).any(|w| w == b"253072B07300470"),
            "the NIR was not asked for and is not in the response"
        );
    }
}

#[test]
fn each_forgery_is_refused_with_its_reason() {
    let issuer = authority();
    let device = P256Key::generate();
    let credential = credential(&issuer, &marie(), &device, 1);
    let response = credential
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let mut pharmacy = reader(&issuer, &[]);
    let mut check = |bytes: &[u8], handover: &Binding, now: i64| {
        verdict(&mut pharmacy, bytes, handover, at(now))
    };
    assert_eq!(check(&response, &session(1), NOW), Ok(()));
    assert_eq!(
        check(&response, &session(2), NOW),
        Err(Refusal::DeviceSignature),
        "signed for another session"
    );
    let tapped = session_with(
        1,
        &Handover::Nfc {
            select: vec![0xd1],
            request: None,
        },
    );
    assert_eq!(
        check(&response, &tapped, NOW),
        Err(Refusal::DeviceSignature),
        "signed for the same keys reached another way"
    );
    assert_eq!(
        check(&response, &session(1), NOW + 366 * DAY),
        Err(Refusal::UnknownIssuer),
        "the document signer's certificate has expired"
    );
    assert_eq!(
        check(&response, &session(1), NOW - 2 * DAY),
        Err(Refusal::NotYetValid)
    );
    // Another device presenting the same credential.
    let thief = P256Key::generate();
    let stolen = credential
        .present(&["family_name"], &session(1), &thief)
        .unwrap();
    assert_eq!(
        check(&stolen, &session(1), NOW),
        Err(Refusal::DeviceSignature)
    );
    // A disclosed value altered.
    let mut altered = response.clone();
    let at_name = altered.windows(6).position(|w| w == b"DUPONT").unwrap();
    altered[at_name..at_name + 6].copy_from_slice(b"DURAND");
    assert_eq!(check(&altered, &session(1), NOW), Err(Refusal::ItemDigest));
    // An item from another credential of the same device.
    let other = support::credential(&issuer, &marie(), &device, 2)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let spliced = {
        let mut ours: Value = cbor::from_slice(&response).unwrap();
        let mut theirs: Value = cbor::from_slice(&other).unwrap();
        std::mem::swap(
            issuer_signed(&mut ours, "nameSpaces"),
            issuer_signed(&mut theirs, "nameSpaces"),
        );
        cbor::to_vec(&ours).unwrap()
    };
    assert_eq!(check(&spliced, &session(1), NOW), Err(Refusal::ItemDigest));
}

#[test]
fn another_issuer_is_refused() {
    let issuer = authority();
    let stranger = authority();
    let device = Ed25519Key::generate();
    let foreign = credential(&stranger, &marie(), &device, 1);
    let mut pharmacy = reader(&issuer, &[]);
    // Its own certificate, from a root the reader does not trust.
    let response = foreign
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    assert_eq!(
        verdict(&mut pharmacy, &response, &session(1), at(NOW)),
        Err(Refusal::UnknownIssuer)
    );
    // Without a certificate: its key id names no signer the reader knows.
    let compact = foreign
        .without_certificate()
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    assert_eq!(
        verdict(&mut pharmacy, &compact, &session(1), at(NOW)),
        Err(Refusal::UnknownIssuer)
    );
    // Dressed in the trusted issuer's certificate: the signature gives it away.
    let mut dressed: Value = cbor::from_slice(&response).unwrap();
    let issuer_auth = issuer_signed(&mut dressed, "issuerAuth");
    let trusted = issuer.document_signer().x5chain[0].clone();
    let unprotected = issuer_auth.as_array_mut().unwrap()[1].as_map_mut().unwrap();
    unprotected[0].1 = Value::Bytes(trusted);
    let dressed = cbor::to_vec(&dressed).unwrap();
    assert_eq!(
        verdict(&mut pharmacy, &dressed, &session(1), at(NOW)),
        Err(Refusal::IssuerSignature)
    );
    // A status list signed by the stranger is not taken.
    assert_eq!(
        pharmacy
            .update_status(&status_list(&stranger, &[]), NOW)
            .unwrap(),
        Err(Refusal::UnknownIssuer)
    );
}

#[test]
fn an_expired_mso_is_refused() {
    // Certificates valid for years; the MSO's validity is a year from a day before NOW.
    let issuer = IssuerAuthority::create(
        "long-lived issuer",
        CertificateValidity {
            not_before: NOW - DAY,
            not_after: NOW + 5 * 365 * DAY,
        },
    )
    .unwrap();
    let device = Ed25519Key::generate();
    let response = credential(&issuer, &marie(), &device, 1)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let mut pharmacy =
        Reader::new(IssuerTrust::new(&[issuer.root_certificate().to_vec()]).unwrap());
    assert_eq!(
        verdict(&mut pharmacy, &response, &session(1), at(NOW + 400 * DAY)),
        Err(Refusal::Expired)
    );
}

#[test]
fn counter_qrs_are_held_to_the_clock_and_shown_once() {
    let issuer = authority();
    let device = Ed25519Key::generate();
    let credential = credential(&issuer, &marie(), &device, 1).without_certificate();
    let mut pharmacy = reader(&issuer, &[]);
    let slot = NOW / 30;
    for (shift, expected) in [
        (3, Err(Refusal::ClockSkew)),
        (-3, Err(Refusal::ClockSkew)),
        (2, Ok(())),
        (-2, Ok(())),
    ] {
        let counter = Binding::Counter { slot: slot + shift };
        let response = credential
            .present(&["family_name"], &counter, &device)
            .unwrap();
        assert_eq!(
            verdict(&mut pharmacy, &response, &counter, at(NOW)),
            expected,
            "slot {shift:+}"
        );
        if expected.is_ok() {
            assert_eq!(
                verdict(&mut pharmacy, &response, &counter, at(NOW + 10)),
                Err(Refusal::Replayed)
            );
        }
    }
    // A parent's and a child's credential shown from one phone in the same slot: with a
    // deterministic Ed25519 key both device signatures are the same bytes, yet neither is a
    // replay of the other.
    let child =
        support::credential(&issuer, &carnet_testing::lea(), &device, 2).without_certificate();
    let counter = Binding::Counter { slot };
    for shown in [&credential, &child] {
        let response = shown.present(&["given_names"], &counter, &device).unwrap();
        assert_eq!(verdict(&mut pharmacy, &response, &counter, at(NOW)), Ok(()));
    }
    // A counter QR claiming another slot than the one it was signed for.
    let response = credential
        .present(&["family_name"], &Binding::Counter { slot }, &device)
        .unwrap();
    assert_eq!(
        verdict(
            &mut pharmacy,
            &response,
            &Binding::Counter { slot: slot + 1 },
            at(NOW)
        ),
        Err(Refusal::DeviceSignature)
    );
}

#[test]
fn revocation_needs_a_current_list() {
    let issuer = authority();
    let device = Ed25519Key::generate();
    let revoked = credential(&issuer, &marie(), &device, 5)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let kept = credential(&issuer, &marie(), &device, 6)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let mut pharmacy = reader(&issuer, &[5]);
    assert_eq!(
        verdict(&mut pharmacy, &revoked, &session(1), at(NOW)),
        Err(Refusal::Revoked)
    );
    assert_eq!(verdict(&mut pharmacy, &kept, &session(1), at(NOW)), Ok(()));
    assert_eq!(
        verdict(&mut pharmacy, &kept, &session(1), at(NOW + 2 * DAY)),
        Err(Refusal::CannotConfirm),
        "the list has expired"
    );
    let beyond = credential(&issuer, &marie(), &device, 1000)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    assert_eq!(
        verdict(&mut pharmacy, &beyond, &session(1), at(NOW)),
        Err(Refusal::CannotConfirm),
        "an index the list does not cover"
    );
    let mut fresh = Reader::new(IssuerTrust::new(&[issuer.root_certificate().to_vec()]).unwrap());
    assert_eq!(
        verdict(&mut fresh, &kept, &session(1), at(NOW)),
        Err(Refusal::CannotConfirm),
        "no list yet"
    );
    // An older list does not replace a newer one.
    let signer = issuer.document_signer();
    let mut old = StatusList::new(64, NOW - DAY, NOW + DAY, signer.x5chain.clone());
    old.revoke(6).unwrap();
    let old = old.sign(&signer, &SystemRandom::new()).unwrap();
    pharmacy.update_status(&old, NOW).unwrap().unwrap();
    assert_eq!(verdict(&mut pharmacy, &kept, &session(1), at(NOW)), Ok(()));
}

#[test]
fn rights_must_cover_the_date_of_care() {
    let issuer = authority();
    let device = Ed25519Key::generate();
    let credential = credential(&issuer, &marie(), &device, 1);
    let mut pharmacy = reader(&issuer, &[]);
    let care = |date| CheckTime {
        now: NOW,
        date_of_care: Some(date),
    };
    let with_rights = credential
        .present(
            &["family_name", "amo_valid_from", "amo_valid_until"],
            &session(1),
            &device,
        )
        .unwrap();
    for (date, expected) in [
        (time::macros::date!(2027 - 12 - 31), Ok(())),
        (time::macros::date!(2026 - 01 - 01), Ok(())),
        (
            time::macros::date!(2028 - 01 - 01),
            Err(Refusal::RightsExpired),
        ),
        (
            time::macros::date!(2025 - 12 - 31),
            Err(Refusal::RightsExpired),
        ),
    ] {
        assert_eq!(
            verdict(&mut pharmacy, &with_rights, &session(1), care(date)),
            expected,
            "{date}"
        );
    }
    let without = credential
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    assert_eq!(
        verdict(
            &mut pharmacy,
            &without,
            &session(1),
            care(time::macros::date!(2027 - 01 - 15))
        ),
        Err(Refusal::RightsNotDisclosed)
    );
}

#[test]
fn hostile_input_is_a_typed_error() {
    let issuer = authority();
    let mut pharmacy = reader(&issuer, &[]);
    let device = Ed25519Key::generate();
    let good = credential(&issuer, &marie(), &device, 1)
        .present(&["family_name"], &session(1), &device)
        .unwrap();
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xa0],
        vec![0x82, 0x01],
        vec![0u8; MAX_RESPONSE_BYTES + 1],
        vec![0x81; 10_000],
    ];
    inputs.extend((1..good.len()).step_by(97).map(|cut| good[..cut].to_vec()));
    for bytes in inputs {
        assert!(matches!(
            pharmacy.check(&bytes, &session(1), at(NOW)),
            Err(e) if e.is_unreadable()
        ));
    }
    for bytes in [&b""[..], &[0xd2, 0x84], &vec![0x81; 10_000]] {
        assert!(pharmacy.update_status(bytes, NOW).is_err());
    }
    assert!(Credential::from_cbor(&[0xff; 64]).is_err());
    // Trust: garbage, a leaf that is not a CA, a certificate with trailing bytes.
    let signer_certificate = issuer.document_signer().x5chain[0].clone();
    let mut trailing = issuer.root_certificate().to_vec();
    trailing.push(0);
    for root in [b"not a certificate".to_vec(), signer_certificate, trailing] {
        assert!(IssuerTrust::new(&[root]).is_err());
    }
}

/// A field of the one document's `issuerSigned` in a response.
fn issuer_signed<'a>(response: &'a mut Value, name: &str) -> &'a mut Value {
    let document = &mut entry(response, "documents").as_array_mut().unwrap()[0];
    entry(entry(document, "issuerSigned"), name)
}

fn entry<'a>(value: &'a mut Value, name: &str) -> &'a mut Value {
    &mut value
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some(name))
        .unwrap()
        .1
}
