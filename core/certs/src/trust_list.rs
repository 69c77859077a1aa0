//! The trust list: a signed document listing the document signer certificates (DSCs) a
//! verifier trusts, kept offline and checked against the anchor key it was configured with.

use carnet_codec::cose::VerifyingKey;
use ciborium::Value;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;

use crate::signed_list::{self, ListHeader};
use crate::{CertsError, Dsc, TrustStore, kid_of};

/// Most signers a trust list may hold (the EU gateway lists a few thousand).
pub const MAX_SIGNERS: usize = 50_000;

/// A verified trust list.
#[derive(Debug, Clone)]
pub struct TrustList {
    header: ListHeader,
    certificates: Vec<(String, Vec<u8>)>,
    store: TrustStore,
}

impl TrustList {
    /// The `kind` of a trust list document.
    pub const KIND: &'static str = "carnet-dcc-trust-list";

    /// A list of `(country, DER certificate)` pairs, each read as a DSC.
    ///
    /// # Errors
    /// [`CertsError::Signer`] for a certificate that cannot be used.
    pub fn new(
        header: ListHeader,
        certificates: Vec<(String, Vec<u8>)>,
    ) -> Result<Self, CertsError> {
        if certificates.len() > MAX_SIGNERS {
            return Err(CertsError::List(format!("more than {MAX_SIGNERS} signers")));
        }
        let signers = certificates
            .iter()
            .map(|(_, der)| Dsc::from_der(der))
            .collect::<Result<_, _>>()?;
        Ok(TrustList {
            header,
            certificates,
            store: TrustStore::new(signers),
        })
    }

    /// Verifies and reads a signed trust list. Each entry's `kid` must be its certificate's.
    ///
    /// # Errors
    /// [`CertsError::List`], [`CertsError::Signature`] or [`CertsError::Signer`]: a list with
    /// one bad entry is refused whole.
    pub fn open(bytes: &[u8], anchor: &VerifyingKey) -> Result<Self, CertsError> {
        let (header, body) = signed_list::open(bytes, anchor, Self::KIND)?;
        let entries = body
            .as_array()
            .ok_or_else(|| CertsError::List("body is not an array".into()))?;
        let mut certificates = Vec::with_capacity(entries.len().min(MAX_SIGNERS));
        for entry in entries {
            let map = entry
                .as_map()
                .ok_or_else(|| CertsError::List("entry is not a map".into()))?;
            let field = |name: &str| {
                map.iter()
                    .find(|(k, _)| k.as_text() == Some(name))
                    .map(|(_, v)| v)
            };
            let (Some(kid), Some(country), Some(der)) = (
                field("kid").and_then(Value::as_bytes),
                field("country").and_then(Value::as_text),
                field("certificate").and_then(Value::as_bytes),
            ) else {
                return Err(CertsError::List(
                    "entry without kid, country or certificate".into(),
                ));
            };
            if kid.as_slice() != kid_of(der).as_slice() {
                return Err(CertsError::List(
                    "entry kid does not match its certificate".into(),
                ));
            }
            certificates.push((country.to_owned(), der.clone()));
        }
        TrustList::new(header, certificates)
    }

    /// Signs the list (publisher side).
    ///
    /// # Errors
    /// [`CertsError::List`].
    pub fn seal(
        &self,
        key: &EcdsaKeyPair,
        kid: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, CertsError> {
        let body = self
            .certificates
            .iter()
            .map(|(country, der)| {
                Value::Map(vec![
                    (Value::from("kid"), Value::Bytes(kid_of(der).to_vec())),
                    (Value::from("country"), Value::from(country.as_str())),
                    (Value::from("certificate"), Value::Bytes(der.clone())),
                ])
            })
            .collect();
        signed_list::seal(Self::KIND, &self.header, Value::Array(body), key, kid, rng)
    }

    /// Version and publication time.
    pub fn header(&self) -> &ListHeader {
        &self.header
    }

    /// The trusted signers.
    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    /// Age of the list at `at` (Unix seconds), never negative.
    pub fn age_secs(&self, at: i64) -> i64 {
        at.saturating_sub(self.header.issued_at).max(0)
    }
}
