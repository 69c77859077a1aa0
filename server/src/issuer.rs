//! The ApCV issuer (`docs/protocols/apcv.md`, "Issuer"): the caisse's side of the card on the
//! phone.
//!
//! * Its certificates: a root and a document signer made with rcgen on first start
//!   (`issuer/{root,signer}.{der,pk8}`); the root is served at `GET /v1/issuer/root` and is
//!   what readers trust.
//! * Cards are registered by the caisse's software (`POST /v1/pro/cards`, professionals'
//!   key): the people on the card (holder first) and their rights. The answer is a one-time
//!   activation code, as the caisse would mail it.
//! * Enrolment: `POST /v1/issuer/enrolment/start` gives a nonce; `POST /v1/issuer/enrolment`
//!   brings the NIR, the code, the device key and its signature over the nonce (proof of
//!   possession), and the account key of the health space. Answer: one credential per person
//!   on the card, and the account's user id and token. Five wrong codes lock the card until a
//!   new code is issued.
//! * `POST /v1/issuer/rights` (signed by the account): the credentials issued again with the
//!   current rights; the ones they replace are revoked.
//! * `GET /v1/issuer/status`: the signed status list (ETag, re-signed when a credential is
//!   revoked and every hour; valid a day).
//! * `POST /v1/pro/cards/{nir}/device-lost` (caisse): every credential of the card revoked, the
//!   account key dropped, a new activation code returned.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::apcv::{ApcvClaims, ENROLMENT_PROOF_CONTEXT, STATUS_PATH};
use carnet_identity::authority::{AuthorityParts, IssuerAuthority};
use carnet_identity::issuance::{IssuanceTerms, issue};
use carnet_identity::mdoc::{DeviceKey, StatusReference, Validity};
use carnet_identity::status::StatusList;
use carnet_wire::health_space::AccountGrant;
use carnet_wire::issuer::{
    ActivationCode, CardEnrolled, CardEnrolment, CardRegistered, CardRegistration, CardUpdated,
    EnrolmentNonce, IssuedCredential, IssuedCredentials,
};
use ring::rand::SystemRandom;
use rusqlite::{OptionalExtension, params};

use crate::auth::UserId;
use crate::error::{ApiError, ServerError};
use crate::lists::{Published, conditional};
use crate::{AppState, db, now_millis};

/// How long an enrolment nonce lives.
const NONCE_LIFETIME_MILLIS: i64 = 5 * 60 * 1000;
/// How far before its signing a credential is valid from (readers' clocks lag).
const VALIDITY_BACKDATE_SECS: i64 = 300;
/// How long an issued credential's MSO is valid.
const CREDENTIAL_LIFETIME_SECS: i64 = 90 * 86_400;
/// How long the status list may be relied on, and how often it is signed again.
const STATUS_LIFETIME_SECS: i64 = 86_400;
const STATUS_RESIGN_SECS: i64 = 3600;
/// Wrong activation codes before a card is locked.
const MAX_FAILED_CODES: i64 = 5;
/// Most people on one card.
const MAX_PEOPLE: usize = 12;

/// The issuer's signing material and its last signed status list.
pub(crate) struct Issuer {
    authority: IssuerAuthority,
    status: Mutex<Option<SignedStatus>>,
}

struct SignedStatus {
    published: Published,
    signed_secs: i64,
    generation: i64,
}

impl Issuer {
    /// Loads the issuer's certificates from `dir`, making them the first time (valid ten
    /// years).
    pub(crate) fn open(dir: &Path, now_secs: i64) -> Result<Self, ServerError> {
        let authority = crate::certificate_files(
            dir,
            &["root.der", "root.pk8", "signer.der", "signer.pk8"],
            now_secs,
            |mut files| {
                let mut next = || files.remove(0);
                IssuerAuthority::from_parts(AuthorityParts {
                    root_certificate: next(),
                    root_key: next(),
                    signer_certificate: next(),
                    signer_key: next(),
                })
            },
            |validity| {
                let authority = IssuerAuthority::create("Carnet reference issuer", validity)?;
                let parts = authority.parts().clone();
                let contents = vec![
                    parts.root_certificate,
                    parts.root_key,
                    parts.signer_certificate,
                    parts.signer_key,
                ];
                Ok((authority, contents))
            },
        )?;
        Ok(Issuer {
            authority,
            status: Mutex::new(None),
        })
    }
}

