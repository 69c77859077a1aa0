//! Codecs for data that comes from outside: QR text, compressed and signed CBOR.
//!
//! Every decoder here has a size limit and, where structures nest, a depth limit, and returns
//! a typed [`CodecError`] on any input: nothing panics, nothing allocates without bound.
//!
//! * [`bounded`]: reading files and streams with a ceiling that holds for any input;
//! * [`base45`]: the QR-friendly alphabet of the EU DCC (RFC 9285);
//! * [`zlib`]: inflate with a hard ceiling on the output (a 4 KiB QR can carry a 2.9 MB bomb);
//! * [`cbor`]: CBOR to a value with nesting and trailing-data checks;
//! * [`cose`]: COSE_Sign1 (tagged 18, untagged, or inside CWT tag 61): parse, verify (ES256,
//!   PS256; the algorithm follows the key), sign (ES256);
//! * [`qr`]: QR decoding from a luma plane (feature `qr-scan`, with [`enhance`]'s operations
//!   for the further passes on hard camera frames), rendering to SVG (feature
//!   `qr-render`), and PNG/JPEG files both ways (feature `qr-image-files`).

pub mod base45;
pub mod bounded;
pub mod cbor;
pub mod cose;
#[cfg(feature = "qr-scan")]
pub mod enhance;
mod error;
#[cfg(feature = "qr-image-files")]
pub mod luma;
#[cfg(any(feature = "qr-scan", feature = "qr-render"))]
pub mod qr;
pub mod zlib;

pub use error::CodecError;

/// Largest frame or image side accepted, in pixels, by the QR scan and the image decoder alike
/// (`qr::MAX_SIDE`).
pub const MAX_IMAGE_SIDE: u32 = 8192;
