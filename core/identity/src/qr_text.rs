//! The ApCV exchange as QR texts (`docs/protocols/apcv.md`): the reader's challenge
//! `APCVR1:` + base45(CBOR), and the holder's answer `APCV1:` + base45(zlib(CBOR)) carrying
//! the DeviceResponse and the mode it was made for. Every limit is checked before decoding
//! further: text length (base45's 8 KiB), inflated size, CBOR depth, field sizes.

use carnet_codec::{base45, cbor, zlib};
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::field;
use crate::presentation::{Binding, MAX_RESPONSE_BYTES};

/// Prefix of a reader's challenge.
pub const CHALLENGE_PREFIX: &str = "APCVR1:";
/// Prefix of a holder's answer.
pub const RESPONSE_PREFIX: &str = "APCV1:";
/// Bytes of a challenge nonce.
pub const NONCE_BYTES: usize = 16;
/// Most elements a challenge may ask for.
const MAX_REQUESTED: usize = 32;
/// Longest identifier, purpose or element name accepted.
const MAX_FIELD_CHARS: usize = 64;

/// What a pharmacy's or doctor's software asks, shown as a QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderChallenge {
    /// 16 random bytes, fresh for each challenge.
    pub nonce: Vec<u8>,
    /// The reader's identifier (RPPS or FINESS).
    pub reader: String,
    /// Why it asks (shown to the holder before consent).
    pub purpose: String,
    /// The elements asked for.
    pub items: Vec<String>,
    /// When it was made, Unix seconds.
    pub time: i64,
    /// For a remote presentation: the reader's HTTPS endpoint the phone sends its answer to
    /// (`http://` is accepted on loopback only, for tests and the reference reader).
    pub endpoint: Option<String>,
}

/// Longest endpoint accepted.
const MAX_ENDPOINT_CHARS: usize = 256;

/// The origin (`scheme://host[:port]`) of an endpoint a challenge may name: HTTPS, or HTTP on
/// loopback.
///
/// # Errors
/// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for anything else.
pub fn endpoint_origin(endpoint: &str) -> Result<String, IdentityError> {
    endpoint_parts(endpoint).map(|(origin, _)| origin)
}

