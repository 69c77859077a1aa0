//! The parts of the ISO/IEC 18013-5 mdoc data model the ApCV credential uses
//! (`docs/protocols/apcv.md`): issuer-signed items, embedded CBOR (tag 24) whose exact bytes are
//! hashed, and the mobile security object (MSO) that lists the items' digests.
//!
//! Values are built and read as `ciborium::Value`s so that what is hashed is exactly what was
//! received; every input goes through `carnet_codec::cbor` (depth limit, no trailing data) and
//! is size-checked first.

use std::collections::BTreeMap;

use carnet_codec::cbor;
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};

/// CBOR tag of encoded CBOR data items (RFC 8949 §3.4.5.1).
const TAG_ENCODED_CBOR: u64 = 24;
/// CBOR tag of a date-time string (RFC 3339).
const TAG_DATE_TIME: u64 = 0;
/// Largest embedded item accepted, in bytes (a portrait is the largest element).
pub const MAX_EMBEDDED_BYTES: usize = 64 * 1024;
/// Bytes of randomness salting each item (ISO/IEC 18013-5 asks for at least 16).
pub const SALT_BYTES: usize = 16;

/// CBOR embedded as a byte string under tag 24, with its bytes kept: digests and signatures
/// are computed over exactly those bytes, never over a re-encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    bytes: Vec<u8>,
    value: Value,
}

impl Embedded {
    /// Encodes `value` for embedding.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] when it cannot be encoded or is too large.
    pub fn encode(value: Value) -> Result<Self, IdentityError> {
        let bytes = cbor::to_vec(&value).map_err(undecodable("mdoc item"))?;
        if bytes.len() > MAX_EMBEDDED_BYTES {
            return Err(too_large(
                "embedded item",
                format!("{MAX_EMBEDDED_BYTES} bytes"),
            ));
        }
        Ok(Embedded { bytes, value })
    }

    /// Reads `#6.24(bstr)` and decodes the embedded item (limits apply).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`].
    pub fn from_value(value: &Value) -> Result<Self, IdentityError> {
        let Value::Tag(TAG_ENCODED_CBOR, inner) = value else {
            return Err(structure("expected embedded CBOR (tag 24)"));
        };
        let Value::Bytes(bytes) = inner.as_ref() else {
            return Err(structure("tag 24 around something else than bytes"));
        };
        if bytes.len() > MAX_EMBEDDED_BYTES {
            return Err(too_large(
                "embedded item",
                format!("{MAX_EMBEDDED_BYTES} bytes"),
            ));
        }
        let value = cbor::from_slice(bytes).map_err(undecodable("mdoc item"))?;
        Ok(Embedded {
            bytes: bytes.clone(),
            value,
        })
    }

    /// The decoded item.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The embedded item's own bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `#6.24(bstr)` as a value, to place in a larger structure.
    pub fn to_value(&self) -> Value {
        Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(self.bytes.clone())))
    }

    /// SHA-256 of the tagged encoding `#6.24(bstr)`: what an MSO lists for an item.
    pub fn digest(&self) -> [u8; 32] {
        // The header of the tag (0xd8 0x18) and of the byte string, then the bytes: written
        // out rather than re-encoding a copy of the whole item.
        let mut header = vec![0xd8, 0x18];
        cbor::push_bytes_header(&mut header, self.bytes.len());
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(&header);
        context.update(&self.bytes);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(context.finish().as_ref());
        digest
    }
}

/// One data element as the issuer signs it: `{"digestID", "random", "elementIdentifier",
/// "elementValue"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItem {
    /// Its digest's id in the MSO.
    pub digest_id: u32,
    /// The salt, so that a digest says nothing of a value not disclosed.
    pub random: Vec<u8>,
    /// The element's name (`family_name`, ...).
    pub element_identifier: String,
    /// The element's value.
    pub element_value: Value,
}

