//! The exposure key server (`docs/protocols/exposure.md`): a laboratory's report of a positive
//! test, the person's upload of their keys with the code it gave, and what every phone reads
//! (the index of day files, the key that verifies them). The day files themselves are the
//! binary key-file format of `carnet-exposure`.

use serde::{Deserialize, Serialize};

/// `POST /v1/pro/test-results`: a laboratory reports a positive test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResultReport {
    /// The day symptoms began, when the person had any (`YYYY-MM-DD`).
    #[serde(default)]
    pub symptom_onset: Option<String>,
}

/// The answer to a [`TestResultReport`]: the one-time code the person types in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCode {
    /// The laboratory's one-time code for a positive test.
    pub code: String,
    /// When the code stops working.
    pub expires_millis: i64,
}

/// `POST /v1/keys/upload`: a person's keys, published with the laboratory's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUpload {
    /// The laboratory's one-time code.
    pub code: String,
    /// The temporary exposure keys of the last 14 days.
    pub keys: Vec<UploadedKey>,
}

/// One temporary exposure key of a [`KeyUpload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadedKey {
    /// The 16-byte key, base64.
    pub key: String,
    /// The first 10-minute interval the key was used in (Unix seconds / 600).
    pub rolling_start: u32,
    /// How many intervals it was used for (144, a whole day, when not said).
    #[serde(default = "whole_day")]
    pub rolling_period: u32,
}

/// 144 ten-minute intervals.
fn whole_day() -> u32 {
    144
}

/// The answer to a [`KeyUpload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    /// How many of the person's keys were taken.
    pub accepted: u32,
    /// The server's day (`YYYY-MM-DD`, UTC): today's keys are published tomorrow.
    pub today: String,
}

/// `GET /v1/keys/index`: the days that have a day file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIndex {
    /// The region the keys are for.
    pub region: String,
    /// The days (`YYYY-MM-DD`), oldest first; each is `GET /v1/keys/days/{day}`.
    pub days: Vec<String>,
}

/// `GET /v1/keys/verification-key`: the key that verifies the day files' signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationKey {
    /// The key's id, as the files' signature info names it.
    pub id: String,
    /// The key's version, as the files' signature info names it.
    pub version: String,
    /// The P-256 public key, a DER SubjectPublicKeyInfo in base64.
    pub public_key_spki: String,
}