/// An endpoint a challenge may name (as [`endpoint_origin`] checks it) split into its origin
/// and its path with the query (`/` at least), as the URL parser reads them.
///
/// # Errors
/// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] as for [`endpoint_origin`].
pub fn endpoint_parts(endpoint: &str) -> Result<(String, String), IdentityError> {
    if endpoint.chars().count() > MAX_ENDPOINT_CHARS {
        return Err(too_large(
            "challenge endpoint",
            format!("{MAX_ENDPOINT_CHARS} characters"),
        ));
    }
    let url =
        url::Url::parse(endpoint).map_err(|_| structure("challenge: endpoint is not a URL"))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(structure(
                "challenge: the endpoint must be https (http on loopback only)",
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(structure("challenge: no credentials in the endpoint"));
    }
    let path = &url[url::Position::BeforePath..];
    Ok((url.origin().ascii_serialization(), path.to_owned()))
}

impl ReaderChallenge {
    /// The QR text.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for a challenge that breaks the limits.
    pub fn to_text(&self) -> Result<String, IdentityError> {
        self.check()?;
        let value = Value::Map(vec![
            (Value::from("nonce"), Value::Bytes(self.nonce.clone())),
            (Value::from("reader"), Value::from(self.reader.as_str())),
            (Value::from("purpose"), Value::from(self.purpose.as_str())),
            (
                Value::from("items"),
                Value::Array(self.items.iter().map(|i| Value::from(i.as_str())).collect()),
            ),
            (Value::from("time"), Value::from(self.time)),
        ]);
        let value = match (&self.endpoint, value) {
            (Some(endpoint), Value::Map(mut fields)) => {
                fields.push((Value::from("endpoint"), Value::from(endpoint.as_str())));
                Value::Map(fields)
            }
            (_, value) => value,
        };
        let bytes = cbor::to_vec(&value).map_err(undecodable("QR text"))?;
        Ok(format!("{CHALLENGE_PREFIX}{}", base45::encode(&bytes)))
    }

    /// Reads a challenge's QR text.
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]: another prefix, bad base45, malformed CBOR, a
    /// nonce that is not 16 bytes, too many or too long fields.
    pub fn from_text(text: &str) -> Result<Self, IdentityError> {
        let encoded = text
            .trim()
            .strip_prefix(CHALLENGE_PREFIX)
            .ok_or_else(|| structure("not an ApCV reader challenge"))?;
        let bytes = base45::decode(encoded).map_err(undecodable("QR text"))?;
        let value = cbor::from_slice(&bytes).map_err(undecodable("QR text"))?;
        let field = |name: &str| field(&value, name, "challenge");
        let text_field = |name: &str| {
            field(name)?
                .as_text()
                .map(str::to_owned)
                .ok_or_else(|| structure(format!("challenge: {name} is not text")))
        };
        let items = field("items")?
            .as_array()
            .ok_or_else(|| structure("challenge: items is not an array"))?;
        if items.len() > MAX_REQUESTED {
            return Err(too_large(
                "challenge items",
                format!("{MAX_REQUESTED} items"),
            ));
        }
        let challenge = ReaderChallenge {
            nonce: field("nonce")?
                .as_bytes()
                .cloned()
                .ok_or_else(|| structure("challenge: nonce is not bytes"))?,
            reader: text_field("reader")?,
            purpose: text_field("purpose")?,
            items: items
                .iter()
                .map(|i| {
                    i.as_text()
                        .map(str::to_owned)
                        .ok_or_else(|| structure("challenge: an item is not text"))
                })
                .collect::<Result<_, _>>()?,
            time: field("time")?
                .as_integer()
                .and_then(|t| i64::try_from(t).ok())
                .ok_or_else(|| structure("challenge: time is not an integer"))?,
            endpoint: match crate::mdoc::field(&value, "endpoint", "challenge") {
                Ok(endpoint) => Some(
                    endpoint
                        .as_text()
                        .map(str::to_owned)
                        .ok_or_else(|| structure("challenge: endpoint is not text"))?,
                ),
                Err(_) => None,
            },
        };
        challenge.check()?;
        Ok(challenge)
    }

    /// The handover a presentation answering this challenge is bound to: the reader's id, or,
    /// for a remote presentation, its endpoint's origin.
    pub fn handover(&self) -> Binding {
        match &self.endpoint {
            None => Binding::Challenge {
                nonce: self.nonce.clone(),
                reader: self.reader.clone(),
                time: self.time,
            },
            Some(endpoint) => Binding::Remote {
                nonce: self.nonce.clone(),
                // A challenge read from a text or written to one has a valid endpoint
                // (`check`); one built by hand with a bad endpoint binds to it as written,
                // the same on both sides.
                origin: endpoint_origin(endpoint).unwrap_or_else(|_| endpoint.clone()),
                time: self.time,
            },
        }
    }

    fn check(&self) -> Result<(), IdentityError> {
        if self.nonce.len() != NONCE_BYTES {
            return Err(structure("a challenge nonce is 16 bytes"));
        }
        if self.items.is_empty() || self.items.len() > MAX_REQUESTED {
            return Err(structure("a challenge asks for 1 to 32 items"));
        }
        let too_long = |text: &str| text.is_empty() || text.chars().count() > MAX_FIELD_CHARS;
        if too_long(&self.reader)
            || too_long(&self.purpose)
            || self.items.iter().any(|i| too_long(i))
        {
            return Err(structure("a challenge field is empty or too long"));
        }
        if let Some(endpoint) = &self.endpoint {
            endpoint_origin(endpoint)?;
        }
        Ok(())
    }
}

/// Which exchange an answer was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answering a reader's challenge.
    Challenge,
    /// Shown at the counter without a challenge, signed for a 30-second time slot.
    Counter {
        /// Unix seconds / 30 when the holder signed.
        slot: i64,
    },
    /// Sent to the reader's endpoint over HTTPS, answering its challenge.
    Remote,
}

