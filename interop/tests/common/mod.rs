//! What the interop tests share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use isomdl::definitions::Document;
use isomdl::definitions::x509::X5Chain;

/// The document signer's chain a DeviceResponse document carries in its issuer signature's
/// unprotected header (`x5chain`, label 33), read by isomdl.
pub fn x5chain(document: &Document) -> X5Chain {
    document
        .issuer_signed
        .issuer_auth
        .unprotected
        .rest
        .iter()
        .find(|(label, _)| *label == coset03::Label::Int(33))
        .map(|(_, value)| X5Chain::from_cbor(value.clone()).unwrap())
        .expect("the document carries its x5chain")
}
