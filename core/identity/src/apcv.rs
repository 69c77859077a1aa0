//! The ApCV credential (`docs/protocols/apcv.md`): one mdoc of doc type `fr.cnam.apcv.1` per
//! person on the card, bound to the holder's device key: issuance (the issuer's side, which
//! the reference server runs) and the credential as the holder keeps it; showing it is in
//! [`crate::presentation`].

use carnet_codec::cbor;
use carnet_codec::cose::{self, Sign1};
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::{Embedded, IssuerSignedItem, Mso, field};

/// Doc type and namespace of the ApCV credential.
pub const DOC_TYPE: &str = "fr.cnam.apcv.1";
/// What Carnet's counter QR shows (no request can ask for less): identity, scheme and
/// rights — what the pharmacy's software needs to bill the care.
pub const DEFAULT_DISCLOSURE: [&str; 8] = [
    "family_name",
    "given_names",
    "birth_date",
    "nir",
    "regime",
    "caisse",
    "amo_valid_from",
    "amo_valid_until",
];
/// Where the issuer publishes its status list (the MSO's `status.uri`, relative to it).
pub const STATUS_PATH: &str = "/v1/issuer/status";
/// Domain separation of the enrolment's proof of possession: the device signs this, then the
/// issuer's nonce.
pub const ENROLMENT_PROOF_CONTEXT: &[u8] = b"carnet-apcv-enrolment-v1";
/// Most items a credential may carry (the elements of DESIGN.md §2, with room to grow).
const MAX_ITEMS: usize = 32;

/// What the card says of one person (the holder or a beneficiary); JSON with these field
/// names where the issuer's registry and the CLI carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApcvClaims {
    /// NIR on the card (the holder's, for a child on a parent's card).
    pub nir: String,
    /// INS matricule of this person (a child's differs from the card's NIR).
    pub ins_matricule: String,
    /// OID of the INS matricule.
    pub ins_oid: String,
    /// Birth family name.
    pub family_name: String,
    /// Given names, as on the card (space-separated).
    pub given_names: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// `M`, `F` or `I`.
    pub sex: String,
    /// INSEE code of the birth place.
    pub birth_place: String,
    /// Rank of the person on the card (1: the holder).
    pub beneficiary_rank: u32,
    /// Insurance scheme (`01` régime général...).
    pub regime: String,
    /// Code of the caisse (health insurance fund) the person depends on.
    pub caisse: String,
    /// Code of the caisse's centre that manages the file.
    pub centre: String,
    /// AMO rights open from, `YYYY-MM-DD`.
    pub amo_valid_from: String,
    /// AMO rights open until, `YYYY-MM-DD`.
    pub amo_valid_until: String,
    /// Complementary insurance (AMC) identifier, if any.
    #[serde(default)]
    pub amc: Option<String>,
}

impl ApcvClaims {
    /// Checks what an issuer must not sign: a NIR or INS matricule whose key is wrong, dates
    /// that are not `YYYY-MM-DD`, rights that end before they start, an unknown sex, an empty
    /// name, a rank of 0, fields longer than 64 characters.
    ///
    /// # Errors
    /// [`IdentityError::Claims`] naming the field.
    pub fn check(&self) -> Result<(), IdentityError> {
        crate::Nir::parse(&self.nir)?;
        crate::Nir::parse(&self.ins_matricule)?;
        let date = |name: &str, text: &str| {
            time::Date::parse(
                text,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| IdentityError::Claims(format!("{name} is not a YYYY-MM-DD date")))
        };
        date("birth_date", &self.birth_date)?;
        if date("amo_valid_from", &self.amo_valid_from)?
            > date("amo_valid_until", &self.amo_valid_until)?
        {
            return Err(IdentityError::Claims(
                "the rights end before they start".into(),
            ));
        }
        if !["M", "F", "I"].contains(&self.sex.as_str()) {
            return Err(IdentityError::Claims("sex is M, F or I".into()));
        }
        if self.beneficiary_rank == 0 {
            return Err(IdentityError::Claims("ranks start at 1".into()));
        }
        let texts = [
            ("ins_oid", &self.ins_oid),
            ("family_name", &self.family_name),
            ("given_names", &self.given_names),
            ("birth_place", &self.birth_place),
            ("regime", &self.regime),
            ("caisse", &self.caisse),
            ("centre", &self.centre),
        ];
        for (name, text) in texts {
            if text.trim().is_empty() || text.chars().count() > 64 {
                return Err(IdentityError::Claims(format!(
                    "{name} is empty or too long"
                )));
            }
        }
        Ok(())
    }
}

