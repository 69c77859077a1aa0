//! Diagnosis key files (DESIGN.md §5, field numbers in `fixtures/exposure/FORMAT.md`): a zip
//! of `export.bin` (a 16-byte header, then a protobuf `TemporaryExposureKeyExport`) and
//! `export.sig` (a `TEKSignatureList`: ECDSA P-256 / SHA-256, DER, over the whole
//! `export.bin`).
//!
//! Reading verifies the signature with a trusted key before anything else, then walks the keys
//! one at a time out of the signed bytes: a file's keys are never all decoded at once, so a
//! matcher holds one file's bytes and one key. Writing (the reference server) signs with a
//! P-256 key. Every size is bounded: the archive, its entries, each file in it.

#[cfg(feature = "key-server")]
use std::io::{Cursor, Write};
use std::io::{Read, Seek};

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};
use ring::signature::{self, UnparsedPublicKey};
use zip::ZipArchive;
#[cfg(feature = "key-server")]
use {
    ring::rand::SystemRandom,
    ring::signature::{EcdsaKeyPair, KeyPair},
    zip::write::SimpleFileOptions,
    zip::{CompressionMethod, ZipWriter},
};

use crate::ExposureError;
use crate::keys::{ROLLING_PERIOD, TemporaryExposureKey};

/// The first 16 bytes of every `export.bin`.
pub const EXPORT_HEADER: &[u8; 16] = b"EK Export v1    ";
/// The signature algorithm's OID (ECDSA with SHA-256).
pub const ECDSA_P256_SHA256_OID: &str = "1.2.840.10045.4.3.2";
/// Largest key file (zip) read: 64 MiB.
pub const MAX_ZIP_BYTES: u64 = 64 << 20;
/// Largest `export.bin` read: 32 MiB (over a million keys).
pub const MAX_EXPORT_BYTES: u64 = 32 << 20;
/// Largest `export.sig` read: 64 KiB.
pub const MAX_SIGNATURE_FILE_BYTES: u64 = 64 << 10;
/// Most entries in a key file's zip.
pub const MAX_ZIP_ENTRIES: usize = 8;
/// The report type GAEN uses for a key withdrawn after publication.
pub const REPORT_TYPE_REVOKED: i32 = 5;

const EXPORT_ENTRY: &str = "export.bin";
const SIGNATURE_ENTRY: &str = "export.sig";
/// Field number of `keys` in `TemporaryExposureKeyExport`.
const KEYS_FIELD: u32 = 7;
/// Field number of `revised_keys`: keys published before whose report type changed
/// (a revoked positive, a self report confirmed by a test).
const REVISED_KEYS_FIELD: u32 = 8;

/// `TemporaryExposureKeyExport` without its keys: prost skips fields 7 and 8 when decoding
/// it, so the batch's description is read without allocating a single key.
#[derive(Clone, PartialEq, Message)]
struct ExportHeaderMessage {
    #[prost(fixed64, optional, tag = "1")]
    start_timestamp: Option<u64>,
    #[prost(fixed64, optional, tag = "2")]
    end_timestamp: Option<u64>,
    #[prost(string, optional, tag = "3")]
    region: Option<String>,
    #[prost(int32, optional, tag = "4")]
    batch_num: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    batch_size: Option<i32>,
    #[prost(message, repeated, tag = "6")]
    signature_infos: Vec<SignatureInfoMessage>,
}

#[derive(Clone, PartialEq, Message)]
struct SignatureInfoMessage {
    #[prost(string, optional, tag = "3")]
    verification_key_version: Option<String>,
    #[prost(string, optional, tag = "4")]
    verification_key_id: Option<String>,
    #[prost(string, optional, tag = "5")]
    signature_algorithm: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct KeyMessage {
    #[prost(bytes = "vec", optional, tag = "1")]
    key_data: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "2")]
    transmission_risk_level: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    rolling_start_interval_number: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    rolling_period: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    report_type: Option<i32>,
    #[prost(sint32, optional, tag = "6")]
    days_since_onset_of_symptoms: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct SignatureListMessage {
    #[prost(message, repeated, tag = "1")]
    signatures: Vec<SignatureMessage>,
}

