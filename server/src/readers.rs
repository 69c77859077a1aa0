//! The health professionals' PKI (`docs/protocols/apcv.md`, "Reader authentication"), the
//! role IGC-Santé has in France: it certifies the reader keys of registered professionals and
//! establishments, so that a holder's phone can check who asks before it shows anything.
//!
//! * Its root, made with rcgen on first start (`readers/root.{der,pk8}`), is served at
//!   `GET /v1/readers/root`; phones keep it with their card.
//! * `POST /v1/pro/readers` (professionals' key: in France the professional's own CPS card)
//!   certifies a key for a name, an organisation, an RPPS or FINESS number, a profession and
//!   the DNS names of remote endpoints; valid a year.
//! * `POST /v1/pro/readers/{serial}/revoke` revokes one; `GET /v1/readers/revocations` is the
//!   root's signed list of revoked certificates still within their validity, valid 30 days.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::authority::{CertificateValidity, ReaderPki, ReaderSubject};
use carnet_identity::engagement::check_p256_point;
use carnet_identity::policy::ReaderPolicy;
use carnet_identity::reader_trust::{ProfessionalId, ReaderRevocations};
use carnet_wire::readers::{ReaderCertificate, ReaderCertificateRequest, ReaderRevoked};
use rusqlite::{OptionalExtension, params};

use crate::error::{ApiError, ServerError};
use crate::issuer::random;
use crate::{AppState, now_millis};

/// How long a reader certificate is valid.
const CERTIFICATE_LIFETIME_SECS: i64 = 365 * 86_400;
/// How long a revocation list may be relied on.
const REVOCATIONS_LIFETIME_SECS: i64 = 30 * 86_400;
/// Longest name or organisation.
const MAX_NAME_CHARS: usize = 128;
/// Most DNS names in one certificate.
const MAX_HOSTS: usize = 8;

/// The PKI's root and key.
pub(crate) struct Readers {
    pki: ReaderPki,
}

impl Readers {
    /// Loads the root from `dir`, making it the first time (valid ten years).
    pub(crate) fn open(dir: &Path, now_secs: i64) -> Result<Self, ServerError> {
        let pki = crate::certificate_files(
            dir,
            &["root.der", "root.pk8"],
            now_secs,
            |mut files| {
                let key = files.pop().unwrap_or_default();
                ReaderPki::from_parts(files.pop().unwrap_or_default(), key)
            },
            |validity| {
                let pki = ReaderPki::create("Carnet reference IGC-Santé (test)", validity)?;
                let contents = vec![pki.root_certificate().to_vec(), pki.root_key().to_vec()];
                Ok((pki, contents))
            },
        )?;
        Ok(Readers { pki })
    }
}

/// The public routes, under `/v1/readers`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/root", get(get_root))
        .route("/revocations", get(get_revocations))
}

/// The professionals' routes, under `/v1/pro`.
pub(crate) fn professional_router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/readers", post(certify))
        .route("/readers/{serial}/revoke", post(revoke))
}

async fn get_root(State(state): State<Arc<AppState>>) -> Vec<u8> {
    state.readers.pki.root_certificate().to_vec()
}

