//! [`ProfessionalClient`]: what a hospital's or a doctor's software does against the
//! professionals' side of the health space — deposit a document or a message for a patient —
//! and what the caisse's software does with cards (register one, report a phone lost). The
//! demo and the tests play the care team and the caisse with it, over real HTTP.

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

    /// Registers a card for `people` (the holder first, then the beneficiaries, ranked 1,
    /// 2, …): `{"nir", "user_id", "activation_code"}`, the code the caisse mails.
    pub async fn register_card(
        &self,
        people: &[carnet_identity::apcv::ApcvClaims],
    ) -> Result<Value, DepositError> {
        self.post("/v1/pro/cards", &json!({ "people": people }))
            .await
    }

    /// Changes the people on card `nir` or their rights (the phone gets them at its next
    /// rights refresh).
    pub async fn update_card(
        &self,
        nir: &str,
        people: &[carnet_identity::apcv::ApcvClaims],
    ) -> Result<Value, DepositError> {
        self.send(
            reqwest::Method::PUT,
            &format!("/v1/pro/cards/{nir}"),
            &json!({ "people": people }),
        )
        .await
    }

    /// Reports the phone of card `nir` lost: its credentials are revoked and its account key
    /// dropped; `{"activation_code"}` for the next phone.
    pub async fn report_device_lost(&self, nir: &str) -> Result<Value, DepositError> {
        self.post(&format!("/v1/pro/cards/{nir}/device-lost"), &json!({}))
            .await
    }

    /// Reports a positive test, as a laboratory does: `{"code", "expires_millis"}`, the
    /// one-time code the person types in the app to publish their exposure keys.
    /// `symptom_onset` is the day symptoms began (`YYYY-MM-DD`), when they had any.
    pub async fn report_positive_test(
        &self,
        symptom_onset: Option<&str>,
    ) -> Result<Value, DepositError> {
        self.post(
            "/v1/pro/test-results",
            &json!({ "symptom_onset": symptom_onset }),
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, DepositError> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, DepositError> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base_url))
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
