//! A whole ISO/IEC 18013-5 presentation between Carnet's holder and Carnet's reader, over the
//! QR and the NFC engagement, with reader authentication against a reader PKI, the policy by
//! profession, and every refusal the holder or the session makes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use carnet_identity::IdentityError;
use carnet_identity::apcv::{Credential, DOC_TYPE};
use carnet_identity::authority::{CertificateValidity, IssuerAuthority, ReaderPki, ReaderSubject};
use carnet_identity::engagement::{DeviceEngagement, RetrievalMethod};
use carnet_identity::holder::{
    ENGAGEMENT_SECONDS, EngagementKind, HolderEvent, HolderSession, ReaderIdentity, ReceivedRequest,
};
use carnet_identity::ndef::read_handover_select;
use carnet_identity::reader::{CheckTime, Disclosed, Reader, Refusal};
use carnet_identity::reader_session::{ReaderEvent, ReaderSession, apcv_items};
use carnet_identity::reader_trust::{
    ProfessionalId, ReaderRefusal, ReaderRevocations, ReaderTrust,
};
use carnet_identity::remote::{Endpoint, RemoteVerdict};
use carnet_identity::request::{DocRequest, ReaderSigner};
use carnet_identity::session::{EphemeralKey, Handover, KeyAgreement, SessionData, SessionStatus};
use carnet_testing::marie;
use carnet_testing::signers::{P256Key, ReaderKey};
use support::{NOW, authority, credential, reader};

const DAY: i64 = 86_400;
const BILLING: [&str; 4] = ["family_name", "nir", "amo_valid_until", "ins_matricule"];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

fn year() -> CertificateValidity {
    CertificateValidity {
        not_before: NOW - 365 * DAY,
        not_after: NOW + 365 * DAY,
    }
}

fn pharmacist() -> ReaderSubject {
    ReaderSubject {
        name: "Jeanne Martin".into(),
        organisation: "Pharmacie du Port".into(),
        identifier: ProfessionalId::Rpps("10003456789".into()),
        profession: "21".into(),
        hosts: vec!["pharmacie-du-port.example".into()],
    }
}

/// A reader key certified by `pki` for `subject`.
fn certified(
    pki: &ReaderPki,
    subject: &ReaderSubject,
    serial: u8,
    validity: CertificateValidity,
) -> ReaderKey {
    let key = ReaderKey::generate();
    let certificate = pki
        .issue(subject, &key.public_point(), &[serial], validity)
        .unwrap();
    key.with_chain(vec![certificate])
}

/// A holder trusting `pki`, with its current revocation list naming `revoked`.
fn trust(pki: &ReaderPki, revoked: &[u8]) -> ReaderTrust {
    let mut trust = ReaderTrust::new(&[pki.root_certificate().to_vec()]).unwrap();
    let list = ReaderRevocations {
        issued: NOW,
        expires: NOW + 30 * DAY,
        revoked: revoked.iter().map(|s| vec![*s]).collect(),
    };
    assert!(
        trust
            .update_revocations(&pki.sign_revocations(&list).unwrap())
            .unwrap()
    );
    trust
}

struct World {
    issuer: IssuerAuthority,
    pki: ReaderPki,
    device: P256Key,
    credential: Credential,
}

fn world() -> World {
    let issuer = authority();
    let device = P256Key::generate();
    let credential = credential(&issuer, &marie(), &device, 3);
    World {
        pki: ReaderPki::create("Carnet test IGC-Santé", year()).unwrap(),
        issuer,
        device,
        credential,
    }
}

fn holder(kind: EngagementKind) -> HolderSession {
    let methods = vec![RetrievalMethod::Ble {
        peripheral_server: Some([0x42; 16]),
        central_client: None,
    }];
    HolderSession::new(
        Box::new(EphemeralKey::generate().unwrap()),
        methods,
        kind,
        NOW,
    )
    .unwrap()
}

