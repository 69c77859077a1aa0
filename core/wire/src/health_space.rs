//! The health space (`docs/protocols/health-space.md`): device accounts, the change feed and
//! its items, documents and messages with their files, profile writes and their history, and
//! what professionals deposit.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kind of the feed items that are documents ([`DocumentMetadata`] bodies).
pub const DOCUMENT: &str = "document";
/// Kind of the feed items that are messages ([`MessageBody`] bodies).
pub const MESSAGE: &str = "message";
/// Kind of the feed items that are profile entries (FHIR R4 resource bodies).
pub const PROFILE: &str = "profile";

/// A device's proof that it holds its new account key: the key (SEC1 uncompressed P-256,
/// base64) and the key's ECDSA P-256 SHA-256 signature over itself (r ‖ s, base64). Every
/// enrolment request carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The public key, base64.
    pub account_key: String,
    /// Its signature by itself, base64.
    pub account_proof: String,
}

/// `POST /v1/enrol/test`: an account without a card, for the tests of the layers below the
/// card (only on a server configured with a test code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEnrolment {
    /// The server's test enrolment code.
    pub code: String,
    /// See [`AccountProof::account_key`].
    pub account_key: String,
    /// See [`AccountProof::account_proof`].
    pub account_proof: String,
}

/// The account an enrolment opens: the device signs its requests with its account key and
/// presents `Authorization: Carnet <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountGrant {
    /// The health space's id of the person.
    pub user_id: String,
    /// The bearer token of the device's requests.
    pub token: String,
    /// When the token stops working.
    pub expires_millis: i64,
}

impl AsRef<AccountGrant> for AccountGrant {
    fn as_ref(&self) -> &AccountGrant {
        self
    }
}

/// `?since=&limit=` of `GET /v1/me/changes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedQuery {
    /// The last sequence number the device has applied (0: from the start).
    #[serde(default)]
    pub since: i64,
    /// Most items wanted (the server caps it).
    pub limit: Option<i64>,
}

/// A page of the change feed, oldest change first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// The items changed since the cursor, each once in its latest state.
    pub changes: Vec<FeedItem>,
    /// The cursor to ask from next.
    pub last_seq: i64,
    /// Whether more changes wait after this page.
    pub more: bool,
}

/// One item of a person's health space, as the feed and `GET /v1/me/items/{kind}/{id}` give
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    /// [`DOCUMENT`], [`MESSAGE`], [`PROFILE`], or a kind a newer server knows.
    pub kind: String,
    /// Its id (a FHIR id).
    pub id: String,
    /// Its version, from 1.
    pub version: i64,
    /// Its position in the feed.
    pub seq: i64,
    /// A tombstone.
    pub deleted: bool,
    /// When it last changed.
    pub updated_millis: i64,
    /// What it holds, by kind: [`DocumentMetadata`], [`MessageBody`], a FHIR resource.
    pub body: Value,
}

/// A coded concept: a LOINC document type, a class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The code system's URI (`http://loinc.org`).
    pub system: String,
    /// The code in it.
    pub code: String,
    /// Its name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A health professional named on a document or a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Professional {
    /// Name as shown.
    pub name: String,
    /// RPPS number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpps: Option<String>,
}

/// What is said of a document besides its file: what a professional deposits, and the part of
/// [`DocumentMetadata`] a person sees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentDescription {
    /// Title shown in lists.
    pub title: String,
    /// The document type (LOINC).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<Coding>,
    /// The document class.
    #[serde(rename = "class", default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<Coding>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Professional>,
    /// The date of care it records (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The INS of the person it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins: Option<String>,
    /// HL7 v3 confidentiality code: `N`, `R` or `V`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidentiality: Option<String>,
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A document of the health space (`PUT /v1/me/documents/{id}`, feed items of kind
/// [`DOCUMENT`]): its description and the address of its file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMetadata {
    /// What is said of it.
    #[serde(flatten)]
    pub description: DocumentDescription,
    /// The SHA-256 of its file (`GET /v1/me/blobs/{blob}`).
    pub blob: String,
    /// The file's size in bytes.
    pub size: u64,
}