/// The issuer root certificate (DER) of the server whose data directory is `data_dir`: what
/// readers (pharmacies) are given to trust (made if the server has not run yet).
///
/// # Errors
/// [`ServerError`] when the certificates cannot be read or made.
pub fn issuer_root(data_dir: &Path) -> Result<Vec<u8>, ServerError> {
    let issuer = Issuer::open(&data_dir.join("issuer"), now_millis() / 1000)?;
    Ok(issuer.authority.root_certificate().to_vec())
}

/// The issuer's public routes, under `/v1/issuer`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/root", get(get_root))
        .route("/status", get(get_status))
        .route("/enrolment/start", post(start_enrolment))
        .route("/enrolment", post(enrol))
}

/// The caisse's routes, under `/v1/pro` (professionals' key).
pub(crate) fn caisse_router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cards", post(register_card))
        .route("/cards/{nir}", axum::routing::put(update_card))
        .route("/cards/{nir}/device-lost", post(device_lost))
}

/// The account's routes, under `/v1/me` (signed requests).
pub(crate) fn holder_router() -> Router<Arc<AppState>> {
    Router::new().route("/issuer/rights", post(refresh_rights))
}

async fn get_root(State(state): State<Arc<AppState>>) -> Vec<u8> {
    state.issuer.authority.root_certificate().to_vec()
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes)
        .map_err(|_| ApiError::internal("random"))?;
    Ok(bytes)
}

pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// A new activation code: 20 characters (about 99 bits) from an alphabet without look-alikes,
/// each drawn without modulo bias (bytes past the last whole multiple of 31 are skipped).
pub(crate) fn activation_code() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    const LENGTH: usize = 20;
    let unbiased = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut code = String::with_capacity(LENGTH);
    while code.len() < LENGTH {
        for byte in random::<32>()? {
            if byte < unbiased
                && code.len() < LENGTH
                && let Some(c) = ALPHABET.get(usize::from(byte) % ALPHABET.len())
            {
                code.push(char::from(*c));
            }
        }
    }
    Ok(code)
}

/// The holder of a card's people, once every person's claims are checked and ranked in order
/// under the holder's NIR.
fn checked_people(people: &[ApcvClaims]) -> Result<ApcvClaims, ApiError> {
    let holder = people
        .first()
        .ok_or_else(|| ApiError::bad_request("card.people", "a card has a holder"))?
        .clone();
    if people.len() > MAX_PEOPLE {
        return Err(ApiError::bad_request(
            "card.people",
            "too many people on one card",
        ));
    }
    for (rank, person) in people.iter().enumerate() {
        person
            .check()
            .map_err(|e| ApiError::bad_request("card.claims", e.to_string()))?;
        if person.nir != holder.nir || person.beneficiary_rank as usize != rank + 1 {
            return Err(ApiError::bad_request(
                "card.claims",
                "everyone on a card has its NIR and ranks 1, 2, 3… in order",
            ));
        }
    }
    Ok(holder)
}

/// `PUT /v1/pro/cards/{nir}` `{"people": [claims…]}`: the caisse changes who is on the card or
/// their rights; the phone gets them at its next rights refresh.
async fn update_card(
    State(state): State<Arc<AppState>>,
    UrlPath(nir): UrlPath<String>,
    Json(body): Json<CardRegistration<Vec<ApcvClaims>>>,
) -> Result<Json<CardUpdated>, ApiError> {
    let holder = checked_people(&body.people)?;
    if holder.nir != nir {
        return Err(ApiError::bad_request(
            "card.claims",
            "the people's NIR is not the card's",
        ));
    }
    let people = serde_json::to_string(&body.people).map_err(ApiError::internal)?;
    let count = body.people.len();
    let updated = state
        .db
        .run(move |tx| {
            Ok(tx.execute(
                "UPDATE card SET people = ?2 WHERE nir = ?1",
                params![nir, people],
            )?)
        })
        .await?;
    if updated == 0 {
        return Err(ApiError::not_found());
    }
    Ok(Json(CardUpdated { people: count }))
}