/// The reader's side of the engagement the holder shows: what it reads and its handover.
fn scanned(holder: &HolderSession) -> (DeviceEngagement, Handover) {
    match holder.handover() {
        Handover::Qr => (
            DeviceEngagement::from_qr_text(&holder.engagement().to_qr_text()).unwrap(),
            Handover::Qr,
        ),
        Handover::Nfc { select, .. } => (
            read_handover_select(select).unwrap(),
            Handover::Nfc {
                select: select.clone(),
                request: None,
            },
        ),
        // The reader knows its own origin; the engagement came in the phone's post.
        Handover::Remote { .. } => (
            DeviceEngagement::from_bytes(holder.engagement().bytes()).unwrap(),
            holder.handover().clone(),
        ),
    }
}

fn start(
    holder: &HolderSession,
    asked: &[&str],
    signer: Option<&dyn ReaderSigner>,
) -> (ReaderSession, Vec<u8>) {
    let (engagement, handover) = scanned(holder);
    ReaderSession::start(
        &engagement,
        &handover,
        Box::new(EphemeralKey::generate().unwrap()),
        apcv_items(&names(asked), false, NOW).unwrap(),
        signer,
    )
    .unwrap()
}

fn request(event: HolderEvent) -> ReceivedRequest {
    match event {
        HolderEvent::Request(request) => *request,
        HolderEvent::Ended => panic!("the reader ended the session"),
    }
}

fn at_counter() -> CheckTime {
    CheckTime {
        now: NOW,
        date_of_care: None,
    }
}

/// The reader's verdict on the holder's answer.
fn verdict(
    world: &World,
    session: &mut ReaderSession,
    answer: &[u8],
) -> Result<Disclosed, Refusal> {
    let mut reader: Reader = reader(&world.issuer, &[]);
    match session.receive(&mut reader, answer, at_counter()).unwrap() {
        ReaderEvent::Checked(verdict) => verdict,
        ReaderEvent::Ended(status) => panic!("the phone ended the session: {status:?}"),
    }
}