/// `GET /v1/readers/revocations`: signed now, listing the revoked certificates not yet past
/// their validity.
async fn get_revocations(State(state): State<Arc<AppState>>) -> Result<Vec<u8>, ApiError> {
    let now = now_millis();
    let revoked = state
        .db
        .run(move |tx| {
            let mut statement = tx.prepare(
                "SELECT serial FROM reader_certificate
                 WHERE revoked_millis IS NOT NULL AND not_after_millis >= ?1",
            )?;
            let serials = statement
                .query_map([now], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(serials)
        })
        .await?;
    let list = ReaderRevocations {
        issued: now / 1000,
        expires: now / 1000 + REVOCATIONS_LIFETIME_SECS,
        revoked,
    };
    state
        .readers
        .pki
        .sign_revocations(&list)
        .map_err(ApiError::internal)
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("reader.request", message)
}

/// The subject of a request, every field checked.
fn subject(body: &ReaderCertificateRequest) -> Result<ReaderSubject, ApiError> {
    let text = |value: &str, what: &str| {
        let value = value.trim();
        if value.is_empty()
            || value.chars().count() > MAX_NAME_CHARS
            || value.chars().any(char::is_control)
        {
            return Err(refused(format!(
                "{what}: 1 to {MAX_NAME_CHARS} printable characters"
            )));
        }
        Ok(value.to_owned())
    };
    let identifier = ProfessionalId::from_attribute(body.identifier.trim())
        .map_err(|_| refused("identifier: RPPS:<11 digits> or FINESS:<9 characters>"))?;
    let policy = ReaderPolicy::standard();
    if policy.profession_label(&body.profession).is_none() {
        return Err(refused(format!(
            "profession {:?} is not one the readers' policy knows",
            body.profession
        )));
    }
    if body.hosts.len() > MAX_HOSTS
        || body.hosts.iter().any(|host| {
            host.is_empty()
                || host.len() > 253
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
    {
        return Err(refused(format!(
            "hosts: at most {MAX_HOSTS} DNS names or IP addresses"
        )));
    }
    Ok(ReaderSubject {
        name: text(&body.name, "name")?,
        organisation: text(&body.organisation, "organisation")?,
        identifier,
        profession: body.profession.clone(),
        hosts: body.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
    })
}

/// `POST /v1/pro/readers` → the reader's certificate.
async fn certify(
    State(state): State<Arc<AppState>>,
    Json(body): Json<ReaderCertificateRequest>,
) -> Result<Json<ReaderCertificate>, ApiError> {
    let subject = subject(&body)?;
    let public_key = STANDARD
        .decode(&body.public_key)
        .map_err(|_| refused("public_key is not base64"))?;
    check_p256_point(&public_key).map_err(|_| refused("public_key is not a P-256 point"))?;
    let mut serial = random::<16>()?;
    // Positive, and 16 bytes long: no leading zero byte to drop.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let now = now_millis() / 1000;
    let validity = CertificateValidity {
        not_before: now - 300,
        not_after: now + CERTIFICATE_LIFETIME_SECS,
    };
    let certificate = state
        .readers
        .pki
        .issue(&subject, &public_key, &serial, validity)
        .map_err(ApiError::internal)?;
    let (identifier, name) = (subject.identifier.to_attribute(), subject.name.clone());
    let not_after_millis = validity.not_after * 1000;
    let kept = serial.to_vec();
    state
        .db
        .run(move |tx| {
            tx.execute(
                "INSERT INTO reader_certificate
                 (serial, identifier, name, not_after_millis, issued_millis, revoked_millis)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![kept, identifier, name, not_after_millis, now_millis()],
            )?;
            Ok(())
        })
        .await?;
    tracing::info!("reader certificate issued");
    Ok(Json(ReaderCertificate {
        certificate: STANDARD.encode(certificate),
        serial: hex::encode(serial),
        not_after_millis,
    }))
}

/// `POST /v1/pro/readers/{serial}/revoke` → when it was revoked; 404 for a serial never
/// issued.
async fn revoke(
    State(state): State<Arc<AppState>>,
    UrlPath(serial): UrlPath<String>,
) -> Result<Json<ReaderRevoked>, ApiError> {
    let bytes = hex::decode(&serial).map_err(|_| refused("the serial is hex"))?;
    let revoked_millis = state
        .db
        .run(move |tx| {
            tx.execute(
                "UPDATE reader_certificate SET revoked_millis = COALESCE(revoked_millis, ?2)
                 WHERE serial = ?1",
                params![bytes, now_millis()],
            )?;
            tx.query_row(
                "SELECT revoked_millis FROM reader_certificate WHERE serial = ?1",
                [&bytes],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .ok_or_else(ApiError::not_found)
        })
        .await?;
    tracing::info!("reader certificate revoked");
    Ok(Json(ReaderRevoked {
        serial: serial.to_ascii_lowercase(),
        revoked_millis,
    }))
}