/// A file a message carries, by address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedFile {
    /// The file's name.
    pub name: String,
    /// Its SHA-256 (`GET /v1/me/blobs/{blob}`).
    pub blob: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A message from the care team: as the health space keeps it ([`MessageBody`], feed items
/// of kind [`MESSAGE`], its files by address) or as a professional sends it ([`Letter`], its
/// files inline). Unknown fields are taken, as in every answer a device reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<File> {
    /// Who sent it.
    pub sender: Professional,
    /// Its subject line.
    pub subject: String,
    /// Its body, plain text.
    pub body: String,
    /// Whether the person may answer it.
    #[serde(default)]
    pub reply_allowed: bool,
    /// Its attached files, base64 in the message.
    #[serde(default = "Vec::new")]
    pub attachments: Vec<File>,
}

/// A message as the health space keeps it.
pub type MessageBody = Message<AttachedFile>;

/// `PUT /v1/me/profile/{id}`: a profile entry written on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileWrite {
    /// The FHIR R4 resource.
    pub resource: Value,
    /// The server version the change was made from (`None`: a new entry).
    pub base_version: Option<i64>,
    /// When the change was made on the device (the later one wins a conflict).
    pub updated_millis: i64,
    /// A deletion.
    #[serde(default)]
    pub deleted: bool,
}

/// `GET /v1/me/profile/{id}/history`: the versions an entry had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileHistory {
    /// The item's versions, oldest first.
    pub versions: Vec<ProfileVersion>,
}

/// One version in a [`ProfileHistory`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileVersion {
    /// Its version number.
    pub version: i64,
    /// `replaced` (a later write built on it) or `lost` (a conflict's loser).
    pub outcome: String,
    /// The resource it held.
    pub resource: Value,
}

/// `POST /v1/pro/patients/{user}/documents`: a document a professional deposits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deposit {
    /// The depositor's id of the document (a retried deposit reuses it).
    pub id: String,
    /// What is said of it; the server adds the file's address and size.
    pub metadata: DocumentDescription,
    /// The file, base64.
    pub content_base64: String,
}

/// `POST /v1/pro/patients/{user}/messages`: a message a professional sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letter {
    /// The sender's id of the message (a retried deposit reuses it).
    pub id: String,
    /// The message, its files inline.
    pub message: Message<LetterAttachment>,
}

/// A file of a [`Letter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterAttachment {
    /// The file's name.
    pub name: String,
    /// The file, base64.
    pub content_base64: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_metadata_is_flat_json_without_absent_fields() {
        let metadata = DocumentMetadata {
            description: DocumentDescription {
                title: "Bilan".into(),
                type_code: Some(Coding {
                    system: "http://loinc.org".into(),
                    code: "11502-2".into(),
                    display: None,
                }),
                ..DocumentDescription::default()
            },
            blob: "ab".repeat(32),
            size: 12,
        };
        let json = serde_json::to_value(&metadata).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "title": "Bilan",
                "type": { "system": "http://loinc.org", "code": "11502-2" },
                "blob": "ab".repeat(32),
                "size": 12,
            })
        );
        assert_eq!(
            serde_json::from_value::<DocumentMetadata>(json).unwrap(),
            metadata
        );
    }

    #[test]
    fn answers_take_unknown_fields_and_requests_refuse_them() {
        let grant: AccountGrant = serde_json::from_str(
            r#"{"user_id": "u", "token": "t", "expires_millis": 1, "newer": true}"#,
        )
        .unwrap();
        assert_eq!(grant.user_id, "u");
        assert!(
            serde_json::from_str::<TestEnrolment>(
                r#"{"code": "c", "account_key": "k", "account_proof": "p", "extra": 1}"#
            )
            .is_err()
        );
    }
}
