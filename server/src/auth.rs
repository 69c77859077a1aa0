//! Who is calling: citizens' devices and professionals' software.
//!
//! **Devices**: a device makes a P-256 account key pair and enrols it with its card
//! (`POST /v1/issuer/enrolment`, see `issuer`) — or, only where the configuration enables it
//! for the tests of the layers below the card, with `POST /v1/enrol/test` and the test code —
//! sending its public key and a signature of that key by itself (proof of possession). It
//! receives a user id and a token (`base64url(JSON {sub, exp}) . base64url(HMAC-SHA256)`, the HMAC key in
//! `data_dir/token.key`). Every request then carries
//!
//! ```text
//! Authorization: Carnet <token>
//! Carnet-Date: <Unix milliseconds>
//! Carnet-Nonce: <16 to 64 hex digits, never reused>
//! Carnet-Signature: base64(ECDSA P-256 SHA-256, r ‖ s) of
//!     "<METHOD>\n<path and query>\n<date>\n<nonce>\n<hex SHA-256 of the body>"
//! ```
//!
//! so a token alone is useless without the device key, and a captured request cannot be
//! replayed: the date must be within five minutes and the nonce is remembered (in the
//! database, so a restart does not forget) until then.
//!
//! **Professionals**: `Authorization: Bearer <professional key>` (configured), compared in
//! constant time.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use carnet_wire::health_space::{AccountGrant, TestEnrolment};

use crate::AppState;
use crate::db;
use crate::error::ApiError;

/// How far a request's date may be from the server's clock, in milliseconds.
pub const MAX_CLOCK_SKEW_MILLIS: i64 = 5 * 60 * 1000;

/// The authenticated user of a request, put in its extensions by [`citizen`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserId(pub String);

/// Keys and limits the authentication layers share.
pub(crate) struct Guard {
    token_key: ring::hmac::Key,
    professional_key: Vec<u8>,
    limiter: DefaultKeyedRateLimiter<String>,
    max_body_bytes: usize,
}

impl Guard {
    pub(crate) fn new(
        token_secret: &[u8],
        professional_key: &str,
        per_minute: u32,
        max_body_bytes: usize,
    ) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Guard {
            token_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token_secret),
            professional_key: professional_key.as_bytes().to_vec(),
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            max_body_bytes,
        }
    }

    /// A token for `user` valid until `expires_millis`.
    pub(crate) fn token(&self, user: &str, expires_millis: i64) -> String {
        let claims = serde_json::to_vec(&Claims {
            sub: user.into(),
            exp: expires_millis,
        })
        .unwrap_or_default();
        let tag = ring::hmac::sign(&self.token_key, &claims);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&claims),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    fn check_token(&self, token: &str, now: i64) -> Result<String, ApiError> {
        let bad =
            || ApiError::unauthorized("auth.token", "the token is not one this server issued");
        let (claims, tag) = token.split_once('.').ok_or_else(bad)?;
        let claims = URL_SAFE_NO_PAD.decode(claims).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        ring::hmac::verify(&self.token_key, &claims, &tag).map_err(|_| bad())?;
        let claims: Claims = serde_json::from_slice(&claims).map_err(|_| bad())?;
        if claims.exp < now {
            return Err(ApiError::unauthorized(
                "auth.expired",
                "the token has expired: enrol again",
            ));
        }
        Ok(claims.sub)
    }

    /// Whether two secrets are equal, in time that does not depend on where they differ
    /// (both are HMACed, and `ring` compares the tags in constant time).
    fn same_secret(&self, presented: &[u8], expected: &[u8]) -> bool {
        let tag = ring::hmac::sign(&self.token_key, expected);
        ring::hmac::verify(&self.token_key, presented, tag.as_ref()).is_ok()
    }

    /// Counts a request of `client`; refuses past the quota.
    pub(crate) fn admit(&self, client: &str) -> Result<(), ApiError> {
        self.limiter.check_key(&client.to_owned()).map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate.limited",
                "too many requests: slow down",
            )
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("auth.missing", format!("the {name} header is missing"))
        })
}

