//! Revocation: the three EU hash kinds, matched against a signed, versioned list.
//!
//! Each hash is the first 16 bytes of a SHA-256: over the UVCI (`UCI`), over the country code
//! then the UVCI (`COUNTRYCODEUCI`), or over the signature (`SIGNATURE`; for ECDSA only its
//! `r` half, since `s` can be changed without invalidating it).

use std::collections::HashSet;

use carnet_codec::cose::VerifyingKey;
use ciborium::Value;
use ring::digest;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;

use crate::signed_list::{self, ListHeader};
use crate::{CertsError, Hcert};

/// Length of a revocation hash, in bytes.
pub const HASH_BYTES: usize = 16;
/// Most entries a revocation list may hold.
pub const MAX_ENTRIES: usize = 2_000_000;

/// A revocation hash kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    /// SHA-256 of the UVCI.
    Uci,
    /// SHA-256 of the country code and the UVCI.
    CountryCodeUci,
    /// SHA-256 of the signature (`r` only for ECDSA).
    Signature,
}

impl HashKind {
    /// The three hash kinds, in the order the lists name them.
    pub const ALL: [HashKind; 3] = [HashKind::Uci, HashKind::CountryCodeUci, HashKind::Signature];

    /// The EU name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Uci => "UCI",
            HashKind::CountryCodeUci => "COUNTRYCODEUCI",
            HashKind::Signature => "SIGNATURE",
        }
    }
}

/// A truncated revocation hash.
pub type RevocationHash = [u8; HASH_BYTES];

/// The three hashes of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationHashes {
    /// Over the UVCI.
    pub uci: RevocationHash,
    /// Over the country code and the UVCI.
    pub country_code_uci: RevocationHash,
    /// Over the signature.
    pub signature: RevocationHash,
}

impl RevocationHashes {
    /// Computes the hashes of a certificate whose signature `signer_key` verified (the key type
    /// says whether the signature is ECDSA).
    ///
    /// # Errors
    /// [`CertsError::Schema`] when the payload has no `ci` or `co`.
    pub fn of(hcert: &Hcert, signer_key: &VerifyingKey) -> Result<Self, CertsError> {
        let entry = ["v", "t", "r"]
            .iter()
            .find_map(|group| hcert.claims.payload.get(group)?.get(0))
            .ok_or_else(|| missing("/", "no certificate entry"))?;
        let uvci = entry
            .get("ci")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| missing("ci", "required"))?;
        let country = entry
            .get("co")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| missing("co", "required"))?;
        let signature = hcert.sign1.signature();
        let signed_part = match signer_key {
            VerifyingKey::EcdsaP256(_) => signature.get(..signature.len() / 2).unwrap_or(signature),
            VerifyingKey::RsaPss(_) => signature,
        };
        Ok(RevocationHashes {
            uci: truncated_sha256(&[uvci.as_bytes()]),
            country_code_uci: truncated_sha256(&[country.as_bytes(), uvci.as_bytes()]),
            signature: truncated_sha256(&[signed_part]),
        })
    }

    /// The hash of one kind.
    pub fn get(&self, kind: HashKind) -> &RevocationHash {
        match kind {
            HashKind::Uci => &self.uci,
            HashKind::CountryCodeUci => &self.country_code_uci,
            HashKind::Signature => &self.signature,
        }
    }
}

fn missing(field: &str, reason: &str) -> CertsError {
    CertsError::Schema {
        path: format!("/{field}"),
        reason: reason.into(),
    }
}

fn truncated_sha256(parts: &[&[u8]]) -> RevocationHash {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut hash = [0u8; HASH_BYTES];
    hash.copy_from_slice(
        context
            .finish()
            .as_ref()
            .get(..HASH_BYTES)
            .unwrap_or(&[0; HASH_BYTES]),
    );
    hash
}

/// A signed, versioned set of revocation hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    header: ListHeader,
    entries: HashSet<(HashKind, RevocationHash)>,
}

impl RevocationList {
    /// The `kind` of a revocation list document.
    pub const KIND: &'static str = "carnet-dcc-revocation-list";

    /// A list with these entries.
    pub fn new(
        header: ListHeader,
        entries: impl IntoIterator<Item = (HashKind, RevocationHash)>,
    ) -> Self {
        RevocationList {
            header,
            entries: entries.into_iter().collect(),
        }
    }

    /// Verifies and reads a signed revocation list.
    ///
    /// # Errors
    /// [`CertsError::List`] or [`CertsError::Signature`].
    pub fn open(bytes: &[u8], anchor: &VerifyingKey) -> Result<Self, CertsError> {
        let (header, body) = signed_list::open(bytes, anchor, Self::KIND)?;
        let map = body
            .as_map()
            .ok_or_else(|| CertsError::List("body is not a map".into()))?;
        let mut entries = HashSet::new();
        for (key, hashes) in map {
            let kind = HashKind::ALL
                .into_iter()
                .find(|kind| key.as_text() == Some(kind.name()))
                .ok_or_else(|| CertsError::List("unknown hash kind".into()))?;
            let hashes = hashes
                .as_array()
                .ok_or_else(|| CertsError::List("hashes are not an array".into()))?;
            for hash in hashes {
                let bytes = hash
                    .as_bytes()
                    .ok_or_else(|| CertsError::List("hash is not bytes".into()))?;
                let hash: RevocationHash = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| CertsError::List("hash is not 16 bytes".into()))?;
                entries.insert((kind, hash));
                if entries.len() > MAX_ENTRIES {
                    return Err(CertsError::List(format!("more than {MAX_ENTRIES} entries")));
                }
            }
        }
        Ok(RevocationList { header, entries })
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
        let body = HashKind::ALL
            .into_iter()
            .map(|kind| {
                let mut hashes: Vec<&RevocationHash> = self
                    .entries
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, h)| h)
                    .collect();
                hashes.sort();
                let hashes = hashes
                    .into_iter()
                    .map(|h| Value::Bytes(h.to_vec()))
                    .collect();
                (Value::from(kind.name()), Value::Array(hashes))
            })
            .collect();
        signed_list::seal(Self::KIND, &self.header, Value::Map(body), key, kid, rng)
    }

    /// Version and publication time.
    pub fn header(&self) -> &ListHeader {
        &self.header
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Refuses a certificate one of whose hashes is listed.
    ///
    /// # Errors
    /// [`CertsError::Revoked`] naming the matching kind.
    pub fn check(&self, hashes: &RevocationHashes) -> Result<(), CertsError> {
        match HashKind::ALL
            .into_iter()
            .find(|kind| self.entries.contains(&(*kind, *hashes.get(*kind))))
        {
            Some(kind) => Err(CertsError::Revoked(kind.name())),
            None => Ok(()),
        }
    }
}
