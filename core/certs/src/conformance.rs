//! The EU DCC test-data conformance check (the `dgc-testdata` layout).
//!
//! One test file describes one certificate: `PREFIX` (the QR text), optional intermediate
//! forms (`BASE45`, `COMPRESSED`, `COSE`, `CBOR` as hex, `JSON`), the QR image (`2DCODE` or
//! `_2DCODE`, base64 PNG), `TESTCTX` (`CERTIFICATE`: base64 DER of the only trusted signer,
//! `VALIDATIONCLOCK`: the time of the check, `SCHEMA`: the schema version to check against)
//! and `EXPECTEDRESULTS`: one boolean per step. [`run`] checks every flag present; absent and
//! unknown flags are not tested, nor is `EXPECTEDPICTUREDECODE` in a file that carries no
//! image (as the test data's own runner does). `EXPECTEDSCHEMAVALIDATION` is the official
//! schema of `TESTCTX.SCHEMA` (else of the payload's `ver`) and a single group of `v`, `t`, `r`,
//! as that runner asserts: Carnet's other content checks are not part of it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::hcert::{self, CwtClaims};
use crate::instant;
use crate::{
    CertsError, Dsc, Hcert, TrustStore, check_expiry, check_key_usage, schema, verify_signature,
};

/// Largest test file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The flags, in pipeline order, as spelled in the files.
pub const FLAGS: [&str; 12] = [
    "EXPECTEDPICTUREDECODE",
    "EXPECTEDUNPREFIX",
    "EXPECTEDB45DECODE",
    "EXPECTEDCOMPRESSION",
    "EXPECTEDDECODE",
    "EXPECTEDVALIDOBJECT",
    "EXPECTEDVALIDJSON",
    "EXPECTEDENCODE",
    "EXPECTEDSCHEMAVALIDATION",
    "EXPECTEDVERIFY",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE",
];

/// The outcome of one flag of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagResult {
    /// The flag (`EXPECTEDVERIFY`...).
    pub flag: &'static str,
    /// What the file expects.
    pub expected: bool,
    /// What Carnet found.
    pub actual: bool,
    /// Why the step failed, when it did.
    pub detail: Option<String>,
}

impl FlagResult {
    /// True when Carnet agrees with the file.
    pub fn agrees(&self) -> bool {
        self.expected == self.actual
    }
}

/// Why a test file could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The file is not valid JSON or not a test case.
    #[error("not a DCC test file: {0}")]
    Format(String),
}

/// Decodes a QR image (PNG bytes) to its text; `None` when no code is found.
pub type PictureDecoder<'a> = &'a dyn Fn(&[u8]) -> Option<String>;

/// Runs every flag present in a test file. Without a `picture_decoder`,
/// `EXPECTEDPICTUREDECODE` is reported as failing ("no image decoder").
///
/// # Errors
/// [`CaseError::Format`] when the file is not a test case.
pub fn run(
    file: &str,
    picture_decoder: Option<PictureDecoder<'_>>,
) -> Result<Vec<FlagResult>, CaseError> {
    if file.len() > MAX_FILE_BYTES {
        return Err(CaseError::Format(format!(
            "file of {} bytes is too large",
            file.len()
        )));
    }
    let case: Value = serde_json::from_str(file).map_err(|e| CaseError::Format(e.to_string()))?;
    let expected = case
        .get("EXPECTEDRESULTS")
        .and_then(Value::as_object)
        .ok_or_else(|| CaseError::Format("no EXPECTEDRESULTS".into()))?;
    let prefix = case
        .get("PREFIX")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let context = case.get("TESTCTX").cloned().unwrap_or(Value::Null);
    let outcomes = Outcomes::compute(&case, prefix, &context, picture_decoder);
    Ok(FLAGS
        .iter()
        .filter_map(|flag| {
            let expected = expected.get(*flag)?.as_bool()?;
            let outcome = outcomes.of(flag)?;
            Some(FlagResult {
                flag,
                expected,
                actual: outcome.is_ok(),
                detail: outcome.err(),
            })
        })
        .collect())
}

