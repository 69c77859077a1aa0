//! The ApCV credentials of the card enrolled on this phone (one per person on the card), kept
//! in the record with the time the caisse last confirmed them, so that they can be shown with
//! no network. The record keeps each credential as the issuer sent it (CBOR `IssuerSigned`);
//! reading and presenting it is the identity component's work, done by the facade.
//!
//! Credentials are bound to this phone's device key: they are not exported with the record
//! (a new phone enrols again).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};
use crate::record::Record;

/// Item kind of card credentials.
pub(crate) const CARD_CREDENTIAL: &str = "card-credential";
/// Most people on one card.
pub const MAX_CARD_PEOPLE: usize = 12;
/// Largest credential kept.
const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;
/// Item kind of the readers' PKI material kept with the card.
pub(crate) const CARD_READER_TRUST: &str = "card-reader-trust";
/// Most reader roots kept, and the largest root or revocation list.
const MAX_READER_ROOTS: usize = 8;
const MAX_READER_TRUST_BYTES: usize = 256 * 1024;

/// What the phone checks readers with, kept with the card and refreshed with it: the roots of
/// the professionals' PKI and its last signed revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderTrustMaterial {
    /// The reader roots, DER.
    pub roots: Vec<Vec<u8>>,
    /// The signed revocation list (COSE_Sign1).
    pub revocations: Vec<u8>,
    /// When it was fetched, Unix milliseconds.
    pub refreshed_millis: i64,
}

#[derive(Serialize, Deserialize)]
struct KeptTrust {
    roots: Vec<String>,
    revocations: String,
    refreshed_millis: i64,
}

/// One person's credential on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCredential {
    /// Rank on the card (1: the holder).
    pub rank: u32,
    /// The credential as issued (CBOR `IssuerSigned`).
    pub credential: Vec<u8>,
    /// The person's INS matricule, as the credential says it (what documents for them name).
    pub ins_matricule: Option<String>,
    /// When the issuer last gave it (enrolment or rights refresh), Unix milliseconds.
    pub refreshed_millis: i64,
}

/// A credential to keep: what the caller read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCardCredential {
    /// Rank on the card (1: the holder).
    pub rank: u32,
    /// The credential as issued (CBOR `IssuerSigned`).
    pub credential: Vec<u8>,
    /// The person's INS matricule, read from the credential by the caller.
    pub ins_matricule: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Kept {
    rank: u32,
    credential: String,
    #[serde(default)]
    ins_matricule: Option<String>,
    refreshed_millis: i64,
}

impl Record {
    /// Replaces the card's credentials with `credentials`, all at once: the ones held before
    /// are gone only if every new one is kept. The documents taken unchecked are then judged
    /// against the INS the card names ([`crate::Addressee`]).
    pub fn replace_card(&self, credentials: &[NewCardCredential]) -> Result<Vec<CardCredential>> {
        if credentials.is_empty() || credentials.len() > MAX_CARD_PEOPLE {
            return Err(RecordError::InvalidInput(format!(
                "a card has 1 to {MAX_CARD_PEOPLE} people"
            )));
        }
        let mut ranks: Vec<u32> = credentials.iter().map(|c| c.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        if ranks.len() != credentials.len()
            || credentials.iter().any(|c| {
                c.credential.is_empty()
                    || c.credential.len() > MAX_CREDENTIAL_BYTES
                    || c.ins_matricule.as_ref().is_some_and(|ins| ins.len() > 32)
            })
        {
            return Err(RecordError::InvalidInput(
                "card credentials: one per rank, each 1 byte to 64 KiB".into(),
            ));
        }
        let refreshed_millis = self.store.now_millis();
        self.store.write(|w| {
            delete_card(w)?;
            for new in credentials {
                let kept = Kept {
                    rank: new.rank,
                    credential: STANDARD.encode(&new.credential),
                    ins_matricule: new.ins_matricule.clone(),
                    refreshed_millis,
                };
                w.put(CARD_CREDENTIAL, &new.rank.to_string(), &kept)?;
            }
            crate::vigilance::judge_unchecked_again(w)
        })?;
        self.card()
    }

    /// The card's credentials, by rank (empty before enrolment).
    pub fn card(&self) -> Result<Vec<CardCredential>> {
        let mut card = self
            .store
            .read(|r| r.list::<Kept>(CARD_CREDENTIAL))?
            .into_iter()
            .map(|(_, kept)| {
                Ok(CardCredential {
                    rank: kept.rank,
                    credential: STANDARD.decode(kept.credential).map_err(|_| {
                        RecordError::Corrupt("card credential is not base64".into())
                    })?,
                    ins_matricule: kept.ins_matricule,
                    refreshed_millis: kept.refreshed_millis,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        card.sort_by_key(|credential| credential.rank);
        Ok(card)
    }

    /// Keeps the readers' PKI material (replacing what was kept): its roots and its signed
    /// revocation list, as the caller checked them.
    pub fn keep_reader_trust(&self, roots: &[Vec<u8>], revocations: &[u8]) -> Result<()> {
        if roots.is_empty()
            || roots.len() > MAX_READER_ROOTS
            || roots
                .iter()
                .chain(std::iter::once(&revocations.to_vec()))
                .any(|bytes| bytes.is_empty() || bytes.len() > MAX_READER_TRUST_BYTES)
        {
            return Err(RecordError::InvalidInput(format!(
                "reader trust: 1 to {MAX_READER_ROOTS} roots and a list, each up to 256 KiB"
            )));
        }
        let kept = KeptTrust {
            roots: roots.iter().map(|root| STANDARD.encode(root)).collect(),
            revocations: STANDARD.encode(revocations),
            refreshed_millis: self.store.now_millis(),
        };
        self.store
            .write(|w| w.put(CARD_READER_TRUST, CARD_READER_TRUST, &kept))
    }

    /// The readers' PKI material kept with the card, if any.
    pub fn reader_trust(&self) -> Result<Option<ReaderTrustMaterial>> {
        let kept = self
            .store
            .read(|r| r.get::<KeptTrust>(CARD_READER_TRUST, CARD_READER_TRUST))?;
        let decode = |text: &str| {
            STANDARD
                .decode(text)
                .map_err(|_| RecordError::Corrupt("reader trust is not base64".into()))
        };
        kept.map(|kept| {
            Ok(ReaderTrustMaterial {
                roots: kept
                    .roots
                    .iter()
                    .map(|root| decode(root))
                    .collect::<Result<_>>()?,
                revocations: decode(&kept.revocations)?,
                refreshed_millis: kept.refreshed_millis,
            })
        })
        .transpose()
    }

    /// Forgets the card (the phone is given away, or the card was revoked).
    pub fn forget_card(&self) -> Result<()> {
        self.store.write(delete_card)
    }
}

fn delete_card(w: &mut crate::store::Writer<'_>) -> Result<()> {
    let held: Vec<(String, Kept)> = w.reader().list(CARD_CREDENTIAL)?;
    for (id, _) in held {
        w.delete(CARD_CREDENTIAL, &id)?;
    }
    w.delete(CARD_READER_TRUST, CARD_READER_TRUST).map(|_| ())
}

/// The INS matricules of the people on the card.
pub(crate) fn known_card_ins(reader: &crate::store::Reader<'_>) -> Result<Vec<String>> {
    Ok(reader
        .list::<Kept>(CARD_CREDENTIAL)?
        .into_iter()
        .filter_map(|(_, kept)| kept.ins_matricule)
        .collect())
}
