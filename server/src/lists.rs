//! Distribution of what a DCC verifier keeps offline — trust list, revocation list, business
//! rules, value sets — as signed documents (the formats of `docs/protocols/dcc-lists.md`),
//! with ETags so that clients download them only when they change.
//!
//! At start the server signs the four lists with its anchor key (`lists/anchor.pk8`, made if
//! missing; its public key is served at `/v1/lists/anchor`) from what `lists/` holds:
//! `lists/dsc/<COUNTRY>_<name>.der` (document signer certificates), `lists/revoked.txt`
//! (one `UCI|COUNTRYCODEUCI|SIGNATURE <32 hex digits>` per line), `lists/rules.json` (a JSON
//! array of rules as the EU gateway wrote them; absent: the gateway's last rules of nine
//! countries, `data/business-rules.json`) and `lists/valuesets/*.json` (value-set documents;
//! absent: the ones Carnet ships). The version is the publication time, so a restart after a
//! change publishes a newer list.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carnet_certs::revocation::{HashKind, RevocationHash};
use carnet_certs::{ListHeader, RevocationList, RuleList, TrustList, ValueSets};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::AppState;
use crate::error::{ApiError, ServerError};

/// The signed lists as served.
pub(crate) struct Lists {
    anchor_public_key: Vec<u8>,
    trust: Published,
    revocation: Published,
    rules: Published,
    value_sets: Published,
}

/// The gateway's last published rules (AT, CH, DE, ES, EU, FI, FR, IE, LU), served when the
/// operator gives none.
const DEFAULT_RULES: &str = include_str!("../data/business-rules.json");

/// A signed document as served, with its ETag.
#[derive(Clone)]
pub(crate) struct Published {
    bytes: Vec<u8>,
    etag: String,
}

impl Published {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        let etag = format!(
            "\"{}\"",
            hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes))
        );
        Published { bytes, etag }
    }
}

impl Lists {
    /// Signs the lists from the files under `dir` (created if missing).
    pub(crate) fn publish(dir: &Path, now_secs: i64) -> Result<Self, ServerError> {
        std::fs::create_dir_all(dir.join("dsc")).map_err(|e| ServerError::io("create", dir, e))?;
        let key = anchor_key(&dir.join("anchor.pk8"))?;
        let kid = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = kid.as_ref().get(..8).unwrap_or_default();
        let header = ListHeader {
            version: u64::try_from(now_secs).unwrap_or(0),
            issued_at: now_secs,
        };
        let rng = SystemRandom::new();
        let trust = TrustList::new(header.clone(), signers(&dir.join("dsc"))?)
            .map_err(|e| ServerError::Lists(e.to_string()))?;
        let revocation = RevocationList::new(header.clone(), revoked(&dir.join("revoked.txt"))?);
        let rules = RuleList::seal(
            &header,
            &rule_documents(&dir.join("rules.json"))?,
            &key,
            kid,
            &rng,
        )
        .map_err(|e| ServerError::Lists(e.to_string()))?;
        let value_sets = ValueSets::seal(
            &header,
            &value_set_documents(&dir.join("valuesets"))?,
            &key,
            kid,
            &rng,
        )
        .map_err(|e| ServerError::Lists(e.to_string()))?;
        Ok(Lists {
            rules: Published::new(rules),
            value_sets: Published::new(value_sets),
            anchor_public_key: key.public_key().as_ref().to_vec(),
            trust: Published::new(
                trust
                    .seal(&key, kid, &rng)
                    .map_err(|e| ServerError::Lists(e.to_string()))?,
            ),
            revocation: Published::new(
                revocation
                    .seal(&key, kid, &rng)
                    .map_err(|e| ServerError::Lists(e.to_string()))?,
            ),
        })
    }
}

fn anchor_key(path: &Path) -> Result<EcdsaKeyPair, ServerError> {
    let rng = SystemRandom::new();
    let pkcs8 = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let generated = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| ServerError::Lists("cannot generate the anchor key".into()))?;
            crate::write_private(path, generated.as_ref())?;
            generated.as_ref().to_vec()
        }
        Err(e) => return Err(ServerError::io("read", path, e)),
    };
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
        .map_err(|_| ServerError::Lists(format!("{} is not a P-256 PKCS#8 key", path.display())))
}

/// The files of `dir` whose name ends in `.extension`, sorted.
fn files_with_extension(dir: &Path, extension: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    Ok(paths)
}

