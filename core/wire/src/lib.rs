//! The messages between a Carnet device and the national services, typed once for both sides.
//!
//! The reference server (`server/`) deserialises the requests and serialises the answers with
//! these types; the device (`core/net`, `core/record`, `core/carnet`) does the reverse. A
//! change to a message that one side does not follow fails to compile instead of failing at
//! run time. The JSON they make is what `docs/protocols/` describes.
//!
//! Conventions: requests a server checks strictly refuse unknown fields; answers a device
//! reads take unknown fields silently, so that a newer server does not stop an older app.
//! Binary values travel as standard base64 text, file addresses as lower-case hex SHA-256,
//! times as Unix milliseconds (`…_millis`) or RFC 3339 text where a person's calendar matters.
//!
//! Also here: the request signing string and the id rules both sides apply.

pub mod exposure;
pub mod health_space;
pub mod issuer;
pub mod readers;

/// The string a device signs for a `/v1/me/…` request (`docs/protocols/health-space.md`):
/// method, path and query, date, nonce and the body's SHA-256 in hex, one per line. The
/// server checks the same string.
pub fn signing_string(
    method: &str,
    path_and_query: &str,
    date: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, body));
    format!("{method}\n{path_and_query}\n{date}\n{nonce}\n{digest}")
}

/// Whether `id` is a FHIR id: 1 to 64 of `[A-Za-z0-9\-\.]`. Every item id of the health
/// space follows it, so that it can travel in a path and stand as a FHIR resource id.
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Whether `address` is a blob address: a SHA-256 in lower-case hex (64 characters).
pub fn is_blob_address(address: &str) -> bool {
    address.len() == 64
        && address
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A refusal as every route answers it: `{"code", "message"}`, the code stable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    /// Stable code (`auth.signature`, `enrol.code`, …).
    #[serde(default)]
    pub code: String,
    /// What went wrong, in words.
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_string_is_five_lines_ending_with_the_body_digest() {
        let text = signing_string(
            "PUT",
            "/v1/me/profile/a?x=1",
            "1700000000000",
            "ab12",
            b"{}",
        );
        assert_eq!(
            text,
            "PUT\n/v1/me/profile/a?x=1\n1700000000000\nab12\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn ids_and_addresses_follow_their_rules() {
        assert!(is_fhir_id("a-1.B"));
        assert!(is_fhir_id(&"x".repeat(64)));
        assert!(!is_fhir_id(&"x".repeat(65)));
        assert!(!is_fhir_id(""));
        assert!(!is_fhir_id("a/b"));
        assert!(!is_fhir_id("é"));
        assert!(is_blob_address(&"0a".repeat(32)));
        assert!(!is_blob_address(&"0A".repeat(32)));
        assert!(!is_blob_address("0a"));
    }
}
