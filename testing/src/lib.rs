//! What Carnet's tests share, so that each is written once: the family on the test card
//! ([`family`], from `fixtures/apcv/family.json`), device keys of both kinds the ApCV takes
//! ([`signers`]), and the reference server started on 127.0.0.1 with a device enrolled on it
//! ([`server`], feature `server`, on by default), and the ISO/IEC 18013-5
//! Annex D vectors ([`annex_d`]).
//!
//! A dev-dependency only: no crate that ships depends on it. Integration tests (`tests/`)
//! use it; a crate's unit tests cannot, since they are built apart from the crate this one
//! links.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod annex_d;
#[cfg(feature = "server")]
pub mod server;
pub mod signers;

use carnet_identity::apcv::ApcvClaims;

/// The people on the family's card (`fixtures/apcv/family.json`): Marie, the holder, then
/// Léa, her grandchild on her card.
pub fn family() -> Vec<ApcvClaims> {
    serde_json::from_str(include_str!("../../fixtures/apcv/family.json"))
        .expect("fixtures/apcv/family.json holds the family's claims")
}

/// The card's holder.
pub fn marie() -> ApcvClaims {
    family().remove(0)
}

/// Her grandchild on her card: the card's NIR, her own INS.
pub fn lea() -> ApcvClaims {
    family().remove(1)
}