#[derive(Clone, PartialEq, Message)]
struct SignatureMessage {
    #[prost(message, optional, tag = "1")]
    signature_info: Option<SignatureInfoMessage>,
    #[prost(int32, optional, tag = "2")]
    batch_num: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    batch_size: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    signature: Option<Vec<u8>>,
}

/// What a key file says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBatch {
    /// Start of the period the keys were published in (Unix seconds).
    pub start_timestamp: u64,
    /// End of that period.
    pub end_timestamp: u64,
    /// The region (ISO 3166 code).
    pub region: String,
    /// This file's number in its batch (from 1).
    pub batch_num: i32,
    /// The batch's number of files.
    pub batch_size: i32,
}

impl ExportBatch {
    /// A batch of one file covering `start_timestamp` to `end_timestamp` for `region`.
    #[must_use]
    pub fn single(start_timestamp: u64, end_timestamp: u64, region: &str) -> Self {
        ExportBatch {
            start_timestamp,
            end_timestamp,
            region: region.to_owned(),
            batch_num: 1,
            batch_size: 1,
        }
    }
}

/// A positive person's published key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosisKey {
    /// The key and its period.
    pub key: TemporaryExposureKey,
    /// GAEN report type: 0 unknown, 1 confirmed test, 2 clinical diagnosis, 3 self report,
    /// 4 recursive, 5 revoked.
    pub report_type: i32,
    /// Days from the onset of symptoms to the key's day, when the authority gives it.
    pub days_since_onset_of_symptoms: Option<i32>,
    /// The deprecated v1 transmission risk level (1 to 8), when given.
    pub transmission_risk_level: Option<i32>,
}

/// A health authority's key that signs key files, known by its id and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    /// The `verification_key_id` the files name.
    pub id: String,
    /// The `verification_key_version` the files name.
    pub version: String,
    /// The uncompressed P-256 point.
    point: Vec<u8>,
}

impl VerificationKey {
    /// A key from its uncompressed P-256 point (65 bytes, `04 ‖ x ‖ y`).
    ///
    /// # Errors
    /// [`ExposureError::Length`] when the point is not 65 bytes starting with 4.
    pub fn from_point(id: &str, version: &str, point: &[u8]) -> Result<Self, ExposureError> {
        if point.len() != 65 || point.first() != Some(&4) {
            return Err(ExposureError::Length {
                what: "an uncompressed P-256 public key",
                expected: 65,
                found: point.len(),
            });
        }
        Ok(VerificationKey {
            id: id.to_owned(),
            version: version.to_owned(),
            point: point.to_vec(),
        })
    }

    /// A key from its SubjectPublicKeyInfo (DER), as health authorities publish them.
    ///
    /// # Errors
    /// [`ExposureError::KeyFile`] when the DER is not an EC P-256 public key.
    pub fn from_spki_der(id: &str, version: &str, der: &[u8]) -> Result<Self, ExposureError> {
        use x509_parser::prelude::FromDer;
        use x509_parser::x509::SubjectPublicKeyInfo;
        const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
        const P256: &str = "1.2.840.10045.3.1.7";
        let refused = |why: &str| ExposureError::KeyFile(format!("verification key: {why}"));
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|_| refused("not a SubjectPublicKeyInfo"))?;
        if !rest.is_empty() {
            return Err(refused("bytes after the key"));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
            .map(|oid| oid.to_id_string());
        if spki.algorithm.algorithm.to_id_string() != EC_PUBLIC_KEY
            || curve.as_deref() != Some(P256)
        {
            return Err(refused("not an EC P-256 key"));
        }
        Self::from_point(id, version, &spki.subject_public_key.data)
    }

