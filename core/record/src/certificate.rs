//! Health certificates kept in the record (the wallet's storage). The record keeps the text
//! as scanned; decoding and verifying it is the certificates component's work, done by the
//! facade before a text is added.

use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};
use crate::record::Record;

/// Item kind of health certificates.
pub(crate) const CERTIFICATE: &str = "certificate";
/// Most certificates a record keeps.
pub const MAX_CERTIFICATES: u64 = 1_000;
/// Longest certificate text, in bytes (a QR code holds less).
const MAX_CERTIFICATE_TEXT: usize = 8 * 1024;

/// A health certificate in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    /// The certificate's id in the wallet.
    pub id: String,
    /// The text as scanned (`HC1:…`).
    pub text: String,
    /// When it was added, Unix milliseconds.
    pub added_millis: i64,
}

impl Record {
    /// Keeps a certificate text; the same text added again returns the entry already kept.
    pub fn add_certificate(&self, text: &str) -> Result<StoredCertificate> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_CERTIFICATE_TEXT {
            return Err(RecordError::InvalidInput(
                "certificate text empty or too long".into(),
            ));
        }
        let id = crate::crypto::random_id()?;
        let added_millis = self.store.now_millis();
        self.store.write(|w| {
            let kept: Vec<(String, StoredCertificate)> = w.reader().list(CERTIFICATE)?;
            let count = kept.len() as u64;
            if let Some((_, existing)) = kept.into_iter().find(|(_, c)| c.text == text) {
                return Ok(existing);
            }
            if count >= MAX_CERTIFICATES {
                return Err(RecordError::InvalidInput(format!(
                    "the wallet is full ({MAX_CERTIFICATES} certificates)"
                )));
            }
            let certificate = StoredCertificate {
                id,
                text: text.to_owned(),
                added_millis,
            };
            w.put(CERTIFICATE, &certificate.id, &certificate)?;
            Ok(certificate)
        })
    }

    /// Every certificate, oldest first.
    pub fn certificates(&self) -> Result<Vec<StoredCertificate>> {
        let mut certificates: Vec<StoredCertificate> = self
            .store
            .read(|r| r.list(CERTIFICATE))?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        certificates.sort_by(|a, b| {
            a.added_millis
                .cmp(&b.added_millis)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(certificates)
    }

    /// Certificate `id`.
    pub fn certificate(&self, id: &str) -> Result<StoredCertificate> {
        self.store
            .read(|r| r.get(CERTIFICATE, id))?
            .ok_or(RecordError::NotFound("certificate"))
    }

    /// Removes certificate `id`.
    pub fn remove_certificate(&self, id: &str) -> Result<()> {
        self.store.write(|w| {
            if w.delete(CERTIFICATE, id)? {
                Ok(())
            } else {
                Err(RecordError::NotFound("certificate"))
            }
        })
    }
}
