//! The one error type of the codec component.

/// Why a piece of outside data could not be decoded, verified or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input is larger than this decoder accepts.
    #[error("the {what} is too large: more than {limit} bytes")]
    TooLarge {
        /// What was too large (`base45 text`, `inflated data`...).
        what: &'static str,
        /// Its size, or the limit + 1 when reading stopped there.
        size: usize,
        /// The largest size allowed, in bytes.
        limit: usize,
    },
    /// A file or stream could not be read (missing, a directory, permission, I/O error).
    #[error("cannot read the {what}: {reason}")]
    Read {
        /// What was being read (`trust list`, `image file`...).
        what: &'static str,
        /// What the system said, in words.
        reason: String,
    },
    /// Bytes that had to be UTF-8 text are not.
    #[error("the {what} is not UTF-8 text")]
    NotText {
        /// What was being read.
        what: &'static str,
    },
    /// An image or frame has more pixels than a QR scan takes.
    #[error("the image is too large: {width}×{height} pixels, at most {limit}")]
    ImageTooLarge {
        /// Its width, as its header declares.
        width: u32,
        /// Its height, in pixels.
        height: u32,
        /// The bound it broke, in words (`8192 pixels on each side`).
        limit: &'static str,
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
        /// The largest size allowed, in bytes.
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
