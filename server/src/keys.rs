//! The exposure-notification key server (`docs/protocols/exposure.md`, "Key server").
//!
//! * `POST /v1/pro/test-results` (a laboratory, professionals' key): a positive test; the
//!   answer is a one-time code (valid 24 hours) the person types in the app, optionally with
//!   the date their symptoms began.
//! * `POST /v1/keys/upload` (the code authorises; rate-limited per address): the person's
//!   keys of the last 14 days. Every key is checked (16 bytes, period 1–144, not in the
//!   future, not older than 14 days) before the code is used, so a refused upload can be
//!   retried; the code is then spent in the same transaction that stores the keys. Each
//!   upload is padded with random fake keys to between 14 and 18 keys, so that neither the
//!   number of keys nor the days they cover tell anything of the person. A key still in use
//!   (today's) is held back until its day is over.
//! * `GET /v1/keys/index`: the days of the last 14 that have keys.
//! * `GET /v1/keys/days/{YYYY-MM-DD}`: that day's signed key file (zip: `export.bin` +
//!   `export.sig`, ECDSA P-256 by `keys/export.pk8`, made on first start), built once per
//!   content and cached, with an ETag (`304` when unchanged); past days are immutable.
//! * `GET /v1/keys/verification-key`: the key that verifies the files, its id and version
//!   (`{"id", "version", "public_key_spki"}`; in production the app ships with it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_exposure::keyfile::{DiagnosisKey, ExportBatch, ExportSigner, VerificationKey};
use carnet_exposure::keys::{INTERVAL_SECONDS, ROLLING_PERIOD, TemporaryExposureKey};
use carnet_wire::exposure::{
    KeyIndex, KeyUpload, TestCode, TestResultReport, UploadReceipt, UploadedKey,
};
use rusqlite::{OptionalExtension, params};

use crate::error::{ApiError, ServerError};
use crate::lists::{Published, conditional};
use crate::{AppState, now_millis};

/// The region written in the files.
const REGION: &str = "FR";
/// The signing key's id and version, as files name it.
pub const KEY_ID: &str = "FR";
/// See [`KEY_ID`].
pub const KEY_VERSION: &str = "v1";
/// How long a test result's code can be used.
const CODE_LIFETIME_MILLIS: i64 = 24 * 3600 * 1000;
/// Days of keys accepted and published.
const RETENTION_DAYS: i64 = 14;
/// Most keys in one upload (14 days, with a few replaced keys).
const MAX_UPLOAD_KEYS: usize = 30;
/// Uploads are padded to this many keys, plus 0 to 4.
const PADDED_KEYS: usize = 14;
const DAY_SECONDS: i64 = 86_400;
/// GAEN report type of a positive test.
const CONFIRMED_TEST: i32 = 1;

/// The key server's signer and its cached day files.
pub(crate) struct KeyServer {
    signer: ExportSigner,
    /// Day → (keys in the file, the file): rebuilt when the count changes.
    files: Mutex<HashMap<i64, (i64, Published)>>,
}

impl KeyServer {
    /// Loads the signing key from `dir`, making it the first time.
    pub(crate) fn open(dir: &Path) -> Result<Self, ServerError> {
        Ok(KeyServer {
            signer: signer(dir)?,
            files: Mutex::new(HashMap::new()),
        })
    }
}

fn signer(dir: &Path) -> Result<ExportSigner, ServerError> {
    std::fs::create_dir_all(dir).map_err(|e| ServerError::io("create", dir, e))?;
    let path = dir.join("export.pk8");
    // Made on every start, kept only the first time (a P-256 key costs microseconds).
    let fresh = ExportSigner::generate_pkcs8()
        .map_err(|e| ServerError::Config(format!("key server signing key: {e}")))?;
    let pkcs8 = crate::secret_file(&path, || fresh)?;
    ExportSigner::from_pkcs8(KEY_ID, KEY_VERSION, &pkcs8)
        .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
}

/// The key that verifies the key files of the server whose data directory is `data_dir`
/// (made if the server has not run yet): what the app ships with.
///
/// # Errors
/// [`ServerError`] when the signing key cannot be read or made.
pub fn key_server_verification_key(data_dir: &Path) -> Result<VerificationKey, ServerError> {
    Ok(signer(&data_dir.join("keys"))?.verification_key())
}

/// The key server's public routes, under `/v1/keys`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/upload", post(upload))
        .route("/index", get(index))
        .route("/days/{day}", get(day_file))
        .route("/verification-key", get(verification_key))
}

/// The laboratories' route, under `/v1/pro` (professionals' key).
pub(crate) fn laboratory_router() -> Router<Arc<AppState>> {
    Router::new().route("/test-results", post(report_positive))
}

fn day_of(secs: i64) -> i64 {
    secs.div_euclid(DAY_SECONDS)
}

fn day_text(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * DAY_SECONDS)
        .map(|date| date.date().to_string())
        .unwrap_or_default()
}