impl IssuerSignedItem {
    /// The item as a CBOR map, in the order of ISO/IEC 18013-5.
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (Value::from("digestID"), Value::from(self.digest_id)),
            (Value::from("random"), Value::Bytes(self.random.clone())),
            (
                Value::from("elementIdentifier"),
                Value::from(self.element_identifier.as_str()),
            ),
            (Value::from("elementValue"), self.element_value.clone()),
        ])
    }

    /// Reads an item.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a missing, repeated or mistyped field, or a
    /// salt shorter than [`SALT_BYTES`].
    pub fn from_value(value: &Value) -> Result<Self, IdentityError> {
        let fields = Fields::of(value, "issuer-signed item")?;
        let digest_id = fields.unsigned("digestID")?;
        let random = fields.bytes("random")?.to_vec();
        if random.len() < SALT_BYTES {
            return Err(structure("an item's salt is shorter than 16 bytes"));
        }
        Ok(IssuerSignedItem {
            digest_id,
            random,
            element_identifier: fields.text("elementIdentifier")?.to_owned(),
            element_value: fields.get("elementValue")?.clone(),
        })
    }
}

/// The holder's device key, as the MSO binds it (a COSE_Key): P-256 when a platform keystore
/// holds it (Android Keystore, Secure Enclave), Ed25519 for a software key kept in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKey {
    /// ECDSA P-256: the uncompressed SEC1 point (65 bytes).
    P256(Vec<u8>),
    /// Ed25519: the 32-byte public key.
    Ed25519([u8; 32]),
}

/// COSE_Key labels and values (RFC 9053).
const KEY_TYPE: i64 = 1;
const CURVE: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const KEY_TYPE_OKP: i64 = 1;
const KEY_TYPE_EC2: i64 = 2;
const CURVE_P256: i64 = 1;
const CURVE_ED25519: i64 = 6;

impl DeviceKey {
    /// The key as a COSE_Key map.
    pub fn to_cose_key(&self) -> Value {
        match self {
            DeviceKey::P256(point) => {
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(point.len().saturating_sub(1) / 2);
                Value::Map(vec![
                    (Value::from(KEY_TYPE), Value::from(KEY_TYPE_EC2)),
                    (Value::from(CURVE), Value::from(CURVE_P256)),
                    (Value::from(X), Value::Bytes(x.to_vec())),
                    (Value::from(Y), Value::Bytes(y.to_vec())),
                ])
            }
            DeviceKey::Ed25519(public) => Value::Map(vec![
                (Value::from(KEY_TYPE), Value::from(KEY_TYPE_OKP)),
                (Value::from(CURVE), Value::from(CURVE_ED25519)),
                (Value::from(X), Value::Bytes(public.to_vec())),
            ]),
        }
    }

    /// Reads a COSE_Key: EC2 on P-256 with both coordinates, or OKP Ed25519.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for another key type or curve, or coordinates of
    /// the wrong size.
    pub fn from_cose_key(value: &Value) -> Result<Self, IdentityError> {
        let entries = map(value, "device key")?;
        let get = |label: i64| int_entry(entries, label);
        let integer = |label: i64| get(label).and_then(Value::as_integer).map(i128::from);
        let bytes = |label: i64, len: usize| {
            get(label)
                .and_then(Value::as_bytes)
                .filter(|b| b.len() == len)
                .ok_or_else(|| structure("device key coordinates of the wrong size"))
        };
        match (integer(KEY_TYPE), integer(CURVE)) {
            (Some(kty), Some(crv))
                if kty == i128::from(KEY_TYPE_EC2) && crv == i128::from(CURVE_P256) =>
            {
                let mut point = vec![0x04];
                point.extend_from_slice(bytes(X, 32)?);
                point.extend_from_slice(bytes(Y, 32)?);
                Ok(DeviceKey::P256(point))
            }
            (Some(kty), Some(crv))
                if kty == i128::from(KEY_TYPE_OKP) && crv == i128::from(CURVE_ED25519) =>
            {
                let mut public = [0u8; 32];
                public.copy_from_slice(bytes(X, 32)?);
                Ok(DeviceKey::Ed25519(public))
            }
            _ => Err(structure("device keys are P-256 or Ed25519")),
        }
    }

