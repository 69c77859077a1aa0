//! The ApCV exchange end to end through the public API, as the pharmacy and the phone run it:
//! issue, then (1) the reader's challenge as a QR text, the holder's answer as a QR text (the
//! certificate left out), the reader's verdict; (2) a counter QR without a challenge; (3) the
//! same challenge over NFC APDUs, only bytes crossing; (4) a child on the parent's card.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use carnet_identity::apdu::{HolderSession, ReaderExchange, ReaderStep, challenge_commands};
use carnet_identity::presentation::Binding;
use carnet_identity::qr_text::{Mode, ReaderChallenge, response_from_text, response_to_text};
use carnet_identity::reader::{CheckTime, Disclosed, Refusal};
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

fn challenge(items: &[&str]) -> ReaderChallenge {
    ReaderChallenge {
        nonce: vec![0x5A; 16],
        reader: "10003456789".into(),
        purpose: "Délivrance de médicaments".into(),
        items: items.iter().map(|item| (*item).to_owned()).collect(),
        time: NOW,
        endpoint: None,
    }
}

#[test]
fn a_pharmacy_reads_the_card_by_qr_and_by_nfc() {
    let issuer = authority();
    let device = Ed25519Key::generate();
    let credential = credential(&issuer, &marie(), &device, 3);
    let mut pharmacy = reader(&issuer, &[]);
    let items = [
        "family_name",
        "given_names",
        "regime",
        "amo_valid_from",
        "amo_valid_until",
    ];

    // (1) QR: the pharmacy shows its challenge, the phone answers with a QR text made from
    // the credential without its certificate; the reader knows the signer from its status
    // list.
    let challenge = challenge(&items);
    let on_screen = challenge.to_text().unwrap();
    let scanned = ReaderChallenge::from_text(&on_screen).unwrap();
    let asked: Vec<&str> = scanned.items.iter().map(String::as_str).collect();
    let response = credential
        .without_certificate()
        .present(&asked, &scanned.handover(), &device)
        .unwrap();
    let shown = response_to_text(&response, Mode::of(&scanned.handover())).unwrap();
    let (mode, read) = response_from_text(&shown).unwrap();
    assert_eq!(mode, Mode::Challenge);
    let expected = mode.expected(Some(&challenge)).unwrap();
    let disclosed = pharmacy
        .check(&read, &expected, at_the_counter())
        .unwrap()
        .unwrap();
    assert_eq!(names(&disclosed), items);
    assert_eq!(disclosed.text("family_name"), Some("DUPONT"));
    assert_eq!(disclosed.text("amo_valid_until"), Some("2027-12-31"));
    assert!(
        mode.expected(None).is_err(),
        "an answer to a challenge this reader did not make"
    );

    // (2) Counter QR: no challenge, the slot travels with the answer.
    let counter = Binding::Counter { slot: NOW / 30 };
    let response = credential
        .without_certificate()
        .present(&["family_name", "given_names"], &counter, &device)
        .unwrap();
    let (mode, read) =
        response_from_text(&response_to_text(&response, Mode::of(&counter)).unwrap()).unwrap();
    let disclosed = pharmacy
        .check(
            &read,
            &mode.expected(None).unwrap(),
            CheckTime {
                now: NOW + 20,
                date_of_care: None,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(names(&disclosed), ["family_name", "given_names"]);
    let again = CheckTime {
        now: NOW + 40,
        date_of_care: None,
    };
    assert_eq!(
        pharmacy
            .check(&read, &mode.expected(None).unwrap(), again)
            .unwrap()
            .map(drop),
        Err(Refusal::Replayed),
        "the same counter QR shown again"
    );

    // (3) NFC: the same challenge as APDUs; the phone answers with the whole credential
    // (certificate included: no size constraint here).
    let mut phone = HolderSession::default();
    let mut exchange = ReaderExchange::default();
    let mut answer = None;
    for command in challenge_commands(on_screen.as_bytes()) {
        let reply = phone.handle(&command.to_bytes().unwrap(), |bytes| {
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
        let mut step = exchange.receive(&reply).unwrap();
        while let ReaderStep::Send(next) = step {
            let reply = phone.handle(&next.to_bytes().unwrap(), |_| None);
            step = exchange.receive(&reply).unwrap();
        }
        if let ReaderStep::Done(bytes) = step {
            answer = Some(bytes);
        }
    }
    let text = String::from_utf8(answer.expect("an answer over NFC")).unwrap();
    let (mode, read) = response_from_text(&text).unwrap();
    let disclosed = pharmacy
        .check(
            &read,
            &mode.expected(Some(&challenge)).unwrap(),
            at_the_counter(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(names(&disclosed), items);
}

#[test]
fn a_child_is_shown_from_the_parents_phone() {
    let issuer = authority();
    let phone = Ed25519Key::generate();
    let child = credential(&issuer, &lea(), &phone, 4);
    let challenge = challenge(&["ins_matricule", "given_names", "beneficiary_rank", "nir"]);
    let response = child
        .without_certificate()
        .present(
            &["ins_matricule", "given_names", "beneficiary_rank", "nir"],
            &challenge.handover(),
            &phone,
        )
        .unwrap();
    let disclosed = reader(&issuer, &[])
        .check(
            &response,
            &challenge.handover(),
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
