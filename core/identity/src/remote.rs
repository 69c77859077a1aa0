//! Carnet's remote presentation: the ISO/IEC 18013-5 session carried over HTTPS, for a reader
//! the person is not in front of (a teleconsultation, an online pharmacy).
//!
//! 18013-5 leaves remote presentation to ISO/IEC 18013-7 and OpenID4VP; neither is among the
//! readers Carnet's users meet, so this is Carnet's own binding (`docs/protocols/apcv.md`,
//! "Remote presentation"), built from the standard's messages:
//!
//! 1. the phone posts its `DeviceEngagement` (no retrieval method) to the reader's endpoint;
//! 2. the reader answers a [`RemoteReply`] with a session id and its `SessionEstablishment`;
//! 3. the phone posts its `SessionData` to `endpoint/session-id`;
//! 4. the reader answers a [`RemoteReply`] with its verdict, a COSE_Sign1 by the reader's
//!    certified key over the transcript ([`RemoteVerdict`]).
//!
//! The transcript's handover is `["CarnetRemote", origin]` ([`crate::session::Handover`]), so
//! every signature of the session covers the origin the phone posted to, and the holder
//! takes a reader only if that origin's host is one of its certificate's names. A verdict
//! that is not signed by that reader over that transcript is never shown as a verdict.

use carnet_codec::cbor;
use carnet_codec::cose::{Sign1, Sign1Form, Sign1Headers, VerifyingKey};
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::presentation::sign1_by;
use crate::request::ReaderSigner;
use crate::session::SessionTranscript;

/// Largest reply read from a reader, and largest message posted to one.
pub const MAX_REMOTE_MESSAGE: usize = 64 * 1024;
/// Longest endpoint address taken.
const MAX_ENDPOINT_CHARS: usize = 2048;
/// Longest session id (it becomes a path segment).
const MAX_SESSION_ID_CHARS: usize = 64;
/// Most elements a verdict names, and the longest name or code in it.
const MAX_VERDICT_ELEMENTS: usize = 64;
const MAX_VERDICT_TEXT: usize = 64;
/// The first element of a verdict's payload.
const VERDICT_CONTEXT: &str = "CarnetRemoteVerdict";

/// A reader's endpoint, checked: `https://`, or `http://` to a loopback address only (the
/// tests and the demo on one machine), no user name or password, no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    origin: String,
    host: String,
    path: String,
}

impl Endpoint {
    /// Reads `address`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for an address that is not a usable endpoint, saying why.
    pub fn parse(address: &str) -> Result<Self, IdentityError> {
        if address.len() > MAX_ENDPOINT_CHARS {
            return Err(too_large(
                "reader's address",
                format!("{MAX_ENDPOINT_CHARS} characters"),
            ));
        }
        let url = url::Url::parse(address)
            .map_err(|_| structure("the reader's address is not a web address"))?;
        let host = url
            .host()
            .ok_or_else(|| structure("the reader's address names no host"))?;
        let loopback = match &host {
            url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(structure(
                    "the reader's address must be https:// (http:// only on this machine)",
                ));
            }
            _ => return Err(structure("the reader's address must be https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(structure("the reader's address must not carry a user name"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(structure(
                "the reader's address must not carry a query or a fragment",
            ));
        }
        let host = host.to_string().to_ascii_lowercase();
        Ok(Endpoint {
            path: url.path().trim_end_matches('/').to_owned(),
            origin: url.origin().ascii_serialization(),
            url: url.as_str().trim_end_matches('/').to_owned(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
        })
    }

    /// The address the phone posts its engagement to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`, lowercase, the port left out when it is the scheme's own: what
    /// the transcript binds.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The path phones post their engagement to (`/carnet/mdoc`; empty for the root).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The host, which must be one of the reader certificate's names.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where the session's next message goes, below [`Endpoint::url`]: `/session-id`.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a session id that is not one.
    pub fn session_path(session: &str) -> Result<String, IdentityError> {
        check_session_id(session)?;
        Ok(format!("/{session}"))
    }
}

/// A session id is 1 to 64 characters of `A–Z a–z 0–9 - _`: it goes into a path.
fn check_session_id(session: &str) -> Result<(), IdentityError> {
    if session.is_empty()
        || session.len() > MAX_SESSION_ID_CHARS
        || !session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(structure("the reader's session id is not one"));
    }
    Ok(())
}

/// What the reader answers a post with: a CBOR map with `session` (text, first answer
/// only), `message` (a session message) and `verdict` (the signed verdict), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteReply {
    /// The session id, in the answer to the engagement.
    pub session: Option<String>,
    /// A session message: the `SessionEstablishment`, or a `SessionData` (a status).
    pub message: Option<Vec<u8>>,
    /// The verdict, signed ([`RemoteVerdict::sign`]).
    pub verdict: Option<Vec<u8>>,
}