impl Mode {
    /// The mode of a presentation signed for `handover`.
    #[must_use]
    pub fn of(handover: &Binding) -> Mode {
        match handover {
            Binding::Challenge { .. } | Binding::Session(_) => Mode::Challenge,
            Binding::Counter { slot } => Mode::Counter { slot: *slot },
            Binding::Remote { .. } => Mode::Remote,
        }
    }

    /// The handover a reader checks an answer against: its own challenge's (never one the
    /// answer brings), or the slot a counter QR names (the reader then checks it against its
    /// clock).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] for an answer to a challenge when the reader
    /// has none outstanding.
    pub fn expected(self, challenge: Option<&ReaderChallenge>) -> Result<Binding, IdentityError> {
        match (self, challenge) {
            // Local or remote, the challenge decides what was signed.
            (Mode::Challenge | Mode::Remote, Some(challenge)) => Ok(challenge.handover()),
            (Mode::Challenge | Mode::Remote, None) => Err(structure(
                "an answer to a challenge, and this reader has none outstanding",
            )),
            (Mode::Counter { slot }, _) => Ok(Binding::Counter { slot }),
        }
    }
}

/// Packs a DeviceResponse as the holder's QR text.
///
/// # Errors
/// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`] when it does not fit in a QR text.
pub fn response_to_text(response: &[u8], mode: Mode) -> Result<String, IdentityError> {
    let mut fields = vec![(Value::from("response"), Value::Bytes(response.to_vec()))];
    match mode {
        Mode::Challenge => fields.push((Value::from("mode"), Value::from("challenge"))),
        Mode::Remote => fields.push((Value::from("mode"), Value::from("remote"))),
        Mode::Counter { slot } => {
            fields.push((Value::from("mode"), Value::from("counter")));
            fields.push((Value::from("slot"), Value::from(slot)));
        }
    }
    let value = Value::Map(fields);
    let bytes = cbor::to_vec(&value).map_err(undecodable("QR text"))?;
    let text = format!(
        "{RESPONSE_PREFIX}{}",
        base45::encode(&zlib::deflate(&bytes))
    );
    if text.len() > base45::MAX_TEXT_BYTES {
        return Err(too_large(
            "presentation for a QR code",
            format!("{} characters", base45::MAX_TEXT_BYTES),
        ));
    }
    Ok(text)
}

