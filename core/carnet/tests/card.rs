//! The carte Vitale on the phone through the facade, against the reference server on
//! loopback: the caisse registers a family's card, the phone enrols it with a software device
//! key, shows it offline from the record (a challenge, a counter QR, the child's), the
//! pharmacy's reader checks it with the issuer's root and status list; a rights refresh, then
//! a lost phone, and the reader's verdicts follow. The same enrolment opens the health space.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use carnet::{CardCheck, CarnetError, PresentationRequest, RecordUnlock, read_challenge};
use carnet_server::ProfessionalClient;
use common::{open_carnet, register_family_card, start_server};

fn accepted(check: CardCheck) -> Vec<(String, String)> {
    match check {
        CardCheck::Accepted { elements } => elements
            .into_iter()
            .map(|element| (element.name, element.value))
            .collect(),
        CardCheck::Refused { code } => panic!("refused: {code}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_enrolled_shown_checked_refreshed_and_lost() {
    let server = start_server().await;
    let base = server.url();
    let code = register_family_card(&server).await;

    // The phone.
    let data = tempfile::tempdir().unwrap();
    let phone = open_carnet(data.path());
    let services = phone.national_services(&base, &[]).unwrap();
    let record = phone
        .create_record(&phone.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    let key = phone.software_device_key().unwrap();
    assert!(record.card().unwrap().is_empty());
    let wrong = services
        .enrol_card(&record, "253072B07300470", "WRONG", &key)
        .await
        .unwrap_err();
    assert!(matches!(wrong, CarnetError::Network(_)), "{wrong:?}");
    assert!(record.card().unwrap().is_empty(), "nothing kept");
    let people = services
        .enrol_card(&record, "253072B07300470", &code, &key)
        .await
        .unwrap();
    assert_eq!(
        people
            .iter()
            .map(|p| (p.rank, p.given_names.as_str()))
            .collect::<Vec<_>>(),
        [(1, "MARIE ANNE"), (2, "LEA")]
    );
    assert_eq!(people[1].ins_matricule, "216087511603014");
    assert_eq!(people[1].amo_valid_until, "2027-12-31");
    assert!(
        services.enrolled_user().unwrap().is_some(),
        "the health space too"
    );
    services.sync_record(&record, &mut |_, _| {}).await.unwrap();

    // The pharmacy: its own Carnet, the issuer's root and status list.
    let pharmacy_dir = tempfile::tempdir().unwrap();
    let pharmacy = open_carnet(pharmacy_dir.path());
    let pharmacy_services = pharmacy.national_services(&base, &[]).unwrap();
    let root = pharmacy_services.issuer_root().await.unwrap();
    let mut reader = pharmacy.card_reader(&root, "10003456789").unwrap();
    let update = |reader: &mut carnet::CardReader, status: Vec<u8>| {
        assert!(reader.update_status(&status).unwrap());
    };
    update(
        &mut reader,
        pharmacy_services.issuer_status().await.unwrap(),
    );

    // Challenge: the holder sees who asks what, then answers with the record only.
    let stopped = server.stop().await;
    let items = [
        "family_name",
        "given_names",
        "amo_valid_from",
        "amo_valid_until",
    ];
    let challenge = reader
        .challenge("Délivrance de médicaments", &items.map(str::to_owned))
        .unwrap();
    let asked = read_challenge(&challenge).unwrap();
    assert_eq!(
        (asked.reader.as_str(), asked.items.len()),
        ("10003456789", 4)
    );
    let shown = record
        .present_card(1, &PresentationRequest::Challenge(challenge), &key)
        .unwrap();
    let elements = accepted(reader.read(&shown, Some("2027-01-15")).unwrap());
    assert_eq!(elements[0], ("family_name".into(), "DUPONT".into()));
    assert_eq!(elements.len(), 4);
    assert!(
        reader.read(&shown, None).is_err(),
        "the challenge was consumed: the same answer again is not expected"
    );
    // Counter QRs: the holder's, then the child's; each once.
    let counter = record
        .present_card(1, &PresentationRequest::Counter, &key)
        .unwrap();
    let elements = accepted(reader.read(&counter, None).unwrap());
    assert_eq!(elements.len(), carnet::DEFAULT_DISCLOSURE.len());
    assert_eq!(
        reader.read(&counter, None).unwrap(),
        CardCheck::Refused {
            code: "replayed".into()
        }
    );
    let child = record
        .present_card(2, &PresentationRequest::Counter, &key)
        .unwrap();
    assert_eq!(
        reader.read(&child, Some("2028-02-01")).unwrap(),
        CardCheck::Refused {
            code: "rights_expired".into()
        },
        "a date of care past the rights"
    );
    let elements = accepted(reader.read(&child, None).unwrap());
    assert!(
        elements.contains(&("given_names".into(), "LEA".into())),
        "a refused showing is not remembered as seen"
    );
    assert!(matches!(
        record.present_card(3, &PresentationRequest::Counter, &key),
        Err(CarnetError::NotFound(_))
    ));
    // Another phone's key cannot show this card.
    let other = open_carnet(tempfile::tempdir().unwrap().path())
        .software_device_key()
        .unwrap();
    let stolen = record
        .present_card(1, &PresentationRequest::Counter, &other)
        .unwrap();
    assert_eq!(
        reader.read(&stolen, None).unwrap(),
        CardCheck::Refused {
            code: "device_signature".into()
        }
    );

    // Back online: a rights refresh revokes the old credentials.
    let server = stopped.start().await;
    let before = record
        .present_card(1, &PresentationRequest::Counter, &key)
        .unwrap();
    let refreshed = services.refresh_card(&record, &key).await.unwrap();
    assert_eq!(refreshed.len(), 2);
    update(
        &mut reader,
        pharmacy_services.issuer_status().await.unwrap(),
    );
    assert_eq!(
        reader.read(&before, None).unwrap(),
        CardCheck::Refused {
            code: "revoked".into()
        }
    );
    let after = record
        .present_card(2, &PresentationRequest::Counter, &key)
        .unwrap();
    accepted(reader.read(&after, None).unwrap());

    // The phone is lost: the caisse revokes everything.
    ProfessionalClient::new(&base, server.professional_key())
        .report_device_lost("253072B07300470")
        .await
        .unwrap();
    update(
        &mut reader,
        pharmacy_services.issuer_status().await.unwrap(),
    );
    let lost = record
        .present_card(1, &PresentationRequest::Counter, &key)
        .unwrap();
    assert_eq!(
        reader.read(&lost, None).unwrap(),
        CardCheck::Refused {
            code: "revoked".into()
        }
    );
    assert!(services.refresh_card(&record, &key).await.is_err());
    server.stop().await;
}

/// Drives an NFC exchange as the two platforms would: the reader's commands go to the phone's
/// responder, its responses back, until the answer is complete.
fn over_nfc(challenge: &str, phone: &mut carnet::NfcResponder) -> Result<String, CarnetError> {
    let mut reading = carnet::NfcReading::new(challenge)?;
    let mut step = reading.next(None)?;
    for _ in 0..64 {
        match step {
            carnet::NfcStep::Send(command) => {
                let response = phone.process(&command);
                step = reading.next(Some(&response))?;
            }
            carnet::NfcStep::Done(answer) => return Ok(answer),
        }
    }
    panic!("the exchange did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_read_over_nfc_with_what_the_holder_allowed() {
    let server = start_server().await;
    let data = tempfile::tempdir().unwrap();
    let phone = open_carnet(data.path());
    let base = server.url();
    let services = phone.national_services(&base, &[]).unwrap();
    let record = Arc::new(
        phone
            .create_record(&phone.record_dir(), &RecordUnlock::DeviceKey)
            .unwrap(),
    );
    common::enrol_family_card(&server, &phone, &services, &record).await;
    let root = services.issuer_root().await.unwrap();
    let status = services.issuer_status().await.unwrap();
    server.stop().await;

    let pharmacy = open_carnet(tempfile::tempdir().unwrap().path());
    let mut reader = pharmacy.card_reader(&root, "10003456789").unwrap();
    assert!(reader.update_status(&status).unwrap());
    let allowed: Vec<String> = carnet::DEFAULT_DISCLOSURE.map(str::to_owned).to_vec();
    let mut responder = carnet::NfcResponder::new(
        record.clone(),
        2,
        allowed,
        Box::new(phone.software_device_key().unwrap()),
    );
    let challenge = reader
        .challenge(
            "Délivrance de médicaments",
            &["given_names".into(), "nir".into()],
        )
        .unwrap();
    let answer = over_nfc(&challenge, &mut responder).unwrap();
    let elements = accepted(reader.read(&answer, None).unwrap());
    assert_eq!(elements[0], ("given_names".into(), "LEA".into()));
    // An element the holder did not allow: the phone refuses (69 85), nothing is disclosed.
    let greedy = reader
        .challenge("Délivrance de médicaments", &["ins_matricule".into()])
        .unwrap();
    let refused = over_nfc(&greedy, &mut responder).unwrap_err();
    assert_eq!(refused.code(), "apcv.not_consented", "{refused}");
    assert!(refused.to_string().contains("did not consent"), "{refused}");
    // Garbage APDUs are status words, never a panic.
    assert_eq!(responder.process(&[0x00]), [0x67, 0x00]);
}
