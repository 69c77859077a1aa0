//! Carnet's network layer: the HTTP client the core talks to the national services with.
//!
//! - HTTP over rustls with `ring` (the one crypto stack of the project), timeouts on connect
//!   and on the whole request;
//! - retries with exponential backoff and full jitter on what a bad network does (refused or
//!   reset connections, timeouts, truncated bodies, `5xx`, `429`), never on a refusal
//!   (`4xx`): every retried request is idempotent (`GET`, `PUT` of content-addressed or
//!   versioned items) and carries a fresh nonce and date;
//! - the device credential: a P-256 key made on the device and kept in the platform
//!   [`KeyVault`], enrolled once, signing every request (see `carnet-server`'s `auth`);
//! - conditional `GET` with `If-None-Match`, for the signed DCC lists;
//! - optional certificate pinning ([`NetConfig::pinned_keys`], see [`pinning`]).
//!
//! Async (tokio); the facade owns the runtime.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_platform::{KeyVault, PlatformError};
use carnet_wire::health_space::{AccountGrant, AccountProof, TestEnrolment};
use reqwest::{Method, StatusCode};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

pub mod pinning;
pub use pinning::{KeyPin, certificate_pin};

/// Key vault entry of the device credential.
const CREDENTIAL_ENTRY: &str = "net.device-credential";
/// Largest response body read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// What can go wrong talking to the services.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The service could not be reached, after every retry (no network, server down, timeouts).
    #[error("offline: {0}")]
    Offline(String),
    /// The service refused the request (a `4xx` other than `429`), with its code.
    #[error("refused ({status}): {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The service's stable code.
        code: String,
        /// The service's explanation.
        message: String,
    },
    /// The service answered something that is not what the protocol says.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server's certificate was refused (not pinned, not trusted): not retried.
    #[error("untrusted server: {0}")]
    Untrusted(String),
    /// No device credential: enrol first.
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// The key vault failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// Ceiling of the first delay.
    pub first_delay: Duration,
    /// Ceiling of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry `retry` (0 for the first retry): a random duration up to
    /// `first_delay × 2^retry`, capped at `max_delay` ("full jitter", so that clients that
    /// failed together do not come back together).
    pub fn delay(&self, retry: u32, random: u64) -> Duration {
        let ceiling = self
            .first_delay
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let ceiling_micros = u64::try_from(ceiling.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_micros(random % ceiling_micros)
    }
}

/// How the client reaches the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Base URL (`https://…`, or `http://127.0.0.1:…` for the reference server).
    pub base_url: String,
    /// Limit on connecting.
    pub connect_timeout: Duration,
    /// Limit on a whole request, body included.
    pub timeout: Duration,
    /// How transport failures, `5xx` and `429` are retried.
    pub retry: RetryPolicy,
    /// When not empty, the only server keys trusted (SHA-256 of the server certificate's
    /// SubjectPublicKeyInfo), instead of the platform's certificate authorities.
    pub pinned_keys: Vec<KeyPin>,
}

impl NetConfig {
    /// Defaults for `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        NetConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            pinned_keys: Vec::new(),
        }
    }
}

/// A response: status, ETag and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status (2xx, or 304, or 409 where the protocol uses it).
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The response body, as received.
    pub body: Vec<u8>,
}

impl Response {
    /// The body read as the message `T` of `carnet-wire`; `what` names it in the error.
    ///
    /// # Errors
    /// [`NetError::Protocol`] for a body that is not that message.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, NetError> {
        serde_json::from_slice(&self.body).map_err(|e| NetError::Protocol(format!("{what}: {e}")))
    }
}

/// The device's enrolment: its user id, token and signing key.
pub struct Credential {
    user_id: String,
    token: String,
    key: EcdsaKeyPair,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredCredential {
    user_id: String,
    token: String,
    pkcs8: String,
}

impl Credential {
    /// The enrolled user's id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The credential kept in `vault`, if this device has enrolled.
    pub fn load(vault: &dyn KeyVault) -> Result<Option<Self>, NetError> {
        let Some(bytes) = vault.load(CREDENTIAL_ENTRY)? else {
            return Ok(None);
        };
        let stored: StoredCredential = serde_json::from_slice(&bytes)
            .map_err(|_| NetError::Protocol("damaged device credential".into()))?;
        let pkcs8 = STANDARD
            .decode(&stored.pkcs8)
            .map_err(|_| NetError::Protocol("damaged device key".into()))?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| NetError::Protocol("damaged device key".into()))?;
        Ok(Some(Credential {
            user_id: stored.user_id,
            token: stored.token,
            key,
        }))
    }

