//! Device engagement (ISO/IEC 18013-5 §8.2): what the phone shows first, as a QR code or over
//! an NFC tap, so that a reader can open an encrypted session with it. It carries the
//! engagement version, the session's cipher suite with the phone's ephemeral public key
//! (`EDeviceKeyBytes`) and the ways the phone can be reached (NFC, BLE in mdoc peripheral
//! server mode with its service UUID).
//!
//! `DeviceEngagementBytes` (the tag-24 wrapping of the exact bytes shown) enter the session
//! transcript, so an engagement is kept with the bytes it was read from, never re-encoded.
//! Keys this version does not know (origin infos, capabilities of 18013-5 2nd edition) and
//! retrieval methods it does not speak (Wi-Fi Aware) are skipped, as the standard asks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carnet_codec::cbor;
use ciborium::Value;

use crate::IdentityError;
use crate::error::{structure, too_large, undecodable};
use crate::mdoc::{DeviceKey, Embedded, int_entry};

/// Prefix of a device engagement shown as a QR code (§8.2.2.3).
pub const QR_PREFIX: &str = "mdoc:";
/// The engagement version Carnet writes.
pub const VERSION: &str = "1.0";
/// Cipher suite 1: ECDH on P-256, HKDF-SHA256, AES-256-GCM (§9.1.5.2).
pub const CIPHER_SUITE: i64 = 1;
/// Largest engagement read, in bytes (Carnet's is about 100; other wallets add origin infos).
pub const MAX_ENGAGEMENT_BYTES: usize = 2048;
/// Most retrieval methods read from one engagement.
const MAX_METHODS: usize = 8;

/// Keys of the `DeviceEngagement` map.
const KEY_VERSION: i64 = 0;
const KEY_SECURITY: i64 = 1;
const KEY_RETRIEVAL: i64 = 2;
/// Retrieval method types and the version of their options.
const METHOD_NFC: u64 = 1;
const METHOD_BLE: u64 = 2;
const METHOD_VERSION: u64 = 1;
/// Keys of `BleOptions`.
const BLE_PERIPHERAL_SERVER: i64 = 0;
const BLE_CENTRAL_CLIENT: i64 = 1;
const BLE_PERIPHERAL_SERVER_UUID: i64 = 10;
const BLE_CENTRAL_CLIENT_UUID: i64 = 11;
/// Keys of `NfcOptions`.
const NFC_MAX_COMMAND: i64 = 0;
const NFC_MAX_RESPONSE: i64 = 1;

/// A way the reader can reach the phone for the data transfer (§8.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetrievalMethod {
    /// NFC: the largest command and response data fields the phone takes (extended length).
    Nfc {
        /// Most bytes of command data in one APDU.
        max_command: u32,
        /// Most bytes of response data in one APDU.
        max_response: u32,
    },
    /// Bluetooth Low Energy, with the service UUID of each mode the phone supports.
    Ble {
        /// mdoc peripheral server mode: the phone advertises this service.
        peripheral_server: Option<[u8; 16]>,
        /// mdoc central client mode: the phone connects to the reader's service.
        central_client: Option<[u8; 16]>,
    },
}

/// A device engagement as shown or read, with its exact bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEngagement {
    /// The encoded `DeviceEngagement`, as shown.
    bytes: Vec<u8>,
    /// The version it declares (`1.0`, `1.1`).
    pub version: String,
    /// `EDeviceKeyBytes`: the phone's ephemeral COSE_Key, embedded.
    e_device_key: Embedded,
    /// The phone's ephemeral P-256 public key (uncompressed point).
    pub e_device_point: Vec<u8>,
    /// The retrieval methods it offers that Carnet speaks, in its order.
    pub methods: Vec<RetrievalMethod>,
}

impl DeviceEngagement {
    /// The engagement for an ephemeral key (its uncompressed P-256 point) and the methods
    /// the phone offers.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for a point that is not 65 bytes.
    pub fn new(
        e_device_point: &[u8],
        methods: Vec<RetrievalMethod>,
    ) -> Result<Self, IdentityError> {
        let e_device_key = ephemeral_key(e_device_point)?;
        let mut fields = vec![
            (Value::from(KEY_VERSION), Value::from(VERSION)),
            (
                Value::from(KEY_SECURITY),
                Value::Array(vec![Value::from(CIPHER_SUITE), e_device_key.to_value()]),
            ),
        ];
        if !methods.is_empty() {
            fields.push((
                Value::from(KEY_RETRIEVAL),
                Value::Array(methods.iter().map(RetrievalMethod::to_value).collect()),
            ));
        }
        let bytes = cbor::to_vec(&Value::Map(fields)).map_err(undecodable("device engagement"))?;
        Ok(DeviceEngagement {
            bytes,
            version: VERSION.to_owned(),
            e_device_key,
            e_device_point: e_device_point.to_vec(),
            methods,
        })
    }