    /// The COSE algorithm a signature by this key uses.
    #[must_use]
    pub fn algorithm(&self) -> coset::iana::Algorithm {
        match self {
            DeviceKey::P256(_) => coset::iana::Algorithm::ES256,
            DeviceKey::Ed25519(_) => coset::iana::Algorithm::EdDSA,
        }
    }

    /// Verifies a signature by this key over `message` (P-256: r‖s, 64 bytes).
    ///
    /// # Errors
    /// [`IdentityError::Signature`] when the signature does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), IdentityError> {
        let (algorithm, public): (&dyn ring::signature::VerificationAlgorithm, &[u8]) = match self {
            DeviceKey::P256(point) => (&ring::signature::ECDSA_P256_SHA256_FIXED, point),
            DeviceKey::Ed25519(public) => (&ring::signature::ED25519, public),
        };
        ring::signature::UnparsedPublicKey::new(algorithm, public)
            .verify(message, signature)
            .map_err(|_| IdentityError::Signature("the device signature does not verify"))
    }
}

/// When an MSO is valid, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// When it was signed.
    pub signed: i64,
    /// Not valid before.
    pub valid_from: i64,
    /// Not valid after.
    pub valid_until: i64,
}

/// The mobile security object: what the issuer signs.
#[derive(Debug, Clone, PartialEq)]
pub struct Mso {
    /// Document type (`fr.cnam.apcv.1`).
    pub doc_type: String,
    /// Digest of each item, by namespace then digest id.
    pub value_digests: BTreeMap<String, BTreeMap<u32, Vec<u8>>>,
    /// The holder's device key.
    pub device_key: DeviceKey,
    /// When the MSO was signed and the span it is valid for.
    pub validity: Validity,
    /// Where the issuer publishes this credential's revocation status.
    pub status: Option<StatusReference>,
}

/// A credential's place in its issuer's status list (`"status": {"status_list": {"idx",
/// "uri"}}`, the form of the IETF token status list for mdocs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReference {
    /// Index of the credential's bit.
    pub index: u32,
    /// Where the list is published.
    pub uri: String,
}

/// Longest status list URI accepted.
const MAX_URI_CHARS: usize = 512;

impl Mso {
    /// The MSO as CBOR (`version` 1.0, digests SHA-256, dates as tagged RFC 3339 text).
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a date out of range.
    pub fn to_value(&self) -> Result<Value, IdentityError> {
        let digests = self
            .value_digests
            .iter()
            .map(|(namespace, ids)| {
                let ids = ids
                    .iter()
                    .map(|(id, digest)| (Value::from(*id), Value::Bytes(digest.clone())))
                    .collect();
                (Value::from(namespace.as_str()), Value::Map(ids))
            })
            .collect();
        let mut fields = vec![
            (Value::from("version"), Value::from("1.0")),
            (Value::from("digestAlgorithm"), Value::from("SHA-256")),
            (Value::from("valueDigests"), Value::Map(digests)),
            (
                Value::from("deviceKeyInfo"),
                Value::Map(vec![(
                    Value::from("deviceKey"),
                    self.device_key.to_cose_key(),
                )]),
            ),
            (Value::from("docType"), Value::from(self.doc_type.as_str())),
            (
                Value::from("validityInfo"),
                Value::Map(vec![
                    (Value::from("signed"), date_time(self.validity.signed)?),
                    (
                        Value::from("validFrom"),
                        date_time(self.validity.valid_from)?,
                    ),
                    (
                        Value::from("validUntil"),
                        date_time(self.validity.valid_until)?,
                    ),
                ]),
            ),
        ];
        if let Some(status) = &self.status {
            fields.push((
                Value::from("status"),
                Value::Map(vec![(
                    Value::from("status_list"),
                    Value::Map(vec![
                        (Value::from("idx"), Value::from(status.index)),
                        (Value::from("uri"), Value::from(status.uri.as_str())),
                    ]),
                )]),
            ));
        }
        Ok(Value::Map(fields))
    }