    fn sign(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        date: i64,
    ) -> Result<Vec<(&'static str, String)>, NetError> {
        let rng = SystemRandom::new();
        let mut nonce = [0u8; 16];
        rng.fill(&mut nonce)
            .map_err(|_| NetError::Protocol("no random generator".into()))?;
        let nonce = hex::encode(nonce);
        let message = carnet_wire::signing_string(method, path, &date.to_string(), &nonce, body);
        let signature = self
            .key
            .sign(&rng, message.as_bytes())
            .map_err(|_| NetError::Protocol("signing failed".into()))?;
        Ok(vec![
            ("authorization", format!("Carnet {}", self.token)),
            ("carnet-date", date.to_string()),
            ("carnet-nonce", nonce),
            ("carnet-signature", STANDARD.encode(signature.as_ref())),
        ])
    }
}

/// The HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: NetConfig,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: NetConfig) -> Result<Self, NetError> {
        // reqwest is built without a crypto provider; ring is the project's one stack.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout);
        if !config.pinned_keys.is_empty() {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| NetError::Protocol(format!("TLS: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(pinning::PinnedKeys::new(
                    config.pinned_keys.clone(),
                    provider,
                )))
                .with_no_client_auth();
            builder = builder.use_preconfigured_tls(tls);
        }
        let http = builder
            .build()
            .map_err(|e| NetError::Protocol(format!("HTTP client: {e}")))?;
        Ok(Client { http, config })
    }

    /// Enrols this device with the test enrolment code (see [`Client::enrol_with`]).
    pub async fn enrol(&self, vault: &dyn KeyVault, code: &str) -> Result<Credential, NetError> {
        let request = |proof: AccountProof| TestEnrolment {
            code: code.to_owned(),
            account_key: proof.account_key,
            account_proof: proof.account_proof,
        };
        self.enrol_with::<_, AccountGrant>(vault, "/v1/enrol/test", request)
            .await
            .map(|(credential, _)| credential)
    }

    /// Enrols this device's health-space account at `path` (the test enrolment, or the card
    /// issuer's, whose request carries more): makes a P-256 account key, proves possession
    /// (the key signed by itself) in the request `request` builds, and keeps the account the
    /// answer grants in `vault`. Returns it with the whole answer. One attempt: enrolment is
    /// not idempotent.
    pub async fn enrol_with<Request, Answer>(
        &self,
        vault: &dyn KeyVault,
        path: &str,
        request: impl FnOnce(AccountProof) -> Request,
    ) -> Result<(Credential, Answer), NetError>
    where
        Request: serde::Serialize,
        Answer: serde::de::DeserializeOwned + AsRef<AccountGrant>,
    {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| NetError::Protocol("cannot make a device key".into()))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| NetError::Protocol("cannot read the device key".into()))?;
        let public = key.public_key().as_ref().to_vec();
        let proof = key
            .sign(&rng, &public)
            .map_err(|_| NetError::Protocol("signing failed".into()))?;
        let request = request(AccountProof {
            account_key: STANDARD.encode(&public),
            account_proof: STANDARD.encode(proof.as_ref()),
        });
        let response = self.post_once(path, &request).await?;
        let answer: Answer = response.json("enrolment answer")?;
        let grant = answer.as_ref();
        let stored = StoredCredential {
            user_id: grant.user_id.clone(),
            token: grant.token.clone(),
            pkcs8: STANDARD.encode(pkcs8.as_ref()),
        };
        vault.store(
            CREDENTIAL_ENTRY,
            serde_json::to_vec(&stored).map_err(|e| NetError::Protocol(e.to_string()))?,
        )?;
        let credential = Credential {
            user_id: grant.user_id.clone(),
            token: grant.token.clone(),
            key,
        };
        Ok((credential, answer))
    }

    /// An unsigned JSON POST, one attempt (its effect may not be repeatable).
    pub async fn post_once(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Response, NetError> {
        let body = serde_json::to_vec(body).map_err(|e| NetError::Protocol(e.to_string()))?;
        self.attempt(Method::POST, path, &body, &[], None)
            .await
            .map_err(|e| e.error)
    }

    /// A device-signed request, retried on network failures — except a POST, whose effect
    /// may not be repeatable: one attempt.
    pub async fn signed(
        &self,
        credential: &Credential,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, NetError> {
        if method == Method::POST {
            let headers = credential.sign(method.as_str(), path, &body, now_millis())?;
            return self
                .attempt(method, path, &body, &headers, None)
                .await
                .map_err(|e| e.error);
        }
        self.with_retries(
            || async {
                let headers = credential.sign(method.as_str(), path, &body, now_millis())?;
                Ok(headers)
            },
            method.clone(),
            path,
            &body,
            None,
        )
        .await
    }

    /// A conditional GET (no credential): `304` when `etag` is still current.
    pub async fn get_conditional(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Response, NetError> {
        self.with_retries(|| async { Ok(Vec::new()) }, Method::GET, path, &[], etag)
            .await
    }

    async fn with_retries<F, Fut>(
        &self,
        headers: F,
        method: Method,
        path: &str,
        body: &[u8],
        etag: Option<&str>,
    ) -> Result<Response, NetError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(&'static str, String)>, NetError>>,
    {
        let policy = self.config.retry;
        let mut retry = 0;
        loop {
            let headers = headers().await?;
            match self
                .attempt(method.clone(), path, body, &headers, etag)
                .await
            {
                Ok(response) => return Ok(response),
                Err(Attempt { error, retryable }) if retryable && retry + 1 < policy.attempts => {
                    let mut random = [0u8; 8];
                    let _ = SystemRandom::new().fill(&mut random);
                    let delay = policy.delay(retry, u64::from_le_bytes(random));
                    tracing::debug!(retry, delay_ms = delay.as_millis() as u64, %error, "retrying");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(Attempt { error, .. }) => return Err(error),
            }
        }
    }

    /// A CBOR POST to a party that is not the national services (a remote reader's
    /// endpoint, `base_url`), one attempt; its answer is read up to `limit` bytes, and refused
    /// past it as it streams in.
    ///
    /// # Errors
    /// [`NetError::Offline`] when it cannot be reached, [`NetError::Refused`] for a status
    /// other than `2xx`, [`NetError::Protocol`] for an answer over `limit`,
    /// [`NetError::Untrusted`] for a refused certificate.
    pub async fn post_cbor(
        &self,
        path: &str,
        body: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, NetError> {
        let request = Request {
            method: Method::POST,
            path,
            body,
            content_type: "application/cbor",
            limit,
        };
        let response = self
            .attempt_request(&request, &[], None)
            .await
            .map_err(|e| e.error)?;
        if response.status / 100 != 2 {
            return Err(NetError::Refused {
                status: response.status,
                code: String::new(),
                message: String::new(),
            });
        }
        Ok(response.body)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        headers: &[(&'static str, String)],
        etag: Option<&str>,
    ) -> Result<Response, Attempt> {
        let request = Request {
            method,
            path,
            body,
            content_type: "application/json",
            limit: MAX_RESPONSE_BYTES,
        };
        self.attempt_request(&request, headers, etag).await
    }

    async fn attempt_request(
        &self,
        sent: &Request<'_>,
        headers: &[(&'static str, String)],
        etag: Option<&str>,
    ) -> Result<Response, Attempt> {
        let mut request = self
            .http
            .request(
                sent.method.clone(),
                format!("{}{}", self.config.base_url, sent.path),
            )
            .header("content-type", sent.content_type)
            .body(sent.body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let offline = |e: reqwest::Error| {
            if pinning::is_certificate_refusal(&e) {
                // Not a bad network: the server is not the one trusted. Never retried.
                return Attempt {
                    error: NetError::Untrusted(error_chain(&e)),
                    retryable: false,
                };
            }
            Attempt {
                error: NetError::Offline(e.to_string()),
                retryable: true,
            }
        };
        let mut response = request.send().await.map_err(offline)?;
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let too_large = || Attempt {
            error: NetError::Protocol(format!("the answer is larger than {} bytes", sent.limit)),
            retryable: false,
        };
        if response
            .content_length()
            .is_some_and(|l| l > sent.limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(offline)? {
            if body.len() + chunk.len() > sent.limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success()
            || status == StatusCode::NOT_MODIFIED
            || status == StatusCode::CONFLICT
        {
            return Ok(Response {
                status: status.as_u16(),
                etag,
                body,
            });
        }
        let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        // A refusal is `{"code", "message"}`; a body that is not one (a proxy's page) leaves
        // both empty.
        let refusal: Option<carnet_wire::Refusal> = serde_json::from_slice(&body).ok();
        let (code, message) = refusal.map_or_else(Default::default, |r| (r.code, r.message));
        let error = if retryable {
            NetError::Offline(format!("the service answered {status}"))
        } else {
            NetError::Refused {
                status: status.as_u16(),
                code,
                message,
            }
        };
        Err(Attempt { error, retryable })
    }
}

/// What one attempt sends.
struct Request<'a> {
    method: Method,
    path: &'a str,
    body: &'a [u8],
    content_type: &'static str,
    /// Largest answer read.
    limit: usize,
}

/// One failed attempt, and whether trying again may help.
struct Attempt {
    error: NetError,
    retryable: bool,
}

/// An error and its causes, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_full_jitter() {
        let policy = RetryPolicy {
            attempts: 8,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(
            policy.delay(0, u64::MAX - 1),
            Duration::from_micros((u64::MAX - 1) % 100_000)
        );
        assert!(policy.delay(3, u64::MAX) < Duration::from_millis(800));
        assert!(policy.delay(30, u64::MAX) < Duration::from_secs(1));
        assert_eq!(policy.delay(2, 0), Duration::ZERO);
    }
}