    /// Reads an engagement from its CBOR bytes (a QR code's or an NFC record's).
    ///
    /// # Errors
    /// [`IdentityError::Encoding`], [`IdentityError::Structure`] or [`IdentityError::TooLarge`]:
    /// another major version, another cipher suite, a key that is not P-256, limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() > MAX_ENGAGEMENT_BYTES {
            return Err(too_large(
                "device engagement",
                format!("{MAX_ENGAGEMENT_BYTES} bytes"),
            ));
        }
        let value = cbor::from_slice(bytes).map_err(undecodable("device engagement"))?;
        let entries = value
            .as_map()
            .ok_or_else(|| structure("a device engagement is a map"))?;
        let get = |key: i64| int_entry(entries, key);
        let version = get(KEY_VERSION)
            .and_then(Value::as_text)
            .ok_or_else(|| structure("the device engagement has no version"))?;
        if version.split('.').next() != Some("1") {
            return Err(structure(format!(
                "device engagement version {version} is not 1.x"
            )));
        }
        let security = get(KEY_SECURITY)
            .and_then(Value::as_array)
            .ok_or_else(|| structure("the device engagement has no security"))?;
        let [suite, key] = security.as_slice() else {
            return Err(structure("the engagement's security is [suite, key]"));
        };
        if suite.as_integer() != Some(CIPHER_SUITE.into()) {
            return Err(IdentityError::Unsupported(
                "the phone offers another cipher suite than 1",
            ));
        }
        let e_device_key = Embedded::from_value(key)?;
        let e_device_point = p256_point(e_device_key.value())?;
        let mut methods = Vec::new();
        if let Some(listed) = get(KEY_RETRIEVAL) {
            let listed = listed
                .as_array()
                .ok_or_else(|| structure("retrieval methods are an array"))?;
            if listed.len() > MAX_METHODS {
                return Err(too_large(
                    "retrieval methods",
                    format!("{MAX_METHODS} methods"),
                ));
            }
            for method in listed {
                if let Some(method) = RetrievalMethod::from_value(method)? {
                    methods.push(method);
                }
            }
        }
        Ok(DeviceEngagement {
            bytes: bytes.to_vec(),
            version: version.to_owned(),
            e_device_key,
            e_device_point,
            methods,
        })
    }

    /// The QR text: `mdoc:` + base64url without padding of the engagement's bytes.
    #[must_use]
    pub fn to_qr_text(&self) -> String {
        format!("{QR_PREFIX}{}", URL_SAFE_NO_PAD.encode(&self.bytes))
    }

    /// Reads a QR code's text (`mdoc:` + base64url; padding tolerated).
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for another prefix or bad base64, then as
    /// [`DeviceEngagement::from_bytes`].
    pub fn from_qr_text(text: &str) -> Result<Self, IdentityError> {
        let encoded = text
            .trim()
            .strip_prefix(QR_PREFIX)
            .ok_or_else(|| structure("not an mdoc device engagement (mdoc:…)"))?;
        // base64 of the largest engagement accepted, with some slack for padding.
        if encoded.len() > MAX_ENGAGEMENT_BYTES.div_ceil(3) * 4 + 4 {
            return Err(too_large(
                "device engagement",
                format!("{MAX_ENGAGEMENT_BYTES} bytes"),
            ));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|_| structure("the device engagement is not base64url"))?;
        Self::from_bytes(&bytes)
    }

    /// The engagement's own bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `DeviceEngagementBytes` as a value: the bytes under tag 24.
    #[must_use]
    pub fn tagged(&self) -> Value {
        Value::Tag(24, Box::new(Value::Bytes(self.bytes.clone())))
    }

    /// `EDeviceKeyBytes`, as embedded in the engagement.
    #[must_use]
    pub fn e_device_key(&self) -> &Embedded {
        &self.e_device_key
    }

    /// The service UUID of BLE mdoc peripheral server mode, if offered.
    #[must_use]
    pub fn ble_peripheral_server(&self) -> Option<[u8; 16]> {
        self.methods.iter().find_map(|method| match method {
            RetrievalMethod::Ble {
                peripheral_server, ..
            } => *peripheral_server,
            RetrievalMethod::Nfc { .. } => None,
        })
    }
}