/// `POST /v1/pro/cards` `{"people": [claims…]}` → `{"nir", "user_id", "activation_code"}`.
async fn register_card(
    State(state): State<Arc<AppState>>,
    Json(body): Json<CardRegistration<Vec<ApcvClaims>>>,
) -> Result<Json<CardRegistered>, ApiError> {
    let holder = checked_people(&body.people)?;
    let code = activation_code()?;
    let user = hex::encode(random::<16>()?);
    let people = serde_json::to_string(&body.people).map_err(ApiError::internal)?;
    let (nir, code_hash, user_for_db) = (holder.nir.clone(), sha256(code.as_bytes()), user.clone());
    let now = now_millis();
    state
        .db
        .run(move |tx| {
            let taken: Option<String> = tx
                .query_row("SELECT nir FROM card WHERE nir = ?1", [&nir], |r| r.get(0))
                .optional()?;
            if taken.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "card.exists",
                    "this NIR already has a card",
                ));
            }
            tx.execute(
                "INSERT INTO card (nir, user_id, people, code_hash, failed_codes, device_key, created_millis)
                 VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)",
                params![nir, user_for_db, people, code_hash, now],
            )?;
            Ok(())
        })
        .await?;
    tracing::info!("card registered");
    Ok(Json(CardRegistered {
        nir: holder.nir,
        user_id: user,
        activation_code: code,
    }))
}