fn signers(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, ServerError> {
    let mut signers = Vec::new();
    let paths = files_with_extension(dir, "der").map_err(|e| ServerError::io("list", dir, e))?;
    for path in paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let country = name
            .split('_')
            .next()
            .filter(|c| c.len() == 2)
            .unwrap_or("XX")
            .to_uppercase();
        signers.push((
            country,
            std::fs::read(&path).map_err(|e| ServerError::io("read", &path, e))?,
        ));
    }
    Ok(signers)
}

fn rule_documents(path: &Path) -> Result<Vec<serde_json::Value>, ServerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_RULES.to_owned(),
        Err(e) => return Err(ServerError::io("read", path, e)),
    };
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Array(rules)) => Ok(rules),
        _ => Err(ServerError::Lists(format!(
            "{} is not a JSON array of rules",
            path.display()
        ))),
    }
}

fn value_set_documents(dir: &Path) -> Result<Vec<serde_json::Value>, ServerError> {
    let paths = match files_with_extension(dir, "json") {
        Ok(paths) => paths,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(carnet_certs::value_sets::shipped_documents());
        }
        Err(e) => return Err(ServerError::io("list", dir, e)),
    };
    paths
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).map_err(|e| ServerError::io("read", path, e))?;
            serde_json::from_str(&text).map_err(|e| {
                ServerError::Lists(format!("{} is not a value set: {e}", path.display()))
            })
        })
        .collect()
}

fn revoked(path: &Path) -> Result<Vec<(HashKind, RevocationHash)>, ServerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ServerError::io("read", path, e)),
    };
    let bad = |line: &str| ServerError::Lists(format!("{}: cannot read {line:?}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (kind, hash) = line.split_once(' ').ok_or_else(|| bad(line))?;
            let kind = HashKind::ALL
                .into_iter()
                .find(|k| k.name() == kind)
                .ok_or_else(|| bad(line))?;
            let bytes = hex::decode(hash.trim()).map_err(|_| bad(line))?;
            Ok((
                kind,
                RevocationHash::try_from(bytes.as_slice()).map_err(|_| bad(line))?,
            ))
        })
        .collect()
}

/// `GET /v1/lists/{trust|revocation|rules|valuesets}`: the signed list, `304 Not Modified` when the
/// client's `If-None-Match` names the current one.
pub(crate) async fn get_list(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let published = match name.as_str() {
        "trust" => &state.lists.trust,
        "revocation" => &state.lists.revocation,
        "rules" => &state.lists.rules,
        "valuesets" => &state.lists.value_sets,
        _ => return Err(ApiError::not_found()),
    };
    conditional(
        published,
        &headers,
        "public, max-age=300, must-revalidate",
        "application/cose",
    )
}

/// A signed document answered `304 Not Modified` when `If-None-Match` names its ETag, else
/// in full (`application/cose`), with `cache`'s `Cache-Control`.
pub(crate) fn conditional(
    published: &Published,
    headers: &HeaderMap,
    cache: &'static str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&published.etag).map_err(ApiError::internal)?;
    let cache = HeaderValue::from_static(cache);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == published.etag || tag.trim() == "*")
        });
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        ],
        published.bytes.clone(),
    )
        .into_response())
}

/// `GET /v1/lists/anchor`: the anchor's public key (SEC1), which apps ship with.
pub(crate) async fn get_anchor(State(state): State<Arc<AppState>>) -> Vec<u8> {
    p256_spki(&state.lists.anchor_public_key)
}

/// The lists' anchor key of the server whose data directory is `data_dir`, as a DER
/// SubjectPublicKeyInfo: what the operator hands to app builders, who ship it in the app
/// (made if the server has not run yet).
///
/// # Errors
/// [`ServerError`] when the key file cannot be read or made.
pub fn list_anchor(data_dir: &Path) -> Result<Vec<u8>, ServerError> {
    let dir = data_dir.join("lists");
    std::fs::create_dir_all(&dir).map_err(|e| ServerError::io("create", &dir, e))?;
    Ok(p256_spki(
        anchor_key(&dir.join("anchor.pk8"))?.public_key().as_ref(),
    ))
}

/// DER SubjectPublicKeyInfo of a P-256 key: a fixed header (SEQUENCE, the algorithm
/// id-ecPublicKey with the curve prime256v1, BIT STRING) then the 65-byte SEC1 point. Written
/// out because ring gives the point only, and no crate is needed for a constant header.
pub(crate) fn p256_spki(point: &[u8]) -> Vec<u8> {
    const P256_SPKI_HEADER: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    [&P256_SPKI_HEADER[..], point].concat()
}