impl RetrievalMethod {
    fn to_value(&self) -> Value {
        let (kind, options) = match self {
            RetrievalMethod::Nfc {
                max_command,
                max_response,
            } => (
                METHOD_NFC,
                vec![
                    (Value::from(NFC_MAX_COMMAND), Value::from(*max_command)),
                    (Value::from(NFC_MAX_RESPONSE), Value::from(*max_response)),
                ],
            ),
            RetrievalMethod::Ble {
                peripheral_server,
                central_client,
            } => {
                let mut options = vec![
                    (
                        Value::from(BLE_PERIPHERAL_SERVER),
                        Value::Bool(peripheral_server.is_some()),
                    ),
                    (
                        Value::from(BLE_CENTRAL_CLIENT),
                        Value::Bool(central_client.is_some()),
                    ),
                ];
                for (key, uuid) in [
                    (BLE_PERIPHERAL_SERVER_UUID, peripheral_server),
                    (BLE_CENTRAL_CLIENT_UUID, central_client),
                ] {
                    if let Some(uuid) = uuid {
                        options.push((Value::from(key), Value::Bytes(uuid.to_vec())));
                    }
                }
                (METHOD_BLE, options)
            }
        };
        Value::Array(vec![
            Value::from(kind),
            Value::from(METHOD_VERSION),
            Value::Map(options),
        ])
    }

    /// A method Carnet speaks, `None` for one it does not (Wi-Fi Aware, a later version).
    fn from_value(value: &Value) -> Result<Option<Self>, IdentityError> {
        let Some([kind, version, options]) = value.as_array().map(Vec::as_slice) else {
            return Err(structure("a retrieval method is [type, version, options]"));
        };
        let (Some(kind), Some(version)) = (kind.as_integer(), version.as_integer()) else {
            return Err(structure(
                "a retrieval method's type and version are numbers",
            ));
        };
        let options = options
            .as_map()
            .ok_or_else(|| structure("a retrieval method's options are a map"))?;
        if version != METHOD_VERSION.into() {
            return Ok(None);
        }
        let flag = |key: i64| int_entry(options, key).and_then(Value::as_bool) == Some(true);
        let uuid = |key: i64| -> Result<Option<[u8; 16]>, IdentityError> {
            int_entry(options, key)
                .map(|value| {
                    value
                        .as_bytes()
                        .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
                        .ok_or_else(|| structure("a BLE service UUID is 16 bytes"))
                })
                .transpose()
        };
        let number = |key: i64| {
            int_entry(options, key)
                .and_then(Value::as_integer)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| structure("NFC options give the largest command and response"))
        };
        if kind == METHOD_NFC.into() {
            return Ok(Some(RetrievalMethod::Nfc {
                max_command: number(NFC_MAX_COMMAND)?,
                max_response: number(NFC_MAX_RESPONSE)?,
            }));
        }
        if kind == METHOD_BLE.into() {
            let peripheral_server = uuid(BLE_PERIPHERAL_SERVER_UUID)?;
            let central_client = uuid(BLE_CENTRAL_CLIENT_UUID)?;
            return Ok(Some(RetrievalMethod::Ble {
                peripheral_server: peripheral_server.filter(|_| flag(BLE_PERIPHERAL_SERVER)),
                central_client: central_client.filter(|_| flag(BLE_CENTRAL_CLIENT)),
            }));
        }
        Ok(None)
    }
}

/// Checks that `point` is an uncompressed point on P-256 (not only 65 bytes): by an ECDH with
/// a throwaway key, which `ring` refuses for a point off the curve.
///
/// # Errors
/// [`IdentityError::Structure`] for anything else; [`IdentityError::Random`].
pub fn check_p256_point(point: &[u8]) -> Result<(), IdentityError> {
    use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
    if point.len() != 65 || point.first() != Some(&0x04) {
        return Err(structure(
            "a P-256 key is an uncompressed point of 65 bytes",
        ));
    }
    let probe = EphemeralPrivateKey::generate(&ECDH_P256, &ring::rand::SystemRandom::new())
        .map_err(|_| IdentityError::Random)?;
    agree_ephemeral(probe, &UnparsedPublicKey::new(&ECDH_P256, point), |_| ())
        .map_err(|_| structure("the key is not a point of P-256"))
}