/// Middleware: authenticates a device's request (token, signature, date, nonce) and admits
/// it under its user's rate limit.
pub(crate) async fn citizen(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let now = crate::now_millis();
    let (parts, body) = request.into_parts();
    let token = header(&parts.headers, "authorization")?
        .strip_prefix("Carnet ")
        .ok_or_else(|| {
            ApiError::unauthorized("auth.scheme", "use Authorization: Carnet <token>")
        })?;
    let user = state.guard.check_token(token, now)?;
    state.guard.admit(&user)?;
    let date = header(&parts.headers, "carnet-date")?.to_owned();
    let nonce = header(&parts.headers, "carnet-nonce")?.to_owned();
    let signature = STANDARD
        .decode(header(&parts.headers, "carnet-signature")?)
        .map_err(|_| ApiError::unauthorized("auth.signature", "the signature is not base64"))?;
    let when: i64 = date
        .parse()
        .map_err(|_| ApiError::unauthorized("auth.date", "Carnet-Date is not a number"))?;
    if (when - now).abs() > MAX_CLOCK_SKEW_MILLIS {
        return Err(ApiError::unauthorized(
            "auth.date",
            "the request's date is too far from the server's clock",
        ));
    }
    if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::unauthorized(
            "auth.nonce",
            "Carnet-Nonce must be 16 to 64 hex digits",
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, state.guard.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body.too_large",
                "the request body is too large",
            )
        })?;
    // Nested routers see the URI without their prefix; the device signed the whole of it.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let message = carnet_wire::signing_string(parts.method.as_str(), path, &date, &nonce, &bytes);
    let user_for_db = user.clone();
    let key = state
        .db
        .run(move |tx| db::user_key(tx, &user_for_db))
        .await?;
    let key = key.ok_or_else(|| ApiError::unauthorized("auth.unknown_user", "no such user"))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
        .verify(message.as_bytes(), &signature)
        .map_err(|_| {
            ApiError::unauthorized("auth.signature", "the request signature does not verify")
        })?;
    let (user_for_db, nonce_for_db) = (user.clone(), nonce);
    let fresh = state
        .db
        .run(move |tx| {
            db::remember_nonce(
                tx,
                &user_for_db,
                &nonce_for_db,
                when + MAX_CLOCK_SKEW_MILLIS,
                now,
            )
        })
        .await?;
    if !fresh {
        tracing::warn!("replayed request refused");
        return Err(ApiError::unauthorized(
            "auth.replayed",
            "this request was already received",
        ));
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(UserId(user));
    Ok(next.run(request).await)
}

/// Middleware: admits professionals' software presenting the configured key.
pub(crate) async fn professional(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = header(request.headers(), "authorization")?
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("auth.scheme", "use Authorization: Bearer <key>"))?;
    if !state
        .guard
        .same_secret(presented.as_bytes(), &state.guard.professional_key)
    {
        return Err(ApiError::unauthorized(
            "auth.professional",
            "unknown professional key",
        ));
    }
    state.guard.admit("professional")?;
    Ok(next.run(request).await)
}

/// The health-space account key of an enrolment (SEC1 P-256, base64), once its signature over
/// itself (proof of possession, base64) verifies.
pub(crate) fn proven_account_key(key: &str, proof: &str) -> Result<Vec<u8>, ApiError> {
    let key = STANDARD
        .decode(key)
        .map_err(|_| ApiError::bad_request("enrol.key", "account_key is not base64"))?;
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| ApiError::bad_request("enrol.proof", "account_proof is not base64"))?;
    if key.len() != 65 {
        return Err(ApiError::bad_request(
            "enrol.key",
            "account_key must be an uncompressed P-256 point",
        ));
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
        .verify(&key, &proof)
        .map_err(|_| {
            ApiError::bad_request("enrol.proof", "the proof of possession does not verify")
        })?;
    Ok(key)
}

/// `POST /v1/enrol/test`
pub(crate) async fn enrol(
    State(state): State<Arc<AppState>>,
    ConnectInfo(address): ConnectInfo<std::net::SocketAddr>,
    axum::Json(enrolment): axum::Json<TestEnrolment>,
) -> Result<axum::Json<AccountGrant>, ApiError> {
    state.guard.admit(&address.ip().to_string())?;
    let Some(code) = &state.config.test_enrolment_code else {
        return Err(ApiError::not_found());
    };
    if !state
        .guard
        .same_secret(enrolment.code.as_bytes(), code.as_bytes())
    {
        return Err(ApiError::unauthorized("enrol.code", "wrong enrolment code"));
    }
    let key = proven_account_key(&enrolment.account_key, &enrolment.account_proof)?;
    let mut id = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| ApiError::internal("random"))?;
    let user = hex::encode(id);
    let now = crate::now_millis();
    let (user_for_db, key_for_db) = (user.clone(), key);
    state
        .db
        .run(move |tx| db::set_user_key(tx, &user_for_db, &key_for_db, now))
        .await?;
    let expires =
        now + i64::try_from(state.config.token_lifetime_secs).unwrap_or(i64::MAX / 2_000) * 1000;
    tracing::info!("device enrolled");
    Ok(axum::Json(AccountGrant {
        token: state.guard.token(&user, expires),
        user_id: user,
        expires_millis: expires,
    }))
}