/// Reads a holder's QR text: the mode and the DeviceResponse (then given to
/// [`crate::reader::Reader::check`] with [`Mode::expected`]).
///
/// # Errors
/// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]: another prefix, bad base45, a zlib bomb, malformed
/// CBOR, an unknown mode.
pub fn response_from_text(text: &str) -> Result<(Mode, Vec<u8>), IdentityError> {
    let encoded = text
        .trim()
        .strip_prefix(RESPONSE_PREFIX)
        .ok_or_else(|| structure("not an ApCV presentation"))?;
    let compressed = base45::decode(encoded).map_err(undecodable("QR text"))?;
    let bytes = zlib::inflate(&compressed, MAX_RESPONSE_BYTES).map_err(undecodable("QR text"))?;
    let value = cbor::from_slice(&bytes).map_err(undecodable("QR text"))?;
    let field = |name: &str| field(&value, name, "presentation");
    let mode = match field("mode")?.as_text() {
        Some("challenge") => Mode::Challenge,
        Some("remote") => Mode::Remote,
        Some("counter") => Mode::Counter {
            slot: field("slot")?
                .as_integer()
                .and_then(|slot| i64::try_from(slot).ok())
                .ok_or_else(|| structure("presentation: slot is not an integer"))?,
        },
        _ => return Err(structure("presentation: unknown mode")),
    };
    let response = field("response")?
        .as_bytes()
        .cloned()
        .ok_or_else(|| structure("presentation: response is not bytes"))?;
    Ok((mode, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> ReaderChallenge {
        ReaderChallenge {
            nonce: vec![3; NONCE_BYTES],
            reader: "10003456789".into(),
            purpose: "Délivrance de médicaments".into(),
            items: vec!["family_name".into(), "amo_valid_until".into()],
            time: 1_800_000_000,
            endpoint: None,
        }
    }

    #[test]
    fn a_challenge_round_trips_through_its_text() {
        let text = challenge().to_text().unwrap();
        assert!(text.starts_with("APCVR1:"));
        assert_eq!(ReaderChallenge::from_text(&text).unwrap(), challenge());
    }

    #[test]
    fn remote_challenges_name_an_https_endpoint_or_loopback_http() {
        for (endpoint, origin) in [
            (
                "https://reader.example/apcv/present",
                "https://reader.example",
            ),
            (
                "https://reader.example:8443/x",
                "https://reader.example:8443",
            ),
            ("http://127.0.0.1:8080/apcv", "http://127.0.0.1:8080"),
            ("http://localhost/apcv", "http://localhost"),
        ] {
            assert_eq!(endpoint_origin(endpoint).unwrap(), origin);
        }
        assert_eq!(
            endpoint_parts("https://Reader.Example:443/apcv?session=7").unwrap(),
            ("https://reader.example".into(), "/apcv?session=7".into())
        );
        assert_eq!(endpoint_parts("https://reader.example").unwrap().1, "/");
        let long = format!("https://reader.example/{}", "a".repeat(300));
        for refused in [
            "http://reader.example/apcv",
            "ftp://reader.example/",
            "https://user:secret@reader.example/",
            "not a url",
            long.as_str(),
        ] {
            assert!(endpoint_origin(refused).is_err(), "{refused}");
        }
        let remote = ReaderChallenge {
            endpoint: Some("https://reader.example/apcv".into()),
            ..challenge()
        };
        let read = ReaderChallenge::from_text(&remote.to_text().unwrap()).unwrap();
        assert_eq!(read, remote);
        assert!(matches!(
            read.handover(),
            Binding::Remote { ref origin, .. } if origin == "https://reader.example"
        ));
        assert_eq!(Mode::of(&read.handover()), Mode::Remote);
        let plain_http = ReaderChallenge {
            endpoint: Some("http://reader.example/apcv".into()),
            ..challenge()
        };
        assert!(plain_http.to_text().is_err());
    }

    #[test]
    fn a_response_round_trips_through_its_text() {
        let response = vec![0xa1, 0x61, 0x61, 0x01];
        let mode = Mode::Counter { slot: 60_000_000 };
        let text = response_to_text(&response, mode).unwrap();
        assert_eq!(response_from_text(&text).unwrap(), (mode, response));
    }

    #[test]
    fn hostile_texts_are_typed_errors() {
        let short_nonce = ReaderChallenge {
            nonce: vec![1; 8],
            ..challenge()
        };
        assert!(short_nonce.to_text().is_err());
        let many = ReaderChallenge {
            items: vec!["x".into(); MAX_REQUESTED + 1],
            ..challenge()
        };
        assert!(many.to_text().is_err());
        let text = challenge().to_text().unwrap();
        for hostile in [
            "",
            "APCVR1:",
            "HC1:NCFOXN",
            &text[..text.len() - 3],
            &format!("APCVR1:{}", "A".repeat(20_000)),
        ] {
            assert!(
                ReaderChallenge::from_text(hostile).is_err(),
                "{hostile:.40}"
            );
        }
        // A zlib bomb: 1 MiB of zeros squeezed into a QR-sized text.
        let bomb = format!(
            "{RESPONSE_PREFIX}{}",
            base45::encode(&zlib::deflate(&vec![0u8; 1 << 20]))
        );
        assert!(response_from_text(&bomb).is_err());
        let unknown_mode = Value::Map(vec![
            (Value::from("mode"), Value::from("teleport")),
            (Value::from("response"), Value::Bytes(vec![0xa0])),
        ]);
        let text = format!(
            "{RESPONSE_PREFIX}{}",
            base45::encode(&zlib::deflate(&cbor::to_vec(&unknown_mode).unwrap()))
        );
        assert!(response_from_text(&text).is_err());
    }
}
