//! Revocation hashes (public vectors), signed lists, and verifier mode end to end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use carnet_certs::revocation::{HashKind, RevocationHashes};
use carnet_certs::verifier::{self, Verdict, VerifierPolicy};
use carnet_certs::{CertsError, ListHeader, RevocationList, TrustList, hcert};
use carnet_codec::cose::{self, VerifyingKey};
use carnet_codec::{CodecError, cbor};
use ciborium::Value;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};

fn fixture(path: &str) -> serde_json::Value {
    let full = format!("{}/../../fixtures/dcc/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

fn anchor() -> (EcdsaKeyPair, VerifyingKey) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let public = VerifyingKey::EcdsaP256(pair.public_key().as_ref().to_vec());
    (pair, public)
}

#[test]
fn the_three_revocation_vectors_give_their_hashes() {
    let vectors = fixture("revocation_vectors.json");
    let vectors = vectors.as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    for vector in vectors {
        let decoded = hcert::decode(vector["barcodeData"].as_str().unwrap()).unwrap();
        // The hash kind follows the signer's key type; these vectors come without their DSC, so
        // the key type is read from the header here (ES256 → ECDSA, anything else → RSA).
        let es256 = coset::RegisteredLabelWithPrivate::Assigned(coset::iana::Algorithm::ES256);
        let key = if decoded.sign1.header_algorithm() == Some(&es256) {
            VerifyingKey::EcdsaP256(Vec::new())
        } else {
            VerifyingKey::RsaPss(Vec::new())
        };
        let hashes = RevocationHashes::of(&decoded, &key).unwrap();
        let name = vector["description"].as_str().unwrap();
        assert_eq!(
            hex::encode(hashes.uci),
            vector["expUCI"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(hashes.country_code_uci),
            vector["expCOUNTRYCODEUCI"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(hashes.signature),
            vector["expSIGNATURE"].as_str().unwrap(),
            "{name}"
        );
    }
}

struct Scene {
    text: String,
    certificate: Vec<u8>,
    issued_at: i64,
    anchor_pair: EcdsaKeyPair,
    anchor: VerifyingKey,
}

fn scene() -> Scene {
    let case = fixture("testdata/common/2DCode/raw/CO3.json");
    let text = case["PREFIX"].as_str().unwrap().to_owned();
    let certificate = BASE64
        .decode(case["TESTCTX"]["CERTIFICATE"].as_str().unwrap())
        .unwrap();
    let issued_at = hcert::decode(&text).unwrap().claims.issued_at.unwrap();
    let (anchor_pair, anchor) = anchor();
    Scene {
        text,
        certificate,
        issued_at,
        anchor_pair,
        anchor,
    }
}

fn sealed_trust_list(scene: &Scene, issued_at: i64) -> TrustList {
    let list = TrustList::new(
        ListHeader {
            version: 1,
            issued_at,
        },
        vec![("XX".into(), scene.certificate.clone())],
    )
    .unwrap();
    let bytes = list
        .seal(&scene.anchor_pair, b"anchor", &SystemRandom::new())
        .unwrap();
    TrustList::open(&bytes, &scene.anchor).unwrap()
}

fn revocation_list(
    scene: &Scene,
    issued_at: i64,
    revoked: &[(HashKind, [u8; 16])],
) -> RevocationList {
    let list = RevocationList::new(
        ListHeader {
            version: 3,
            issued_at,
        },
        revoked.iter().copied(),
    );
    let bytes = list
        .seal(&scene.anchor_pair, b"anchor", &SystemRandom::new())
        .unwrap();
    let opened = RevocationList::open(&bytes, &scene.anchor).unwrap();
    assert_eq!(opened, list);
    opened
}

#[test]
fn signed_lists_refuse_tampering_other_anchors_and_other_kinds() {
    let scene = scene();
    let list = TrustList::new(
        ListHeader {
            version: 7,
            issued_at: 100,
        },
        vec![("XX".into(), scene.certificate.clone())],
    )
    .unwrap();
    let bytes = list
        .seal(&scene.anchor_pair, b"anchor", &SystemRandom::new())
        .unwrap();
    let opened = TrustList::open(&bytes, &scene.anchor).unwrap();
    assert_eq!(
        opened.header(),
        &ListHeader {
            version: 7,
            issued_at: 100
        }
    );
    assert_eq!(opened.store().len(), 1);
    assert_eq!(opened.age_secs(3700), 3600);

    let (_, stranger) = anchor();
    assert_eq!(
        TrustList::open(&bytes, &stranger).unwrap_err(),
        CertsError::Signature(CodecError::BadSignature)
    );
    for index in (0..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[index] ^= 0x20;
        assert!(
            TrustList::open(&flipped, &scene.anchor).is_err(),
            "flip at {index} accepted"
        );
    }
    assert!(matches!(
        RevocationList::open(&bytes, &scene.anchor),
        Err(CertsError::List(_))
    ));
    assert!(matches!(
        TrustList::open(&vec![0u8; 9 * 1024 * 1024], &scene.anchor),
        Err(CertsError::List(_))
    ));

    // A signed entry whose kid is not its certificate's is refused with the whole list.
    let forged = Value::Map(vec![
        (Value::from("kind"), Value::from(TrustList::KIND)),
        (Value::from("version"), Value::from(1)),
        (Value::from("issued_at"), Value::from(1)),
        (
            Value::from("body"),
            Value::Array(vec![Value::Map(vec![
                (Value::from("kid"), Value::Bytes(vec![0; 8])),
                (Value::from("country"), Value::from("XX")),
                (
                    Value::from("certificate"),
                    Value::Bytes(scene.certificate.clone()),
                ),
            ])]),
        ),
    ]);
    let signed = cose::sign_es256(
        cbor::to_vec(&forged).unwrap(),
        b"anchor",
        &scene.anchor_pair,
        &SystemRandom::new(),
    )
    .unwrap();
    assert!(
        matches!(TrustList::open(&signed, &scene.anchor), Err(CertsError::List(m)) if m.contains("kid"))
    );
}

#[test]
fn verifier_mode_gives_valid_invalid_or_cannot_confirm() {
    let scene = scene();
    let at = scene.issued_at + 60;
    let policy = VerifierPolicy::default();
    let trust = sealed_trust_list(&scene, at - 3600);
    let clean = revocation_list(&scene, at - 3600, &[]);

    let Verdict::Valid {
        holder, expires_at, ..
    } = verifier::verify(&scene.text, &trust, Some(&clean), at, &policy)
    else {
        panic!("expected valid")
    };
    assert!(!holder.family_name_icao.is_empty());
    assert!(expires_at > at);

    let decoded = hcert::decode(&scene.text).unwrap();
    let signer = carnet_certs::verify_signature(&decoded, trust.store()).unwrap();
    let hashes = RevocationHashes::of(&decoded, signer.key()).unwrap();
    for kind in HashKind::ALL {
        let revoked = revocation_list(&scene, at - 3600, &[(kind, *hashes.get(kind))]);
        match verifier::verify(&scene.text, &trust, Some(&revoked), at, &policy) {
            Verdict::Invalid {
                holder: Some(_),
                reason: CertsError::Revoked(name),
            } => assert_eq!(name, kind.name()),
            other => panic!("{kind:?}: {other:?}"),
        }
    }

    let old_trust = sealed_trust_list(&scene, at - 4 * 24 * 3600);
    assert!(matches!(
        verifier::verify(&scene.text, &old_trust, Some(&clean), at, &policy),
        Verdict::CannotConfirm {
            holder: Some(_),
            ..
        }
    ));
    assert!(matches!(
        verifier::verify(&scene.text, &trust, None, at, &policy),
        Verdict::CannotConfirm { .. }
    ));
    let old_revocation = revocation_list(&scene, at - 4 * 24 * 3600, &[]);
    assert!(matches!(
        verifier::verify(&scene.text, &trust, Some(&old_revocation), at, &policy),
        Verdict::CannotConfirm { reason, .. } if reason.contains("revocation list")
    ));
    assert!(matches!(
        verifier::verify(
            &scene.text,
            &trust,
            Some(&clean),
            decoded.claims.expires_at.unwrap() + 1,
            &policy
        ),
        Verdict::Invalid {
            holder: Some(_),
            reason: CertsError::Expiry("expired")
        }
    ));

    let empty = TrustList::new(
        ListHeader {
            version: 1,
            issued_at: at,
        },
        Vec::new(),
    )
    .unwrap();
    assert!(matches!(
        verifier::verify(&scene.text, &empty, Some(&clean), at, &policy),
        Verdict::Invalid {
            holder: None,
            reason: CertsError::UnknownKid { .. }
        }
    ));
    let empty_old = TrustList::new(
        ListHeader {
            version: 1,
            issued_at: at - 10 * 24 * 3600,
        },
        Vec::new(),
    )
    .unwrap();
    assert!(matches!(
        verifier::verify(&scene.text, &empty_old, Some(&clean), at, &policy),
        Verdict::CannotConfirm { holder: None, .. }
    ));
    assert!(matches!(
        verifier::verify("HC1:garbage", &trust, Some(&clean), at, &policy),
        Verdict::Invalid {
            holder: None,
            reason: CertsError::Base45(_)
        }
    ));
}

#[test]
fn rules_and_value_sets_travel_signed_and_a_forged_or_bad_list_is_refused() {
    use carnet_certs::{RuleList, ValueSets};
    let (pair, public) = anchor();
    let (_, other) = anchor();
    let rng = SystemRandom::new();
    let header = ListHeader {
        version: 7,
        issued_at: 1_700_000_000,
    };
    let dir = format!(
        "{}/../../fixtures/dcc-rules/business-rules/FR/TR-FR-0002/rule.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let rule: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir).unwrap()).unwrap();
    let sealed = RuleList::seal(
        &header,
        std::slice::from_ref(&rule),
        &pair,
        b"anchor01",
        &rng,
    )
    .unwrap();
    let list = RuleList::open(&sealed, &public).unwrap();
    assert_eq!(list.header(), &header);
    assert_eq!(list.rules()[0].identifier, "TR-FR-0002");
    assert!(matches!(
        RuleList::open(&sealed, &other),
        Err(CertsError::Signature(_))
    ));
    // A trust list is not a rule list, whatever its signature.
    assert!(matches!(
        ValueSets::open(&sealed, &public),
        Err(CertsError::List(_))
    ));
    let mut broken = rule;
    broken["Logic"] = serde_json::json!({"no-such-operation": []});
    assert!(matches!(
        RuleList::seal(&header, &[broken], &pair, b"anchor01", &rng),
        Err(CertsError::Rule(_))
    ));

    let document = serde_json::json!({"valueSetId": "covid-19-lab-result", "valueSetDate": "2030-01-01",
        "valueSetValues": {"260415000": {"display": "Non détecté"}}});
    let sealed = ValueSets::seal(&header, &[document], &pair, b"anchor01", &rng).unwrap();
    let sets = ValueSets::open(&sealed, &public).unwrap();
    assert_eq!(sets.header(), Some(&header));
    assert_eq!(
        sets.display_field("t", "tr", "260415000"),
        Some("Non détecté")
    );
    assert!(ValueSets::open(&sealed, &other).is_err());
}