    /// A key from a PEM `PUBLIC KEY` block.
    ///
    /// # Errors
    /// [`ExposureError::KeyFile`] when the text is not such a block.
    pub fn from_pem(id: &str, version: &str, pem: &str) -> Result<Self, ExposureError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|_| ExposureError::KeyFile("verification key: not PEM".into()))?;
        if block.label != "PUBLIC KEY" {
            return Err(ExposureError::KeyFile(format!(
                "verification key: a PEM {} block, not a PUBLIC KEY",
                block.label
            )));
        }
        Self::from_spki_der(id, version, &block.contents)
    }

    /// The uncompressed P-256 point.
    #[must_use]
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

/// A key file whose signature verified: its batch, and its keys read one by one.
#[derive(Debug)]
pub struct KeyFile {
    export: Vec<u8>,
    batch: ExportBatch,
    signed_by: String,
}

impl KeyFile {
    /// Opens a key file (zip) and verifies it with one of the `trusted` keys.
    ///
    /// # Errors
    /// [`ExposureError::TooLarge`] past a size limit, [`ExposureError::KeyFile`] for a
    /// malformed archive or header, [`ExposureError::Signature`] when no trusted key signed it.
    pub fn open<R: Read + Seek>(
        mut zip: R,
        trusted: &[VerificationKey],
    ) -> Result<Self, ExposureError> {
        let length = zip
            .seek(std::io::SeekFrom::End(0))
            .map_err(|error| ExposureError::KeyFile(format!("reading the archive: {error}")))?;
        if length > MAX_ZIP_BYTES {
            return Err(ExposureError::TooLarge {
                what: "a key file",
                limit: MAX_ZIP_BYTES,
            });
        }
        let mut archive = ZipArchive::new(zip)
            .map_err(|error| ExposureError::KeyFile(format!("not a zip archive: {error}")))?;
        if archive.len() > MAX_ZIP_ENTRIES {
            return Err(ExposureError::KeyFile(format!(
                "{} entries in the archive (at most {MAX_ZIP_ENTRIES})",
                archive.len()
            )));
        }
        let export = read_entry(&mut archive, EXPORT_ENTRY, MAX_EXPORT_BYTES)?;
        let signatures = read_entry(&mut archive, SIGNATURE_ENTRY, MAX_SIGNATURE_FILE_BYTES)?;
        Self::verify(export, &signatures, trusted)
    }

    /// Verifies `export.bin` against `export.sig` with one of the `trusted` keys, then reads
    /// its header.
    ///
    /// # Errors
    /// As [`KeyFile::open`].
    pub fn verify(
        export: Vec<u8>,
        signatures: &[u8],
        trusted: &[VerificationKey],
    ) -> Result<Self, ExposureError> {
        if export.len() as u64 > MAX_EXPORT_BYTES {
            return Err(ExposureError::TooLarge {
                what: "export.bin",
                limit: MAX_EXPORT_BYTES,
            });
        }
        if signatures.len() as u64 > MAX_SIGNATURE_FILE_BYTES {
            return Err(ExposureError::TooLarge {
                what: "export.sig",
                limit: MAX_SIGNATURE_FILE_BYTES,
            });
        }
        let list = SignatureListMessage::decode(signatures)
            .map_err(|error| ExposureError::KeyFile(format!("export.sig: {error}")))?;
        let signed_by = signed_by(&export, &list, trusted)?;
        // Only now, with the signature checked, is the content read.
        let body = export
            .strip_prefix(EXPORT_HEADER.as_slice())
            .ok_or_else(|| ExposureError::KeyFile("export.bin lacks its header".into()))?;
        let header = ExportHeaderMessage::decode(body)
            .map_err(|error| ExposureError::KeyFile(format!("export.bin: {error}")))?;
        let batch = ExportBatch {
            start_timestamp: header.start_timestamp.unwrap_or_default(),
            end_timestamp: header.end_timestamp.unwrap_or_default(),
            region: header.region.unwrap_or_default(),
            batch_num: header.batch_num.unwrap_or(1),
            batch_size: header.batch_size.unwrap_or(1),
        };
        if batch.end_timestamp < batch.start_timestamp
            || !(1..=batch.batch_size).contains(&batch.batch_num)
        {
            return Err(ExposureError::KeyFile(format!(
                "export.bin: inconsistent batch (period {}–{}, file {} of {})",
                batch.start_timestamp, batch.end_timestamp, batch.batch_num, batch.batch_size
            )));
        }
        Ok(KeyFile {
            export,
            batch,
            signed_by,
        })
    }

