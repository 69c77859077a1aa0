//! The issuer's revocation status list (`docs/protocols/apcv.md`, check 8): one bit per
//! credential (1: revoked), compressed, with its time of issue and of expiry, and the document
//! signers in service, signed by a document signer as a COSE_Sign1 — the shape of the IETF
//! token status list, in CBOR. A reader downloads it while online and checks credentials
//! against it offline until it expires.

use carnet_codec::cose::Sign1;
use carnet_codec::{cbor, zlib};

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::field;
use crate::refusal::Refusal;
use crate::trust::IssuerTrust;

/// Largest signed status list read.
pub const MAX_STATUS_LIST_BYTES: usize = 1024 * 1024;
/// Largest bit list once inflated: 8 Mi credentials.
const MAX_BITS_BYTES: usize = 1024 * 1024;
/// Most document signers a list may name.
const MAX_LISTED_SIGNERS: usize = 16;

/// Revocation bits of every credential an issuer issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    pub(crate) bits: Vec<u8>,
    /// When it was issued, Unix seconds.
    pub issued: i64,
    /// After this (Unix seconds) a reader cannot rely on it.
    pub expires: i64,
    /// The document signers in service (DER), so that readers know them by key id.
    pub signers: Vec<Vec<u8>>,
}

impl StatusList {
    /// A list of `capacity` credentials, none revoked.
    #[must_use]
    pub fn new(capacity: u32, issued: i64, expires: i64, signers: Vec<Vec<u8>>) -> Self {
        StatusList {
            bits: vec![0; capacity.div_ceil(8) as usize],
            issued,
            expires,
            signers,
        }
    }

    /// How many credentials the list covers.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.bits.len() as u64 * 8
    }

    /// Marks credential `index` revoked, growing the list if needed.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for an index beyond the list's largest size.
    pub fn revoke(&mut self, index: u32) -> Result<(), IdentityError> {
        let byte = (index / 8) as usize;
        if byte >= MAX_BITS_BYTES {
            return Err(structure("status index beyond the list's size"));
        }
        if self.bits.len() <= byte {
            self.bits.resize(byte + 1, 0);
        }
        if let Some(bits) = self.bits.get_mut(byte) {
            *bits |= 1 << (index % 8);
        }
        Ok(())
    }

    /// Whether credential `index` is revoked; `None` when the list does not cover it.
    #[must_use]
    pub fn is_revoked(&self, index: u32) -> Option<bool> {
        self.bits
            .get((index / 8) as usize)
            .map(|bits| bits & (1 << (index % 8)) != 0)
    }

    /// Reads a signed list: its signer must be a document signer under one of `trust`'s roots
    /// at `now`, and the signature must verify; the signers it names are then learned by
    /// `trust`. An expired list is returned (the reader refuses to rely on it when checking).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a list that does not parse (limits apply).
    pub fn verify(
        bytes: &[u8],
        trust: &mut IssuerTrust,
        now: i64,
    ) -> Result<Result<StatusList, Refusal>, IdentityError> {
        if bytes.len() > MAX_STATUS_LIST_BYTES {
            return Err(too_large(
                "status list",
                format!("{MAX_STATUS_LIST_BYTES} bytes"),
            ));
        }
        let sign1 = Sign1::from_slice(bytes).map_err(undecodable("status list"))?;
        let chain = sign1.x5chain().map_err(undecodable("status list"))?;
        let Some(certificate) = chain.first() else {
            return Ok(Err(Refusal::UnknownIssuer));
        };
        let Some(signer) = trust.validate(certificate, now)? else {
            return Ok(Err(Refusal::UnknownIssuer));
        };
        if sign1.verify(&signer.verifying_key()).is_err() {
            return Ok(Err(Refusal::IssuerSignature));
        }
        let value = cbor::from_slice(sign1.payload()).map_err(undecodable("status list"))?;
        let field = |name: &str| field(&value, name, "status list");
        let integer = |name: &str| {
            field(name)?
                .as_integer()
                .and_then(|i| i64::try_from(i).ok())
                .ok_or_else(|| structure(format!("status list: {name} is not an integer")))
        };
        if integer("bits")? != 1 {
            return Err(structure("status list: one bit per credential expected"));
        }
        let compressed = field("lst")?
            .as_bytes()
            .ok_or_else(|| structure("status list: lst is not bytes"))?;
        let bits = zlib::inflate(compressed, MAX_BITS_BYTES).map_err(undecodable("status list"))?;
        let signers = field("signers")?
            .as_array()
            .filter(|signers| signers.len() <= MAX_LISTED_SIGNERS)
            .ok_or_else(|| structure("status list: signers is not a short array"))?
            .iter()
            .map(|signer| {
                signer
                    .as_bytes()
                    .cloned()
                    .ok_or_else(|| structure("status list: a signer is not bytes"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for signer in &signers {
            trust.learn(signer, now)?;
        }
        Ok(Ok(StatusList {
            bits,
            issued: integer("iat")?,
            expires: integer("exp")?,
            signers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_set_read_and_grow() {
        let mut list = StatusList::new(10, 0, 1, Vec::new());
        assert_eq!(list.capacity(), 16);
        assert_eq!(list.is_revoked(9), Some(false));
        list.revoke(9).unwrap();
        assert_eq!(list.is_revoked(9), Some(true));
        assert_eq!(list.is_revoked(8), Some(false));
        assert_eq!(list.is_revoked(16), None);
        list.revoke(100).unwrap();
        assert_eq!(
            (list.is_revoked(100), list.is_revoked(99)),
            (Some(true), Some(false))
        );
        assert!(list.revoke(u32::MAX).is_err());
    }
}