fn shown(disclosed: &Disclosed) -> Vec<&str> {
    disclosed
        .elements
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

#[test]
fn an_authenticated_pharmacist_gets_what_billing_needs_and_never_the_ins() {
    let world = world();
    let signer = certified(&world.pki, &pharmacist(), 7, year());
    for kind in [EngagementKind::Qr, EngagementKind::Nfc] {
        let mut holder = holder(kind);
        let (mut session, establishment) = start(&holder, &BILLING, Some(&signer));
        let asked = request(
            holder
                .receive(&establishment, &trust(&world.pki, &[]), NOW)
                .unwrap(),
        );
        let ReaderIdentity::Verified(reader) = &asked.reader else {
            panic!("the pharmacist is verified: {:?}", asked.reader);
        };
        assert_eq!(reader.name, "Jeanne Martin");
        assert_eq!(reader.organisation, "Pharmacie du Port");
        assert_eq!(
            reader.identifier,
            ProfessionalId::Rpps("10003456789".into())
        );
        assert_eq!(reader.profession, "21");
        let allowed: Vec<(&str, bool)> = asked
            .elements
            .iter()
            .map(|e| (e.name.as_str(), e.allowed))
            .collect();
        assert_eq!(
            allowed,
            vec![
                ("family_name", true),
                ("nir", true),
                ("amo_valid_until", true),
                ("ins_matricule", false)
            ]
        );
        // The person taps "everything": the INS is still not shown.
        let answer = holder
            .respond(&world.credential, &names(&BILLING), &world.device)
            .unwrap();
        let disclosed = verdict(&world, &mut session, &answer).unwrap();
        assert_eq!(
            shown(&disclosed),
            vec!["family_name", "nir", "amo_valid_until"]
        );
        assert_eq!(disclosed.text("nir"), Some(marie().nir.as_str()));
        // The session goes on: a second request, then the reader ends it.
        let again = session
            .request(
                apcv_items(&names(&["given_names"]), false, NOW).unwrap(),
                Some(&signer),
            )
            .unwrap();
        let asked = request(
            holder
                .receive(&again, &trust(&world.pki, &[]), NOW)
                .unwrap(),
        );
        assert_eq!(asked.elements.len(), 1);
        let answer = holder
            .respond(&world.credential, &names(&["given_names"]), &world.device)
            .unwrap();
        assert_eq!(
            shown(&verdict(&world, &mut session, &answer).unwrap()),
            vec!["given_names"]
        );
        let end = session.terminate().unwrap();
        assert_eq!(
            holder.receive(&end, &trust(&world.pki, &[]), NOW).unwrap(),
            HolderEvent::Ended
        );
    }
}

#[test]
fn an_anonymous_reader_gets_nothing_by_default_and_the_names_only_if_chosen() {
    let world = world();
    let asked_list = ["family_name", "given_names", "nir", "birth_place"];
    let mut holder = holder(EngagementKind::Qr);
    let (mut session, establishment) = start(&holder, &asked_list, None);
    let asked = request(
        holder
            .receive(&establishment, &trust(&world.pki, &[]), NOW)
            .unwrap(),
    );
    assert_eq!(asked.reader, ReaderIdentity::Anonymous);
    let allowed: Vec<&str> = asked
        .elements
        .iter()
        .filter(|e| e.allowed)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(allowed, vec!["family_name", "given_names"]);
    // Nothing chosen: no document.
    let answer = holder
        .respond(&world.credential, &[], &world.device)
        .unwrap();
    assert_eq!(
        verdict(&world, &mut session, &answer),
        Err(Refusal::NotShown)
    );
    // The names chosen (and the NIR tapped too): the names only.
    let again = session
        .request(apcv_items(&names(&asked_list), false, NOW).unwrap(), None)
        .unwrap();
    request(
        holder
            .receive(&again, &trust(&world.pki, &[]), NOW)
            .unwrap(),
    );
    let answer = holder
        .respond(&world.credential, &names(&asked_list), &world.device)
        .unwrap();
    assert_eq!(
        shown(&verdict(&world, &mut session, &answer).unwrap()),
        vec!["family_name", "given_names"]
    );
}

#[test]
fn a_hospital_admission_may_ask_the_ins_and_its_traits() {
    let world = world();
    let hospital = ReaderSubject {
        name: "Admissions".into(),
        organisation: "CH de Bastia".into(),
        identifier: ProfessionalId::Finess("2B0000012".into()),
        profession: "etablissement".into(),
        hosts: Vec::new(),
    };
    let signer = certified(&world.pki, &hospital, 9, year());
    let asked_list = ["ins_matricule", "birth_place", "nir"];
    let mut holder = holder(EngagementKind::Qr);
    let (mut session, establishment) = start(&holder, &asked_list, Some(&signer));
    let asked = request(
        holder
            .receive(&establishment, &trust(&world.pki, &[]), NOW)
            .unwrap(),
    );
    assert!(asked.elements.iter().all(|e| e.allowed));
    let answer = holder
        .respond(&world.credential, &names(&asked_list), &world.device)
        .unwrap();
    assert_eq!(
        shown(&verdict(&world, &mut session, &answer).unwrap()),
        vec!["ins_matricule", "birth_place", "nir"]
    );
}

/// What the holder makes of a reader presenting `signer`, trusting `trust`.
fn identity_of(world: &World, signer: &dyn ReaderSigner, trust: &ReaderTrust) -> ReaderIdentity {
    let mut holder = holder(EngagementKind::Qr);
    let (mut session, establishment) = start(&holder, &BILLING, Some(signer));
    let asked = request(holder.receive(&establishment, trust, NOW).unwrap());
    if let ReaderIdentity::Refused(_) = asked.reader {
        assert!(asked.elements.iter().all(|e| !e.allowed));
        // Whatever the person taps, nothing is shown.
        let answer = holder
            .respond(&world.credential, &names(&BILLING), &world.device)
            .unwrap();
        assert_eq!(
            verdict(world, &mut session, &answer),
            Err(Refusal::NotShown)
        );
    }
    asked.reader
}

#[test]
fn readers_the_holder_does_not_trust_get_nothing_each_for_its_reason() {
    let world = world();
    let held = trust(&world.pki, &[5]);
    let refused = |refusal| ReaderIdentity::Refused(refusal);

    let other_pki = ReaderPki::create("Another PKI", year()).unwrap();
    let stranger = certified(&other_pki, &pharmacist(), 7, year());
    assert_eq!(
        identity_of(&world, &stranger, &held),
        refused(ReaderRefusal::Untrusted)
    );

    let expired = certified(
        &world.pki,
        &pharmacist(),
        7,
        CertificateValidity {
            not_before: NOW - 2 * 365 * DAY,
            not_after: NOW - DAY,
        },
    );
    assert_eq!(
        identity_of(&world, &expired, &held),
        refused(ReaderRefusal::Expired)
    );
    let early = certified(
        &world.pki,
        &pharmacist(),
        7,
        CertificateValidity {
            not_before: NOW + DAY,
            not_after: NOW + 365 * DAY,
        },
    );
    assert_eq!(
        identity_of(&world, &early, &held),
        refused(ReaderRefusal::NotYetValid)
    );

    let revoked = certified(&world.pki, &pharmacist(), 5, year());
    assert_eq!(
        identity_of(&world, &revoked, &held),
        refused(ReaderRefusal::Revoked)
    );
    let no_list = ReaderTrust::new(&[world.pki.root_certificate().to_vec()]).unwrap();
    let fine = certified(&world.pki, &pharmacist(), 7, year());
    assert_eq!(
        identity_of(&world, &fine, &no_list),
        refused(ReaderRefusal::StatusUnknown)
    );

    // A document signer's certificate (another usage) under a root the holder trusts.
    let issuer_root = world.issuer.root_certificate().to_vec();
    let mut as_reader_root = ReaderTrust::new(&[issuer_root]).unwrap();
    let list = ReaderRevocations {
        issued: NOW,
        expires: NOW + DAY,
        revoked: Vec::new(),
    };
    let signed_list = carnet_codec::cose::sign_es256(
        list.to_payload().unwrap(),
        &[],
        world.issuer.document_signer().key,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    // Signed by the document signer, not the root: not taken.
    assert!(!as_reader_root.update_revocations(&signed_list).unwrap());
    let signer = world.issuer.document_signer();
    struct Ds<'a>(carnet_identity::issuance::DocumentSigner<'a>);
    impl ReaderSigner for Ds<'_> {
        fn certificate_chain(&self) -> Vec<Vec<u8>> {
            self.0.x5chain.clone()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
            Ok(self
                .0
                .key
                .sign(&ring::rand::SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec())
        }
    }
    assert_eq!(
        identity_of(&world, &Ds(signer), &as_reader_root),
        refused(ReaderRefusal::WrongUsage)
    );

    // A remote request from a host the certificate does not name.
    let mut holder = holder_at("https://evil.example/mdoc");
    let (_, establishment) = start(&holder, &BILLING, Some(&fine));
    let asked = request(holder.receive(&establishment, &held, NOW).unwrap());
    assert_eq!(asked.reader, refused(ReaderRefusal::OriginMismatch));
    let mut holder = holder_at("https://pharmacie-du-port.example/mdoc");
    let (_, establishment) = start(&holder, &BILLING, Some(&fine));
    let asked = request(holder.receive(&establishment, &held, NOW).unwrap());
    assert!(matches!(asked.reader, ReaderIdentity::Verified(_)));

    // A request made an hour ago.
    let mut holder = self::holder(EngagementKind::Qr);
    let (engagement, handover) = scanned(&holder);
    let (_, establishment) = ReaderSession::start(
        &engagement,
        &handover,
        Box::new(EphemeralKey::generate().unwrap()),
        apcv_items(&names(&BILLING), false, NOW - 3600).unwrap(),
        Some(&fine),
    )
    .unwrap();
    let asked = request(holder.receive(&establishment, &held, NOW).unwrap());
    assert_eq!(asked.reader, refused(ReaderRefusal::ClockSkew));
}

/// A holder presenting remotely to the endpoint `url`.
fn holder_at(url: &str) -> HolderSession {
    holder(EngagementKind::Remote(Endpoint::parse(url).unwrap()))
}

#[test]
fn a_reader_signature_over_other_items_or_another_session_does_not_verify() {
    let world = world();
    let signer = certified(&world.pki, &pharmacist(), 7, year());
    let (here, _) = start(&holder(EngagementKind::Qr), &BILLING, Some(&signer));
    let (elsewhere, _) = start(&holder(EngagementKind::Qr), &BILLING, Some(&signer));
    let items = apcv_items(&names(&BILLING), false, NOW).unwrap();
    // Signed for another session's transcript.
    let foreign = DocRequest::signed(items.clone(), elsewhere.transcript(), &signer).unwrap();
    // Signed for other items, then the items swapped.
    let narrow = apcv_items(&names(&["family_name"]), false, NOW).unwrap();
    let mut swapped = DocRequest::signed(narrow, here.transcript(), &signer).unwrap();
    swapped.items = items;
    for document in [foreign, swapped] {
        assert!(matches!(
            document.verify_reader(here.transcript()),
            Err(IdentityError::Signature(_))
        ));
    }

    // A reader whose key signs something else than the session's authentication bytes: the
    // holder refuses it and shows nothing.
    struct Lying(ReaderKey);
    impl ReaderSigner for Lying {
        fn certificate_chain(&self) -> Vec<Vec<u8>> {
            self.0.certificate_chain()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
            self.0.sign(&[message, b"!"].concat())
        }
    }
    let lying = Lying(certified(&world.pki, &pharmacist(), 7, year()));
    assert_eq!(
        identity_of(&world, &lying, &trust(&world.pki, &[])),
        ReaderIdentity::Refused(ReaderRefusal::Signature)
    );
}

#[test]
fn replayed_tampered_late_and_hostile_messages_end_the_session_with_their_status() {
    let world = world();
    let signer = certified(&world.pki, &pharmacist(), 7, year());
    let held = trust(&world.pki, &[]);

    // The same establishment twice: the second is a message whose counter is spent.
    let mut holder1 = holder(EngagementKind::Qr);
    let (_, establishment) = start(&holder1, &BILLING, Some(&signer));
    request(holder1.receive(&establishment, &held, NOW).unwrap());
    assert_eq!(
        holder1.receive(&establishment, &held, NOW),
        Err(IdentityError::Decryption)
    );
    assert!(holder1.is_ended());
    // Replayed to another phone's engagement: not its keys.
    let mut holder2 = holder(EngagementKind::Qr);
    let error = holder2.receive(&establishment, &held, NOW).unwrap_err();
    assert_eq!(error, IdentityError::Decryption);
    let answer = SessionData::from_bytes(&holder2.error_answer(&error).unwrap()).unwrap();
    assert_eq!(answer.status, Some(SessionStatus::DecryptionError));

    // Tampered with in transit.
    let mut holder3 = holder(EngagementKind::Qr);
    let (_, mut establishment) = start(&holder3, &BILLING, Some(&signer));
    let last = establishment.len() - 1;
    establishment[last] ^= 0x01;
    assert_eq!(
        holder3.receive(&establishment, &held, NOW),
        Err(IdentityError::Decryption)
    );

    // After the engagement's time.
    let mut holder4 = holder(EngagementKind::Qr);
    let (_, establishment) = start(&holder4, &BILLING, Some(&signer));
    assert_eq!(
        holder4.receive(&establishment, &held, NOW + ENGAGEMENT_SECONDS + 1),
        Err(IdentityError::EngagementExpired)
    );

    // Truncated at every byte: typed errors, never a panic, the session over.
    let fresh = holder(EngagementKind::Qr);
    let (_, establishment) = start(&fresh, &BILLING, Some(&signer));
    for cut in 0..establishment.len() {
        let mut holder = holder(EngagementKind::Qr);
        let error = holder
            .receive(&establishment[..cut], &held, NOW)
            .unwrap_err();
        let status = SessionData::from_bytes(&holder.error_answer(&error).unwrap())
            .unwrap()
            .status;
        assert!(
            matches!(
                status,
                Some(SessionStatus::CborError | SessionStatus::DecryptionError)
            ),
            "{cut}: {error:?}"
        );
    }

    // The phone's answer tampered with: the reader refuses to decrypt it.
    let mut holder5 = holder(EngagementKind::Qr);
    let (mut session, establishment) = start(&holder5, &BILLING, Some(&signer));
    request(holder5.receive(&establishment, &held, NOW).unwrap());
    let mut answer = holder5
        .respond(&world.credential, &names(&BILLING), &world.device)
        .unwrap();
    let last = answer.len() - 1;
    answer[last] ^= 0x80;
    let mut checker = reader(&world.issuer, &[]);
    assert_eq!(
        session.receive(&mut checker, &answer, at_counter()),
        Err(IdentityError::Decryption)
    );
}

#[test]
fn an_engagement_offering_another_cipher_suite_is_refused() {
    let holder = holder(EngagementKind::Qr);
    let mut bytes = holder.engagement().bytes().to_vec();
    // [1: [suite, key]]: the suite is the byte after the array header.
    let at = bytes.windows(2).position(|w| w == [0x01, 0x82]).unwrap();
    assert_eq!(bytes[at + 2], 0x01);
    bytes[at + 2] = 0x02;
    assert!(matches!(
        DeviceEngagement::from_bytes(&bytes),
        Err(IdentityError::Unsupported(_))
    ));
    assert_eq!(DOC_TYPE, "fr.cnam.apcv.1");
}

/// An ephemeral key a test can hand back after the session that made it was dropped, as a
/// tool keeps its key between two runs.
#[derive(Clone)]
struct KeptKey(std::sync::Arc<std::sync::Mutex<Option<EphemeralKey>>>);

impl KeyAgreement for KeptKey {
    fn public_point(&self) -> Vec<u8> {
        self.0.lock().unwrap().as_ref().unwrap().public_point()
    }
    fn agree(self: Box<Self>, peer: &[u8]) -> Result<[u8; 32], IdentityError> {
        Box::new(self.0.lock().unwrap().take().unwrap()).agree(peer)
    }
}

#[test]
fn a_holder_session_is_kept_between_runs_engaged_then_established() {
    let world = world();
    let signer = certified(&world.pki, &pharmacist(), 7, year());
    let held = trust(&world.pki, &[]);
    let key = KeptKey(std::sync::Arc::new(std::sync::Mutex::new(Some(
        EphemeralKey::generate().unwrap(),
    ))));
    let holder =
        HolderSession::new(Box::new(key.clone()), Vec::new(), EngagementKind::Nfc, NOW).unwrap();
    let (mut session, establishment) = start(&holder, &["family_name"], Some(&signer));
    let engaged = holder.to_bytes().unwrap();
    drop(holder);
    // Without its key an engaged session cannot go on.
    assert_eq!(
        HolderSession::from_bytes(&engaged, None).unwrap_err(),
        IdentityError::SessionEnded
    );
    let mut holder = HolderSession::from_bytes(&engaged, Some(Box::new(key.clone()))).unwrap();
    assert!(holder.handover_select().is_some());
    request(holder.receive(&establishment, &held, NOW).unwrap());
    let answer = holder
        .respond(&world.credential, &names(&["family_name"]), &world.device)
        .unwrap();
    assert_eq!(
        shown(&verdict(&world, &mut session, &answer).unwrap()),
        vec!["family_name"]
    );
    let established = holder.to_bytes().unwrap();
    drop(holder);
    let mut holder = HolderSession::from_bytes(&established, None).unwrap();
    let again = session
        .request(
            apcv_items(&names(&["nir"]), false, NOW).unwrap(),
            Some(&signer),
        )
        .unwrap();
    request(holder.receive(&again, &held, NOW).unwrap());
    let answer = holder
        .respond(&world.credential, &names(&["nir"]), &world.device)
        .unwrap();
    assert_eq!(
        shown(&verdict(&world, &mut session, &answer).unwrap()),
        vec!["nir"]
    );
    assert!(key.0.lock().unwrap().is_none(), "the key was spent once");
    for hostile in [&b""[..], &[0xa0], b"\xa1\x64state\x65ended"] {
        assert!(HolderSession::from_bytes(hostile, None).is_err());
    }
}

#[test]
fn a_remote_reader_signs_its_verdict_and_only_that_reader_over_that_session_is_believed() {
    let world = world();
    let signer = certified(&world.pki, &pharmacist(), 7, year());
    let held = trust(&world.pki, &[]);
    let mut holder = holder_at("https://Pharmacie-du-Port.example/mdoc");
    assert_eq!(
        holder.handover(),
        &Handover::Remote {
            origin: "https://pharmacie-du-port.example".into()
        }
    );
    assert!(holder.engagement().methods.is_empty());
    let (mut session, establishment) = start(&holder, &BILLING, Some(&signer));
    let asked = request(holder.receive(&establishment, &held, NOW).unwrap());
    assert!(matches!(asked.reader, ReaderIdentity::Verified(_)));
    let answer = holder
        .respond(&world.credential, &names(&BILLING), &world.device)
        .unwrap();
    let disclosed = verdict(&world, &mut session, &answer).unwrap();
    let said = RemoteVerdict {
        accepted: true,
        code: "accepted".into(),
        elements: shown(&disclosed).iter().map(|n| (*n).to_owned()).collect(),
    };
    let signed = said.sign(session.transcript(), &signer).unwrap();
    assert_eq!(holder.reader_verdict(&signed).unwrap(), said);

    // Signed by another reader's key, or for another session, or altered: not believed.
    let other = certified(&world.pki, &pharmacist(), 8, year());
    let by_other = said.sign(session.transcript(), &other).unwrap();
    let (elsewhere, _) = start(
        &holder_at("https://pharmacie-du-port.example/mdoc"),
        &BILLING,
        Some(&signer),
    );
    let for_elsewhere = said.sign(elsewhere.transcript(), &signer).unwrap();
    let mut altered = signed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    for refused in [&by_other, &for_elsewhere, &altered] {
        assert!(
            matches!(
                holder.reader_verdict(refused),
                Err(IdentityError::Signature(_))
            ),
            "{:?}",
            holder.reader_verdict(refused)
        );
    }
    for hostile in [
        &b""[..],
        &[0x84, 0x40, 0xa0, 0xf6, 0x40],
        &signed[..signed.len() / 2],
    ] {
        assert!(holder.reader_verdict(hostile).is_err());
    }

    // A reader that did not authenticate cannot give a verdict at all.
    let mut anonymous = holder_at("https://pharmacie-du-port.example/mdoc");
    let (session, establishment) = start(&anonymous, &["family_name"], None);
    request(anonymous.receive(&establishment, &held, NOW).unwrap());
    let unsigned_claim = said.sign(session.transcript(), &signer).unwrap();
    assert!(matches!(
        anonymous.reader_verdict(&unsigned_claim),
        Err(IdentityError::Signature(_))
    ));

    // The origin is bound: a reader that answers as another origin signs another transcript.
    let mut holder = holder_at("https://pharmacie-du-port.example/mdoc");
    let engagement = DeviceEngagement::from_bytes(holder.engagement().bytes()).unwrap();
    let (_, relayed) = ReaderSession::start(
        &engagement,
        &Handover::Remote {
            origin: "https://relay.example".into(),
        },
        Box::new(EphemeralKey::generate().unwrap()),
        apcv_items(&names(&BILLING), false, NOW).unwrap(),
        Some(&signer),
    )
    .unwrap();
    assert!(holder.receive(&relayed, &held, NOW).is_err());
}
