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
    /// An ApCV credential or presentation does not have the structure of an mdoc.
    #[error("malformed credential: {0}")]
    CredentialMalformed(String),
    /// The device key's keeper (the platform keystore) did not sign: the person cancelled,
    /// the keystore is locked or unavailable.
    #[error("the card's key did not sign: {0}")]
    Signer(carnet_platform::PlatformError),
}
