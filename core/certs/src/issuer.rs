//! A test issuer of EU DCCs: a self-signed document signer certificate (P-256, `rcgen`) and
//! `HC1:` texts signed with it, layer by layer as a member state's issuer builds them (CBOR
//! payload in a CWT, COSE_Sign1 ES256 with the signer's key identifier, zlib, base45, `HC1:`).
//! For the demo and the tests (behind feature `issuer`): a phone never issues certificates.

use carnet_codec::{base45, cbor, cose, zlib};
use ciborium::Value as Cbor;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::Value as Json;

use crate::{CertsError, hcert, kid_of};

/// A document signer of one country, with its key.
pub struct TestIssuer {
    key: EcdsaKeyPair,
    der: Vec<u8>,
    country: String,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

fn failed(error: impl std::fmt::Display) -> CertsError {
    CertsError::Signer(error.to_string())
}

impl TestIssuer {
    /// A new signer for `country` (ISO 3166-1 alpha-2) valid between the two Unix times.
    ///
    /// # Errors
    /// [`CertsError::Signer`] when the key or certificate cannot be made (dates out of range).
    pub fn new(country: &str, not_before: i64, not_after: i64) -> Result<Self, CertsError> {
        let key_pair =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(Vec::new()).map_err(failed)?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("{country} DCC test signer"),
        );
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, country);
        params.not_before =
            time::OffsetDateTime::from_unix_timestamp(not_before).map_err(failed)?;
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).map_err(failed)?;
        let certificate = params.self_signed(&key_pair).map_err(failed)?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &SystemRandom::new(),
        )
        .map_err(failed)?;
        Ok(TestIssuer {
            key,
            der: certificate.der().to_vec(),
            country: country.to_ascii_uppercase(),
        })
    }

    /// The signer's certificate (DER), for a trust list.
    #[must_use]
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// Signs a payload (`eu_dgc_v1` JSON) as `HC1:` text, issued and expiring at the given
    /// Unix times.
    ///
    /// # Errors
    /// [`CertsError::Payload`] for a payload that is not a JSON object,
    /// [`CertsError::Signer`] when signing fails.
    pub fn issue(
        &self,
        payload: &Json,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<String, CertsError> {
        if !payload.is_object() {
            return Err(CertsError::Payload("the payload is not an object".into()));
        }
        let claims = Cbor::Map(vec![
            (Cbor::from(1), Cbor::from(self.country.as_str())),
            (Cbor::from(4), Cbor::from(expires_at)),
            (Cbor::from(6), Cbor::from(issued_at)),
            (
                Cbor::from(-260),
                Cbor::Map(vec![(Cbor::from(1), to_cbor(payload))]),
            ),
        ]);
        let bytes = cbor::to_vec(&claims).map_err(failed)?;
        let signed = cose::sign_es256(bytes, &kid_of(&self.der), &self.key, &SystemRandom::new())
            .map_err(failed)?;
        Ok(format!(
            "{}{}",
            hcert::PREFIX,
            base45::encode(&zlib::deflate(&signed))
        ))
    }
}

/// JSON as CBOR: integers stay integers, other numbers become floats.
fn to_cbor(value: &Json) -> Cbor {
    match value {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Cbor::from(i),
            (None, Some(f)) => Cbor::Float(f),
            (None, None) => Cbor::Null,
        },
        Json::String(s) => Cbor::Text(s.clone()),
        Json::Array(items) => Cbor::Array(items.iter().map(to_cbor).collect()),
        Json::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dsc, TrustStore, verify_signature};

    #[test]
    fn an_issued_certificate_decodes_and_verifies_against_its_signer() {
        let issuer = TestIssuer::new("FR", 1_600_000_000, 2_000_000_000).unwrap();
        let payload = serde_json::json!({"ver": "1.3.0", "nam": {"fnt": "DUPOND"}, "dob": "1980",
            "t": [{"tg": "840539006", "tt": "LP6464-4", "sc": "2026-01-01T10:00:00Z",
                   "tr": "260415000", "co": "FR", "is": "CNAM", "ci": "URN:UVCI:01:FR:X", "n": 1.5}]});
        let text = issuer
            .issue(&payload, 1_700_000_000, 1_800_000_000)
            .unwrap();
        let decoded = hcert::decode(&text).unwrap();
        assert_eq!(decoded.claims.payload, payload);
        assert_eq!(decoded.claims.issuer.as_deref(), Some("FR"));
        assert_eq!(decoded.claims.expires_at, Some(1_800_000_000));
        let dsc = Dsc::from_der(issuer.certificate_der()).unwrap();
        assert_eq!(dsc.country(), Some("FR"));
        verify_signature(&decoded, &TrustStore::new(vec![dsc])).unwrap();
        assert!(issuer.issue(&Json::Null, 0, 1).is_err());
    }
}
