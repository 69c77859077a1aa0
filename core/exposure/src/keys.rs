//! Temporary exposure keys and what derives from them (GAEN cryptography v1.2):
//!
//! * ENIntervalNumber = Unix seconds / 600; a key covers 144 intervals (a day) from an
//!   interval that is a multiple of 144;
//! * RPIK = HKDF-SHA256(TEK, no salt, "EN-RPIK", 16); RPI = AES-128(RPIK, "EN-RPI" ‖ 0⁶ ‖
//!   ENIN as little-endian u32);
//! * AEMK = HKDF-SHA256(TEK, no salt, "EN-AEMK", 16); AEM = AES-128-CTR(AEMK, IV = RPI,
//!   metadata: version byte, TX power, two reserved bytes).

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use ring::hkdf;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use crate::ExposureError;

/// Seconds of an ENIntervalNumber.
pub const INTERVAL_SECONDS: i64 = 600;
/// Intervals a key covers (one day).
pub const ROLLING_PERIOD: u32 = 144;
/// Bytes of a TEK, an RPI or an AES key.
pub const KEY_BYTES: usize = 16;
/// Bytes of the metadata (and of its encryption, the AEM).
pub const METADATA_BYTES: usize = 4;
/// Metadata version byte of GAEN v1.0 (major 01, minor 00).
pub const METADATA_VERSION: u8 = 0x40;

/// The ENIntervalNumber of a Unix time (seconds); `None` before 1970 or past the u32 range.
#[must_use]
pub fn interval_number(unix_seconds: i64) -> Option<u32> {
    u32::try_from(unix_seconds.div_euclid(INTERVAL_SECONDS)).ok()
}

/// A temporary exposure key: 16 random bytes valid for `rolling_period` intervals from
/// `rolling_start`.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryExposureKey {
    key: Zeroizing<[u8; KEY_BYTES]>,
    /// First interval the key covers.
    pub rolling_start: u32,
    /// Intervals it covers (1 to 144).
    pub rolling_period: u32,
}

impl std::fmt::Debug for TemporaryExposureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryExposureKey")
            .field("rolling_start", &self.rolling_start)
            .field("rolling_period", &self.rolling_period)
            .finish_non_exhaustive()
    }
}

/// What a key broadcasts during one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identifier {
    /// The interval (ENIntervalNumber).
    pub interval: u32,
    /// The rolling proximity identifier.
    pub rpi: [u8; KEY_BYTES],
    /// The metadata encrypted with it.
    pub aem: [u8; METADATA_BYTES],
}

/// The keys derived from a TEK, ready to compute its identifiers.
pub struct DerivedKeys {
    rpik: Aes128,
    aemk: Aes128,
}

/// One HKDF-SHA256 output of 16 bytes.
struct Len16;

impl hkdf::KeyType for Len16 {
    fn len(&self) -> usize {
        KEY_BYTES
    }
}

impl TemporaryExposureKey {
    /// A key from its bytes and period.
    ///
    /// # Errors
    /// [`ExposureError::Length`] for a key that is not 16 bytes; [`ExposureError::Period`]
    /// for a period of 0 or over 144 intervals, or one that overflows.
    pub fn new(key: &[u8], rolling_start: u32, rolling_period: u32) -> Result<Self, ExposureError> {
        let key: [u8; KEY_BYTES] = key.try_into().map_err(|_| ExposureError::Length {
            what: "a temporary exposure key",
            expected: KEY_BYTES,
            found: key.len(),
        })?;
        if !(1..=ROLLING_PERIOD).contains(&rolling_period) {
            return Err(ExposureError::Period("a key covers 1 to 144 intervals"));
        }
        if rolling_start.checked_add(rolling_period).is_none() {
            return Err(ExposureError::Period("the key's period overflows"));
        }
        Ok(TemporaryExposureKey {
            key: Zeroizing::new(key),
            rolling_start,
            rolling_period,
        })
    }

    /// A new random key for the day of `interval` (its start rounded down to a multiple of
    /// 144, covering the whole day).
    ///
    /// # Errors
    /// [`ExposureError::Random`] when the system generator fails.
    pub fn generate(interval: u32, rng: &dyn SecureRandom) -> Result<Self, ExposureError> {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        rng.fill(key.as_mut()).map_err(|_| ExposureError::Random)?;
        let rolling_start = interval - interval % ROLLING_PERIOD;
        Self::new(key.as_ref(), rolling_start, ROLLING_PERIOD)
    }

