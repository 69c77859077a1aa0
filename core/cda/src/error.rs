//! The one error type of the CDA component.

/// Why a CDA document could not be read. Every variant says, in words, what is wrong with
/// the document; none carries parser debug text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdaError {
    /// Not XML, or XML that is not well formed (with where, as the parser says it).
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    /// Well-formed XML whose root is not an HL7 CDA `ClinicalDocument`.
    #[error("not a CDA document: {0}")]
    NotCda(String),
    /// A document type declaration: Carnet reads no DTD and expands no entity of one.
    #[error(
        "the document declares a DTD (<!DOCTYPE …>), which Carnet refuses: entities and external references are never read"
    )]
    Dtd,
    /// An entity reference that XML does not predefine (`&name;` other than `amp`, `lt`,
    /// `gt`, `quot`, `apos`, or a character reference).
    #[error("the document uses the undeclared entity &{0};")]
    UndeclaredEntity(String),
    /// A text encoding other than UTF-8.
    #[error("the document is encoded in {0}; CDA documents are read in UTF-8 only")]
    Encoding(String),
    /// Past one of the reader's limits (size of one tag or text, nesting, element count,
    /// the whole document, the embedded file).
    #[error("{what} is too large: more than {limit}")]
    TooLarge {
        /// What was too large (`one tag or text`, `nesting`, `embedded file`…).
        what: &'static str,
        /// The limit, with its unit.
        limit: String,
    },
    /// The level-1 body cannot be extracted: an unsupported media type or representation,
    /// base64 that does not decode.
    #[error("the document's embedded file cannot be read: {0}")]
    Body(String),
    /// Reading the document or writing the embedded file failed.
    #[error("{0}")]
    Io(String),
}

impl CdaError {
    /// A stable code for the error (`cda.malformed`, `cda.dtd`…).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            CdaError::Malformed(_) => "cda.malformed",
            CdaError::NotCda(_) => "cda.not_cda",
            CdaError::Dtd => "cda.dtd",
            CdaError::UndeclaredEntity(_) => "cda.entity",
            CdaError::Encoding(_) => "cda.encoding",
            CdaError::TooLarge { .. } => "cda.too_large",
            CdaError::Body(_) => "cda.body",
            CdaError::Io(_) => "cda.io",
        }
    }
}
