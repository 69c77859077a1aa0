//! The reader's side of an ApCV presentation (`docs/protocols/apcv.md`, "Reader checks"): the
//! pharmacy's or doctor's software checks, in order, the issuer's certificate and signature,
//! the MSO's validity, each disclosed item's digest, the device signature over the transcript
//! *it* expects, the counter mode's clock window, the issuer's status list, the rights at the
//! date of care, and last the counter mode's replay. Each failure is its own [`Refusal`].

use std::collections::HashMap;

use carnet_codec::cbor;
use carnet_codec::cose::Sign1;
use ciborium::Value;
use ring::digest::SHA256;

use crate::IdentityError;
use crate::apcv::{Credential, DOC_TYPE};
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::{IssuerSignedItem, Mso, field, optional_field};
use crate::presentation::{Binding, MAX_RESPONSE_BYTES, device_authentication};
pub use crate::refusal::Refusal;
use crate::status::StatusList;
use crate::trust::IssuerTrust;

/// Seconds of a counter QR's time slot.
pub const SLOT_SECONDS: i64 = 30;
/// Slots a counter QR may be away from the reader's clock (±60 s).
pub const SLOT_TOLERANCE: i64 = 2;
/// How long a reader remembers a counter QR's signature (longer than the window it accepts).
pub const REPLAY_MEMORY_SECONDS: i64 = 300;
/// Most signatures the replay cache holds (the oldest go first beyond it).
const MAX_REMEMBERED: usize = 100_000;

/// What a reader learns from an accepted presentation: the disclosed elements, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosed {
    /// `(element identifier, value)`.
    pub elements: Vec<(String, Value)>,
}

impl Disclosed {
    /// A disclosed element's value.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.elements
            .iter()
            .find(|(identifier, _)| identifier == name)
            .map(|(_, value)| value)
    }

    /// A disclosed text or full-date element as text.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Tag(_, inner) => inner.as_text(),
            value => value.as_text(),
        }
    }
}

/// When a check happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTime {
    /// The reader's clock, Unix seconds.
    pub now: i64,
    /// The date of care (`None`: the rights are not checked), whose AMO rights must be open.
    pub date_of_care: Option<time::Date>,
}

/// A reader: the issuer roots it trusts, the last status list it downloaded and the counter
/// QRs it has seen.
#[derive(Debug, Clone)]
pub struct Reader {
    trust: IssuerTrust,
    status: Option<StatusList>,
    seen: HashMap<[u8; 32], i64>,
}

impl Reader {
    /// A reader trusting `trust`'s roots, with no status list yet (every check then ends in
    /// [`Refusal::CannotConfirm`] until [`Reader::update_status`]).
    #[must_use]
    pub fn new(trust: IssuerTrust) -> Self {
        Reader {
            trust,
            status: None,
            seen: HashMap::new(),
        }
    }