/// The outcome of each step: `Ok` or the reason it failed.
struct Outcomes {
    /// `None` when the file carries no image: nothing to test.
    picture: Option<Result<(), String>>,
    unprefix: Result<(), String>,
    base45: Result<(), String>,
    compression: Result<(), String>,
    decode: Result<(), String>,
    valid_object: Result<(), String>,
    valid_json: Result<(), String>,
    encode: Result<(), String>,
    schema: Result<(), String>,
    verify: Result<(), String>,
    expiry: Result<(), String>,
    key_usage: Result<(), String>,
}

impl Outcomes {
    fn compute(
        case: &Value,
        prefix: &str,
        context: &Value,
        picture_decoder: Option<PictureDecoder<'_>>,
    ) -> Self {
        let picture = check_picture(case, prefix, picture_decoder);
        let unprefixed = hcert::unprefix(prefix);
        let compressed = unprefixed.clone().and_then(hcert::decode_base45);
        let cose = compressed.clone().and_then(|c| hcert::decompress(&c));
        let sign1 = cose.clone().and_then(|c| hcert::parse_cose(&c));
        let claims = sign1.clone().and_then(|s| hcert::parse_claims(s.payload()));
        let clock = context
            .get("VALIDATIONCLOCK")
            .and_then(Value::as_str)
            .ok_or_else(|| "no VALIDATIONCLOCK".to_owned())
            .and_then(instant::parse);
        let signer = context
            .get("CERTIFICATE")
            .and_then(Value::as_str)
            .ok_or_else(|| "no TESTCTX.CERTIFICATE".to_owned())
            .and_then(|b64| BASE64.decode(b64.trim()).map_err(|e| e.to_string()))
            .and_then(|der| Dsc::from_der(&der).map_err(|e| e.to_string()));
        let hcert = match (&sign1, &claims) {
            (Ok(sign1), Ok(claims)) => Some(Hcert {
                sign1: sign1.clone(),
                claims: claims.clone(),
            }),
            _ => None,
        };
        let with_signer =
            |check: &dyn Fn(&Hcert, &Dsc) -> Result<(), String>| match (&hcert, &signer) {
                (Some(hcert), Ok(dsc)) => check(hcert, dsc),
                (None, _) => Err(first_error(&claims)),
                (_, Err(e)) => Err(e.clone()),
            };
        Outcomes {
            picture,
            unprefix: unprefixed.map(|_| ()).map_err(|e| e.to_string()),
            base45: compressed.map(|_| ()).map_err(|e| e.to_string()),
            compression: cose.map(|_| ()).map_err(|e| e.to_string()),
            decode: claims.as_ref().map(|_| ()).map_err(CertsError::to_string),
            valid_object: claims.as_ref().map(|_| ()).map_err(CertsError::to_string),
            valid_json: compare_json(case, &claims),
            encode: compare_cbor(case, &claims),
            schema: claims
                .as_ref()
                .map_err(CertsError::to_string)
                .and_then(|c| {
                    // The test data's runner also asserts a single group (schema 1.0.0
                    // does not say it).
                    let version = context.get("SCHEMA").and_then(Value::as_str);
                    schema::validate(&c.payload, version)
                        .and_then(|()| schema::single_group(&c.payload).map(|_| ()))
                        .map_err(|e| e.to_string())
                }),
            verify: with_signer(&|hcert, dsc| {
                let trust = TrustStore::new(vec![dsc.clone()]);
                verify_signature(hcert, &trust)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
            expiry: with_signer(&|hcert, dsc| {
                let at = clock.clone()?;
                check_expiry(&hcert.claims, dsc, at).map_err(|e| e.to_string())
            }),
            key_usage: with_signer(&|hcert, dsc| {
                check_key_usage(hcert.cert_type(), dsc).map_err(|e| e.to_string())
            }),
        }
    }

    /// The outcome of a flag's step; `None` when the file gives nothing to test it on.
    fn of(&self, flag: &str) -> Option<Result<(), String>> {
        let outcome = match flag {
            "EXPECTEDPICTUREDECODE" => return self.picture.clone(),
            "EXPECTEDUNPREFIX" => &self.unprefix,
            "EXPECTEDB45DECODE" => &self.base45,
            "EXPECTEDCOMPRESSION" => &self.compression,
            "EXPECTEDDECODE" => &self.decode,
            "EXPECTEDVALIDOBJECT" => &self.valid_object,
            "EXPECTEDVALIDJSON" => &self.valid_json,
            "EXPECTEDENCODE" => &self.encode,
            "EXPECTEDSCHEMAVALIDATION" => &self.schema,
            "EXPECTEDVERIFY" => &self.verify,
            "EXPECTEDEXPIRATIONCHECK" => &self.expiry,
            _ => &self.key_usage,
        };
        Some(outcome.clone())
    }
}

fn first_error(claims: &Result<CwtClaims, CertsError>) -> String {
    match claims {
        Err(e) => e.to_string(),
        Ok(_) => "not decoded".into(),
    }
}

/// The QR image decodes to the `PREFIX` text; `None` when the file carries no image.
fn check_picture(
    case: &Value,
    prefix: &str,
    decoder: Option<PictureDecoder<'_>>,
) -> Option<Result<(), String>> {
    let image = case
        .get("2DCODE")
        .or_else(|| case.get("_2DCODE"))
        .and_then(Value::as_str)
        .filter(|image| !image.trim().is_empty())?;
    Some(decode_picture(image, prefix, decoder))
}

fn decode_picture(
    image: &str,
    prefix: &str,
    decoder: Option<PictureDecoder<'_>>,
) -> Result<(), String> {
    let png = BASE64
        .decode(image.trim())
        .map_err(|e| format!("2DCODE is not base64: {e}"))?;
    let decoder = decoder.ok_or_else(|| "no image decoder in this build".to_owned())?;
    match decoder(&png) {
        Some(text) if text == prefix => Ok(()),
        Some(_) => Err("the image decodes to other text than PREFIX".into()),
        None => Err("no QR code found in the image".into()),
    }
}

/// The decoded payload equals the file's `JSON`.
fn compare_json(case: &Value, claims: &Result<CwtClaims, CertsError>) -> Result<(), String> {
    let claims = claims.as_ref().map_err(CertsError::to_string)?;
    match case.get("JSON") {
        Some(expected) if numbers_as_f64(expected) == numbers_as_f64(&claims.payload) => Ok(()),
        Some(_) => Err("decoded payload differs from JSON".into()),
        None => Err("no JSON in the file".into()),
    }
}

/// The file's `CBOR` carries the certificate's content: either the whole CWT payload (as
/// most countries give it) or the `eu_dgc_v1` map alone (as some do).
fn compare_cbor(case: &Value, claims: &Result<CwtClaims, CertsError>) -> Result<(), String> {
    let claims = claims.as_ref().map_err(CertsError::to_string)?;
    let hex_text = case
        .get("CBOR")
        .and_then(Value::as_str)
        .ok_or_else(|| "no CBOR in the file".to_owned())?;
    let bytes = hex::decode(hex_text.trim()).map_err(|e| format!("CBOR is not hex: {e}"))?;
    let content = match hcert::parse_claims(&bytes) {
        Ok(from_file) => from_file.payload,
        Err(_) => hcert::payload_from_cbor(&bytes).map_err(|e| e.to_string())?,
    };
    if numbers_as_f64(&content) == numbers_as_f64(&claims.payload) {
        Ok(())
    } else {
        Err("CBOR content differs from the certificate's".into())
    }
}

/// JSON with every number as a float, so that `1` and `1.0` compare equal.
fn numbers_as_f64(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A disagreement between Carnet and a test file that is a defect of the test data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownIssue {
    /// The file, relative to the test-data directory, `/`-separated; ending with `/`, every
    /// file under that directory (a defect of how a whole set was generated).
    pub file: String,
    /// The flag that disagrees.
    pub flag: String,
    /// Why the test data, not Carnet, is wrong.
    pub reason: String,
}

impl KnownIssue {
    /// True when the entry is about the file `name` (relative, `/`-separated).
    pub fn covers(&self, name: &str) -> bool {
        self.file == name || (self.is_directory() && name.starts_with(&self.file))
    }

    /// True for an entry about every file under a directory: such an entry excuses the flag
    /// where it disagrees and is not stale where it agrees.
    pub fn is_directory(&self) -> bool {
        self.file.ends_with('/')
    }
}

/// Reads a known-issues list: `file<TAB>flag<TAB>reason` per line; `#` starts a comment line.
///
/// # Errors
/// [`CaseError::Format`] naming the first malformed line.
pub fn parse_known_issues(text: &str) -> Result<Vec<KnownIssue>, CaseError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| {
            let mut fields = line.splitn(3, '\t');
            match (fields.next(), fields.next(), fields.next()) {
                (Some(file), Some(flag), Some(reason))
                    if FLAGS.contains(&flag) && !reason.trim().is_empty() =>
                {
                    Ok(KnownIssue {
                        file: file.into(),
                        flag: flag.into(),
                        reason: reason.trim().into(),
                    })
                }
                _ => Err(CaseError::Format(format!(
                    "known issues line {}: expected file, flag, reason",
                    index + 1
                ))),
            }
        })
        .collect()
}

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every flag agrees, and no known issue is listed for the file.
    Passed,
    /// The file disagrees exactly where its known issues say: the reasons.
    Known(Vec<String>),
    /// A disagreement not listed, or a listed one that is gone: what is wrong.
    Failed(String),
}