/// `POST /v1/issuer/enrolment/start` → `{"nonce": base64, "expires_millis"}`.
async fn start_enrolment(
    State(state): State<Arc<AppState>>,
    ConnectInfo(address): ConnectInfo<std::net::SocketAddr>,
) -> Result<Json<EnrolmentNonce>, ApiError> {
    state.guard.admit(&address.ip().to_string())?;
    let nonce = random::<32>()?.to_vec();
    let now = now_millis();
    let expires = now + NONCE_LIFETIME_MILLIS;
    let stored = nonce.clone();
    state
        .db
        .run(move |tx| {
            tx.execute(
                "DELETE FROM enrolment_nonce WHERE expires_millis < ?1",
                [now],
            )?;
            tx.execute(
                "INSERT INTO enrolment_nonce (nonce, expires_millis) VALUES (?1, ?2)",
                params![stored, expires],
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(EnrolmentNonce {
        nonce: STANDARD.encode(nonce),
        expires_millis: expires,
    }))
}

fn base64_field(value: &str, code: &'static str) -> Result<Vec<u8>, ApiError> {
    STANDARD
        .decode(value)
        .map_err(|_| ApiError::bad_request(code, "not base64"))
}

/// What an enrolment attempt came to, once its transaction is committed (a wrong code is
/// counted even though the request fails).
enum Attempt {
    WrongCode,
    Locked,
    Enrolled {
        user: String,
        credentials: Vec<IssuedCredential>,
    },
}

/// `POST /v1/issuer/enrolment`.
async fn enrol(
    State(state): State<Arc<AppState>>,
    ConnectInfo(address): ConnectInfo<std::net::SocketAddr>,
    Json(enrolment): Json<CardEnrolment>,
) -> Result<Json<CardEnrolled>, ApiError> {
    state.guard.admit(&address.ip().to_string())?;
    let nonce = base64_field(&enrolment.nonce, "enrol.nonce")?;
    let cose_key = base64_field(&enrolment.device_key, "enrol.device_key")?;
    let proof = base64_field(&enrolment.proof, "enrol.proof")?;
    let account_key =
        crate::auth::proven_account_key(&enrolment.account_key, &enrolment.account_proof)?;
    let device_key = carnet_codec::cbor::from_slice(&cose_key)
        .ok()
        .and_then(|value| DeviceKey::from_cose_key(&value).ok())
        .ok_or_else(|| {
            ApiError::bad_request("enrol.device_key", "not a P-256 or Ed25519 COSE_Key")
        })?;
    device_key
        .verify(&[ENROLMENT_PROOF_CONTEXT, &nonce].concat(), &proof)
        .map_err(|_| {
            ApiError::bad_request("enrol.proof", "the proof of possession does not verify")
        })?;
    let code_hash = sha256(enrolment.code.as_bytes());
    let now = now_millis();
    let nir = enrolment.nir;
    let issuer = state.clone();
    let attempt = state
        .db
        .run(move |tx| {
            let fresh = tx.execute(
                "DELETE FROM enrolment_nonce WHERE nonce = ?1 AND expires_millis >= ?2",
                params![nonce, now],
            )?;
            if fresh == 0 {
                return Err(ApiError::unauthorized(
                    "enrol.nonce",
                    "unknown or expired nonce: start again",
                ));
            }
            let card: Option<(String, String, Option<Vec<u8>>, i64)> = tx
                .query_row(
                    "SELECT user_id, people, code_hash, failed_codes FROM card WHERE nir = ?1",
                    [&nir],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((user, people, stored_hash, failed)) = card else {
                return Ok(Attempt::WrongCode);
            };
            let Some(stored_hash) = stored_hash.filter(|_| failed < MAX_FAILED_CODES) else {
                return Ok(Attempt::Locked);
            };
            // Hashes compared: how long the comparison takes tells nothing of the code.
            if stored_hash != code_hash {
                tx.execute(
                    "UPDATE card SET failed_codes = failed_codes + 1 WHERE nir = ?1",
                    [&nir],
                )?;
                return Ok(Attempt::WrongCode);
            }
            tx.execute(
                "UPDATE card SET code_hash = NULL, failed_codes = 0, device_key = ?2 WHERE nir = ?1",
                params![nir, cose_key],
            )?;
            db::set_user_key(tx, &user, &account_key, now)?;
            let credentials = issue_card(tx, &issuer.issuer, &nir, &people, &device_key, now)?;
            Ok(Attempt::Enrolled { user, credentials })
        })
        .await?;
    match attempt {
        Attempt::WrongCode => Err(ApiError::unauthorized(
            "enrol.code",
            "unknown card or wrong activation code",
        )),
        Attempt::Locked => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "enrol.locked",
            "no activation code is open for this card: ask the caisse for a new one",
        )),
        Attempt::Enrolled { user, credentials } => {
            let expires = now
                + i64::try_from(state.config.token_lifetime_secs).unwrap_or(i64::MAX / 2_000)
                    * 1000;
            tracing::info!("card enrolled on a device");
            Ok(Json(CardEnrolled {
                account: AccountGrant {
                    token: state.guard.token(&user, expires),
                    user_id: user,
                    expires_millis: expires,
                },
                credentials,
            }))
        }
    }
}

/// Revokes the card's current credentials and issues one per person on it for `device_key`,
/// each at the next free index of the status list.
fn issue_card(
    tx: &rusqlite::Transaction<'_>,
    issuer: &Issuer,
    nir: &str,
    people: &str,
    device_key: &DeviceKey,
    now_millis: i64,
) -> Result<Vec<IssuedCredential>, ApiError> {
    let people: Vec<ApcvClaims> = serde_json::from_str(people).map_err(ApiError::internal)?;
    tx.execute(
        "UPDATE issued SET revoked = 1 WHERE nir = ?1 AND revoked = 0",
        [nir],
    )?;
    let now = now_millis / 1000;
    let rng = SystemRandom::new();
    let signer = issuer.authority.document_signer();
    let mut credentials = Vec::with_capacity(people.len());
    for person in &people {
        let index = next_status_index(tx)?;
        let terms = IssuanceTerms {
            validity: Validity {
                signed: now,
                // A reader whose clock lags a little must not see a fresh card as not yet valid.
                valid_from: now - VALIDITY_BACKDATE_SECS,
                valid_until: now + CREDENTIAL_LIFETIME_SECS,
            },
            status: Some(StatusReference {
                index,
                uri: STATUS_PATH.to_owned(),
            }),
        };
        let credential = issue(person, device_key, &terms, &signer, &rng)
            .and_then(|c| c.to_cbor())
            .map_err(ApiError::internal)?;
        tx.execute(
            "INSERT INTO issued (status_index, nir, rank, issued_millis, revoked)
             VALUES (?1, ?2, ?3, ?4, 0)",
            params![index, nir, person.beneficiary_rank, now_millis],
        )?;
        credentials.push(IssuedCredential {
            rank: person.beneficiary_rank,
            credential: STANDARD.encode(credential),
        });
    }
    Ok(credentials)
}

/// The status list index the next credential gets (the list covers every index below).
fn next_status_index(tx: &rusqlite::Transaction<'_>) -> Result<u32, ApiError> {
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(status_index) + 1, 0) FROM issued",
        [],
        |r| r.get(0),
    )?)
}

