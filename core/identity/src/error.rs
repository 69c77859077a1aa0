//! The one error type of the identity component.

/// Why an identifier or identity trait was refused.
///
/// Positions are 1-based, as a person counts characters on a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The NIR does not have 15 characters (spaces excluded).
    #[error("a NIR has 15 characters, this one has {found}")]
    NirLength {
        /// Number of characters found.
        found: usize,
    },
    /// A character is not allowed at its position.
    #[error("character {found:?} is not allowed at position {position} of a NIR")]
    NirCharacter {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// The control key (last two digits) does not match the first 13 characters.
    #[error("control key {found:02} does not match the number (expected {expected:02})")]
    NirControlKey {
        /// Key computed from the first 13 characters.
        expected: u8,
        /// Key written in the NIR.
        found: u8,
    },
    /// The OID is not one of the four INS identifier OIDs.
    #[error("OID {0:?} is not an INS OID (1.2.250.1.213.1.4.8, .9, .10 or .11)")]
    InsOid(String),
    /// A reference identity trait is malformed.
    #[error("INS trait {name} is invalid: {reason}")]
    InsTrait {
        /// Which trait: `birth_name`, `birth_given_names`, `sex`, `birth_date`, `birth_place`.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A trait contradicts what the matricule encodes (sex digit, birth year or month).
    #[error("INS trait {name} contradicts the matricule")]
    InsMismatch {
        /// Which trait disagrees with the matricule.
        name: &'static str,
    },
    /// Bytes that do not decode as what they should be (CBOR, base45, zlib, COSE).
    #[error("{what} does not decode: {reason}")]
    Encoding {
        /// What was being read (`presentation`, `credential`, `status list`…).
        what: &'static str,
        /// The decoder's words.
        reason: String,
    },
    /// Decoded, but not the structure a credential, a presentation or a request has.
    #[error("{0}")]
    Structure(String),
    /// Larger or longer than this component accepts, whatever it claims to be.
    #[error("{what} is too large: more than {limit}")]
    TooLarge {
        /// What was too large (`presentation`, `items request`…).
        what: &'static str,
        /// The limit, with its unit (`65536 bytes`, `32 items`).
        limit: String,
    },
    /// A signature that does not verify, or that could not be made.
    #[error("{0}")]
    Signature(&'static str),
    /// The system's random generator failed.
    #[error("the system's random generator failed")]
    Random,
    /// The issuer refused the people of a card (a name empty, a sex, a rank, a date).
    #[error("card claims refused: {0}")]
    Claims(String),
    /// A certificate that cannot be an issuer's root or document signer.
    #[error("certificate refused: {0}")]
    Certificate(&'static str),
    /// The NFC exchange failed: an APDU out of its framing, a status word of refusal.
    #[error("NFC: {0}")]
    Nfc(String),
    /// A session message that does not decrypt (ISO/IEC 18013-5 status 10): a bad tag, a
    /// counter already used or skipped, another session's key.
    #[error(
        "a message of the session does not decrypt: it was altered, replayed or is from another session"
    )]
    Decryption,
    /// The reader's first message came after the engagement's time ran out (5 minutes): the
    /// person shows a new one.
    #[error("this code has expired: show a new one")]
    EngagementExpired,
    /// A reader serving remote presentations has as many open as it takes at once.
    #[error("this reader has too many presentations open: try again in a minute")]
    Busy,
    /// The session is over: the other side ended it (status 20) or it ended already.
    #[error("the session has ended")]
    SessionEnded,
    /// What the other side uses is not what Carnet speaks (a cipher suite, a key type, a
    /// version, mdoc MAC authentication).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// The holder refused to show what the reader asked for.
    #[error("the holder did not consent to show what the reader asked for")]
    NotConsented,
    /// The device key's keeper (the platform keystore) did not sign: the person cancelled,
    /// the keystore is locked or unavailable.
    #[error("the card's key did not sign: {0}")]
    Signer(carnet_platform::PlatformError),
}

impl IdentityError {
    /// Whether the error says that outside data was unreadable (does not decode, has not the
    /// structure, is too large): what a reader answers "not an ApCV" to.
    #[must_use]
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            IdentityError::Encoding { .. }
                | IdentityError::Structure(_)
                | IdentityError::TooLarge { .. }
        )
    }
}

/// [`IdentityError::Structure`] with its words.
pub(crate) fn structure(what: impl Into<String>) -> IdentityError {
    IdentityError::Structure(what.into())
}

/// [`IdentityError::Encoding`] of `what`, with the decoder's words.
pub(crate) fn undecodable(
    what: &'static str,
) -> impl Fn(carnet_codec::CodecError) -> IdentityError {
    move |error| IdentityError::Encoding {
        what,
        reason: error.to_string(),
    }
}

/// [`IdentityError::TooLarge`].
pub(crate) fn too_large(what: &'static str, limit: String) -> IdentityError {
    IdentityError::TooLarge { what, limit }
}