/// Judges a file's results against the known issues listed for it.
pub fn judge(results: &[FlagResult], known: &[&KnownIssue]) -> Verdict {
    let disagreeing: Vec<&FlagResult> = results.iter().filter(|r| !r.agrees()).collect();
    // A directory entry counts for a file only where the file disagrees on its flag.
    let known: Vec<&KnownIssue> = known
        .iter()
        .copied()
        .filter(|k| !k.is_directory() || disagreeing.iter().any(|r| r.flag == k.flag))
        .collect();
    let unlisted: Vec<String> = disagreeing
        .iter()
        .filter(|r| !known.iter().any(|k| k.flag == r.flag))
        .map(|r| {
            let detail = r
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!(
                "{} expected {}, got {}{detail}",
                r.flag, r.expected, r.actual
            )
        })
        .collect();
    let stale: Vec<String> = known
        .iter()
        .filter(|k| !disagreeing.iter().any(|r| r.flag == k.flag))
        .map(|k| format!("{} is listed as a known issue but agrees now", k.flag))
        .collect();
    match (unlisted.is_empty() && stale.is_empty(), known.is_empty()) {
        (true, true) => Verdict::Passed,
        (true, false) => Verdict::Known(
            known
                .iter()
                .map(|k| format!("{}: {}", k.flag, k.reason))
                .collect(),
        ),
        (false, _) => Verdict::Failed([unlisted, stale].concat().join("; ")),
    }
}

