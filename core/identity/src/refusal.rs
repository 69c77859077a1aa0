//! Why a reader refuses a presentation: one reason per check, with its stable code. A leaf,
//! shared by the reader and the status list it consults.

/// Why a reader refused a presentation, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The document signer is not under a trusted issuer root (or not known by its key id).
    UnknownIssuer,
    /// The issuer's signature over the MSO (or over the status list) does not verify.
    IssuerSignature,
    /// The MSO is past its validity.
    Expired,
    /// The MSO is not valid yet.
    NotYetValid,
    /// A disclosed item is not the one the issuer signed.
    ItemDigest,
    /// The device signature does not verify over the expected transcript (another nonce,
    /// reader or time, or another device).
    DeviceSignature,
    /// A counter QR from a time slot too far from the reader's clock.
    ClockSkew,
    /// The issuer's status list says the credential is revoked.
    Revoked,
    /// No current status list covers the credential: its revocation cannot be checked.
    CannotConfirm,
    /// The AMO rights do not cover the date of care.
    RightsExpired,
    /// A date of care was given but the rights' dates were not disclosed.
    RightsNotDisclosed,
    /// A counter QR already shown to this reader.
    Replayed,
    /// The phone showed no document: the person declined, or asked what this reader may not.
    NotShown,
}

impl Refusal {
    /// A stable code for logs, the CLI and the bindings (`docs/protocols/apcv.md`).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Refusal::UnknownIssuer => "unknown_issuer",
            Refusal::IssuerSignature => "issuer_signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::ItemDigest => "item_digest",
            Refusal::DeviceSignature => "device_signature",
            Refusal::ClockSkew => "clock_skew",
            Refusal::Replayed => "replayed",
            Refusal::Revoked => "revoked",
            Refusal::CannotConfirm => "cannot_confirm",
            Refusal::RightsExpired => "rights_expired",
            Refusal::RightsNotDisclosed => "rights_not_disclosed",
            Refusal::NotShown => "not_shown",
        }
    }
}