    /// Takes the issuer's signed status list (and learns the document signers it names) if it
    /// verifies and is not older than the one held.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a list that does not parse.
    pub fn update_status(
        &mut self,
        signed: &[u8],
        now: i64,
    ) -> Result<Result<(), Refusal>, IdentityError> {
        let list = match StatusList::verify(signed, &mut self.trust, now)? {
            Ok(list) => list,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if self
            .status
            .as_ref()
            .is_none_or(|held| held.issued <= list.issued)
        {
            self.status = Some(list);
        }
        Ok(Ok(()))
    }

    /// The status list held, if any.
    #[must_use]
    pub fn status(&self) -> Option<&StatusList> {
        self.status.as_ref()
    }

    /// Checks a DeviceResponse against the binding this reader expects (its own session, or
    /// the slot a counter QR names) at `time`. `Ok(Err(refusal))` is a well-formed presentation
    /// refused for a reason; `Err` a malformed one. An accepted counter QR is remembered, so
    /// that showing it again is [`Refusal::Replayed`].
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a response that does not parse (limits apply).
    pub fn check(
        &mut self,
        response: &[u8],
        expected: &Binding,
        time: CheckTime,
    ) -> Result<Result<Disclosed, Refusal>, IdentityError> {
        if response.len() > MAX_RESPONSE_BYTES {
            return Err(too_large(
                "presentation",
                format!("{MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        let value = cbor::from_slice(response).map_err(undecodable("presentation"))?;
        if optional_field(&value, "documents").is_none()
            && optional_field(&value, "documentErrors").is_some()
        {
            return Ok(Err(Refusal::NotShown));
        }
        let document = field(&value, "documents", "DeviceResponse")?
            .as_array()
            .and_then(|documents| match documents.as_slice() {
                [one] => Some(one),
                _ => None,
            })
            .ok_or_else(|| structure("a presentation carries one document"))?;
        let field = |value, name| field(value, name, "DeviceResponse");
        if field(document, "docType")?.as_text() != Some(DOC_TYPE) {
            return Err(structure("not an ApCV document"));
        }
        let issuer_signed =
            cbor::to_vec(field(document, "issuerSigned")?).map_err(undecodable("presentation"))?;
        let credential = Credential::from_cbor(&issuer_signed)?;
        let mso = match self.issuer_checks(&credential, time.now)? {
            Ok(mso) => mso,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let digests = mso
            .value_digests
            .get(DOC_TYPE)
            .ok_or_else(|| structure("the MSO lists no ApCV digest"))?;
        let mut elements = Vec::new();
        for embedded in credential.embedded_items() {
            let item = IssuerSignedItem::from_value(embedded.value())?;
            if digests.get(&item.digest_id).map(Vec::as_slice) != Some(&embedded.digest()[..]) {
                return Ok(Err(Refusal::ItemDigest));
            }
            if elements
                .iter()
                .any(|(name, _)| *name == item.element_identifier)
            {
                return Err(structure("an element is disclosed twice"));
            }
            elements.push((item.element_identifier, item.element_value));
        }
        let device_signed = field(document, "deviceSigned")?;
        let device_auth = field(device_signed, "deviceAuth")?;
        let signature = match field(device_auth, "deviceSignature") {
            Ok(signature) => signature,
            Err(_) if field(device_auth, "deviceMac").is_ok() => {
                return Err(IdentityError::Unsupported("mdoc MAC authentication"));
            }
            Err(error) => return Err(error),
        };
        let sign1 = Sign1::from_value(signature.clone(), Some(device_authentication(expected)?))
            .map_err(undecodable("presentation"))?;
        if sign1.header_algorithm()
            != Some(&coset::RegisteredLabelWithPrivate::Assigned(
                mso.device_key.algorithm(),
            ))
            || mso
                .device_key
                .verify(&sign1.to_be_signed(), sign1.signature())
                .is_err()
        {
            return Ok(Err(Refusal::DeviceSignature));
        }
        if let Binding::Counter { slot } = expected
            && (slot - time.now.div_euclid(SLOT_SECONDS)).abs() > SLOT_TOLERANCE
        {
            return Ok(Err(Refusal::ClockSkew));
        }
        let disclosed = Disclosed { elements };
        // Revocation and rights before the replay: a revoked card shown twice is reported
        // revoked.
        let refusal = self
            .revocation(&mso, time.now)
            .or_else(|| rights(&disclosed, time.date_of_care));
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        if let Binding::Counter { .. } = expected {
            let key = replay_key(&credential, sign1.signature())?;
            if self.seen(&key, time.now) {
                return Ok(Err(Refusal::Replayed));
            }
            self.remember(key, time.now);
        }
        Ok(Ok(disclosed))
    }

    /// Checks 2–4: the document signer, its signature over the MSO, the MSO's validity.
    fn issuer_checks(
        &self,
        credential: &Credential,
        now: i64,
    ) -> Result<Result<Mso, Refusal>, IdentityError> {
        let issuer_auth = credential.issuer_auth()?;
        let chain = issuer_auth.x5chain().map_err(undecodable("presentation"))?;
        let signer = match chain.first() {
            Some(certificate) => self.trust.validate(certificate, now)?,
            None => issuer_auth
                .kid()
                .and_then(|kid| self.trust.signer(kid))
                .filter(|signer| signer.valid_at(now))
                .cloned(),
        };
        let Some(signer) = signer else {
            return Ok(Err(Refusal::UnknownIssuer));
        };
        if issuer_auth.verify(&signer.verifying_key()).is_err() {
            return Ok(Err(Refusal::IssuerSignature));
        }
        let mso = credential.mso()?;
        if now < mso.validity.valid_from {
            return Ok(Err(Refusal::NotYetValid));
        }
        if now > mso.validity.valid_until {
            return Ok(Err(Refusal::Expired));
        }
        Ok(Ok(mso))
    }

    /// Check 8: the status list held must be current and say the credential is not revoked.
    fn revocation(&self, mso: &Mso, now: i64) -> Option<Refusal> {
        let list = self.status.as_ref().filter(|list| now <= list.expires);
        let revoked = mso
            .status
            .as_ref()
            .and_then(|status| list?.is_revoked(status.index));
        match revoked {
            Some(false) => None,
            Some(true) => Some(Refusal::Revoked),
            None => Some(Refusal::CannotConfirm),
        }
    }

    fn seen(&self, key: &[u8; 32], now: i64) -> bool {
        self.seen.get(key).is_some_and(|until| now <= *until)
    }

    fn remember(&mut self, key: [u8; 32], now: i64) {
        self.seen.retain(|_, until| now <= *until);
        if self.seen.len() >= MAX_REMEMBERED
            && let Some(oldest) = self
                .seen
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(key, _)| *key)
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(key, now + REPLAY_MEMORY_SECONDS);
    }
}

/// What identifies one showing of a counter QR: the credential (its issuer's signature) and
/// the device's signature. The device signature alone is not enough: it covers the transcript
/// only, and a deterministic Ed25519 key gives the same one for every credential of the phone
/// (a parent showing a child's card right after their own) within a slot.
fn replay_key(credential: &Credential, device_signature: &[u8]) -> Result<[u8; 32], IdentityError> {
    let issuer_auth = credential.issuer_auth()?;
    let mut context = ring::digest::Context::new(&SHA256);
    context.update(issuer_auth.signature());
    context.update(device_signature);
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    Ok(key)
}

/// Check 9: the AMO rights disclosed cover the date of care.
fn rights(disclosed: &Disclosed, date_of_care: Option<time::Date>) -> Option<Refusal> {
    let date = date_of_care?;
    let day = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    match (
        disclosed.text("amo_valid_from"),
        disclosed.text("amo_valid_until"),
    ) {
        // Full dates in ISO 8601 order as text.
        (Some(from), Some(until)) if from <= day.as_str() && day.as_str() <= until => None,
        (Some(_), Some(_)) => Some(Refusal::RightsExpired),
        _ => Some(Refusal::RightsNotDisclosed),
    }
}