#[cfg(test)]
mod known_issue_tests {
    use super::*;

    fn result(flag: &'static str, expected: bool, actual: bool) -> FlagResult {
        FlagResult {
            flag,
            expected,
            actual,
            detail: None,
        }
    }

    #[test]
    fn listed_disagreements_are_known_and_others_fail() {
        let issues = parse_known_issues("# c\n\nA.json\tEXPECTEDVERIFY\tbad data\n").unwrap();
        let listed: Vec<&KnownIssue> = issues.iter().collect();
        let agree = [result("EXPECTEDDECODE", true, true)];
        let verify_off = [
            result("EXPECTEDDECODE", true, true),
            result("EXPECTEDVERIFY", true, false),
        ];
        let both_off = [
            result("EXPECTEDDECODE", true, false),
            result("EXPECTEDVERIFY", true, false),
        ];
        assert_eq!(judge(&agree, &[]), Verdict::Passed);
        assert_eq!(
            judge(&verify_off, &listed),
            Verdict::Known(vec!["EXPECTEDVERIFY: bad data".into()])
        );
        assert!(matches!(judge(&verify_off, &[]), Verdict::Failed(_)));
        assert!(matches!(judge(&both_off, &listed), Verdict::Failed(_)));
        assert!(matches!(judge(&agree, &listed), Verdict::Failed(m) if m.contains("agrees now")));
        let whole_set = parse_known_issues("NL/\tEXPECTEDVERIFY\tgenerated wrong\n").unwrap();
        let whole_set: Vec<&KnownIssue> = whole_set.iter().collect();
        assert!(whole_set[0].covers("NL/2DCode/raw/1.json") && !whole_set[0].covers("NLX/1.json"));
        assert_eq!(judge(&agree, &whole_set), Verdict::Passed);
        assert!(matches!(judge(&verify_off, &whole_set), Verdict::Known(_)));
        assert!(matches!(judge(&both_off, &whole_set), Verdict::Failed(_)));
        assert!(parse_known_issues("A.json\tEXPECTEDNOTHING\treason").is_err());
        assert!(parse_known_issues("A.json EXPECTEDVERIFY reason").is_err());
    }
}