    /// Reads an MSO.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]: wrong version or digest algorithm, a missing
    /// field, a digest that is not 32 bytes, a bad date.
    pub fn from_value(value: &Value) -> Result<Self, IdentityError> {
        let fields = Fields::of(value, "MSO")?;
        if fields.text("version")? != "1.0" {
            return Err(structure("MSO version is not 1.0"));
        }
        if fields.text("digestAlgorithm")? != "SHA-256" {
            return Err(structure("MSO digests are not SHA-256"));
        }
        let mut value_digests = BTreeMap::new();
        for (namespace, ids) in map(fields.get("valueDigests")?, "valueDigests")? {
            let namespace = namespace
                .as_text()
                .ok_or_else(|| structure("a namespace is not text"))?;
            let mut digests = BTreeMap::new();
            for (id, digest) in map(ids, "digest ids")? {
                let id = unsigned(id, "digest id")?;
                let digest = digest
                    .as_bytes()
                    .filter(|d| d.len() == 32)
                    .ok_or_else(|| structure("a digest is not 32 bytes"))?;
                if digests.insert(id, digest.clone()).is_some() {
                    return Err(structure("a digest id appears twice"));
                }
            }
            value_digests.insert(namespace.to_owned(), digests);
        }
        let device_key = DeviceKey::from_cose_key(
            Fields::of(fields.get("deviceKeyInfo")?, "deviceKeyInfo")?.get("deviceKey")?,
        )?;
        let validity = Fields::of(fields.get("validityInfo")?, "validityInfo")?;
        let status = match entry(fields.entries, "status") {
            None => None,
            Some(status) => {
                let list = Fields::of(status, "status")?.get("status_list")?;
                let list = Fields::of(list, "status_list")?;
                let uri = list.text("uri")?;
                if uri.chars().count() > MAX_URI_CHARS {
                    return Err(too_large(
                        "status list URI",
                        format!("{MAX_URI_CHARS} characters"),
                    ));
                }
                Some(StatusReference {
                    index: list.unsigned("idx")?,
                    uri: uri.to_owned(),
                })
            }
        };
        Ok(Mso {
            doc_type: fields.text("docType")?.to_owned(),
            value_digests,
            device_key,
            validity: Validity {
                signed: read_date_time(validity.get("signed")?)?,
                valid_from: read_date_time(validity.get("validFrom")?)?,
                valid_until: read_date_time(validity.get("validUntil")?)?,
            },
            status,
        })
    }
}

/// `#6.0(tstr)`: a date-time in RFC 3339, UTC, to the second.
fn date_time(unix_seconds: i64) -> Result<Value, IdentityError> {
    let time = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map_err(|_| structure("date out of range"))?;
    let text = time
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| structure("date out of range"))?;
    Ok(Value::Tag(TAG_DATE_TIME, Box::new(Value::Text(text))))
}

fn read_date_time(value: &Value) -> Result<i64, IdentityError> {
    let Value::Tag(TAG_DATE_TIME, inner) = value else {
        return Err(structure("a date is not a tagged date-time"));
    };
    let text = inner
        .as_text()
        .ok_or_else(|| structure("a date-time is not text"))?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|_| structure("a date-time is not RFC 3339"))
}

fn map<'a>(value: &'a Value, what: &str) -> Result<&'a [(Value, Value)], IdentityError> {
    value
        .as_map()
        .map(Vec::as_slice)
        .ok_or_else(|| structure(format!("{what} is not a map")))
}

fn unsigned(value: &Value, what: &str) -> Result<u32, IdentityError> {
    value
        .as_integer()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| structure(format!("{what} is not a small unsigned integer")))
}

/// The value under text key `name` in a CBOR map's entries.
pub(crate) fn entry<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(key, _)| key.as_text() == Some(name))
        .map(|(_, value)| value)
}

