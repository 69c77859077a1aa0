//! The carte Vitale on the phone through the facade, against the reference server on
//! loopback: the caisse registers a family's card, the phone enrols it with a software device
//! key (and keeps the professionals' PKI with it); a pharmacy's reader, certified by that
//! PKI, reads it the ISO/IEC 18013-5 way over a QR and an NFC engagement, offline; an
//! anonymous reader gets the names at most; Carnet's counter QR is checked with its replay
//! cache; a rights refresh, a revoked reader and a lost phone follow.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet::{
    CardCheck, CardEngagement, CardPresentation, CardReader, CarnetError, ConsentRequest,
    PresentationStep, RecordUnlock, SoftwareDeviceKey,
};
use carnet_server::ProfessionalClient;
use carnet_wire::readers::ReaderCertificateRequest;
use common::{open_carnet, register_family_card, start_server};

const BILLING: [&str; 6] = [
    "family_name",
    "given_names",
    "nir",
    "amo_valid_from",
    "amo_valid_until",
    "ins_matricule",
];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

fn accepted(check: CardCheck) -> Vec<(String, String)> {
    match check {
        CardCheck::Accepted { elements } => elements
            .into_iter()
            .map(|element| (element.name, element.value))
            .collect(),
        CardCheck::Refused { code } => panic!("refused: {code}"),
    }
}

fn refused(check: CardCheck) -> String {
    match check {
        CardCheck::Refused { code } => code,
        CardCheck::Accepted { elements } => panic!("accepted: {elements:?}"),
    }
}

fn asked(step: PresentationStep) -> ConsentRequest {
    match step {
        PresentationStep::Asked(request) => request,
        PresentationStep::Ended => panic!("the reader ended the session"),
    }
}