/// A credential as the holder keeps it: every issuer-signed item and the issuer's signature
/// over the MSO (the ISO/IEC 18013-5 `IssuerSigned` structure).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub(crate) items: Vec<Embedded>,
    pub(crate) issuer_auth: Value,
}

impl Credential {
    /// The credential as CBOR (`IssuerSigned`: `{"nameSpaces": {doc type: [items]},
    /// "issuerAuth": COSE_Sign1}`), to keep in the record.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] (encoding cannot fail for a credential read or
    /// issued here).
    pub fn to_cbor(&self) -> Result<Vec<u8>, IdentityError> {
        cbor::to_vec(&self.issuer_signed(&self.items)).map_err(undecodable("credential"))
    }

    /// `IssuerSigned` with `items` only (a presentation discloses some).
    pub(crate) fn issuer_signed(&self, items: &[Embedded]) -> Value {
        Value::Map(vec![
            (
                Value::from("nameSpaces"),
                Value::Map(vec![(
                    Value::from(DOC_TYPE),
                    Value::Array(items.iter().map(Embedded::to_value).collect()),
                )]),
            ),
            (Value::from("issuerAuth"), self.issuer_auth.clone()),
        ])
    }

    /// Reads a credential kept as [`Credential::to_cbor`] wrote it (limits apply).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, IdentityError> {
        let value = cbor::from_slice(bytes).map_err(undecodable("credential"))?;
        let field = |name: &str| field(&value, name, "IssuerSigned");
        let namespaces = field("nameSpaces")?
            .as_map()
            .ok_or_else(|| structure("nameSpaces is not a map"))?;
        let [(namespace, items)] = namespaces.as_slice() else {
            return Err(structure("an ApCV credential has one namespace"));
        };
        if namespace.as_text() != Some(DOC_TYPE) {
            return Err(structure("not an ApCV namespace"));
        }
        let items = items
            .as_array()
            .ok_or_else(|| structure("items are not an array"))?;
        if items.len() > MAX_ITEMS {
            return Err(too_large("credential items", format!("{MAX_ITEMS} items")));
        }
        let items = items
            .iter()
            .map(Embedded::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        for item in &items {
            IssuerSignedItem::from_value(item.value())?;
        }
        Ok(Credential {
            items,
            issuer_auth: field("issuerAuth")?.clone(),
        })
    }

