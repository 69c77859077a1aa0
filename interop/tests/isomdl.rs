//! Interoperability with an independent ISO/IEC 18013-5 implementation (`isomdl`, by
//! SpruceID): a DeviceResponse Carnet produced is parsed by isomdl, which checks the issuer's
//! signature against the document signer certificate in `x5chain`, the disclosed item's
//! digest in the MSO, and the device signature over the session transcript.

mod common;

use carnet_identity::apcv::ApcvClaims;
use carnet_identity::authority::{CertificateValidity, IssuerAuthority};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{StatusReference, Validity};
use carnet_identity::presentation::{Binding, DeviceSigner};
use carnet_testing::signers::P256Key;
use ciborium::Value;
use isomdl::definitions::session::SessionTranscript;
use ring::rand::SystemRandom;

/// The session transcript as `docs/protocols/apcv.md` writes it, given to isomdl as a value.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct ApcvTranscript(Value);

impl SessionTranscript for ApcvTranscript {}

#[test]
fn isomdl_reads_and_verifies_a_carnet_presentation() {
    let rng = SystemRandom::new();
    // The issuer: a root and a document signer under it (rcgen, through Carnet's authority).
    let authority = IssuerAuthority::create(
        "Carnet interop issuer",
        CertificateValidity {
            not_before: 1_795_000_000,
            not_after: 1_830_000_000,
        },
    )
    .unwrap();
    let device = P256Key::generate();
    let claims = ApcvClaims {
        nir: "253072B07300470".into(),
        family_name: "DUPONT".into(),
        birth_date: "1953-07-14".into(),
        amo_valid_from: "2026-01-01".into(),
        amo_valid_until: "2026-12-31".into(),
        beneficiary_rank: 1,
        ..ApcvClaims::default()
    };
    let terms = IssuanceTerms {
        validity: Validity {
            signed: 1_795_946_400,
            valid_from: 1_795_946_400,
            valid_until: 1_827_482_400,
        },
        // The status reference rides in the MSO as an extra field isomdl must tolerate.
        status: Some(StatusReference {
            index: 7,
            uri: "http://127.0.0.1/v1/issuer/status".into(),
        }),
    };
    let credential = issue(
        &claims,
        &device.device_key(),
        &terms,
        &authority.document_signer(),
        &rng,
    )
    .unwrap();
    let slot = 59_864_880;
    let response = credential
        .present(
            &["family_name", "birth_date"],
            &Binding::Counter { slot },
            &device,
        )
        .unwrap();

    let parsed: isomdl::definitions::DeviceResponse = isomdl::cbor::from_slice(&response).unwrap();
    let documents = parsed.documents.unwrap();
    let document = documents.first().unwrap();
    assert_eq!(document.doc_type, "fr.cnam.apcv.1");

    // Issuer authentication against the certificate in x5chain.
    let x5chain = common::x5chain(document);
    isomdl::presentation::authentication::mdoc::issuer_authentication(
        x5chain,
        &document.issuer_signed,
    )
    .unwrap();

    // Each disclosed item's digest, as isomdl encodes the item, is the one the MSO lists.
    let mso: isomdl::definitions::helpers::Tag24<isomdl::definitions::Mso> =
        isomdl::cbor::from_slice(
            document
                .issuer_signed
                .issuer_auth
                .inner
                .payload
                .as_ref()
                .unwrap(),
        )
        .unwrap();
    let items = document
        .issuer_signed
        .namespaces
        .as_ref()
        .unwrap()
        .get("fr.cnam.apcv.1")
        .unwrap();
    assert_eq!(items.len(), 2, "only the requested items");
    for item in items.iter() {
        let digest =
            ring::digest::digest(&ring::digest::SHA256, &isomdl::cbor::to_vec(item).unwrap());
        let listed = &mso.as_ref().value_digests["fr.cnam.apcv.1"][&item.as_ref().digest_id];
        assert_eq!(listed.as_ref(), digest.as_ref());
    }

    // Device authentication over the counter-mode transcript; another slot fails.
    let transcript = |slot: i64| {
        ApcvTranscript(Value::Array(vec![
            Value::Null,
            Value::Null,
            Value::Array(vec![
                Value::from("APCV"),
                Value::from("counter"),
                Value::Bytes(Vec::new()),
                Value::from(""),
                Value::from(slot),
            ]),
        ]))
    };
    isomdl::presentation::authentication::mdoc::device_authentication(document, transcript(slot))
        .unwrap();
    assert!(
        isomdl::presentation::authentication::mdoc::device_authentication(
            document,
            transcript(slot + 1)
        )
        .is_err()
    );
}