/// One exchange: the reader's request, the holder's consent, the answer the reader checks.
fn exchange(
    presentation: &mut CardPresentation,
    reader: &mut CardReader,
    establishment: &[u8],
    rank: u32,
    approve: &[&str],
    key: &SoftwareDeviceKey,
) -> (ConsentRequest, CardCheck) {
    let consent = asked(presentation.receive(establishment).unwrap());
    let answer = presentation.respond(rank, &names(approve), key).unwrap();
    (consent, reader.read(&answer, Some("2027-01-15")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_enrolled_presented_to_readers_refreshed_and_lost() {
    let server = start_server().await;
    let base = server.url();
    let code = register_family_card(&server).await;
    let pki = ProfessionalClient::new(&base, server.professional_key());

    // The phone.
    let data = tempfile::tempdir().unwrap();
    let phone = open_carnet(data.path());
    let services = phone.national_services(&base, &[]).unwrap();
    let record = Arc::new(
        phone
            .create_record(&phone.record_dir(), &RecordUnlock::DeviceKey)
            .unwrap(),
    );
    let key = phone.software_device_key().unwrap();
    assert!(matches!(
        record.start_presentation(CardEngagement::Qr),
        Err(CarnetError::NotFound(_))
    ));
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
    assert!(
        services.enrolled_user().unwrap().is_some(),
        "the health space too"
    );

    // The pharmacy: its own Carnet, the issuer's root and status list, its key certified.
    let pharmacy_dir = tempfile::tempdir().unwrap();
    let pharmacy = open_carnet(pharmacy_dir.path());
    let pharmacy_services = pharmacy.national_services(&base, &[]).unwrap();
    let root = pharmacy_services.issuer_root().await.unwrap();
    let status = pharmacy_services.issuer_status().await.unwrap();
    let reader_key = pharmacy.reader_public_key().unwrap();
    let certified = pki
        .certify_reader(&ReaderCertificateRequest {
            name: "Jeanne Martin".into(),
            organisation: "Pharmacie du Port".into(),
            identifier: "RPPS:10003456789".into(),
            profession: "21".into(),
            hosts: Vec::new(),
            public_key: STANDARD.encode(&reader_key),
        })
        .await
        .unwrap();
    let certificate = STANDARD.decode(&certified.certificate).unwrap();
    // Another installation's key is not the one certified.
    let stranger = open_carnet(tempfile::tempdir().unwrap().path());
    assert!(
        stranger
            .card_reader(&root, Some(certificate.clone()))
            .is_err()
    );
    let mut reader = pharmacy
        .card_reader(&root, Some(certificate.clone()))
        .unwrap();
    assert!(reader.update_status(&status).unwrap());

    // Offline from here: a QR engagement, the holder sees who asks from the certificate.
    let stopped = server.stop().await;
    let mut presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let text = presentation.qr_text();
    assert!(text.starts_with("mdoc:") && text.len() < 200, "{text}");
    let establishment = reader.request(&text, &names(&BILLING)).unwrap();
    let (consent, check) = exchange(
        &mut presentation,
        &mut reader,
        &establishment,
        1,
        &BILLING,
        &key,
    );
    assert!(consent.reader.verified);
    assert_eq!(
        (
            consent.reader.name.as_str(),
            consent.reader.organisation.as_str(),
            consent.reader.identifier.as_str(),
            consent.reader.profession.as_str()
        ),
        (
            "Jeanne Martin",
            "Pharmacie du Port",
            "RPPS 10003456789",
            "Pharmacien"
        )
    );
    let allowed: Vec<(&str, bool)> = consent
        .elements
        .iter()
        .map(|e| (e.name.as_str(), e.allowed))
        .collect();
    assert_eq!(
        allowed[5],
        ("ins_matricule", false),
        "a pharmacy bills without the INS"
    );
    let shown = accepted(check);
    assert_eq!(shown[0], ("family_name".into(), "DUPONT".into()));
    assert_eq!(
        shown.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "family_name",
            "given_names",
            "nir",
            "amo_valid_from",
            "amo_valid_until"
        ]
    );
    // The holder ends the session: the reader is told.
    assert_eq!(
        refused(reader.read(&presentation.end().unwrap(), None).unwrap()),
        "phone_ended"
    );

    // NFC engagement, the child's card, the reader's session kept across two runs.
    let mut presentation = record.start_presentation(CardEngagement::Nfc).unwrap();
    let select = presentation.handover_select().unwrap();
    assert!(presentation.ble_service_uuid().is_some());
    let establishment = reader
        .request_nfc(&select, &names(&["given_names", "nir"]))
        .unwrap();
    let saved = reader.save_session().unwrap();
    let consent = asked(presentation.receive(&establishment).unwrap());
    assert!(consent.elements.iter().all(|e| e.allowed));
    let answer = presentation
        .respond(2, &names(&["given_names", "nir"]), &key)
        .unwrap();
    // Another run of the reader takes the session up where the first left it.
    let mut later = pharmacy.card_reader(&root, Some(certificate)).unwrap();
    assert!(later.update_status(&status).unwrap());
    later.resume_session(&saved).unwrap();
    let shown = accepted(later.read(&answer, None).unwrap());
    assert_eq!(shown[0], ("given_names".into(), "LEA".into()));
    assert!(later.resume_session(b"not a session").is_err());

    // A reader that does not authenticate: nothing by default, the names if chosen.
    let mut anonymous = pharmacy.card_reader(&root, None).unwrap();
    assert!(anonymous.update_status(&status).unwrap());
    let mut presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let establishment = anonymous
        .request(&presentation.qr_text(), &names(&["family_name", "nir"]))
        .unwrap();
    let consent = asked(presentation.receive(&establishment).unwrap());
    assert!(!consent.reader.verified && consent.reader.refusal.is_none());
    assert_eq!(
        consent
            .elements
            .iter()
            .map(|e| (e.name.as_str(), e.allowed))
            .collect::<Vec<_>>(),
        [("family_name", true), ("nir", false)]
    );
    let answer = presentation.decline().unwrap();
    assert_eq!(refused(anonymous.read(&answer, None).unwrap()), "not_shown");

    // Carnet's counter QR: the holder's, then the child's; each once.
    let counter = record.present_counter(1, &key).unwrap();
    let elements = accepted(reader.read_counter(&counter, None).unwrap());
    assert_eq!(elements.len(), carnet::DEFAULT_DISCLOSURE.len());
    assert_eq!(
        refused(reader.read_counter(&counter, None).unwrap()),
        "replayed"
    );
    let child = record.present_counter(2, &key).unwrap();
    assert_eq!(
        refused(reader.read_counter(&child, Some("2028-02-01")).unwrap()),
        "rights_expired"
    );
    accepted(reader.read_counter(&child, None).unwrap());
    assert!(matches!(
        record.present_counter(3, &key),
        Err(CarnetError::NotFound(_))
    ));
    let other = open_carnet(tempfile::tempdir().unwrap().path())
        .software_device_key()
        .unwrap();
    let stolen = record.present_counter(1, &other).unwrap();
    assert_eq!(
        refused(reader.read_counter(&stolen, None).unwrap()),
        "device_signature"
    );

    // Back online: the PKI revokes the pharmacy's certificate; the phone learns it with its
    // rights refresh, which also revokes the old credentials.
    let server = stopped.start().await;
    let before = record.present_counter(1, &key).unwrap();
    pki.revoke_reader(&certified.serial).await.unwrap();
    assert_eq!(services.refresh_card(&record, &key).await.unwrap().len(), 2);
    assert!(
        reader
            .update_status(&pharmacy_services.issuer_status().await.unwrap())
            .unwrap()
    );
    assert_eq!(
        refused(reader.read_counter(&before, None).unwrap()),
        "revoked"
    );
    let mut presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let establishment = reader
        .request(&presentation.qr_text(), &names(&BILLING))
        .unwrap();
    let (consent, check) = exchange(
        &mut presentation,
        &mut reader,
        &establishment,
        1,
        &BILLING,
        &key,
    );
    assert_eq!(consent.reader.refusal.as_deref(), Some("reader_revoked"));
    assert!(consent.elements.iter().all(|e| !e.allowed));
    assert_eq!(refused(check), "not_shown");

    // The phone is lost: the caisse revokes everything.
    pki.report_device_lost("253072B07300470").await.unwrap();
    assert!(
        reader
            .update_status(&pharmacy_services.issuer_status().await.unwrap())
            .unwrap()
    );
    let lost = record.present_counter(1, &key).unwrap();
    assert_eq!(
        refused(reader.read_counter(&lost, None).unwrap()),
        "revoked"
    );
    assert!(services.refresh_card(&record, &key).await.is_err());
    server.stop().await;
}

/// A phone with the family's card enrolled, and the issuer's root and status list a pharmacy
/// keeps; the server is stopped (what follows is offline).
struct Enrolled {
    _data: tempfile::TempDir,
    phone: carnet::Carnet,
    record: Arc<carnet::HealthRecord>,
    root: Vec<u8>,
    status: Vec<u8>,
}

impl Enrolled {
    /// A pharmacy's reader with no certificate of its own, trusting the issuer, its status
    /// list current.
    fn anonymous_reader(&self) -> CardReader {
        let pharmacy = open_carnet(tempfile::tempdir().unwrap().path());
        let mut reader = pharmacy.card_reader(&self.root, None).unwrap();
        assert!(reader.update_status(&self.status).unwrap());
        reader
    }
}

async fn enrolled_offline() -> Enrolled {
    let server = start_server().await;
    let common::EnrolledPhone {
        data,
        carnet: phone,
        services,
        record,
    } = common::enrolled_phone(&server).await;
    let root = services.issuer_root().await.unwrap();
    let status = services.issuer_status().await.unwrap();
    server.stop().await;
    Enrolled {
        _data: data,
        phone,
        record,
        root,
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_replayed_session_messages_end_the_session_with_a_status() {
    let Enrolled {
        record,
        root,
        _data,
        ..
    } = enrolled_offline().await;
    let pharmacy = open_carnet(tempfile::tempdir().unwrap().path());
    let mut reader = pharmacy.card_reader(&root, None).unwrap();

    let mut presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let establishment = reader
        .request(&presentation.qr_text(), &names(&["family_name"]))
        .unwrap();
    asked(presentation.receive(&establishment).unwrap());
    // The same establishment again.
    let error = presentation.receive(&establishment).unwrap_err();
    assert_eq!(error.code(), "mdoc.decryption", "{error}");
    assert!(error.to_string().contains("replayed"), "{error}");
    assert!(presentation.is_ended());
    let closing = presentation.closing_message().unwrap();
    assert_eq!(
        refused(reader.read(&closing, None).unwrap()),
        "phone_decryption_error"
    );

    for hostile in [&b""[..], &[0xa0], &[0xff; 40], b"mdoc:"] {
        let mut presentation = record.start_presentation(CardEngagement::Qr).unwrap();
        let error = presentation.receive(hostile).unwrap_err();
        assert!(
            error.code().starts_with("apcv.") || error.code().starts_with("mdoc."),
            "{error:?}"
        );
        assert!(
            !error.to_string().contains("Value"),
            "no debug text: {error}"
        );
        assert!(presentation.closing_message().is_some());
    }
    for hostile in ["", "mdoc:", "mdoc:AAAA", "APCVR1:XYZ"] {
        assert!(reader.request(hostile, &names(&["nir"])).is_err());
    }
    assert!(reader.read(b"\xa0", None).is_err());
}

/// Drives one NFC exchange as the two platforms would: the reader's commands go to the
/// phone's card emulation, its responses back, until the exchange is done.
fn over_nfc(mut reading: carnet::NfcReading, phone: &mut carnet::NfcResponder) -> Vec<u8> {
    let mut response = None;
    for _ in 0..2000 {
        match reading.next(response.as_deref()).unwrap() {
            carnet::NfcStep::Send(command) => response = Some(phone.process(&command)),
            carnet::NfcStep::Done(bytes) => return bytes,
        }
    }
    panic!("the exchange did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tap_reads_the_card_by_card_emulation_with_what_the_holder_allowed() {
    let enrolled = enrolled_offline().await;
    let mut reader = enrolled.anonymous_reader();
    let Enrolled { phone, record, .. } = enrolled;

    // The phone opens its NFC screen: the child's card, the names allowed.
    let mut responder = record
        .start_presentation(CardEngagement::Nfc)
        .unwrap()
        .nfc_responder(
            2,
            names(&["family_name", "given_names"]),
            Box::new(phone.software_device_key().unwrap()),
        );
    // The tap: the engagement read from the tag, the request carried, the answer back.
    let select = over_nfc(carnet::NfcReading::engagement(), &mut responder);
    let establishment = reader
        .request_nfc(&select, &names(&["given_names", "nir"]))
        .unwrap();
    let answer = over_nfc(carnet::NfcReading::message(&establishment), &mut responder);
    let shown = accepted(reader.read(&answer, None).unwrap());
    assert_eq!(shown, [("given_names".to_owned(), "LEA".to_owned())]);
    let asked = responder.last_request().unwrap();
    assert!(!asked.reader.verified);
    // The reader ends the session: the phone sends nothing back.
    let end = reader.end().unwrap();
    assert!(over_nfc(carnet::NfcReading::message(&end), &mut responder).is_empty());
    // Garbage APDUs are status words, never a panic.
    assert_eq!(responder.process(&[0x00]), [0x67, 0x00]);
    // A QR-engaged presentation has no tag to read.
    let mut untagged = record
        .start_presentation(CardEngagement::Qr)
        .unwrap()
        .nfc_responder(
            1,
            Vec::new(),
            Box::new(phone.software_device_key().unwrap()),
        );
    let mut reading = carnet::NfcReading::engagement();
    let first = match reading.next(None).unwrap() {
        carnet::NfcStep::Send(command) => command,
        carnet::NfcStep::Done(_) => panic!("a command first"),
    };
    let refused = reading.next(Some(&untagged.process(&first))).unwrap_err();
    assert_eq!(refused.code(), "apcv.nfc", "{refused}");
}

/// A BLE link simulated in process: what each side sends waits in a queue for the test to
/// hand to the other (the radio and the GATT stacks are the shells').
#[derive(Default)]
struct Air {
    advertised: std::sync::Mutex<Option<[u8; 16]>>,
    to_phone: std::sync::Mutex<std::collections::VecDeque<(bool, Vec<u8>)>>,
    to_reader: std::sync::Mutex<std::collections::VecDeque<Vec<u8>>>,
}

struct Peripheral(Arc<Air>);

impl carnet::MdocPeripheral for Peripheral {
    fn start(&self, service_uuid: [u8; 16]) -> Result<(), carnet::PlatformError> {
        *self.0.advertised.lock().unwrap() = Some(service_uuid);
        Ok(())
    }
    fn notify(&self, fragment: Vec<u8>) -> Result<(), carnet::PlatformError> {
        assert!(fragment.len() <= 185 - 3);
        self.0.to_reader.lock().unwrap().push_back(fragment);
        Ok(())
    }
    fn stop(&self) {
        *self.0.advertised.lock().unwrap() = None;
    }
}

struct Central(Arc<Air>);

impl carnet::MdocCentral for Central {
    fn connect(&self, service_uuid: [u8; 16]) -> Result<(), carnet::PlatformError> {
        match *self.0.advertised.lock().unwrap() {
            Some(advertised) if advertised == service_uuid => Ok(()),
            _ => Err(carnet::PlatformError::Unavailable(
                "no such phone nearby".into(),
            )),
        }
    }
    fn write_state(&self, value: Vec<u8>) -> Result<(), carnet::PlatformError> {
        self.0.to_phone.lock().unwrap().push_back((true, value));
        Ok(())
    }
    fn write(&self, fragment: Vec<u8>) -> Result<(), carnet::PlatformError> {
        self.0.to_phone.lock().unwrap().push_back((false, fragment));
        Ok(())
    }
    fn disconnect(&self) {}
}

/// Hands the reader's writes to the phone: the request, once whole.
fn to_phone(air: &Air, phone: &mut carnet::BleResponder) -> Option<PresentationStep> {
    let mut step = None;
    while let Some((state, bytes)) = air.to_phone.lock().unwrap().pop_front() {
        step = if state {
            phone.on_state(&bytes)
        } else {
            phone.on_write(&bytes).unwrap()
        }
        .or(step);
    }
    step
}

/// Hands the phone's notifications to the reader: its message, once whole.
fn to_reader(air: &Air, reading: &mut carnet::BleReading) -> Option<Vec<u8>> {
    let mut whole = None;
    while let Some(fragment) = air.to_reader.lock().unwrap().pop_front() {
        whole = reading.on_notify(&fragment).unwrap().or(whole);
    }
    whole
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_read_over_a_simulated_ble_link() {
    let enrolled = enrolled_offline().await;
    let mut reader = enrolled.anonymous_reader();
    let Enrolled { phone, record, .. } = enrolled;
    let key = phone.software_device_key().unwrap();
    let air = Arc::new(Air::default());

    let presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let text = presentation.qr_text();
    let mut responder = presentation
        .over_ble(Arc::new(Peripheral(air.clone())), 185)
        .unwrap();
    let mut reading =
        carnet::BleReading::connect(Arc::new(Central(air.clone())), &text, 185).unwrap();
    reading
        .send(
            &reader
                .request(&text, &names(&["family_name", "given_names"]))
                .unwrap(),
        )
        .unwrap();
    let asked = asked(to_phone(&air, &mut responder).unwrap());
    assert!(asked.elements.iter().all(|e| e.allowed));
    responder
        .respond(1, &names(&["family_name", "given_names"]), &key)
        .unwrap();
    let answer = to_reader(&air, &mut reading).unwrap();
    assert_eq!(
        accepted(reader.read(&answer, None).unwrap()),
        [
            ("family_name".to_owned(), "DUPONT".to_owned()),
            ("given_names".to_owned(), "MARIE ANNE".to_owned())
        ]
    );
    // The reader ends: State 02 reaches the phone, which stops advertising.
    reading.close().unwrap();
    assert_eq!(
        to_phone(&air, &mut responder),
        Some(PresentationStep::Ended)
    );
    assert!(air.advertised.lock().unwrap().is_none());
    // A phone no longer advertising cannot be reached.
    assert!(carnet::BleReading::connect(Arc::new(Central(air.clone())), &text, 185).is_err());
    // Fragments that do not join are typed errors.
    let presentation = record.start_presentation(CardEngagement::Qr).unwrap();
    let mut responder = presentation
        .over_ble(Arc::new(Peripheral(air.clone())), 23)
        .unwrap();
    assert!(responder.on_write(&[7, 1, 2]).is_err());
}