impl RemoteReply {
    /// The reply's encoding.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        let mut map = Vec::new();
        if let Some(session) = &self.session {
            map.push((Value::from("session"), Value::from(session.as_str())));
        }
        if let Some(message) = &self.message {
            map.push((Value::from("message"), Value::Bytes(message.clone())));
        }
        if let Some(verdict) = &self.verdict {
            map.push((Value::from("verdict"), Value::Bytes(verdict.clone())));
        }
        cbor::to_vec(&Value::Map(map)).map_err(undecodable("reader's reply"))
    }

    /// Reads a reply.
    ///
    /// # Errors
    /// [`IdentityError::TooLarge`] over [`MAX_REMOTE_MESSAGE`]; [`IdentityError::Encoding`]
    /// or [`IdentityError::Structure`] for bytes that are not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() > MAX_REMOTE_MESSAGE {
            return Err(too_large(
                "reader's reply",
                format!("{MAX_REMOTE_MESSAGE} bytes"),
            ));
        }
        let value = cbor::from_slice(bytes).map_err(undecodable("reader's reply"))?;
        let Value::Map(entries) = value else {
            return Err(structure("the reader's reply is not a map"));
        };
        let mut reply = RemoteReply::default();
        for (key, value) in entries {
            match (key.as_text(), value) {
                (Some("session"), Value::Text(session)) => {
                    check_session_id(&session)?;
                    reply.session = Some(session);
                }
                (Some("message"), Value::Bytes(message)) => reply.message = Some(message),
                (Some("verdict"), Value::Bytes(verdict)) => reply.verdict = Some(verdict),
                (Some("session" | "message" | "verdict"), _) => {
                    return Err(structure(
                        "the reader's reply has a field of the wrong type",
                    ));
                }
                _ => {}
            }
        }
        Ok(reply)
    }
}

/// The reader's verdict on the phone's answer, as the reader signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteVerdict {
    /// Whether the reader accepted the card.
    pub accepted: bool,
    /// `accepted`, or the reader's refusal code (`revoked`, `rights_expired`…).
    pub code: String,
    /// The elements the reader received and read, by name.
    pub elements: Vec<String>,
}

impl RemoteVerdict {
    /// Signs the verdict with the reader's key over `transcript` (ES256, payload attached, no
    /// certificate: the phone holds it from the request).
    ///
    /// # Errors
    /// What `signer` returns; [`IdentityError::TooLarge`] for a verdict over the limits.
    pub fn sign(
        &self,
        transcript: &SessionTranscript,
        signer: &dyn ReaderSigner,
    ) -> Result<Vec<u8>, IdentityError> {
        self.check_limits()?;
        let payload = cbor::to_vec(&Value::Array(vec![
            Value::from(VERDICT_CONTEXT),
            Value::Bytes(transcript_digest(transcript)),
            Value::Bool(self.accepted),
            Value::from(self.code.as_str()),
            Value::Array(
                self.elements
                    .iter()
                    .map(|name| Value::from(name.as_str()))
                    .collect(),
            ),
        ]))
        .map_err(undecodable("reader's verdict"))?;
        let value = sign1_by(
            &payload,
            &Sign1Headers::default(),
            Sign1Form::default(),
            coset::iana::Algorithm::ES256,
            "reader's verdict",
            |message| signer.sign(message),
        )?;
        cbor::to_vec(&value).map_err(undecodable("reader's verdict"))
    }

