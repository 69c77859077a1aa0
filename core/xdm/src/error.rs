//! The one error type of the XDM component.

/// Why an XDM subset's `METADATA.XML` could not be read. Every variant says, in words, what is
/// wrong; none carries parser debug text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdmError {
    /// The XML itself: not well formed, a DTD, an undeclared entity, another encoding, past a
    /// size limit (the XML reader's refusals, shared with CDA documents).
    #[error("METADATA.XML: {0}")]
    Xml(#[from] carnet_cda::CdaError),
    /// Well-formed XML that is not an ebRIM `SubmitObjectsRequest`.
    #[error("METADATA.XML is not an IHE XDM submission: {0}")]
    NotSubmission(String),
    /// A document entry without what every entry must have (its id, unique id, URI, media
    /// type), or with a value that does not read (a size that is not a number, a hash that is
    /// not SHA-1 hex).
    #[error("METADATA.XML: {0}")]
    Entry(String),
    /// More documents, slots or values than the reader takes.
    #[error("METADATA.XML holds too many {0}")]
    TooMany(&'static str),
}

impl XdmError {
    /// A stable code for the error (`xdm.xml`, `xdm.entry`…).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            XdmError::Xml(_) => "xdm.xml",
            XdmError::NotSubmission(_) => "xdm.not_submission",
            XdmError::Entry(_) => "xdm.entry",
            XdmError::TooMany(_) => "xdm.too_many",
        }
    }
}
