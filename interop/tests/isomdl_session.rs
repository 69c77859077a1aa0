//! Whole ISO/IEC 18013-5 sessions between Carnet and `isomdl` (SpruceID), message by message
//! over the QR engagement:
//!
//! * isomdl's holder, with an mdoc isomdl issues (doc type `fr.cnam.apcv.1`, signed by a
//!   document signer under Carnet's issuer root), read by Carnet's reader authenticated with a
//!   certificate of Carnet's professionals' PKI — which isomdl checks against that PKI's root
//!   with its own mdoc-reader rules (Annex B profile, key identifiers, signature over the
//!   transcript and items);
//! * Carnet's holder read by a reader made of isomdl's session parts (its key agreement, key
//!   derivation, encryption, DeviceRequest and DeviceResponse types, and its verification of
//!   the issuer's and the device's signatures).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use carnet_identity::apcv::DOC_TYPE;
use carnet_identity::authority::{CertificateValidity, IssuerAuthority, ReaderPki, ReaderSubject};
use carnet_identity::engagement::DeviceEngagement;
use carnet_identity::reader::{CheckTime, Reader, Refusal};
use carnet_identity::reader_session::{ReaderEvent, ReaderSession, apcv_items};
use carnet_identity::reader_trust::ProfessionalId;
use carnet_identity::request::ReaderSigner;
use carnet_identity::session::{EphemeralKey, Handover};
use carnet_identity::trust::IssuerTrust;
use carnet_testing::signers::ReaderKey;
use ciborium::Value;
use isomdl::definitions::device_engagement::{DeviceRetrievalMethods, PeripheralServerMode};
use isomdl::definitions::x509::X5Chain;
use isomdl::definitions::x509::trust_anchor::{PemTrustAnchor, TrustAnchorRegistry, TrustPurpose};
use isomdl::definitions::{
    BleOptions, CoseKey, DeviceKeyInfo, DeviceRetrievalMethod, DigestAlgorithm, EC2Curve, EC2Y,
    ValidityInfo,
};
use isomdl::issuance::Mdoc;
use isomdl::presentation::authentication::AuthenticationStatus;
use isomdl::presentation::device::{Document, Documents, SessionManagerInit};
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn year() -> CertificateValidity {
    CertificateValidity {
        not_before: now() - 30 * DAY,
        not_after: now() + 365 * DAY,
    }
}