    /// What the file says of itself.
    #[must_use]
    pub fn batch(&self) -> &ExportBatch {
        &self.batch
    }

    /// The id of the trusted key that signed it.
    #[must_use]
    pub fn signed_by(&self) -> &str {
        &self.signed_by
    }

    /// The keys, decoded one at a time; a malformed key is an error item (the walk goes on
    /// after it), a malformed field ends the walk with an error.
    #[must_use]
    pub fn keys(&self) -> Keys<'_> {
        self.walk(KEYS_FIELD)
    }

    /// The revised keys (published before, their report type changed since), as
    /// [`KeyFile::keys`].
    #[must_use]
    pub fn revised_keys(&self) -> Keys<'_> {
        self.walk(REVISED_KEYS_FIELD)
    }

    fn walk(&self, field: u32) -> Keys<'_> {
        Keys {
            rest: self.export.get(EXPORT_HEADER.len()..).unwrap_or_default(),
            field,
        }
    }
}

/// The keys (or revised keys) of a [`KeyFile`], one at a time.
#[derive(Debug)]
pub struct Keys<'a> {
    rest: &'a [u8],
    field: u32,
}

impl Iterator for Keys<'_> {
    type Item = Result<DiagnosisKey, ExposureError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            match next_field(&mut self.rest, self.field) {
                Ok(Some(message)) => return Some(diagnosis_key(message)),
                Ok(None) => {}
                Err(error) => {
                    self.rest = &[];
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

/// Reads one top-level field; one numbered `wanted` gives its bytes, any other is skipped.
fn next_field<'a>(rest: &mut &'a [u8], wanted: u32) -> Result<Option<&'a [u8]>, ExposureError> {
    let malformed = |error: prost::DecodeError| ExposureError::KeyFile(format!("keys: {error}"));
    let (field, wire_type) = decode_key(rest).map_err(malformed)?;
    let skip = match wire_type {
        WireType::Varint => {
            decode_varint(rest).map_err(malformed)?;
            0
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => {
            let length = usize::try_from(decode_varint(rest).map_err(malformed)?)
                .map_err(|_| ExposureError::KeyFile("keys: field too long".into()))?;
            if length > rest.len() {
                return Err(ExposureError::KeyFile("keys: truncated field".into()));
            }
            let (bytes, after) = rest.split_at(length);
            *rest = after;
            return Ok((field == wanted).then_some(bytes));
        }
        WireType::StartGroup | WireType::EndGroup => {
            return Err(ExposureError::KeyFile("keys: groups are not used".into()));
        }
    };
    if skip > rest.remaining() {
        return Err(ExposureError::KeyFile("keys: truncated field".into()));
    }
    rest.advance(skip);
    Ok(None)
}

fn diagnosis_key(message: &[u8]) -> Result<DiagnosisKey, ExposureError> {
    let message = KeyMessage::decode(message)
        .map_err(|error| ExposureError::KeyFile(format!("a key: {error}")))?;
    let key_data = message.key_data.unwrap_or_default();
    let start = message
        .rolling_start_interval_number
        .and_then(|start| u32::try_from(start).ok())
        .ok_or(ExposureError::Period(
            "a key without a valid start interval",
        ))?;
    let period = match message.rolling_period {
        None => ROLLING_PERIOD,
        Some(period) => u32::try_from(period)
            .map_err(|_| ExposureError::Period("a key covers 1 to 144 intervals"))?,
    };
    let report_type = message.report_type.unwrap_or_default();
    if !(0..=REPORT_TYPE_REVOKED).contains(&report_type) {
        return Err(ExposureError::KeyFile(format!(
            "a key of report type {report_type}"
        )));
    }
    Ok(DiagnosisKey {
        key: TemporaryExposureKey::new(&key_data, start, period)?,
        report_type,
        days_since_onset_of_symptoms: message.days_since_onset_of_symptoms,
        transmission_risk_level: message.transmission_risk_level,
    })
}

/// The id of the trusted key whose signature over `export` verifies. Every trusted key that
/// carries the id and version a signature names is tried (ids can collide).
fn signed_by(
    export: &[u8],
    list: &SignatureListMessage,
    trusted: &[VerificationKey],
) -> Result<String, ExposureError> {
    let mut named = Vec::new();
    for entry in &list.signatures {
        let info = entry.signature_info.clone().unwrap_or_default();
        let id = info.verification_key_id.unwrap_or_default();
        let version = info.verification_key_version.unwrap_or_default();
        if info
            .signature_algorithm
            .as_deref()
            .is_some_and(|algorithm| algorithm != ECDSA_P256_SHA256_OID)
        {
            named.push(format!("{id}/{version} (another algorithm)"));
            continue;
        }
        let signature = entry.signature.as_deref().unwrap_or_default();
        let candidates = trusted
            .iter()
            .filter(|key| key.id == id && key.version == version);
        for key in candidates {
            if key.verifies(export, signature) {
                return Ok(key.id.clone());
            }
        }
        named.push(format!("{id}/{version}"));
    }
    Err(ExposureError::Signature(if named.is_empty() {
        "export.sig holds no signature".into()
    } else {
        format!(
            "no trusted key verifies the signatures of {}",
            named.join(", ")
        )
    }))
}

fn read_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ExposureError> {
    let entry = archive
        .by_name(name)
        .map_err(|error| ExposureError::KeyFile(format!("{name}: {error}")))?;
    // The size in the archive's directory is only a claim: the read itself is bounded.
    let mut bytes = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| ExposureError::KeyFile(format!("{name}: {error}")))?;
    if bytes.len() as u64 > limit {
        return Err(ExposureError::TooLarge {
            what: "export.bin or export.sig",
            limit,
        });
    }
    Ok(bytes)
}

