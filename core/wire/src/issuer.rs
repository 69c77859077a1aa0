//! The ApCV issuer (`docs/protocols/apcv.md`): the caisse's registration of cards, a phone's
//! enrolment (nonce, proof of possession, activation code) and its rights refresh, and a
//! phone reported lost. The credentials themselves are ISO 18013-5 `IssuerSigned` CBOR, base64
//! here.

use serde::{Deserialize, Serialize};

use crate::health_space::AccountGrant;

/// `POST /v1/pro/cards` and `PUT /v1/pro/cards/{nir}`: the people on a card, the holder first,
/// then the beneficiaries ranked 1, 2, …. `People` is a list of the issuer's claims type
/// (`Vec` to read one, a slice to send one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRegistration<People> {
    /// The people on the card: the holder first, then beneficiaries.
    pub people: People,
}

/// The answer to a card's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRegistered {
    /// The holder's NIR.
    pub nir: String,
    /// The health space's id of the holder.
    pub user_id: String,
    /// The one-time code the caisse mails to the holder.
    pub activation_code: String,
}

/// The answer to a card's update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardUpdated {
    /// How many people the card now has.
    pub people: usize,
}

/// The answer to `POST /v1/pro/cards/{nir}/device-lost`: the code for the next phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationCode {
    /// The one-time activation code.
    pub activation_code: String,
}

/// The answer to `POST /v1/issuer/enrolment/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentNonce {
    /// The nonce the device key signs, base64.
    pub nonce: String,
    /// When it stops being accepted.
    pub expires_millis: i64,
}

/// `POST /v1/issuer/enrolment`: the card enrolled on this phone, with its health-space
/// account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardEnrolment {
    /// The card holder's NIR.
    pub nir: String,
    /// The caisse's activation code.
    pub code: String,
    /// The nonce from `enrolment/start`, base64.
    pub nonce: String,
    /// The device key as a COSE_Key (CBOR), base64.
    pub device_key: String,
    /// The device key's signature over the enrolment context ‖ nonce, base64.
    pub proof: String,
    /// The account key (see [`crate::health_space::AccountProof`]).
    pub account_key: String,
    /// The account key's proof of possession.
    pub account_proof: String,
}

/// The answer to a [`CardEnrolment`]: the account and one credential per person on the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEnrolled {
    /// The health-space account.
    #[serde(flatten)]
    pub account: AccountGrant,
    /// One credential per person on the card.
    pub credentials: Vec<IssuedCredential>,
}

impl AsRef<AccountGrant> for CardEnrolled {
    fn as_ref(&self) -> &AccountGrant {
        &self.account
    }
}

/// The answer to `POST /v1/me/issuer/rights`: the card's credentials issued again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentials {
    /// One per person on the card.
    pub credentials: Vec<IssuedCredential>,
}

/// One person's credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredential {
    /// The person's rank on the card (0: the holder).
    pub rank: u32,
    /// The `IssuerSigned` CBOR, base64.
    pub credential: String,
}