/// A DER certificate as PEM, for isomdl's trust anchors.
fn pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// An mdoc of the ApCV's doc type issued by isomdl, signed by `issuer`'s document signer,
/// bound to `device`.
fn isomdl_mdoc(issuer: &IssuerAuthority, device: &p256::SecretKey) -> Mdoc {
    let point = device.public_key().to_encoded_point(false);
    let device_key_info = DeviceKeyInfo {
        device_key: CoseKey::EC2 {
            crv: EC2Curve::P256,
            x: point.x().unwrap().to_vec(),
            y: EC2Y::Value(point.y().unwrap().to_vec()),
        },
        key_authorizations: None,
        key_info: None,
    };
    let whole_seconds = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    let validity_info = ValidityInfo {
        signed: whole_seconds(now() - 60),
        valid_from: whole_seconds(now() - 60),
        valid_until: whole_seconds(now() + 30 * DAY),
        expected_update: None,
    };
    let elements: BTreeMap<String, Value> = [
        ("family_name", Value::from("DUPONT")),
        ("given_names", Value::from("MARIE ANNE")),
        ("nir", Value::from("253072B07300470")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let signer: p256::ecdsa::SigningKey =
        p256::SecretKey::from_pkcs8_der(&issuer.parts().signer_key)
            .unwrap()
            .into();
    let x5chain = X5Chain::builder()
        .with_der_certificate(&issuer.parts().signer_certificate)
        .unwrap()
        .build()
        .unwrap();
    Mdoc::builder()
        .doc_type(DOC_TYPE.to_owned())
        .namespaces(BTreeMap::from([(DOC_TYPE.to_owned(), elements)]))
        .validity_info(validity_info)
        .digest_algorithm(DigestAlgorithm::SHA256)
        .device_key_info(device_key_info)
        .issue::<p256::ecdsa::SigningKey, p256::ecdsa::Signature>(x5chain, signer)
        .unwrap()
}

#[test]
fn carnets_authenticated_reader_reads_isomdls_holder() {
    let issuer = IssuerAuthority::create("Carnet interop issuer", year()).unwrap();
    let pki = ReaderPki::create("Carnet interop IGC-Santé", year()).unwrap();
    let reader_key = ReaderKey::generate();
    let subject = ReaderSubject {
        name: "Jeanne Martin".into(),
        organisation: "Pharmacie du Port".into(),
        identifier: ProfessionalId::Rpps("10003456789".into()),
        profession: "21".into(),
        hosts: Vec::new(),
    };
    let certificate = pki
        .issue(&subject, &reader_key.public_point(), &[0x41, 7], year())
        .unwrap();
    let reader_key = reader_key.with_chain(vec![certificate]);

    // isomdl's holder: its mdoc, its engagement.
    let device = p256::SecretKey::random(&mut rand_core::OsRng);
    let documents = Documents::new(
        DOC_TYPE.to_owned(),
        Document::from(isomdl_mdoc(&issuer, &device)),
    );
    let methods = DeviceRetrievalMethods::new(DeviceRetrievalMethod::BLE(BleOptions {
        peripheral_server_mode: Some(PeripheralServerMode {
            uuid: uuid::Uuid::new_v4(),
            ble_device_address: None,
        }),
        central_client_mode: None,
    }));
    let (engaged, qr) = SessionManagerInit::initialise(documents, Some(methods), None)
        .unwrap()
        .qr_engagement()
        .unwrap();

    // Carnet's reader reads the QR code and asks, signed with its certified key.
    let engagement = DeviceEngagement::from_qr_text(&qr).unwrap();
    let (mut session, establishment) = ReaderSession::start(
        &engagement,
        &Handover::Qr,
        Box::new(EphemeralKey::generate().unwrap()),
        apcv_items(
            &["family_name".into(), "nir".into(), "portrait".into()],
            false,
            now(),
        )
        .unwrap(),
        Some(&reader_key),
    )
    .unwrap();

    // isomdl checks the reader against the PKI's root, as its mdoc-reader rules say.
    let anchors = TrustAnchorRegistry::from_pem_certificates(vec![PemTrustAnchor {
        certificate_pem: pem(pki.root_certificate()),
        purpose: TrustPurpose::ReaderCa,
    }])
    .unwrap();
    let establishment: isomdl::definitions::SessionEstablishment =
        isomdl::cbor::from_slice(&establishment).unwrap();
    let chain = X5Chain::builder()
        .with_der_certificate(&reader_key.certificate_chain()[0])
        .unwrap()
        .build()
        .unwrap();
    let rules = isomdl::definitions::x509::validation::ValidationRuleset::MdlReaderOneStep
        .validate(&chain, &anchors);
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    let (mut holder, asked) = engaged
        .process_session_establishment(establishment, anchors)
        .unwrap();
    assert_eq!(
        asked.reader_authentication,
        AuthenticationStatus::Valid,
        "{:?}",
        asked.errors
    );
    assert_eq!(asked.common_name.as_deref(), Some("Jeanne Martin"));
    let asked_names: Vec<String> = asked.items_request[0].namespaces[DOC_TYPE]
        .keys()
        .cloned()
        .collect();
    assert_eq!(asked_names.len(), 3);
    let permitted = BTreeMap::from([(
        DOC_TYPE.to_owned(),
        BTreeMap::from([(
            DOC_TYPE.to_owned(),
            vec!["family_name".to_owned(), "nir".to_owned()],
        )]),
    )]);
    holder.prepare_response(&asked.items_request, permitted);
    let (_, payload) = holder.get_next_signature_payload().unwrap();
    let signature: p256::ecdsa::Signature =
        p256::ecdsa::SigningKey::from(device.clone()).sign(payload);
    holder.submit_next_signature(signature.to_vec()).unwrap();
    let answer = holder.retrieve_response().unwrap();

    // Carnet's reader decrypts and checks everything: under its issuer root, the MSO's
    // signature and validity, each item's digest, the device signature over this session's
    // transcript. isomdl's MSO names no status list, so Carnet's rule (revocation must be
    // checkable) ends in `cannot_confirm` — the last check, after all the others passed.
    let mut checker = Reader::new(IssuerTrust::new(&[issuer.root_certificate().to_vec()]).unwrap());
    let verdict = session
        .receive(
            &mut checker,
            &answer,
            CheckTime {
                now: now(),
                date_of_care: None,
            },
        )
        .unwrap();
    assert_eq!(verdict, ReaderEvent::Checked(Err(Refusal::CannotConfirm)));

    // The same answer again: its counter is spent.
    let again = CheckTime {
        now: now(),
        date_of_care: None,
    };
    assert!(session.receive(&mut checker, &answer, again).is_err());
}

#[test]
fn a_reader_made_of_isomdls_parts_reads_carnets_holder() {
    use carnet_identity::holder::{EngagementKind, HolderEvent, HolderSession, ReaderIdentity};
    use carnet_identity::issuance::{IssuanceTerms, issue};
    use carnet_identity::mdoc::{StatusReference, Validity};
    use carnet_identity::presentation::DeviceSigner;
    use carnet_identity::reader_trust::ReaderTrust;
    use isomdl::definitions::device_request::{
        DataElements, DeviceRequest, DocRequest, ItemsRequest, Namespaces,
    };
    use isomdl::definitions::helpers::{NonEmptyVec, Tag24};
    use isomdl::definitions::session::{self, Handover as IsoHandover};
    use isomdl::definitions::{
        DeviceEngagement as IsoEngagement, DeviceResponse, SessionData, SessionEstablishment,
        SessionTranscript180135,
    };
    use isomdl::presentation::authentication::mdoc::{
        device_authentication, issuer_authentication,
    };

    // Carnet's holder with a credential Carnet's issuer made.
    let issuer = IssuerAuthority::create("Carnet interop issuer", year()).unwrap();
    let device = carnet_testing::signers::P256Key::generate();
    let terms = IssuanceTerms {
        validity: Validity {
            signed: now() - 60,
            valid_from: now() - 60,
            valid_until: now() + 30 * DAY,
        },
        status: Some(StatusReference {
            index: 3,
            uri: "http://127.0.0.1/v1/issuer/status".into(),
        }),
    };
    let credential = issue(
        &carnet_testing::marie(),
        &device.device_key(),
        &terms,
        &issuer.document_signer(),
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let mut holder = HolderSession::new(
        Box::new(EphemeralKey::generate().unwrap()),
        Vec::new(),
        EngagementKind::Qr,
        now(),
    )
    .unwrap();

    // The reader, from isomdl's parts: the engagement from the QR text, its own ephemeral key,
    // the transcript, the session keys, a DeviceRequest for the ApCV, encrypted.
    let engagement =
        Tag24::<IsoEngagement>::from_qr_code_uri(&holder.engagement().to_qr_text()).unwrap();
    let (reader_private, reader_public) = session::create_p256_ephemeral_keys().unwrap();
    let e_reader_key = Tag24::new(reader_public).unwrap();
    let e_device_key = engagement.as_ref().security.1.clone().into_inner();
    let shared =
        session::get_shared_secret(e_device_key, &reader_private.to_nonzero_scalar()).unwrap();
    let transcript = SessionTranscript180135(engagement, e_reader_key.clone(), IsoHandover::QR);
    let transcript_bytes = Tag24::new(transcript.clone()).unwrap();
    let sk_reader = session::derive_session_key(&shared, &transcript_bytes, true).unwrap();
    let sk_device = session::derive_session_key(&shared, &transcript_bytes, false).unwrap();
    let mut elements = DataElements::new("family_name".to_owned(), false);
    elements.insert("given_names".to_owned(), false);
    elements.insert("nir".to_owned(), true);
    let request = DeviceRequest {
        version: DeviceRequest::VERSION.to_owned(),
        doc_requests: NonEmptyVec::new(DocRequest {
            items_request: Tag24::new(ItemsRequest {
                doc_type: DOC_TYPE.to_owned(),
                namespaces: Namespaces::new(DOC_TYPE.to_owned(), elements),
                request_info: None,
            })
            .unwrap(),
            reader_auth: None,
        }),
        reader_auth_all: None,
        device_request_info: None,
    };
    let mut reader_counter = 0;
    let data = session::encrypt_reader_data(
        &sk_reader,
        &isomdl::cbor::to_vec(&request).unwrap(),
        &mut reader_counter,
    )
    .unwrap();
    let establishment = isomdl::cbor::to_vec(&SessionEstablishment {
        e_reader_key,
        data: data.into(),
    })
    .unwrap();

    // Carnet's holder: an anonymous reader is offered the names, never the NIR.
    let HolderEvent::Request(asked) = holder
        .receive(&establishment, &ReaderTrust::new(&[]).unwrap(), now())
        .unwrap()
    else {
        panic!("a request");
    };
    assert_eq!(asked.reader, ReaderIdentity::Anonymous);
    let allowed: Vec<(&str, bool)> = asked
        .elements
        .iter()
        .map(|e| (e.name.as_str(), e.allowed))
        .collect();
    assert_eq!(
        allowed,
        [("family_name", true), ("given_names", true), ("nir", false)]
    );
    let answer = holder
        .respond(
            &credential,
            &["family_name".into(), "given_names".into(), "nir".into()],
            &device,
        )
        .unwrap();

    // isomdl decrypts, parses and verifies: the issuer's signature with the certificate in
    // x5chain, the device's over the transcript isomdl built itself.
    let answer: SessionData = isomdl::cbor::from_slice(&answer).unwrap();
    let mut device_counter = 0;
    let plaintext = session::decrypt_device_data(
        &sk_device,
        answer.data.unwrap().as_ref(),
        &mut device_counter,
    )
    .unwrap();
    let response: DeviceResponse = isomdl::cbor::from_slice(&plaintext).unwrap();
    // isomdl's `reader::parse` takes mDLs only: the document and its x5chain are taken here.
    let documents = response.documents.unwrap();
    let document = documents.first().unwrap();
    assert_eq!(document.doc_type, DOC_TYPE);
    let x5chain = common::x5chain(document);
    issuer_authentication(x5chain, &document.issuer_signed).unwrap();
    device_authentication(document, transcript).unwrap();
    let shown: Vec<(String, Value)> = document
        .issuer_signed
        .namespaces
        .as_ref()
        .unwrap()
        .get(DOC_TYPE)
        .unwrap()
        .iter()
        .map(|item| {
            let item = item.as_ref();
            (item.element_identifier.clone(), item.element_value.clone())
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("family_name".to_owned(), Value::from("DUPONT")),
            ("given_names".to_owned(), Value::from("MARIE ANNE"))
        ]
    );
    // The NIR asked and not shown is reported under the document's errors.
    let errors = document.errors.as_ref().unwrap();
    assert!(errors[DOC_TYPE].contains_key("nir"));
}