    /// The issuer's COSE_Sign1 over the MSO, parsed.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn issuer_auth(&self) -> Result<Sign1, IdentityError> {
        Sign1::from_value(self.issuer_auth.clone(), None).map_err(undecodable("credential"))
    }

    /// The MSO the issuer signed (its signature is not checked here: the reader does that
    /// against the issuer's root first).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn mso(&self) -> Result<Mso, IdentityError> {
        let payload =
            cbor::from_slice(self.issuer_auth()?.payload()).map_err(undecodable("credential"))?;
        Mso::from_value(Embedded::from_value(&payload)?.value())
    }

    /// The same credential without the document signer's certificate (`x5chain` is in the
    /// unprotected header, outside the signature): what a QR code carries, the reader finding
    /// the signer by the key id in the protected header.
    #[must_use]
    pub fn without_certificate(&self) -> Credential {
        let mut issuer_auth = self.issuer_auth.clone();
        if let Value::Array(parts) = &mut issuer_auth
            && let Some(Value::Map(unprotected)) = parts.get_mut(1)
        {
            unprotected.retain(|(label, _)| label.as_integer() != Some(cose::X5CHAIN.into()));
        }
        Credential {
            items: self.items.clone(),
            issuer_auth,
        }
    }

    /// The items as signed (their exact bytes).
    pub(crate) fn embedded_items(&self) -> &[Embedded] {
        &self.items
    }

    /// The items, decoded.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn items(&self) -> Result<Vec<IssuerSignedItem>, IdentityError> {
        self.items
            .iter()
            .map(|item| IssuerSignedItem::from_value(item.value()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use carnet_codec::cose::VerifyingKey;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;
    use crate::issuance::{DocumentSigner, IssuanceTerms, issue};
    use crate::mdoc::{DeviceKey, StatusReference, Validity};
    use crate::trust::signer_kid;

    fn p256() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    /// The card's holder of `fixtures/apcv/family.json`, without complementary insurance.
    fn claims() -> ApcvClaims {
        let family: Vec<ApcvClaims> =
            serde_json::from_str(include_str!("../../../fixtures/apcv/family.json")).unwrap();
        ApcvClaims {
            amc: None,
            ..family[0].clone()
        }
    }

    #[test]
    fn an_issued_credential_reads_back_with_its_digests_and_signature() {
        let issuer = p256();
        let device = p256();
        let device_key = DeviceKey::P256(device.public_key().as_ref().to_vec());
        let validity = Validity {
            signed: 1_795_946_400,
            valid_from: 1_795_946_400,
            valid_until: 1_827_482_400,
        };
        let terms = IssuanceTerms {
            validity,
            status: Some(StatusReference {
                index: 7,
                uri: "https://issuer.example/v1/issuer/status".into(),
            }),
        };
        let signer = DocumentSigner {
            key: &issuer,
            x5chain: vec![b"document signer certificate".to_vec()],
        };
        let credential = issue(
            &claims(),
            &device_key,
            &terms,
            &signer,
            &SystemRandom::new(),
        )
        .unwrap();
        let kept = Credential::from_cbor(&credential.to_cbor().unwrap()).unwrap();
        assert_eq!(kept, credential);

        let sign1 = kept.issuer_auth().unwrap();
        sign1
            .verify(&VerifyingKey::EcdsaP256(
                issuer.public_key().as_ref().to_vec(),
            ))
            .unwrap();
        assert_eq!(
            sign1.x5chain().unwrap(),
            [b"document signer certificate".as_slice()]
        );
        let mso = kept.mso().unwrap();
        assert_eq!(
            (mso.doc_type.as_str(), &mso.device_key, mso.validity),
            (DOC_TYPE, &device_key, validity)
        );
        assert_eq!(mso.status, terms.status);
        assert_eq!(
            sign1.kid(),
            Some(signer_kid(b"document signer certificate").as_slice())
        );
        let compact = kept.without_certificate();
        assert!(compact.issuer_auth().unwrap().x5chain().unwrap().is_empty());
        compact
            .issuer_auth()
            .unwrap()
            .verify(&VerifyingKey::EcdsaP256(
                issuer.public_key().as_ref().to_vec(),
            ))
            .unwrap();
        assert!(compact.to_cbor().unwrap().len() < kept.to_cbor().unwrap().len());
        let digests = &mso.value_digests[DOC_TYPE];
        let items = kept.items().unwrap();
        assert_eq!((items.len(), digests.len()), (14, 14));
        for (item, embedded) in items.iter().zip(&kept.items) {
            assert_eq!(digests[&item.digest_id], embedded.digest().to_vec());
            assert!(item.digest_id < 1 << 31);
        }
        let family = items
            .iter()
            .find(|i| i.element_identifier == "family_name")
            .unwrap();
        assert_eq!(family.element_value, Value::from("DUPONT"));

        // Two issuances of the same claims share no salt and no digest.
        let again = issue(
            &claims(),
            &device_key,
            &terms,
            &signer,
            &SystemRandom::new(),
        )
        .unwrap();
        let first: HashSet<Vec<u8>> = digests.values().cloned().collect();
        assert!(
            again.mso().unwrap().value_digests[DOC_TYPE]
                .values()
                .all(|d| !first.contains(d))
        );
    }

    #[test]
    fn hostile_credentials_are_typed_errors() {
        for bytes in [&b""[..], &[0xa0], &[0x80], &[0xa1, 0x60, 0x60]] {
            assert!(matches!(
                Credential::from_cbor(bytes),
                Err(e) if e.is_unreadable()
            ));
        }
        let too_many = Value::Map(vec![
            (
                Value::from("nameSpaces"),
                Value::Map(vec![(
                    Value::from(DOC_TYPE),
                    Value::Array(vec![Value::Null; MAX_ITEMS + 1]),
                )]),
            ),
            (Value::from("issuerAuth"), Value::Null),
        ]);
        assert!(Credential::from_cbor(&cbor::to_vec(&too_many).unwrap()).is_err());
    }
}
