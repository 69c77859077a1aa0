//! The one error type of the codec component.

/// Why a piece of outside data could not be decoded, verified or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input is larger than this decoder accepts.
    #[error("{what} is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// What was too large (`base45 text`, `inflated data`...).
        what: &'static str,
        /// Its size, or the limit + 1 when reading stopped there.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid base45.
    #[error("invalid base45 text")]
    Base45,
    /// Not a valid zlib stream.
    #[error("invalid zlib data: {0}")]
    Zlib(String),
    /// Not valid CBOR, or CBOR followed by trailing bytes.
    #[error("invalid CBOR: {0}")]
    Cbor(String),
    /// CBOR nested deeper than the limit.
    #[error("CBOR nested deeper than {limit} levels")]
    CborTooDeep {
        /// The limit.
        limit: usize,
    },
    /// Valid CBOR, but not a COSE_Sign1 structure.
    #[error("not a COSE_Sign1 structure: {0}")]
    CoseStructure(String),
    /// The COSE header names an algorithm the key cannot be used with.
    #[error("COSE algorithm {header} does not match the {key} key")]
    AlgorithmMismatch {
        /// The algorithm in the header.
        header: String,
        /// The key type.
        key: &'static str,
    },
    /// A public or private key could not be used.
    #[error("unusable key: {0}")]
    Key(&'static str),
    /// An image or frame could not be read.
    #[error("unreadable image: {0}")]
    Image(String),
    /// No QR code was found in the image.
    #[error("no QR code found")]
    NoQrCode,
    /// The signature does not verify with the key.
    #[error("signature does not verify")]
    BadSignature,
}