fn parse_day(text: &str, code: &'static str) -> Result<i64, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format)
        .map_err(|_| ApiError::bad_request(code, "a date is YYYY-MM-DD"))?;
    Ok(day_of(date.midnight().assume_utc().unix_timestamp()))
}

async fn report_positive(
    State(state): State<Arc<AppState>>,
    Json(result): Json<TestResultReport>,
) -> Result<Json<TestCode>, ApiError> {
    let now = now_millis();
    let onset = result
        .symptom_onset
        .as_deref()
        .map(|text| parse_day(text, "keys.onset"))
        .transpose()?;
    if onset.is_some_and(|day| day > day_of(now / 1000) || day < day_of(now / 1000) - 30) {
        return Err(ApiError::bad_request(
            "keys.onset",
            "symptom onset must be within the last 30 days",
        ));
    }
    let code = crate::issuer::activation_code()?;
    let hash = crate::issuer::sha256(code.as_bytes());
    let expires = now + CODE_LIFETIME_MILLIS;
    state
        .db
        .run(move |tx| {
            tx.execute("DELETE FROM test_code WHERE expires_millis < ?1", [now])?;
            tx.execute(
                "INSERT INTO test_code (code_hash, onset_day, expires_millis, used) VALUES (?1, ?2, ?3, 0)",
                params![hash, onset, expires],
            )?;
            Ok(())
        })
        .await?;
    tracing::info!("positive test reported");
    Ok(Json(TestCode {
        code,
        expires_millis: expires,
    }))
}

/// The keys of an upload, checked; nothing is stored unless all are good.
fn checked_keys(
    keys: &[UploadedKey],
    now_secs: i64,
) -> Result<Vec<TemporaryExposureKey>, ApiError> {
    if keys.is_empty() || keys.len() > MAX_UPLOAD_KEYS {
        return Err(ApiError::bad_request(
            "keys.count",
            format!("an upload has 1 to {MAX_UPLOAD_KEYS} keys"),
        ));
    }
    let now_interval = now_secs.div_euclid(INTERVAL_SECONDS);
    let oldest = now_interval - RETENTION_DAYS * i64::from(ROLLING_PERIOD);
    let mut checked: Vec<TemporaryExposureKey> = Vec::with_capacity(keys.len());
    for uploaded in keys {
        let bytes = STANDARD
            .decode(&uploaded.key)
            .map_err(|_| ApiError::bad_request("keys.key", "a key is not base64"))?;
        let key =
            TemporaryExposureKey::new(&bytes, uploaded.rolling_start, uploaded.rolling_period)
                .map_err(|e| ApiError::bad_request("keys.key", e.to_string()))?;
        let start = i64::from(key.rolling_start);
        let end = start + i64::from(key.rolling_period);
        if start > now_interval {
            return Err(ApiError::bad_request(
                "keys.future",
                "a key starts in the future",
            ));
        }
        if end <= oldest {
            return Err(ApiError::bad_request(
                "keys.old",
                "a key is older than 14 days",
            ));
        }
        if checked.iter().any(|other| other.bytes() == key.bytes()) {
            return Err(ApiError::bad_request(
                "keys.duplicate",
                "a key is there twice",
            ));
        }
        checked.push(key);
    }
    Ok(checked)
}

/// Random keys that look like a person's: whole days among the last 14 (not today).
fn padding(real: usize, now_secs: i64) -> Result<Vec<TemporaryExposureKey>, ApiError> {
    let [extra] = crate::issuer::random::<1>()?;
    let wanted = (PADDED_KEYS + usize::from(extra % 5)).saturating_sub(real);
    let today = day_of(now_secs);
    (0..wanted)
        .map(|_| {
            let bytes = crate::issuer::random::<16>()?;
            let [back] = crate::issuer::random::<1>()?;
            let day = today - 1 - i64::from(back % 13);
            let start =
                u32::try_from(day * DAY_SECONDS / INTERVAL_SECONDS).map_err(ApiError::internal)?;
            TemporaryExposureKey::new(&bytes, start, ROLLING_PERIOD).map_err(ApiError::internal)
        })
        .collect()
}

