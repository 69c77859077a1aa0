//! [`HealthRecord`]: the encrypted record opened through the facade, with the certificate
//! wallet kept inside it.

use std::path::Path;
use std::sync::Arc;

use carnet_certs::hcert;
use carnet_certs::wallet::{self, ExpiryState, Purpose, Summary};
use carnet_record::{Document, Progress, Record, RecordError, StoredCertificate, Unlock};

use crate::files::{storage, write_atomically};
use crate::{CarnetError, Clock};

/// How a record is unlocked.
#[derive(Clone, PartialEq, Eq)]
pub enum RecordUnlock {
    /// With a passphrase (at least 12 characters; a PIN is refused).
    Passphrase {
        /// The passphrase as typed.
        passphrase: String,
    },
    /// With the device key the platform key vault keeps.
    DeviceKey,
}

impl std::fmt::Debug for RecordUnlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordUnlock::Passphrase { .. } => "RecordUnlock::Passphrase(…)",
            RecordUnlock::DeviceKey => "RecordUnlock::DeviceKey",
        })
    }
}

impl RecordUnlock {
    pub(crate) fn as_unlock(&self) -> Unlock<'_> {
        match self {
            RecordUnlock::Passphrase { passphrase } => Unlock::Passphrase(passphrase),
            RecordUnlock::DeviceKey => Unlock::DeviceKey,
        }
    }
}

/// A certificate in the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletEntry {
    /// Identifier in the record.
    pub id: String,
    /// The `HC1:` text, as scanned or imported.
    pub text: String,
    /// What it says.
    pub summary: Summary,
    /// When it was added, Unix seconds.
    pub added_at: i64,
}

impl WalletEntry {
    /// The entry for a stored certificate, decoded again (nothing derived is stored, so
    /// nothing can drift from what was signed).
    fn from_stored(stored: StoredCertificate) -> Result<Self, CarnetError> {
        let summary = hcert::decode(&stored.text)
            .and_then(|h| Summary::of(&h))
            .map_err(|e| {
                CarnetError::Record(RecordError::Corrupt(format!(
                    "wallet entry {}: {e}",
                    stored.id
                )))
            })?;
        Ok(WalletEntry {
            id: stored.id,
            text: stored.text,
            summary,
            added_at: stored.added_millis.div_euclid(1000),
        })
    }
}

/// An open health record: its content (through [`HealthRecord::with_content`]) and the wallet.
pub struct HealthRecord {
    pub(crate) record: Record,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dispatch: tracing::Dispatch,
}

