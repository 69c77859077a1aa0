//! What the ApCV tests share: an issuer (root and document signer made with rcgen), device
//! keys of both kinds, a family's claims, and a reader that trusts the issuer.
#![allow(dead_code, clippy::unwrap_used)]

use carnet_identity::IdentityError;
use carnet_identity::apcv::{ApcvClaims, Credential};
use carnet_identity::authority::{CertificateValidity, IssuerAuthority};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{DeviceKey, StatusReference, Validity};
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::reader::Reader;
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

/// The tests' clock, Unix seconds (2027-01-15).
pub const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

/// A P-256 device key, as a platform keystore holds it.
pub struct KeystoreKey(EcdsaKeyPair);

impl DeviceSigner for KeystoreKey {
    fn device_key(&self) -> DeviceKey {
        DeviceKey::P256(self.0.public_key().as_ref().to_vec())
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec())
    }
}

/// A fresh keystore key.
pub fn keystore_key() -> KeystoreKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    KeystoreKey(
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap(),
    )
}

/// An Ed25519 software key.
pub struct SoftwareKey(Ed25519KeyPair);

impl DeviceSigner for SoftwareKey {
    fn device_key(&self) -> DeviceKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.0.public_key().as_ref());
        DeviceKey::Ed25519(public)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

/// A fresh software key.
pub fn software_key() -> SoftwareKey {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    SoftwareKey(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
}

/// The people on the family's card (`fixtures/apcv/family.json`).
fn family() -> Vec<ApcvClaims> {
    let text = include_str!("../../../../fixtures/apcv/family.json");
    serde_json::from_str(text).unwrap()
}

/// The card's holder.
pub fn marie() -> ApcvClaims {
    family().remove(0)
}

/// Her grandchild on her card: the card's NIR, her own INS.
pub fn lea() -> ApcvClaims {
    family().remove(1)
}

/// An issuer whose certificates are valid a year either side of [`NOW`].
pub fn authority() -> IssuerAuthority {
    IssuerAuthority::create(
        "Carnet test issuer",
        CertificateValidity {
            not_before: NOW - 365 * DAY,
            not_after: NOW + 365 * DAY,
        },
    )
    .unwrap()
}

/// A credential for `claims` on `device`, valid from a day before [`NOW`] for a year, at
/// `index` in the issuer's status list.
pub fn credential(
    authority: &IssuerAuthority,
    claims: &ApcvClaims,
    device: &dyn DeviceSigner,
    index: u32,
) -> Credential {
    let terms = IssuanceTerms {
        validity: Validity {
            signed: NOW - DAY,
            valid_from: NOW - DAY,
            valid_until: NOW + 365 * DAY,
        },
        status: Some(StatusReference {
            index,
            uri: "http://127.0.0.1/v1/issuer/status".into(),
        }),
    };
    issue(
        claims,
        &device.device_key(),
        &terms,
        &authority.document_signer(),
        &SystemRandom::new(),
    )
    .unwrap()
}

/// The issuer's signed status list with `revoked` set, current for a day from [`NOW`].
pub fn status_list(authority: &IssuerAuthority, revoked: &[u32]) -> Vec<u8> {
    let signer = authority.document_signer();
    let mut list = StatusList::new(64, NOW, NOW + DAY, signer.x5chain.clone());
    for index in revoked {
        list.revoke(*index).unwrap();
    }
    list.sign(&signer, &SystemRandom::new()).unwrap()
}

/// A reader trusting `authority`'s root, with its current status list.
pub fn reader(authority: &IssuerAuthority, revoked: &[u32]) -> Reader {
    let trust = IssuerTrust::new(&[authority.root_certificate().to_vec()]).unwrap();
    let mut reader = Reader::new(trust);
    reader
        .update_status(&status_list(authority, revoked), NOW)
        .unwrap()
        .unwrap();
    reader
}