    /// Reads a verdict signed by the reader whose key is `reader_key` (uncompressed P-256
    /// point) over `transcript`.
    ///
    /// # Errors
    /// [`IdentityError::Signature`] for a verdict not signed by that key or over another
    /// session; [`IdentityError::Encoding`], [`IdentityError::Structure`] or
    /// [`IdentityError::TooLarge`] for bytes that are not one.
    pub fn verify(
        signed: &[u8],
        transcript: &SessionTranscript,
        reader_key: &[u8],
    ) -> Result<Self, IdentityError> {
        let sign1 = Sign1::from_slice(signed).map_err(undecodable("reader's verdict"))?;
        if sign1.header_algorithm()
            != Some(&coset::RegisteredLabelWithPrivate::Assigned(
                coset::iana::Algorithm::ES256,
            ))
        {
            return Err(IdentityError::Unsupported(
                "a verdict signed other than ES256",
            ));
        }
        sign1
            .verify(&VerifyingKey::EcdsaP256(reader_key.to_vec()))
            .map_err(|_| IdentityError::Signature("the verdict is not signed by this reader"))?;
        let payload = cbor::from_slice(sign1.payload()).map_err(undecodable("reader's verdict"))?;
        let Value::Array(parts) = payload else {
            return Err(structure("the reader's verdict is not an array"));
        };
        let [
            Value::Text(context),
            Value::Bytes(digest),
            Value::Bool(accepted),
            Value::Text(code),
            Value::Array(elements),
        ] = parts.as_slice()
        else {
            return Err(structure("the reader's verdict is malformed"));
        };
        if context != VERDICT_CONTEXT {
            return Err(structure("the reader's verdict is malformed"));
        }
        if *digest != transcript_digest(transcript) {
            return Err(IdentityError::Signature(
                "the verdict was signed for another session",
            ));
        }
        let verdict = RemoteVerdict {
            accepted: *accepted,
            code: code.clone(),
            elements: elements
                .iter()
                .map(|element| {
                    element
                        .as_text()
                        .map(str::to_owned)
                        .ok_or_else(|| structure("the reader's verdict names a non-text element"))
                })
                .collect::<Result<_, _>>()?,
        };
        verdict.check_limits()?;
        Ok(verdict)
    }

    fn check_limits(&self) -> Result<(), IdentityError> {
        if self.elements.len() > MAX_VERDICT_ELEMENTS {
            return Err(too_large(
                "reader's verdict",
                format!("{MAX_VERDICT_ELEMENTS} elements"),
            ));
        }
        if std::iter::once(&self.code)
            .chain(&self.elements)
            .any(|text| text.len() > MAX_VERDICT_TEXT)
        {
            return Err(too_large(
                "reader's verdict",
                format!("{MAX_VERDICT_TEXT} characters a name"),
            ));
        }
        Ok(())
    }
}

/// SHA-256 of `SessionTranscriptBytes`.
fn transcript_digest(transcript: &SessionTranscript) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, transcript.bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http_with_their_origin() {
        let endpoint = Endpoint::parse("https://Pharmacie.Example:443/carnet/mdoc/").unwrap();
        assert_eq!(endpoint.origin(), "https://pharmacie.example");
        assert_eq!(endpoint.host(), "pharmacie.example");
        assert_eq!(endpoint.url(), "https://pharmacie.example/carnet/mdoc");
        assert_eq!(endpoint.path(), "/carnet/mdoc");
        assert_eq!(Endpoint::session_path("s-1_A").unwrap(), "/s-1_A");
        let local = Endpoint::parse("http://127.0.0.1:8471/mdoc").unwrap();
        assert_eq!(local.origin(), "http://127.0.0.1:8471");
        assert_eq!(local.host(), "127.0.0.1");
        assert_eq!(Endpoint::parse("http://[::1]:80/m").unwrap().host(), "::1");
        for refused in [
            "http://pharmacie.example/mdoc",
            "ftp://pharmacie.example/",
            "https://user:pass@pharmacie.example/",
            "https://pharmacie.example/?next=evil",
            "https://pharmacie.example/#x",
            "pharmacie.example",
            "",
        ] {
            assert!(
                matches!(Endpoint::parse(refused), Err(IdentityError::Structure(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            Endpoint::parse(&format!("https://a.example/{}", "x".repeat(3000))),
            Err(IdentityError::TooLarge { .. })
        ));
        for bad in ["", "a/b", "..", &"x".repeat(65), "é"] {
            assert!(Endpoint::session_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_round_trip_and_hostile_ones_are_typed_errors() {
        let reply = RemoteReply {
            session: Some("abc".into()),
            message: Some(vec![1, 2, 3]),
            verdict: None,
        };
        assert_eq!(
            RemoteReply::from_bytes(&reply.to_bytes().unwrap()).unwrap(),
            reply
        );
        let not_map = cbor::to_vec(&Value::from(3)).unwrap();
        let wrong_type =
            cbor::to_vec(&Value::Map(vec![(Value::from("message"), Value::from(1))])).unwrap();
        let bad_session = cbor::to_vec(&Value::Map(vec![(
            Value::from("session"),
            Value::from("../x"),
        )]))
        .unwrap();
        for hostile in [&not_map[..], &wrong_type, &bad_session, &[0xbf], &[]] {
            assert!(RemoteReply::from_bytes(hostile).is_err());
        }
        assert!(matches!(
            RemoteReply::from_bytes(&vec![0u8; MAX_REMOTE_MESSAGE + 1]),
            Err(IdentityError::TooLarge { .. })
        ));
    }
}
