//! The health-space API ("Mon espace santé"): each user's documents (immutable, their files
//! content-addressed), profile items (versioned, last writer wins with the loser kept),
//! messages from professionals, and a change feed the devices sync from.
//!
//! Citizens (`/v1/me/…`, device-signed requests):
//! - `GET /changes?since=SEQ&limit=N` — items changed after `SEQ`, oldest first;
//! - `GET /items/{kind}/{id}` — one item (`ETag: "v<version>"`, `If-None-Match` → 304);
//! - `GET /blobs/{sha256}`, `PUT /blobs/{sha256}` — files, addressed by their SHA-256;
//! - `PUT /documents/{id}` — a document's metadata (`{"blob": sha256, …}`); the same again is a
//!   no-op, a different one under the same id is `409`;
//! - `PUT /profile/{id}` — `{"resource", "base_version", "updated_millis", "deleted"}`;
//! - `GET /profile/{id}/history` — replaced and losing versions.
//!
//! Professionals (`/v1/pro/…`, bearer key): `POST /patients/{user}/documents` and
//! `POST /patients/{user}/messages` — what a hospital's software deposits.
//!
//! Another user's ids are simply not found (`404`): every query is scoped by the caller.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_wire::health_space::{
    AttachedFile, Deposit, DocumentMetadata, FeedPage, FeedQuery, Letter, MessageBody,
    ProfileHistory, ProfileVersion, ProfileWrite,
};
use serde_json::Value;

use crate::AppState;
use crate::auth::UserId;
use crate::db::{self, DOCUMENT, MESSAGE, PROFILE, ProfileOutcome};
use crate::error::ApiError;

/// Most changes returned at once.
const MAX_PAGE: i64 = 1000;
/// Most attachments on a message.
const MAX_ATTACHMENTS: usize = 20;

fn check_id(id: &str) -> Result<(), ApiError> {
    if carnet_wire::is_fhir_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "id.malformed",
            "ids are 1 to 64 letters, digits, '-' or '.'",
        ))
    }
}

fn check_sha256(sha256: &str) -> Result<(), ApiError> {
    if carnet_wire::is_blob_address(sha256) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "blob.address",
            "a blob is addressed by its SHA-256 in lower-case hex",
        ))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// `GET /v1/me/changes`
pub(crate) async fn changes(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Query(query): Query<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let items = state
        .db
        .run(move |tx| db::changes(tx, &user, query.since, limit))
        .await?;
    let last_seq = items.last().map_or(query.since, |i| i.seq);
    Ok(Json(FeedPage {
        more: items.len() as i64 == limit,
        changes: items,
        last_seq,
    }))
}