async fn upload(
    State(state): State<Arc<AppState>>,
    ConnectInfo(address): ConnectInfo<std::net::SocketAddr>,
    Json(upload): Json<KeyUpload>,
) -> Result<Json<UploadReceipt>, ApiError> {
    state.guard.admit(&address.ip().to_string())?;
    let now = now_millis();
    let now_secs = now / 1000;
    let keys = checked_keys(&upload.keys, now_secs)?;
    let real = keys.len();
    let fakes = padding(real, now_secs)?;
    let hash = crate::issuer::sha256(upload.code.trim().as_bytes());
    let today = day_of(now_secs);
    let published = state
        .db
        .run(move |tx| {
            let onset: Option<Option<i64>> = tx
                .query_row(
                    "SELECT onset_day FROM test_code WHERE code_hash = ?1 AND used = 0 AND expires_millis >= ?2",
                    params![hash, now],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(onset) = onset else {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "keys.code",
                    "unknown, used or expired code",
                ));
            };
            tx.execute("UPDATE test_code SET used = 1 WHERE code_hash = ?1", [&hash])?;
            let mut statement = tx.prepare(
                "INSERT OR IGNORE INTO diagnosis_key
                 (key_data, rolling_start, rolling_period, report_type, days_since_onset, published_day)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for key in keys.iter().chain(&fakes) {
                let end_secs = (i64::from(key.rolling_start) + i64::from(key.rolling_period))
                    * INTERVAL_SECONDS;
                // A key still in use is published once its period is over.
                let day = day_of(now_secs.max(end_secs));
                let key_day = day_of(i64::from(key.rolling_start) * INTERVAL_SECONDS);
                statement.execute(params![
                    key.bytes().as_slice(),
                    key.rolling_start,
                    key.rolling_period,
                    CONFIRMED_TEST,
                    onset.map(|onset| key_day - onset),
                    day,
                ])?;
            }
            Ok(keys.len() + fakes.len())
        })
        .await?;
    tracing::info!(stored = published, "keys uploaded");
    Ok(Json(UploadReceipt {
        accepted: u32::try_from(real).unwrap_or(u32::MAX),
        today: day_text(today),
    }))
}

async fn index(State(state): State<Arc<AppState>>) -> Result<Json<KeyIndex>, ApiError> {
    let today = day_of(now_millis() / 1000);
    let days: Vec<i64> = state
        .db
        .run(move |tx| {
            let mut statement = tx.prepare(
                "SELECT DISTINCT published_day FROM diagnosis_key
                 WHERE published_day > ?1 AND published_day <= ?2 ORDER BY published_day",
            )?;
            let days = statement
                .query_map(params![today - RETENTION_DAYS, today], |row| row.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(days)
        })
        .await?;
    Ok(Json(KeyIndex {
        region: REGION.to_owned(),
        days: days.into_iter().map(day_text).collect(),
    }))
}

async fn day_file(
    State(state): State<Arc<AppState>>,
    UrlPath(day): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let day = parse_day(&day, "keys.day")?;
    let today = day_of(now_millis() / 1000);
    if day > today || day <= today - RETENTION_DAYS {
        return Err(ApiError::not_found());
    }
    let count: i64 = state
        .db
        .run(move |tx| {
            Ok(tx.query_row(
                "SELECT COUNT(*) FROM diagnosis_key WHERE published_day = ?1",
                [day],
                |row| row.get(0),
            )?)
        })
        .await?;
    if count == 0 {
        return Err(ApiError::not_found());
    }
    let held = state
        .keys
        .files
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&day)
        .filter(|(held_count, _)| *held_count == count)
        .map(|(_, published)| published.clone());
    let published = match held {
        Some(published) => published,
        None => {
            let keys = state
                .db
                .run(move |tx| {
                    // Ordered by key bytes (random): the order tells nothing of the uploads.
                    let mut statement = tx.prepare(
                        "SELECT key_data, rolling_start, rolling_period, report_type, days_since_onset
                         FROM diagnosis_key WHERE published_day = ?1 ORDER BY key_data",
                    )?;
                    let rows = statement
                        .query_map([day], |row| {
                            Ok((
                                row.get::<_, Vec<u8>>(0)?,
                                row.get::<_, u32>(1)?,
                                row.get::<_, u32>(2)?,
                                row.get::<_, i32>(3)?,
                                row.get::<_, Option<i32>>(4)?,
                            ))
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .await?;
            let keys = keys
                .into_iter()
                .map(|(bytes, start, period, report_type, onset)| {
                    Ok(DiagnosisKey {
                        key: TemporaryExposureKey::new(&bytes, start, period)
                            .map_err(ApiError::internal)?,
                        report_type,
                        days_since_onset_of_symptoms: onset,
                        transmission_risk_level: None,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let batch = ExportBatch::single(
                u64::try_from(day * DAY_SECONDS).unwrap_or_default(),
                u64::try_from((day + 1) * DAY_SECONDS).unwrap_or_default(),
                REGION,
            );
            let zip = state
                .keys
                .signer
                .write(&batch, &keys)
                .map_err(ApiError::internal)?;
            let published = Published::new(zip);
            state
                .keys
                .files
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(day, (count, published.clone()));
            published
        }
    };
    let cache = if day < today {
        "public, max-age=86400, immutable"
    } else {
        "public, max-age=300"
    };
    conditional(&published, &headers, cache, "application/zip")
}

async fn verification_key(
    State(state): State<Arc<AppState>>,
) -> Json<carnet_wire::exposure::VerificationKey> {
    let key = state.keys.signer.verification_key();
    Json(carnet_wire::exposure::VerificationKey {
        public_key_spki: STANDARD.encode(crate::lists::p256_spki(key.point())),
        id: key.id,
        version: key.version,
    })
}