    /// The key's bytes (to publish it after a positive test).
    #[must_use]
    pub fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.key
    }

    /// Whether the key covers `interval`.
    #[must_use]
    pub fn covers(&self, interval: u32) -> bool {
        (self.rolling_start..self.rolling_start + self.rolling_period).contains(&interval)
    }

    /// The rolling proximity identifier key (RPIK).
    #[must_use]
    pub fn rpik(&self) -> Zeroizing<[u8; KEY_BYTES]> {
        self.hkdf(b"EN-RPIK")
    }

    /// The associated encrypted metadata key (AEMK).
    #[must_use]
    pub fn aemk(&self) -> Zeroizing<[u8; KEY_BYTES]> {
        self.hkdf(b"EN-AEMK")
    }

    /// The identifiers of every interval the key covers, in order, into `blocks` (cleared
    /// first): one HKDF and one batch of AES blocks, the matcher's inner loop.
    pub fn rpis_into(&self, blocks: &mut Vec<aes::Block>) {
        let rpik = Aes128::new(&(*self.rpik()).into());
        blocks.clear();
        blocks.extend((0..self.rolling_period).map(|offset| {
            aes::Block::from(rpi_plaintext(self.rolling_start.wrapping_add(offset)))
        }));
        rpik.encrypt_blocks(blocks);
    }

    /// What the key broadcasts in each interval it covers, with `metadata` (testing other
    /// implementations, `carnet exposure derive`).
    #[must_use]
    pub fn identifiers(&self, metadata: [u8; METADATA_BYTES]) -> Vec<Identifier> {
        let derived = self.derive();
        (self.rolling_start..self.rolling_start + self.rolling_period)
            .map(|interval| {
                let rpi = derived.rpi(interval);
                Identifier {
                    interval,
                    rpi,
                    aem: derived.aem(&rpi, metadata),
                }
            })
            .collect()
    }

    /// RPIK and AEMK as ciphers, ready to compute identifiers.
    #[must_use]
    pub fn derive(&self) -> DerivedKeys {
        DerivedKeys {
            rpik: Aes128::new(&(*self.rpik()).into()),
            aemk: Aes128::new(&(*self.aemk()).into()),
        }
    }

    /// HKDF-SHA256(TEK, no salt, `info`, 16 bytes).
    fn hkdf(&self, info: &[u8]) -> Zeroizing<[u8; KEY_BYTES]> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(self.key.as_ref());
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        // 16 bytes is within what HKDF-SHA256 gives (255 × 32): expand and fill cannot fail.
        if let Ok(okm) = prk.expand(&[info], Len16) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }
}

impl DerivedKeys {
    /// The rolling proximity identifier broadcast during `interval`.
    #[must_use]
    pub fn rpi(&self, interval: u32) -> [u8; KEY_BYTES] {
        let mut block = rpi_plaintext(interval).into();
        self.rpik.encrypt_block(&mut block);
        block.into()
    }

    /// The associated encrypted metadata broadcast with `rpi` (AES-128-CTR, IV = RPI; with
    /// four bytes, only the first keystream block is used). Decryption is the same operation.
    #[must_use]
    pub fn aem(
        &self,
        rpi: &[u8; KEY_BYTES],
        metadata: [u8; METADATA_BYTES],
    ) -> [u8; METADATA_BYTES] {
        let mut keystream = (*rpi).into();
        self.aemk.encrypt_block(&mut keystream);
        let keystream: [u8; KEY_BYTES] = keystream.into();
        let mut out = metadata;
        for (byte, key) in out.iter_mut().zip(keystream) {
            *byte ^= key;
        }
        out
    }
}

/// The block encrypted into an interval's RPI: "EN-RPI" ‖ six zero bytes ‖ the interval,
/// little-endian.
fn rpi_plaintext(interval: u32) -> [u8; KEY_BYTES] {
    let mut block = [0u8; KEY_BYTES];
    for (byte, label) in block.iter_mut().zip(b"EN-RPI") {
        *byte = *label;
    }
    for (byte, interval) in block.iter_mut().skip(12).zip(interval.to_le_bytes()) {
        *byte = interval;
    }
    block
}

/// The 4-byte metadata a phone broadcasts (encrypted as the AEM): version and calibrated TX
/// power.
#[must_use]
pub fn metadata(tx_power_dbm: i8) -> [u8; METADATA_BYTES] {
    [METADATA_VERSION, tx_power_dbm.to_le_bytes()[0], 0, 0]
}