/// The value under integer key `key` in a CBOR map's entries (COSE_Key labels, the device
/// engagement's keys).
pub(crate) fn int_entry(entries: &[(Value, Value)], key: i64) -> Option<&Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_integer() == Some(key.into()))
        .map(|(_, value)| value)
}

/// The value under text key `name` of `value` if it is a map holding one: an optional field.
pub(crate) fn optional_field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_map().and_then(|entries| entry(entries, name))
}

/// The value under text key `name` of `value` (a CBOR map); `what` names the structure in the
/// error. Unlike [`Fields`], repeated keys are not checked: for structures whose every field
/// is read and checked after (texts, DeviceResponses).
pub(crate) fn field<'a>(
    value: &'a Value,
    name: &str,
    what: &str,
) -> Result<&'a Value, IdentityError> {
    value
        .as_map()
        .and_then(|entries| entry(entries, name))
        .ok_or_else(|| structure(format!("{what}: no {name}")))
}

/// The fields of a CBOR map with text keys, each present once.
struct Fields<'a> {
    entries: &'a [(Value, Value)],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, what: &'static str) -> Result<Self, IdentityError> {
        let entries = map(value, what)?;
        let mut names = std::collections::HashSet::new();
        for (key, _) in entries {
            let name = key
                .as_text()
                .ok_or_else(|| structure(format!("{what}: a key is not text")))?;
            if !names.insert(name) {
                return Err(structure(format!("{what}: {name} appears twice")));
            }
        }
        Ok(Fields { entries, what })
    }

    fn get(&self, name: &str) -> Result<&'a Value, IdentityError> {
        entry(self.entries, name).ok_or_else(|| structure(format!("{}: no {name}", self.what)))
    }

    fn text(&self, name: &str) -> Result<&'a str, IdentityError> {
        self.get(name)?
            .as_text()
            .ok_or_else(|| structure(format!("{}: {name} is not text", self.what)))
    }

    fn bytes(&self, name: &str) -> Result<&'a [u8], IdentityError> {
        self.get(name)?
            .as_bytes()
            .map(Vec::as_slice)
            .ok_or_else(|| structure(format!("{}: {name} is not bytes", self.what)))
    }

    fn unsigned(&self, name: &str) -> Result<u32, IdentityError> {
        unsigned(self.get(name)?, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u32, name: &str, value: Value) -> IssuerSignedItem {
        IssuerSignedItem {
            digest_id: id,
            random: vec![7; SALT_BYTES],
            element_identifier: name.into(),
            element_value: value,
        }
    }

    #[test]
    fn an_item_round_trips_and_its_digest_covers_the_tagged_bytes() {
        let original = item(42, "family_name", Value::from("MARTIN"));
        let embedded = Embedded::encode(original.to_value()).unwrap();
        let tagged = cbor::to_vec(&embedded.to_value()).unwrap();
        let expected = ring::digest::digest(&ring::digest::SHA256, &tagged);
        assert_eq!(embedded.digest().as_slice(), expected.as_ref());
        let back = Embedded::from_value(&cbor::from_slice(&tagged).unwrap()).unwrap();
        assert_eq!(
            IssuerSignedItem::from_value(back.value()).unwrap(),
            original
        );
        assert_eq!(back.digest(), embedded.digest());
    }

    #[test]
    fn digests_match_a_reencoding_at_every_length_header() {
        for len in [0, 23, 24, 255, 256, 65_535 - 40] {
            let embedded = Embedded::encode(Value::Bytes(vec![1; len])).unwrap();
            let tagged = cbor::to_vec(&embedded.to_value()).unwrap();
            let expected = ring::digest::digest(&ring::digest::SHA256, &tagged);
            assert_eq!(embedded.digest().as_slice(), expected.as_ref(), "{len}");
        }
    }

    #[test]
    fn an_mso_round_trips() {
        let mso = Mso {
            doc_type: "fr.cnam.apcv.1".into(),
            value_digests: BTreeMap::from([(
                "fr.cnam.apcv.1".to_owned(),
                BTreeMap::from([(3, vec![1; 32]), (9, vec![2; 32])]),
            )]),
            device_key: DeviceKey::Ed25519([5; 32]),
            validity: Validity {
                signed: 1_795_946_400,
                valid_from: 1_795_946_400,
                valid_until: 1_827_482_400,
            },
            status: None,
        };
        let value = mso.to_value().unwrap();
        assert_eq!(Mso::from_value(&value).unwrap(), mso);
        let with_status = Mso {
            status: Some(StatusReference {
                index: 12,
                uri: "https://issuer.example/status".into(),
            }),
            ..mso
        };
        assert_eq!(
            Mso::from_value(&with_status.to_value().unwrap()).unwrap(),
            with_status
        );
    }

    #[test]
    fn device_keys_round_trip_as_cose_keys_and_verify_their_signatures() {
        use ring::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
        };
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let p256 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let key = DeviceKey::P256(p256.public_key().as_ref().to_vec());
        assert_eq!(DeviceKey::from_cose_key(&key.to_cose_key()).unwrap(), key);
        let signature = p256.sign(&rng, b"transcript").unwrap();
        key.verify(b"transcript", signature.as_ref()).unwrap();
        assert!(key.verify(b"another", signature.as_ref()).is_err());

        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed25519 = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let mut public = [0u8; 32];
        public.copy_from_slice(ed25519.public_key().as_ref());
        let key = DeviceKey::Ed25519(public);
        assert_eq!(DeviceKey::from_cose_key(&key.to_cose_key()).unwrap(), key);
        key.verify(b"transcript", ed25519.sign(b"transcript").as_ref())
            .unwrap();

        let wrong_curve = Value::Map(vec![
            (Value::from(KEY_TYPE), Value::from(KEY_TYPE_EC2)),
            (Value::from(CURVE), Value::from(2)),
            (Value::from(X), Value::Bytes(vec![0; 48])),
            (Value::from(Y), Value::Bytes(vec![0; 48])),
        ]);
        assert!(DeviceKey::from_cose_key(&wrong_curve).is_err());
        let short = Value::Map(vec![
            (Value::from(KEY_TYPE), Value::from(KEY_TYPE_OKP)),
            (Value::from(CURVE), Value::from(CURVE_ED25519)),
            (Value::from(X), Value::Bytes(vec![0; 31])),
        ]);
        assert!(DeviceKey::from_cose_key(&short).is_err());
    }

    #[test]
    fn malformed_items_and_msos_are_typed_errors() {
        let short_salt = IssuerSignedItem {
            random: vec![1; 8],
            ..item(1, "sex", Value::from("F"))
        };
        assert!(IssuerSignedItem::from_value(&short_salt.to_value()).is_err());
        let twice = Value::Map(vec![
            (Value::from("digestID"), Value::from(1)),
            (Value::from("digestID"), Value::from(2)),
        ]);
        assert!(matches!(
            IssuerSignedItem::from_value(&twice),
            Err(IdentityError::Structure(m)) if m.contains("twice")
        ));
        assert!(Embedded::from_value(&Value::from("not tagged")).is_err());
        let too_large = Value::Tag(
            TAG_ENCODED_CBOR,
            Box::new(Value::Bytes(vec![0; MAX_EMBEDDED_BYTES + 1])),
        );
        assert!(Embedded::from_value(&too_large).is_err());
        let trailing = Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(vec![0x01, 0x02])));
        assert!(Embedded::from_value(&trailing).is_err());
        let mut deep = Value::from(0);
        for _ in 0..100 {
            deep = Value::Array(vec![deep]);
        }
        let deep = Value::Tag(
            TAG_ENCODED_CBOR,
            Box::new(Value::Bytes(cbor::to_vec(&deep).unwrap())),
        );
        assert!(Embedded::from_value(&deep).is_err());
        assert!(Mso::from_value(&Value::Map(vec![])).is_err());
    }
}
