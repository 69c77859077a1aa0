//! [`ProfessionalClient`]: what a hospital's or a doctor's software does against the
//! professionals' side of the health space — deposit a document or a message for a patient —
//! what the caisse's software does with cards (register one, report a phone lost), and what
//! the professionals' PKI does with reader keys (certify one, revoke one). The
//! demo and the tests play the care team and the caisse with it, over real HTTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::apcv::ApcvClaims;
use carnet_wire::exposure::{TestCode, TestResultReport};
use carnet_wire::health_space::{Deposit, DocumentDescription, FeedItem, Letter};
use carnet_wire::issuer::{ActivationCode, CardRegistered, CardRegistration, CardUpdated};
use carnet_wire::readers::{ReaderCertificate, ReaderCertificateRequest, ReaderRevoked};
use serde::Serialize;
use serde::de::DeserializeOwned;

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

    /// Deposits document `id` (what is said of it, as in `docs/protocols/health-space.md`)
    /// with its file for `user`: the item as the health space keeps it. A retried deposit
    /// with the same id and content changes nothing.
    pub async fn deposit_document(
        &self,
        user: &str,
        id: &str,
        metadata: DocumentDescription,
        content: &[u8],
    ) -> Result<FeedItem, DepositError> {
        let deposit = Deposit {
            id: id.to_owned(),
            metadata,
            content_base64: STANDARD.encode(content),
        };
        self.post(&format!("/v1/pro/patients/{user}/documents"), &deposit)
            .await
    }

    /// Deposits a message for `user`: the item as the health space keeps it.
    pub async fn deposit_message(
        &self,
        user: &str,
        message: &Letter,
    ) -> Result<FeedItem, DepositError> {
        self.post(&format!("/v1/pro/patients/{user}/messages"), message)
            .await
    }

    /// Registers a card for `people` (the holder first, then the beneficiaries, ranked 1,
    /// 2, …); the answer holds the activation code the caisse mails.
    pub async fn register_card(
        &self,
        people: &[ApcvClaims],
    ) -> Result<CardRegistered, DepositError> {
        self.post("/v1/pro/cards", &CardRegistration { people })
            .await
    }

    /// Changes the people on card `nir` or their rights (the phone gets them at its next
    /// rights refresh).
    pub async fn update_card(
        &self,
        nir: &str,
        people: &[ApcvClaims],
    ) -> Result<CardUpdated, DepositError> {
        self.send(
            reqwest::Method::PUT,
            &format!("/v1/pro/cards/{nir}"),
            &CardRegistration { people },
        )
        .await
    }

    /// Reports the phone of card `nir` lost: its credentials are revoked and its account key
    /// dropped; the answer holds the activation code for the next phone.
    pub async fn report_device_lost(&self, nir: &str) -> Result<ActivationCode, DepositError> {
        self.post(
            &format!("/v1/pro/cards/{nir}/device-lost"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Certifies a reader's key, as the professionals' PKI does for a registered pharmacy,
    /// practice or establishment.
    pub async fn certify_reader(
        &self,
        request: &ReaderCertificateRequest,
    ) -> Result<ReaderCertificate, DepositError> {
        self.post("/v1/pro/readers", request).await
    }

    /// Revokes a reader certificate by its serial number (hex).
    pub async fn revoke_reader(&self, serial: &str) -> Result<ReaderRevoked, DepositError> {
        self.post(
            &format!("/v1/pro/readers/{serial}/revoke"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Reports a positive test, as a laboratory does: the one-time code the person types in
    /// the app to publish their exposure keys. `symptom_onset` is the day symptoms began
    /// (`YYYY-MM-DD`), when they had any.
    pub async fn report_positive_test(
        &self,
        symptom_onset: Option<&str>,
    ) -> Result<TestCode, DepositError> {
        let report = TestResultReport {
            symptom_onset: symptom_onset.map(str::to_owned),
        };
        self.post("/v1/pro/test-results", &report).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, DepositError> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, DepositError> {
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
