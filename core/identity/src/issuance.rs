//! Issuing ApCV credentials and signing the status list: the issuer's side, which the
//! reference server runs (feature `issuer`; a phone never issues).

use std::collections::{BTreeMap, HashSet};

use carnet_codec::cose::{self, Sign1Form, Sign1Headers};
use carnet_codec::{cbor, zlib};
use ciborium::Value;
use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;

use crate::IdentityError;
use crate::apcv::{ApcvClaims, Credential, DOC_TYPE};
use crate::error::undecodable;
use crate::mdoc::{
    DeviceKey, Embedded, IssuerSignedItem, Mso, SALT_BYTES, StatusReference, Validity,
};
use crate::status::StatusList;
use crate::trust::signer_kid;

/// CBOR tag of a full date (RFC 8943), as ISO/IEC 18013-5 writes birth dates.
const TAG_FULL_DATE: u64 = 1004;

/// The issuer's signing material: the document signer's key and its certificate chain (leaf
/// first), which travels in the credential (`x5chain`); its key id ([`signer_kid`] of the
/// leaf) goes in the protected header, so that a reader finds the signer when the
/// certificate is left out of a QR code.
pub struct DocumentSigner<'a> {
    /// The document signer's P-256 key.
    pub key: &'a EcdsaKeyPair,
    /// Its certificate, then the chain up to (not including) the issuer root.
    pub x5chain: Vec<Vec<u8>>,
}

impl DocumentSigner<'_> {
    /// The COSE headers of what it signs: its key id (protected) and its chain (`x5chain`).
    pub(crate) fn headers(&self) -> Sign1Headers {
        Sign1Headers {
            kid: self
                .x5chain
                .first()
                .map(|c| signer_kid(c))
                .unwrap_or_default(),
            x5chain: self.x5chain.clone(),
        }
    }
}

/// What the issuer decides of one credential besides its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceTerms {
    /// Validity of the MSO.
    pub validity: Validity,
    /// Its place in the issuer's status list.
    pub status: Option<StatusReference>,
}

/// Issues a credential for `claims` bound to `device_key`: each element salted with 16 random
/// bytes under a random, unique digest id (so that the ids disclosed say nothing of the
/// others), the MSO listing their digests, signed by the document signer.
///
/// # Errors
/// [`IdentityError::Random`] or [`IdentityError::Signature`] when the random generator or the signature fails.
pub fn issue(
    claims: &ApcvClaims,
    device_key: &DeviceKey,
    terms: &IssuanceTerms,
    signer: &DocumentSigner<'_>,
    rng: &dyn SecureRandom,
) -> Result<Credential, IdentityError> {
    let random = |bytes: &mut [u8]| rng.fill(bytes).map_err(|_| IdentityError::Random);
    let mut used = HashSet::new();
    let mut items = Vec::new();
    let mut digests = BTreeMap::new();
    for (identifier, value) in elements(claims) {
        let digest_id = loop {
            let mut id = [0u8; 4];
            random(&mut id)?;
            // ISO/IEC 18013-5 digest ids are below 2^31.
            let id = u32::from_be_bytes(id) & 0x7fff_ffff;
            if used.insert(id) {
                break id;
            }
        };
        let mut salt = vec![0u8; SALT_BYTES];
        random(&mut salt)?;
        let item = Embedded::encode(
            IssuerSignedItem {
                digest_id,
                random: salt,
                element_identifier: identifier.to_owned(),
                element_value: value,
            }
            .to_value(),
        )?;
        digests.insert(digest_id, item.digest().to_vec());
        items.push(item);
    }
    let mso = Mso {
        doc_type: DOC_TYPE.to_owned(),
        value_digests: BTreeMap::from([(DOC_TYPE.to_owned(), digests)]),
        device_key: device_key.clone(),
        validity: terms.validity,
        status: terms.status.clone(),
    };
    let payload = cbor::to_vec(&Embedded::encode(mso.to_value()?)?.to_value())
        .map_err(undecodable("credential"))?;
    let headers = signer.headers();
    let issuer_auth = cose::sign1_es256(&payload, &headers, Sign1Form::default(), signer.key, rng)
        .map_err(|_| IdentityError::Signature("the credential could not be signed"))?;
    Ok(Credential { items, issuer_auth })
}

impl StatusList {
    /// The list signed by `signer` (tagged COSE_Sign1, `kid` and `x5chain` in its headers).
    ///
    /// # Errors
    /// [`IdentityError::Random`] or [`IdentityError::Signature`] when signing fails.
    pub fn sign(
        &self,
        signer: &DocumentSigner<'_>,
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, IdentityError> {
        let payload = Value::Map(vec![
            (Value::from("bits"), Value::from(1)),
            (Value::from("lst"), Value::Bytes(zlib::deflate(&self.bits))),
            (Value::from("iat"), Value::from(self.issued)),
            (Value::from("exp"), Value::from(self.expires)),
            (
                Value::from("signers"),
                Value::Array(self.signers.iter().cloned().map(Value::Bytes).collect()),
            ),
        ]);
        let payload = cbor::to_vec(&payload).map_err(undecodable("status list"))?;
        let form = Sign1Form {
            detached: false,
            tagged: true,
        };
        let signed = cose::sign1_es256(&payload, &signer.headers(), form, signer.key, rng)
            .map_err(|_| IdentityError::Signature("the status list could not be signed"))?;
        cbor::to_vec(&signed).map_err(undecodable("status list"))
    }
}

/// The data elements of `claims`, by identifier.
fn elements(claims: &ApcvClaims) -> Vec<(&'static str, Value)> {
    let date = |d: &str| Value::Tag(TAG_FULL_DATE, Box::new(Value::from(d)));
    let mut elements = vec![
        ("nir", Value::from(claims.nir.as_str())),
        ("ins_matricule", Value::from(claims.ins_matricule.as_str())),
        ("ins_oid", Value::from(claims.ins_oid.as_str())),
        ("family_name", Value::from(claims.family_name.as_str())),
        ("given_names", Value::from(claims.given_names.as_str())),
        ("birth_date", date(&claims.birth_date)),
        ("sex", Value::from(claims.sex.as_str())),
        ("birth_place", Value::from(claims.birth_place.as_str())),
        ("beneficiary_rank", Value::from(claims.beneficiary_rank)),
        ("regime", Value::from(claims.regime.as_str())),
        ("caisse", Value::from(claims.caisse.as_str())),
        ("centre", Value::from(claims.centre.as_str())),
        ("amo_valid_from", date(&claims.amo_valid_from)),
        ("amo_valid_until", date(&claims.amo_valid_until)),
    ];
    if let Some(amc) = &claims.amc {
        elements.push(("amc", Value::from(amc.as_str())));
    }
    elements
}