/// `GET /v1/me/items/{kind}/{id}`
pub(crate) async fn get_item(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let item = state
        .db
        .run(move |tx| db::get_item(tx, &user, &kind, &id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let etag = format!("\"v{}\"", item.version);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let etag = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    Ok(([(header::ETAG, etag)], Json(item)).into_response())
}

/// `GET /v1/me/blobs/{sha256}`
pub(crate) async fn get_blob(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path(sha256): Path<String>,
) -> Result<Vec<u8>, ApiError> {
    check_sha256(&sha256)?;
    state
        .db
        .run(move |tx| db::get_blob(tx, &user, &sha256))
        .await?
        .ok_or_else(ApiError::not_found)
}

/// `PUT /v1/me/blobs/{sha256}`: idempotent; the content must hash to its address.
pub(crate) async fn put_blob(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path(sha256): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    check_sha256(&sha256)?;
    if sha256_hex(&body) != sha256 {
        return Err(ApiError::bad_request(
            "blob.digest",
            "the content does not hash to its address",
        ));
    }
    state
        .db
        .run(move |tx| db::put_blob(tx, &user, &sha256, &body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/me/documents/{id}`: a document the citizen added on a device.
pub(crate) async fn put_document(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path(id): Path<String>,
    Json(metadata): Json<DocumentMetadata>,
) -> Result<Json<db::Item>, ApiError> {
    check_id(&id)?;
    let blob = metadata.blob.clone();
    check_sha256(&blob)?;
    let metadata = serde_json::to_value(metadata).map_err(ApiError::internal)?;
    let now = crate::now_millis();
    let item = state
        .db
        .run(move |tx| {
            if db::get_blob(tx, &user, &blob)?.is_none() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "document.blob_missing",
                    "upload the file's blob first",
                ));
            }
            db::put_immutable(tx, &user, DOCUMENT, &id, metadata, now)
        })
        .await?;
    Ok(Json(item))
}

/// `PUT /v1/me/profile/{id}`: `200` with the stored item when the write became current,
/// `409` with the current item when a later write had already won (the loser is kept in the
/// history).
pub(crate) async fn put_profile(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path(id): Path<String>,
    Json(write): Json<ProfileWrite>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    if !write.resource.is_object() {
        return Err(ApiError::bad_request(
            "profile.resource",
            "a profile item is a FHIR resource object",
        ));
    }
    let outcome = state
        .db
        .run(move |tx| {
            db::put_profile(
                tx,
                &user,
                &id,
                write.resource,
                write.base_version,
                write.updated_millis,
                write.deleted,
            )
        })
        .await?;
    Ok(match outcome {
        ProfileOutcome::Accepted(item) => (StatusCode::OK, Json(item)).into_response(),
        ProfileOutcome::Superseded(current) => {
            (StatusCode::CONFLICT, Json(current)).into_response()
        }
    })
}

/// `GET /v1/me/profile/{id}/history`
pub(crate) async fn profile_history(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
    Path(id): Path<String>,
) -> Result<Json<ProfileHistory>, ApiError> {
    check_id(&id)?;
    let versions = state
        .db
        .run(move |tx| db::history(tx, &user, PROFILE, &id))
        .await?;
    let versions = versions
        .into_iter()
        .map(|(version, outcome, resource)| ProfileVersion {
            version,
            outcome,
            resource,
        })
        .collect();
    Ok(Json(ProfileHistory { versions }))
}

/// `POST /v1/pro/patients/{user}/documents`
pub(crate) async fn deposit_document(
    State(state): State<Arc<AppState>>,
    Path(user): Path<String>,
    Json(deposit): Json<Deposit>,
) -> Result<Json<db::Item>, ApiError> {
    let (sha256, content) = decode_file(&deposit.content_base64)?;
    let metadata = DocumentMetadata {
        description: deposit.metadata,
        blob: sha256.clone(),
        size: content.len() as u64,
    };
    let metadata = serde_json::to_value(metadata).map_err(ApiError::internal)?;
    let files = vec![(sha256, content)];
    deposit_item(&state, user, DOCUMENT, deposit.id, metadata, files).await
}

/// A file sent base64 in JSON: its address and bytes.
fn decode_file(content_base64: &str) -> Result<(String, Vec<u8>), ApiError> {
    let content = STANDARD
        .decode(content_base64)
        .map_err(|_| ApiError::bad_request("file.content", "content_base64 is not base64"))?;
    Ok((sha256_hex(&content), content))
}

/// Stores what a professional deposits for `user` (an immutable item and its files) in one
/// transaction; an unknown user is not found.
async fn deposit_item(
    state: &AppState,
    user: String,
    kind: &'static str,
    id: String,
    body: Value,
    files: Vec<(String, Vec<u8>)>,
) -> Result<Json<db::Item>, ApiError> {
    check_id(&id)?;
    let now = crate::now_millis();
    let item = state
        .db
        .run(move |tx| {
            if !db::user_exists(tx, &user)? {
                return Err(ApiError::not_found());
            }
            for (sha256, content) in &files {
                db::put_blob(tx, &user, sha256, content)?;
            }
            db::put_immutable(tx, &user, kind, &id, body, now)
        })
        .await?;
    tracing::info!(kind, "deposited");
    Ok(Json(item))
}

/// `POST /v1/pro/patients/{user}/messages`
pub(crate) async fn deposit_message(
    State(state): State<Arc<AppState>>,
    Path(user): Path<String>,
    Json(letter): Json<Letter>,
) -> Result<Json<db::Item>, ApiError> {
    check_id(&letter.id)?;
    if letter.message.attachments.len() > MAX_ATTACHMENTS {
        return Err(ApiError::bad_request(
            "message.attachments",
            "too many attachments",
        ));
    }
    if letter.message.subject.trim().is_empty() || letter.message.body.trim().is_empty() {
        return Err(ApiError::bad_request(
            "message.empty",
            "a message needs a subject and a body",
        ));
    }
    let message = letter.message;
    let mut files = Vec::with_capacity(message.attachments.len());
    let mut attachments = Vec::with_capacity(message.attachments.len());
    for attachment in message.attachments {
        let (sha256, content) = decode_file(&attachment.content_base64)?;
        attachments.push(AttachedFile {
            name: attachment.name,
            blob: sha256.clone(),
            size: content.len() as u64,
        });
        files.push((sha256, content));
    }
    let body = serde_json::to_value(MessageBody {
        sender: message.sender,
        subject: message.subject,
        body: message.body,
        reply_allowed: message.reply_allowed,
        attachments,
    })
    .map_err(ApiError::internal)?;
    deposit_item(&state, user, MESSAGE, letter.id, body, files).await
}