impl std::fmt::Debug for HealthRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRecord")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl HealthRecord {
    /// Runs `work` on the record's content, with this instance's log sink and the facade's
    /// error type.
    ///
    /// # Errors
    /// [`CarnetError::Record`] from `work`.
    pub fn with_content<T>(
        &self,
        work: impl FnOnce(&Record) -> Result<T, RecordError>,
    ) -> Result<T, CarnetError> {
        tracing::dispatcher::with_default(&self.dispatch, || work(&self.record))
            .map_err(CarnetError::from)
    }

    /// Exports the whole record as a zip at `path` (FHIR R4 Bundle + files, not encrypted:
    /// for the citizen to take elsewhere). Written to a temporary file in the same directory,
    /// synced, then renamed over `path`: on any failure (a full disk, an interruption) the
    /// temporary file is removed and nothing half-written, in clear, is left anywhere.
    ///
    /// # Errors
    /// [`CarnetError::Record`] from the export; [`CarnetError::Storage`] (or `storage.full`)
    /// when the file cannot be written.
    pub fn export_to_path(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), CarnetError> {
        write_atomically(path, |file| {
            self.with_content(|r| r.export(file, progress))?;
            Ok(())
        })
    }

    /// Writes document `id`'s file to `path` (as [`HealthRecord::export_to_path`] writes: a
    /// temporary file renamed at the end, nothing left on failure); returns the document.
    ///
    /// # Errors
    /// [`CarnetError::Record`] for an unknown id or a damaged file; [`CarnetError::Storage`]
    /// (or `storage.full`) when the file cannot be written.
    pub fn save_document(&self, id: &str, path: &Path) -> Result<Document, CarnetError> {
        write_atomically(path, |file| {
            self.with_content(|r| r.read_document(id, file))
        })
    }

    /// Writes attachment `index` of message `message_id` into directory `dir` (created if
    /// missing) under the attachment's own name, as [`HealthRecord::save_document`] writes;
    /// returns the path written. The name has no directory part: the record refuses such names
    /// when a message arrives.
    ///
    /// # Errors
    /// As [`HealthRecord::save_document`]; [`CarnetError::Storage`] when `dir` cannot be made.
    pub fn save_attachment(
        &self,
        message_id: &str,
        index: usize,
        dir: &Path,
    ) -> Result<std::path::PathBuf, CarnetError> {
        let messages = self.with_content(|r| r.messages())?;
        let attachment = messages
            .iter()
            .find(|message| message.id == message_id)
            .ok_or(CarnetError::Record(RecordError::NotFound("message")))?
            .attachments
            .get(index)
            .ok_or(CarnetError::Record(RecordError::NotFound("attachment")))?;
        std::fs::create_dir_all(dir).map_err(|e| storage(dir, &e))?;
        let path = dir.join(&attachment.name);
        write_atomically(&path, |file| {
            self.with_content(|r| r.read_attachment(message_id, index, file))
        })?;
        Ok(path)
    }

    /// Imports the zip at `path` (made by an export) into this record, which must be empty;
    /// a refused archive writes nothing.
    ///
    /// # Errors
    /// [`CarnetError::Storage`] when the file cannot be opened; [`CarnetError::Record`] for a
    /// refused archive or a record that is not empty.
    pub fn import_from_path(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), CarnetError> {
        let file = std::fs::File::open(path).map_err(|e| storage(path, &e))?;
        self.with_content(|r| r.import(std::io::BufReader::new(file), progress))
    }

    /// Sets or changes the record's passphrase: the data key is rewrapped (Argon2id, a few
    /// hundred milliseconds), nothing else changes.
    ///
    /// # Errors
    /// [`CarnetError::Record`]: a weak passphrase, a disk error.
    pub fn set_passphrase(&self, passphrase: &str) -> Result<(), CarnetError> {
        self.with_content(|r| r.set_passphrase(passphrase))
    }

    /// Adds or renews the device-key slot: a fresh wrapping key in the platform key vault.
    ///
    /// # Errors
    /// [`CarnetError::Record`]: the vault refuses, a disk error.
    pub fn rotate_device_key(&self) -> Result<(), CarnetError> {
        self.with_content(|r| r.rotate_device_key())
    }

    /// Closes the account: the record is crypto-erased (keys destroyed, files removed).
    ///
    /// # Errors
    /// [`CarnetError::Record`] when a file or vault entry cannot be removed.
    pub fn close_account(self) -> Result<(), CarnetError> {
        let HealthRecord {
            record, dispatch, ..
        } = self;
        tracing::dispatcher::with_default(&dispatch, || record.close_account())
            .map_err(CarnetError::from)
    }

    /// Adds a health certificate (`HC1:` text) to the wallet once it decodes; the same text
    /// again returns the entry already there. The signature is checked when it is shown to a
    /// verifier, against the verifier's trust list.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] for text that is not a certificate, [`CarnetError::Record`].
    pub fn wallet_add(&self, text: &str) -> Result<WalletEntry, CarnetError> {
        let summary = Summary::of(&hcert::decode(text.trim())?)?;
        let stored = self.with_content(|r| r.add_certificate(text))?;
        tracing::dispatcher::with_default(&self.dispatch, || {
            tracing::info!(kind = summary.cert_type.name(), "certificate in the wallet");
        });
        // Decoded once above; the text kept is that same text, trimmed.
        Ok(WalletEntry {
            id: stored.id,
            text: stored.text,
            summary,
            added_at: stored.added_millis.div_euclid(1000),
        })
    }

    /// Every certificate in the wallet, in the order added.
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn wallet_list(&self) -> Result<Vec<WalletEntry>, CarnetError> {
        self.with_content(Record::certificates)?
            .into_iter()
            .map(WalletEntry::from_stored)
            .collect()
    }

    /// One certificate of the wallet.
    ///
    /// # Errors
    /// [`CarnetError::Record`] (not found, damaged).
    pub fn wallet_entry(&self, id: &str) -> Result<WalletEntry, CarnetError> {
        WalletEntry::from_stored(self.with_content(|r| r.certificate(id))?)
    }

    /// Removes a certificate from the wallet.
    ///
    /// # Errors
    /// [`CarnetError::Record`] (not found).
    pub fn wallet_remove(&self, id: &str) -> Result<(), CarnetError> {
        self.with_content(|r| r.remove_certificate(id))
    }

    /// The certificate in force to show now for `purpose`, among those of the person with
    /// this key ([`Summary::person_key`]); `None` when none is in force.
    ///
    /// # Errors
    /// [`CarnetError::Record`].
    pub fn wallet_best(
        &self,
        person_key: &str,
        purpose: Purpose,
    ) -> Result<Option<WalletEntry>, CarnetError> {
        let entries = self.wallet_list()?;
        Ok(self.best_of(&entries, person_key, purpose).cloned())
    }

    /// Like [`HealthRecord::wallet_best`], among entries already listed (so that a screen
    /// showing the whole wallet does not read it again for each person).
    pub fn best_of<'a>(
        &self,
        entries: &'a [WalletEntry],
        person_key: &str,
        purpose: Purpose,
    ) -> Option<&'a WalletEntry> {
        let mine: Vec<&WalletEntry> = entries
            .iter()
            .filter(|e| e.summary.person_key() == person_key)
            .collect();
        let summaries: Vec<_> = mine.iter().map(|e| e.summary.clone()).collect();
        wallet::best(&summaries, purpose, self.now_secs())
            .and_then(|index| mine.get(index).copied())
    }

    /// A wallet entry's state now, by the platform clock.
    pub fn wallet_state(&self, entry: &WalletEntry) -> ExpiryState {
        entry.summary.state(self.now_secs())
    }

    /// Whether a wallet certificate meets the business rules of `arrival` (ISO 3166-1
    /// alpha-2) as `lists` hold them, now, and from and until when — found by evaluating the
    /// rules at other times. `None` when the lists hold no rules.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] when the kept text no longer decodes.
    pub fn wallet_rules(
        &self,
        entry: &WalletEntry,
        lists: &crate::VerifierLists,
        arrival: &str,
    ) -> Result<Option<carnet_certs::country_rules::RulesWindow>, CarnetError> {
        let Some(rules) = &lists.rules else {
            return Ok(None);
        };
        let claims = carnet_certs::hcert::decode(&entry.text)?.claims;
        Ok(Some(carnet_certs::country_rules::window(
            rules.rules(),
            &lists.value_sets,
            arrival,
            &claims,
            self.now_secs(),
        )))
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.clock.now_unix_millis().div_euclid(1000)
    }
}
