//! The ApCV remote presentation (`docs/protocols/apcv.md`): the holder's answer posted to the
//! endpoint a reader's challenge names, and the reader's verdict on it.

use serde::{Deserialize, Serialize};

/// What the holder's phone posts to the reader's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemotePresentation {
    /// The answer text (`APCV1:…`).
    pub presentation: String,
}

/// The reader's verdict: `{"accepted": true, "elements": [{"name", "value"}]}` or
/// `{"accepted": false, "code": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteVerdict {
    /// Whether the presentation was accepted.
    pub accepted: bool,
    /// The elements the reader read, when accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<DisclosedElement>,
    /// Why it was refused (a stable code), when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One element a reader read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosedElement {
    /// The element's identifier (`family_name`).
    pub name: String,
    /// Its value as text.
    pub value: String,
}