/// Signs key files with a P-256 key (the reference server's side, feature `key-server`).
#[cfg(feature = "key-server")]
#[derive(Debug)]
pub struct ExportSigner {
    key_pair: EcdsaKeyPair,
    id: String,
    version: String,
}

#[cfg(feature = "key-server")]
impl ExportSigner {
    /// A new signing key, as PKCS#8 (to keep in the server's data).
    ///
    /// # Errors
    /// [`ExposureError::Random`] when the system generator fails.
    pub fn generate_pkcs8() -> Result<Vec<u8>, ExposureError> {
        EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &SystemRandom::new(),
        )
        .map(|document| document.as_ref().to_vec())
        .map_err(|_| ExposureError::Random)
    }

    /// A signer from its PKCS#8 key, named `id`/`version` in the files it signs.
    ///
    /// # Errors
    /// [`ExposureError::KeyFile`] when the key is not a P-256 PKCS#8 key.
    pub fn from_pkcs8(id: &str, version: &str, pkcs8: &[u8]) -> Result<Self, ExposureError> {
        let key_pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|error| ExposureError::KeyFile(format!("signing key: {error}")))?;
        Ok(ExportSigner {
            key_pair,
            id: id.to_owned(),
            version: version.to_owned(),
        })
    }

    /// The key that verifies this signer's files.
    #[must_use]
    pub fn verification_key(&self) -> VerificationKey {
        VerificationKey {
            id: self.id.clone(),
            version: self.version.clone(),
            point: self.key_pair.public_key().as_ref().to_vec(),
        }
    }

    /// The `export.sig` of an `export.bin` (header included) of `batch`.
    ///
    /// # Errors
    /// [`ExposureError::Random`] when signing fails.
    pub fn sign(&self, export: &[u8], batch: &ExportBatch) -> Result<Vec<u8>, ExposureError> {
        let signature = self
            .key_pair
            .sign(&SystemRandom::new(), export)
            .map_err(|_| ExposureError::Random)?;
        let list = SignatureListMessage {
            signatures: vec![SignatureMessage {
                signature_info: Some(self.signature_info()),
                batch_num: Some(batch.batch_num),
                batch_size: Some(batch.batch_size),
                signature: Some(signature.as_ref().to_vec()),
            }],
        };
        Ok(list.encode_to_vec())
    }

    fn signature_info(&self) -> SignatureInfoMessage {
        SignatureInfoMessage {
            verification_key_version: Some(self.version.clone()),
            verification_key_id: Some(self.id.clone()),
            signature_algorithm: Some(ECDSA_P256_SHA256_OID.into()),
        }
    }

    /// A signed key file (zip) of `keys`.
    ///
    /// # Errors
    /// [`ExposureError::TooLarge`] when the keys pass [`MAX_EXPORT_BYTES`];
    /// [`ExposureError::Random`] when signing fails; [`ExposureError::KeyFile`] when the
    /// archive cannot be written.
    pub fn write<'a>(
        &self,
        batch: &ExportBatch,
        keys: impl IntoIterator<Item = &'a DiagnosisKey>,
    ) -> Result<Vec<u8>, ExposureError> {
        self.write_with_revisions(batch, keys, &[])
    }

    /// A signed key file of `keys` and of `revised` keys (published before, their report
    /// type changed since).
    ///
    /// # Errors
    /// As [`ExportSigner::write`].
    pub fn write_with_revisions<'a>(
        &self,
        batch: &ExportBatch,
        keys: impl IntoIterator<Item = &'a DiagnosisKey>,
        revised: &[DiagnosisKey],
    ) -> Result<Vec<u8>, ExposureError> {
        let header = ExportHeaderMessage {
            start_timestamp: Some(batch.start_timestamp),
            end_timestamp: Some(batch.end_timestamp),
            region: Some(batch.region.clone()),
            batch_num: Some(batch.batch_num),
            batch_size: Some(batch.batch_size),
            signature_infos: vec![self.signature_info()],
        };
        let mut export = EXPORT_HEADER.to_vec();
        header.encode_raw(&mut export);
        let fields = keys
            .into_iter()
            .map(|key| (KEYS_FIELD, key))
            .chain(revised.iter().map(|key| (REVISED_KEYS_FIELD, key)));
        for (field, key) in fields {
            prost::encoding::message::encode(field, &key_message(key), &mut export);
            if export.len() as u64 > MAX_EXPORT_BYTES {
                return Err(ExposureError::TooLarge {
                    what: "export.bin",
                    limit: MAX_EXPORT_BYTES,
                });
            }
        }
        let signatures = self.sign(&export, batch)?;
        zip_of(&[(EXPORT_ENTRY, &export), (SIGNATURE_ENTRY, &signatures)])
            .map_err(|error| ExposureError::KeyFile(format!("writing the archive: {error}")))
    }
}

#[cfg(feature = "key-server")]
fn key_message(key: &DiagnosisKey) -> KeyMessage {
    KeyMessage {
        key_data: Some(key.key.bytes().to_vec()),
        transmission_risk_level: key.transmission_risk_level,
        rolling_start_interval_number: i32::try_from(key.key.rolling_start).ok(),
        rolling_period: i32::try_from(key.key.rolling_period).ok(),
        report_type: Some(key.report_type),
        days_since_onset_of_symptoms: key.days_since_onset_of_symptoms,
    }
}

#[cfg(feature = "key-server")]
fn zip_of(entries: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}
