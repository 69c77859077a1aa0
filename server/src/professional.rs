//! [`ProfessionalClient`]: what a hospital's or a doctor's software does against the
//! professionals' side of the health space — deposit a document or a message for a patient.
//! The demo, the load test and the sync tests play the care team with it, over real HTTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Why a deposit failed.
#[derive(Debug, thiserror::Error)]
pub enum DepositError {
    /// The server could not be reached.
    #[error("cannot reach the health space: {0}")]
    Unreachable(String),
    /// The server refused the deposit.
    #[error("deposit refused ({status}): {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's answer.
        body: String,
    },
}

/// A professional's software, holding the professionals' key.
#[derive(Debug, Clone)]
pub struct ProfessionalClient {
    http: reqwest::Client,
    base_url: String,
    key: String,
}

impl ProfessionalClient {
    /// A client of the health space at `base_url` (`http://127.0.0.1:…`) presenting `key`.
    pub fn new(base_url: &str, key: &str) -> Self {
        // reqwest is built without a crypto provider; ring is the project's one stack.
        let _ = rustls::crypto::ring::default_provider().install_default();
        ProfessionalClient {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        }
    }

    /// Deposits document `id` (`metadata`: title, type, author... as in
    /// `docs/protocols/health-space.md`) with its file for `user`. A retried deposit with the
    /// same id and content changes nothing.
    pub async fn deposit_document(
        &self,
        user: &str,
        id: &str,
        metadata: Value,
        content: &[u8],
    ) -> Result<Value, DepositError> {
        let body =
            json!({ "id": id, "metadata": metadata, "content_base64": STANDARD.encode(content) });
        self.post(&format!("/v1/pro/patients/{user}/documents"), &body)
            .await
    }

    /// Deposits a message for `user`: `{"id", "sender", "subject", "body", "reply_allowed",
    /// "attachments": [{"name", "content_base64"}]}`.
    pub async fn deposit_message(
        &self,
        user: &str,
        message: &Value,
    ) -> Result<Value, DepositError> {
        self.post(&format!("/v1/pro/patients/{user}/messages"), message)
            .await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, DepositError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .map_err(|e| DepositError::Unreachable(e.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| DepositError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            return Err(DepositError::Refused {
                status: status.as_u16(),
                body: text,
            });
        }
        serde_json::from_str(&text).map_err(|e| DepositError::Unreachable(e.to_string()))
    }
}
