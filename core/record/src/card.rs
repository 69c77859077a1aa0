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

/// One person's credential on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCredential {
    /// Rank on the card (1: the holder).
    pub rank: u32,
    /// The credential as issued (CBOR `IssuerSigned`).
    pub credential: Vec<u8>,
    /// When the issuer last gave it (enrolment or rights refresh), Unix milliseconds.
    pub refreshed_millis: i64,
}

#[derive(Serialize, Deserialize)]
struct Kept {
    rank: u32,
    credential: String,
    refreshed_millis: i64,
}

impl Record {
    /// Replaces the card's credentials with `credentials` (`(rank, CBOR)`), all at once: the
    /// ones held before are gone only if every new one is kept.
    pub fn replace_card(&self, credentials: &[(u32, Vec<u8>)]) -> Result<Vec<CardCredential>> {
        if credentials.is_empty() || credentials.len() > MAX_CARD_PEOPLE {
            return Err(RecordError::InvalidInput(format!(
                "a card has 1 to {MAX_CARD_PEOPLE} people"
            )));
        }
        let mut ranks: Vec<u32> = credentials.iter().map(|(rank, _)| *rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        if ranks.len() != credentials.len()
            || credentials
                .iter()
                .any(|(_, c)| c.is_empty() || c.len() > MAX_CREDENTIAL_BYTES)
        {
            return Err(RecordError::InvalidInput(
                "card credentials: one per rank, each 1 byte to 64 KiB".into(),
            ));
        }
        let refreshed_millis = self.store.now_millis();
        self.store.write(|w| {
            delete_card(w)?;
            for (rank, credential) in credentials {
                let kept = Kept {
                    rank: *rank,
                    credential: STANDARD.encode(credential),
                    refreshed_millis,
                };
                w.put(CARD_CREDENTIAL, &rank.to_string(), &kept)?;
            }
            Ok(())
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
                    refreshed_millis: kept.refreshed_millis,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        card.sort_by_key(|credential| credential.rank);
        Ok(card)
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
    Ok(())
}
