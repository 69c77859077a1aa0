//! Signature, expiry and key-usage checks against trusted signers.

use std::collections::HashMap;

use crate::{CertificateType, CertsError, CwtClaims, Dsc, Hcert};

/// The document signers a verifier trusts, looked up by key identifier.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    signers: Vec<Dsc>,
    /// Positions in `signers` of each key identifier (several signers can share one).
    by_kid: HashMap<[u8; 8], Vec<usize>>,
}

impl TrustStore {
    /// A store of these signers.
    pub fn new(signers: Vec<Dsc>) -> Self {
        let mut by_kid: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
        for (index, dsc) in signers.iter().enumerate() {
            by_kid.entry(*dsc.kid()).or_default().push(index);
        }
        TrustStore { signers, by_kid }
    }

    /// Every signer with this key identifier (identifiers are 8 bytes and can collide).
    pub fn by_kid(&self, kid: &[u8]) -> impl Iterator<Item = &Dsc> {
        let positions = <[u8; 8]>::try_from(kid)
            .ok()
            .and_then(|kid| self.by_kid.get(&kid));
        positions
            .into_iter()
            .flatten()
            .filter_map(|&index| self.signers.get(index))
    }

    /// Number of signers.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// True when no signer is trusted.
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
}

/// Verifies the signature with every trusted signer sharing the certificate's key identifier
/// and returns the one that verifies.
///
/// # Errors
/// [`CertsError::MissingKid`], [`CertsError::UnknownKid`] or [`CertsError::Signature`].
pub fn verify_signature<'a>(hcert: &Hcert, trust: &'a TrustStore) -> Result<&'a Dsc, CertsError> {
    let kid = hcert.sign1.kid().ok_or(CertsError::MissingKid)?;
    let mut last_error = None;
    for dsc in trust.by_kid(kid) {
        match hcert.sign1.verify(dsc.key()) {
            Ok(()) => return Ok(dsc),
            Err(error) => last_error = Some(error),
        }
    }
    Err(match last_error {
        Some(error) => CertsError::Signature(error),
        None => CertsError::UnknownKid {
            kid: kid.iter().map(|b| format!("{b:02x}")).collect(),
        },
    })
}

/// Checks the validity window: signer valid from ≤ issued at ≤ `at` ≤ expires ≤ signer valid
/// until (Unix seconds).
///
/// # Errors
/// [`CertsError::Expiry`] naming the broken bound.
pub fn check_expiry(claims: &CwtClaims, dsc: &Dsc, at: i64) -> Result<(), CertsError> {
    let issued_at = claims
        .issued_at
        .ok_or(CertsError::Expiry("no issued-at claim"))?;
    let expires_at = claims
        .expires_at
        .ok_or(CertsError::Expiry("no expiry claim"))?;
    if issued_at < dsc.not_before() {
        return Err(CertsError::Expiry(
            "issued before its signer's certificate was valid",
        ));
    }
    if at < issued_at {
        return Err(CertsError::Expiry("issued after the time of the check"));
    }
    if at > expires_at {
        return Err(CertsError::Expiry("expired"));
    }
    if expires_at > dsc.not_after() {
        return Err(CertsError::Expiry("expires after its signer's certificate"));
    }
    Ok(())
}

/// Checks that the signer may sign this type of certificate (extended key usage).
///
/// # Errors
/// [`CertsError::KeyUsage`], or [`CertsError::Schema`] when the type is unknown.
pub fn check_key_usage(cert_type: Option<CertificateType>, dsc: &Dsc) -> Result<(), CertsError> {
    let cert_type = cert_type.ok_or_else(|| CertsError::Schema {
        path: "/".into(),
        reason: "exactly one of v, t, r is required".into(),
    })?;
    match dsc.allowed_types() {
        Some(allowed) if !allowed.contains(&cert_type) => {
            Err(CertsError::KeyUsage(cert_type.name()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use carnet_codec::cose::{self, VerifyingKey};
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;
    use crate::hcert::CwtClaims;

    fn key_pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    #[test]
    fn every_signer_sharing_a_kid_is_tried() {
        let kid = [7u8; 8];
        let (impostor, genuine) = (key_pair(), key_pair());
        let public =
            |pair: &EcdsaKeyPair| VerifyingKey::EcdsaP256(pair.public_key().as_ref().to_vec());
        let bytes =
            cose::sign_es256(b"payload".to_vec(), &kid, &genuine, &SystemRandom::new()).unwrap();
        let hcert = Hcert {
            sign1: cose::Sign1::from_slice(&bytes).unwrap(),
            claims: CwtClaims {
                issuer: None,
                issued_at: None,
                expires_at: None,
                payload: serde_json::json!({}),
            },
        };
        let colliding = TrustStore::new(vec![
            Dsc::for_test(kid, public(&impostor)),
            Dsc::for_test(kid, public(&genuine)),
        ]);
        assert_eq!(
            verify_signature(&hcert, &colliding).unwrap().key(),
            &public(&genuine)
        );
        let only_impostor = TrustStore::new(vec![Dsc::for_test(kid, public(&impostor))]);
        assert!(matches!(
            verify_signature(&hcert, &only_impostor),
            Err(CertsError::Signature(_))
        ));
    }
}
