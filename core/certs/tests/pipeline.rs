//! The DCC pipeline on public test vectors and on hostile input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use carnet_certs::hcert::{self, PREFIX};
use carnet_certs::{
    CertificateType, CertsError, Dsc, TrustStore, check_expiry, check_key_usage, schema,
    verify_signature,
};
use carnet_codec::{CodecError, base45, zlib};

struct Case {
    prefix: String,
    signer: Dsc,
}

fn case(name: &str) -> Case {
    let path = format!(
        "{}/../../fixtures/dcc/testdata/common/2DCode/raw/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let der = BASE64
        .decode(file["TESTCTX"]["CERTIFICATE"].as_str().unwrap())
        .unwrap();
    Case {
        prefix: file["PREFIX"].as_str().unwrap().to_owned(),
        signer: Dsc::from_der(&der).unwrap(),
    }
}

/// Rebuilds `HC1:` text around (possibly altered) COSE bytes.
fn wrap(cose: &[u8]) -> String {
    format!("{PREFIX}{}", base45::encode(&zlib::deflate(cose)))
}

fn cose_of(prefix: &str) -> Vec<u8> {
    hcert::decompress(&hcert::decode_base45(hcert::unprefix(prefix).unwrap()).unwrap()).unwrap()
}

#[test]
fn ecdsa_and_rsa_certificates_decode_and_verify() {
    for name in ["CO3", "CO1", "CO2"] {
        let case = case(name);
        let decoded = hcert::decode(&case.prefix).unwrap();
        let trust = TrustStore::new(vec![case.signer.clone()]);
        let signer = verify_signature(&decoded, &trust).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(signer, &case.signer);
        assert!(decoded.claims.payload.get("nam").is_some(), "{name}");
    }
}

#[test]
fn expiry_key_usage_and_schema_are_checked_on_a_valid_certificate() {
    let case = case("CO3");
    let decoded = hcert::decode(&case.prefix).unwrap();
    let issued_at = decoded.claims.issued_at.unwrap();
    let expires_at = decoded.claims.expires_at.unwrap();
    check_expiry(&decoded.claims, &case.signer, issued_at + 1).unwrap();
    assert_eq!(
        check_expiry(&decoded.claims, &case.signer, issued_at - 1),
        Err(CertsError::Expiry("issued after the time of the check"))
    );
    assert_eq!(
        check_expiry(&decoded.claims, &case.signer, expires_at + 1),
        Err(CertsError::Expiry("expired"))
    );
    check_key_usage(decoded.cert_type(), &case.signer).unwrap();
    assert!(matches!(
        decoded.cert_type(),
        Some(CertificateType::Vaccination | CertificateType::Test | CertificateType::Recovery)
    ));
    schema::validate(&decoded.claims.payload, None).unwrap();
    schema::content_checks(&decoded.claims.payload, Some(issued_at)).unwrap();
}

#[test]
fn a_flipped_signature_or_unknown_signer_is_refused() {
    let good = case("CO3");
    let mut cose = cose_of(&good.prefix);
    let last = cose.len() - 1;
    cose[last] ^= 0x01;
    let tampered = hcert::decode(&wrap(&cose)).unwrap();
    let trust = TrustStore::new(vec![good.signer.clone()]);
    assert_eq!(
        verify_signature(&tampered, &trust),
        Err(CertsError::Signature(CodecError::BadSignature))
    );
    let other = TrustStore::new(vec![case("CO1").signer]);
    let decoded = hcert::decode(&good.prefix).unwrap();
    assert!(matches!(
        verify_signature(&decoded, &other),
        Err(CertsError::UnknownKid { .. })
    ));
    assert!(matches!(
        verify_signature(&decoded, &TrustStore::default()),
        Err(CertsError::UnknownKid { .. })
    ));
}

#[test]
fn every_truncation_of_the_cose_layer_is_a_typed_error() {
    let cose = cose_of(&case("CO3").prefix);
    for cut in 0..cose.len() {
        match hcert::decode(&wrap(&cose[..cut])) {
            Err(CertsError::Cose(_) | CertsError::Claims(_) | CertsError::Payload(_)) => {}
            other => panic!("truncated at {cut}: {other:?}"),
        }
    }
}

#[test]
fn hostile_qr_text_is_refused_with_bounded_work() {
    let bomb = format!(
        "{PREFIX}{}",
        base45::encode(&zlib::deflate(&vec![0u8; 3_000_000]))
    );
    assert!(
        bomb.len() < 8 * 1024,
        "the bomb fits in a QR code: {} characters",
        bomb.len()
    );
    assert!(matches!(
        hcert::decode(&bomb),
        Err(CertsError::Compression(CodecError::TooLarge { .. }))
    ));
    let oversized = format!("{PREFIX}{}", "A".repeat(100_000));
    assert!(matches!(
        hcert::decode(&oversized),
        Err(CertsError::Base45(CodecError::TooLarge { .. }))
    ));
    assert_eq!(hcert::decode("HC2:ABC").unwrap_err(), CertsError::Prefix);
    assert!(matches!(
        hcert::decode("HC1:%%%"),
        Err(CertsError::Base45(_))
    ));
    let uncompressed = format!("{PREFIX}{}", base45::encode(&cose_of(&case("CO3").prefix)));
    assert!(matches!(
        hcert::decode(&uncompressed),
        Err(CertsError::Compression(_))
    ));
    let mut deep = vec![0x81u8; 5_000];
    deep.push(0);
    assert!(matches!(
        hcert::decode(&wrap(&deep)),
        Err(CertsError::Cose(CodecError::CborTooDeep { .. }))
    ));
}

#[test]
fn schema_refusals_name_the_path_and_version() {
    let payload = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let base = r#"{"ver":"1.3.0","nam":{"fnt":"DUPOND","gn":"Marie","gnt":"MARIE"},"dob":"1962-07-01",
        "r":[{"tg":"840539006","fr":"2021-01-01","co":"FR","is":"X","df":"2021-01-10","du":"2021-06-01","ci":"U"}]}"#;
    schema::validate(&payload(base), None).unwrap();
    let cases = [
        (base.replace("\"ver\":\"1.3.0\"", "\"ver\":\"1.3\""), "/ver"),
        (base.replace("1962-07-01", "1815-08-24"), "/dob"),
        (
            base.replace("\"fnt\":\"DUPOND\"", "\"fnt\":\"dupond\""),
            "/nam/fnt",
        ),
        (base.replace("\"co\":\"FR\"", "\"co\":\"\""), "/r/0/co"),
        (base.replace("\"r\":", "\"v\":[],\"r\":"), "/v"),
        (base.replace("\"ci\":\"U\"", "\"ci\":7"), "/r/0/ci"),
    ];
    for (text, path) in cases {
        match schema::validate(&payload(&text), None) {
            Err(CertsError::Schema { path: found, .. }) => assert_eq!(found, path, "{text}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // Each version as published: 1.0.0 wanted full birth dates and allowed several doses in
    // one certificate; 1.3.0 allows a partial birth date and exactly one entry.
    let partial_birth = base.replace("1962-07-01", "1962");
    schema::validate(&payload(&partial_birth), None).unwrap();
    let err = schema::validate(&payload(&partial_birth), Some("1.0.0")).unwrap_err();
    assert!(err.to_string().contains("schema 1.0.0"), "{err}");
    let two = base.replace(
        "\"r\":[{",
        "\"r\":[{\"tg\":\"840539006\",\"fr\":\"2021-01-01\",\"co\":\"FR\",\"is\":\"X\",\"df\":\"2021-01-10\",\"du\":\"2021-06-01\",\"ci\":\"V\"},{",
    );
    schema::validate(&payload(&two), Some("1.0.0")).unwrap();
    assert!(schema::validate(&payload(&two), None).is_err());
    // A patch level never published falls under the newest one below it.
    schema::validate(&payload(&base.replace("1.3.0", "1.3.7")), None).unwrap();
    assert!(schema::validate(&payload(&base.replace("1.3.0", "2.0.0")), None).is_err());
}

#[test]
fn content_checks_are_reported_apart_from_the_schema() {
    let payload = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let base = r#"{"ver":"1.3.0","nam":{"fnt":"DUPOND","gn":"Marie","gnt":"MARIE"},"dob":"1962-07-01",
        "r":[{"tg":"840539006","fr":"2021-01-01","co":"FR","is":"X","df":"2021-01-10","du":"2021-06-01","ci":"U"}]}"#;
    schema::content_checks(&payload(base), Some(1_700_000_000)).unwrap();
    let cases = [
        (base.replace("1962-07-01", "2030-01"), "/dob"),
        (
            base.replace("\"gnt\":\"MARIE\"", "\"gnt\":\"\""),
            "/nam/gnt",
        ),
        (
            base.replace("\"du\":\"2021-06-01\"", "\"du\":\"2021-02-30\""),
            "/r/0/du",
        ),
        (base.replace("\"r\":", "\"t\":[],\"r\":"), "/"),
    ];
    for (text, path) in cases {
        match schema::content_checks(&payload(&text), Some(1_700_000_000)) {
            Err(CertsError::Content { path: found, .. }) => assert_eq!(found, path, "{text}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    let future_birth = base.replace("1962-07-01", "2030-01-01");
    schema::validate(&payload(&future_birth), None).unwrap();
    schema::content_checks(&payload(&future_birth), None).unwrap();
}
