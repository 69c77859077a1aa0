//! [`Record`]: the health record's content on top of the encrypted [`Store`].
//!
//! The content lives in the store as sealed JSON items, one kind per table of the model:
//! `patient`, `document`, `profile`, `appointment`, `reminder_done`, `message`, `blocked`,
//! `access_log`. Each submodule adds its part of the API to [`Record`].

use std::path::Path;
use std::sync::Arc;

use carnet_platform::{Clock, KeyVault};
use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};
use crate::keyslot::Unlock;
use crate::store::{Store, StoreOptions};

/// Item kind of the record's owner.
pub(crate) const PATIENT: &str = "patient";
/// Identifier of the one patient item.
pub(crate) const PATIENT_ID: &str = "self";
/// Longest free text accepted in a title, name or short field, in bytes.
pub(crate) const MAX_SHORT_TEXT: usize = 1024;
/// Longest free text accepted in a message body or note, in bytes.
pub(crate) const MAX_LONG_TEXT: usize = 64 * 1024;

/// Administrative sex, as FHIR codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Unknown.
    Unknown,
}

/// The record's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// Given names, space-separated.
    pub given: String,
    /// Family name (birth name unless another is used).
    pub family: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Administrative sex (FHIR `gender`).
    pub gender: Gender,
    /// INS (matricule), if known.
    pub ins: Option<String>,
}

/// A health professional, as documents and messages name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Professional {
    /// Display name ("Dr Marie Curie").
    pub name: String,
    /// RPPS number (11 digits), when known.
    pub rpps: Option<String>,
}

/// What a long operation has done so far, handed to progress callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Units done (bytes).
    pub done: u64,
    /// Units in all (bytes), when known.
    pub total: u64,
}

/// The health record: typed content over an encrypted store.
#[derive(Debug)]
pub struct Record {
    pub(crate) store: Store,
}

impl Record {
    /// Creates a new, empty record in `dir`.
    pub fn create(
        dir: &Path,
        unlock: Unlock<'_>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Self> {
        Ok(Record {
            store: Store::create(dir, unlock, vault, clock, options)?,
        })
    }

    /// Opens the record in `dir`.
    pub fn open(
        dir: &Path,
        unlock: Unlock<'_>,
        vault: Arc<dyn KeyVault>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Self> {
        Ok(Record {
            store: Store::open(dir, unlock, vault, clock, options)?,
        })
    }

    /// The underlying store, for benchmarks and tests that reach below the content API
    /// (feature `raw-store`; the facade, the bindings and the CLI go through [`Record`]).
    #[cfg(feature = "raw-store")]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether a record store exists in `dir`.
    pub fn exists(dir: &Path) -> bool {
        Store::exists(dir)
    }

    /// Sets or changes the passphrase: the data key is rewrapped, nothing else changes.
    ///
    /// # Errors
    /// [`RecordError::WeakPassphrase`], or what writing the key file meets.
    pub fn set_passphrase(&self, passphrase: &str) -> Result<()> {
        self.store.set_passphrase(passphrase)
    }

    /// Adds or renews the device-key slot: a fresh wrapping key in the platform key vault.
    ///
    /// # Errors
    /// [`RecordError::Platform`] when the vault refuses, or what writing the key file meets.
    pub fn rotate_device_key(&self) -> Result<()> {
        self.store.rotate_device_key()
    }

    /// How many write transactions the store has committed (the rollback counter): what a
    /// refused change must leave as it was.
    pub fn write_counter(&self) -> u64 {
        self.store.write_counter()
    }

    /// The time by the record's clock, Unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.store.now_millis()
    }

    /// Closes the account: crypto-erases the store (see [`Store::close_account`]).
    pub fn close_account(self) -> Result<()> {
        self.store.close_account()
    }

    /// Sets the record's owner. With an INS, the documents taken unchecked are judged against
    /// it ([`crate::Addressee`]).
    pub fn set_patient(&self, patient: &Patient) -> Result<()> {
        check_text("given name", &patient.given, MAX_SHORT_TEXT)?;
        check_text("family name", &patient.family, MAX_SHORT_TEXT)?;
        parse_date(&patient.birth_date)?;
        if let Some(ins) = &patient.ins {
            check_rpps_like("INS", ins, 13, 15)?;
        }
        self.store.write(|w| {
            w.put(PATIENT, PATIENT_ID, patient)?;
            crate::vigilance::judge_unchecked_again(w)
        })
    }

    /// The record's owner, if set.
    pub fn patient(&self) -> Result<Option<Patient>> {
        self.store.read(|r| r.get(PATIENT, PATIENT_ID))
    }
}

/// Refuses empty or oversized text.
pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(RecordError::InvalidInput(format!("{what} is empty")));
    }
    if text.len() > max {
        return Err(RecordError::InvalidInput(format!(
            "{what} longer than {max} bytes"
        )));
    }
    Ok(())
}

/// Checks a professional's name and RPPS (11 digits).
pub(crate) fn check_professional(professional: &Professional) -> Result<()> {
    check_text("professional name", &professional.name, MAX_SHORT_TEXT)?;
    if let Some(rpps) = &professional.rpps {
        check_rpps_like("RPPS", rpps, 11, 11)?;
    }
    Ok(())
}

fn check_rpps_like(what: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let ok = (min..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'A' || b == b'B');
    if ok {
        Ok(())
    } else {
        Err(RecordError::InvalidInput(format!(
            "{what} {value:?} is malformed"
        )))
    }
}

/// Parses a `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Result<time::Date> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| RecordError::InvalidInput(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// Formats Unix milliseconds as an RFC 3339 instant (UTC).
pub(crate) fn format_instant(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Parses an RFC 3339 instant, or a `YYYY-MM-DD` date (midnight UTC), into Unix milliseconds.
pub fn parse_instant(text: &str) -> Result<i64> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .or_else(|_| parse_date(text).map(|d| d.midnight().assume_utc()))
        .map_err(|_| RecordError::InvalidInput(format!("{text:?} is not a date or instant")))?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| RecordError::InvalidInput(format!("{text:?} is out of range")))
}
