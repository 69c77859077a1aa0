//! What the ApCV tests share beyond `carnet-testing` (the family, device keys of both kinds):
//! an issuer (root and document signer made with rcgen) and a reader that trusts it.
#![allow(dead_code, clippy::unwrap_used)]

use carnet_identity::apcv::{ApcvClaims, Credential};
use carnet_identity::authority::{CertificateValidity, IssuerAuthority};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{StatusReference, Validity};
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::reader::Reader;
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use ring::rand::SystemRandom;

/// The tests' clock, Unix seconds (2027-01-15).
pub const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

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