/// `POST /v1/me/issuer/rights`: the card's credentials issued again with the rights the
/// caisse holds now, for the device key enrolled; the ones they replace are revoked.
async fn refresh_rights(
    State(state): State<Arc<AppState>>,
    Extension(UserId(user)): Extension<UserId>,
) -> Result<Json<IssuedCredentials>, ApiError> {
    let issuer = state.clone();
    let now = now_millis();
    let credentials = state
        .db
        .run(move |tx| {
            let card: Option<(String, String, Option<Vec<u8>>)> = tx
                .query_row(
                    "SELECT nir, people, device_key FROM card WHERE user_id = ?1",
                    [&user],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((nir, people, Some(cose_key))) = card else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "issuer.no_card",
                    "no card is enrolled on this account",
                ));
            };
            let device_key = carnet_codec::cbor::from_slice(&cose_key)
                .ok()
                .and_then(|value| DeviceKey::from_cose_key(&value).ok())
                .ok_or_else(|| ApiError::internal("stored device key"))?;
            issue_card(tx, &issuer.issuer, &nir, &people, &device_key, now)
        })
        .await?;
    Ok(Json(IssuedCredentials { credentials }))
}

/// `POST /v1/pro/cards/{nir}/device-lost` → `{"activation_code"}`: every credential of the
/// card revoked, the account's key dropped (its signed requests fail from now on), a new
/// activation code for the next phone.
async fn device_lost(
    State(state): State<Arc<AppState>>,
    UrlPath(nir): UrlPath<String>,
) -> Result<Json<ActivationCode>, ApiError> {
    let code = activation_code()?;
    let code_hash = sha256(code.as_bytes());
    state
        .db
        .run(move |tx| {
            let user: Option<String> = tx
                .query_row("SELECT user_id FROM card WHERE nir = ?1", [&nir], |r| r.get(0))
                .optional()?;
            let user = user.ok_or_else(ApiError::not_found)?;
            tx.execute(
                "UPDATE card SET code_hash = ?2, failed_codes = 0, device_key = NULL WHERE nir = ?1",
                params![nir, code_hash],
            )?;
            tx.execute(
                "UPDATE issued SET revoked = 1 WHERE nir = ?1 AND revoked = 0",
                [&nir],
            )?;
            db::set_user_key(tx, &user, &[], now_millis())?;
            Ok(())
        })
        .await?;
    tracing::info!("device reported lost: card credentials revoked");
    Ok(Json(ActivationCode {
        activation_code: code,
    }))
}

/// `GET /v1/issuer/status`: the signed status list, signed again when a credential was
/// issued or revoked since, or after an hour.
async fn get_status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Readers ask often: the list's size and revocation count say whether the list held is
    // still right; the revoked indexes are read only to sign a new one.
    let (capacity, revoked_count) = state
        .db
        .run(|tx| {
            let revoked: i64 =
                tx.query_row("SELECT COUNT(*) FROM issued WHERE revoked = 1", [], |r| {
                    r.get(0)
                })?;
            Ok((next_status_index(tx)?, revoked))
        })
        .await?;
    let generation = i64::from(capacity) << 32 | revoked_count;
    let now = now_millis() / 1000;
    let held = state
        .issuer
        .status
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .filter(|signed| {
            signed.generation == generation && now - signed.signed_secs < STATUS_RESIGN_SECS
        })
        .map(|signed| signed.published.clone());
    let published = match held {
        Some(published) => published,
        None => {
            let revoked = state
                .db
                .run(|tx| {
                    let mut statement =
                        tx.prepare("SELECT status_index FROM issued WHERE revoked = 1")?;
                    let revoked = statement
                        .query_map([], |r| r.get::<_, u32>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(revoked)
                })
                .await?;
            let signer = state.issuer.authority.document_signer();
            let mut list = StatusList::new(
                capacity.max(8),
                now,
                now + STATUS_LIFETIME_SECS,
                signer.x5chain.clone(),
            );
            for index in revoked {
                list.revoke(index).map_err(ApiError::internal)?;
            }
            let published = Published::new(
                list.sign(&signer, &SystemRandom::new())
                    .map_err(ApiError::internal)?,
            );
            *state
                .issuer
                .status
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(SignedStatus {
                published: published.clone(),
                signed_secs: now,
                generation,
            });
            published
        }
    };
    conditional(
        &published,
        &headers,
        "public, max-age=300, must-revalidate",
        "application/cose",
    )
}