/// An ephemeral P-256 public key (uncompressed point) as embedded COSE_Key bytes.
///
/// # Errors
/// [`IdentityError::Structure`] for a point that is not 65 bytes starting with `04`.
pub(crate) fn ephemeral_key(point: &[u8]) -> Result<Embedded, IdentityError> {
    if point.len() != 65 || point.first() != Some(&0x04) {
        return Err(structure("an ephemeral key is an uncompressed P-256 point"));
    }
    Embedded::encode(DeviceKey::P256(point.to_vec()).to_cose_key())
}

/// The uncompressed point of an ephemeral COSE_Key, which must be EC2 on P-256.
///
/// # Errors
/// [`IdentityError::Structure`] for another key.
pub(crate) fn p256_point(cose_key: &Value) -> Result<Vec<u8>, IdentityError> {
    match DeviceKey::from_cose_key(cose_key)? {
        DeviceKey::P256(point) => Ok(point),
        DeviceKey::Ed25519(_) => Err(IdentityError::Unsupported("session keys are P-256")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Vec<u8> {
        let mut point = vec![0x04];
        point.extend((1..=64).map(|i: u8| i));
        point
    }

    #[test]
    fn an_engagement_round_trips_through_its_qr_text() {
        let methods = vec![
            RetrievalMethod::Nfc {
                max_command: 255,
                max_response: 65_536,
            },
            RetrievalMethod::Ble {
                peripheral_server: Some([7; 16]),
                central_client: None,
            },
        ];
        let engagement = DeviceEngagement::new(&point(), methods.clone()).unwrap();
        let text = engagement.to_qr_text();
        assert!(text.starts_with("mdoc:"));
        assert!(!text.contains('='));
        let back = DeviceEngagement::from_qr_text(&text).unwrap();
        assert_eq!(back, engagement);
        assert_eq!(back.methods, methods);
        assert_eq!(back.e_device_point, point());
        assert_eq!(back.ble_peripheral_server(), Some([7; 16]));
    }

    #[test]
    fn unknown_methods_and_keys_are_skipped_and_bad_ones_refused() {
        let key = ephemeral_key(&point()).unwrap().to_value();
        let with = |extra: Vec<(Value, Value)>| {
            let mut fields = vec![
                (Value::from(0), Value::from("1.1")),
                (
                    Value::from(1),
                    Value::Array(vec![Value::from(1), key.clone()]),
                ),
            ];
            fields.extend(extra);
            cbor::to_vec(&Value::Map(fields)).unwrap()
        };
        let wifi = Value::Array(vec![Value::from(3), Value::from(1), Value::Map(vec![])]);
        let later = with(vec![
            (Value::from(2), Value::Array(vec![wifi])),
            (Value::from(5), Value::Array(vec![])),
        ]);
        let engagement = DeviceEngagement::from_bytes(&later).unwrap();
        assert!(engagement.methods.is_empty());
        assert_eq!(engagement.bytes(), later.as_slice());

        let two = cbor::to_vec(&Value::Map(vec![
            (Value::from(0), Value::from("2.0")),
            (
                Value::from(1),
                Value::Array(vec![Value::from(1), key.clone()]),
            ),
        ]))
        .unwrap();
        assert!(DeviceEngagement::from_bytes(&two).is_err());
        let suite = cbor::to_vec(&Value::Map(vec![
            (Value::from(0), Value::from("1.0")),
            (Value::from(1), Value::Array(vec![Value::from(2), key])),
        ]))
        .unwrap();
        assert!(matches!(
            DeviceEngagement::from_bytes(&suite),
            Err(IdentityError::Unsupported(_))
        ));
        assert!(DeviceEngagement::from_qr_text("mdoc:!!!").is_err());
        assert!(DeviceEngagement::from_qr_text("HC1:abc").is_err());
        let huge = format!("mdoc:{}", "A".repeat(10_000));
        assert!(matches!(
            DeviceEngagement::from_qr_text(&huge),
            Err(IdentityError::TooLarge { .. })
        ));
    }
}
