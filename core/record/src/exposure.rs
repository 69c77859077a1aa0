//! Exposure notification's data on this phone, in the encrypted record: its own daily keys
//! (to broadcast today's and to publish them after a positive test) and what its scans heard.
//! Nothing is kept past 14 days — every write deletes what has aged out, every read leaves it
//! out — and all of it can be deleted on request. None of it is exported or synced.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_exposure::keys::{INTERVAL_SECONDS, TemporaryExposureKey};
use carnet_exposure::radio::Sighting;
use carnet_exposure::risk::RiskSummary;
use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};
use crate::record::Record;
use crate::store::Writer;

/// Item kind of this phone's own keys (id: the key's first interval, zero-padded).
const EXPOSURE_KEY: &str = "exposure-key";
/// Item kind of one scan's sightings (id: the scan's Unix time, zero-padded).
const EXPOSURE_SCAN: &str = "exposure-scan";
/// Item kind of the last check's outcome (one item).
const EXPOSURE_CHECK: &str = "exposure-check";
/// Days anything of exposure notification is kept.
pub const EXPOSURE_RETENTION_DAYS: i64 = 14;
/// Most sightings kept of one scan (the strongest, in a crowd).
pub const MAX_SIGHTINGS_PER_SCAN: usize = 2_000;

#[derive(Serialize, Deserialize)]
struct KeptKey {
    key: String,
    rolling_start: u32,
    rolling_period: u32,
}

/// One scan: `[rpi, aem, peak RSSI, mean RSSI, seconds since last scan]` per sighting.
#[derive(Serialize, Deserialize)]
struct KeptScan {
    time: i64,
    sightings: Vec<(String, String, i8, i8, u16)>,
}

/// The outcome of the last exposure check, kept to be shown offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureCheck {
    /// When it ran (Unix milliseconds).
    pub checked_millis: i64,
    /// The risk found.
    pub summary: RiskSummary,
    /// Key files read.
    pub files: u64,
    /// Published keys checked.
    pub keys_checked: u64,
    /// Keys that matched something this phone heard.
    pub keys_matched: u64,
    /// Exposure windows found.
    pub windows: u64,
}

/// What was deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExposureDeletion {
    /// Own keys deleted.
    pub keys: u64,
    /// Scan records deleted.
    pub scans: u64,
}

fn key_id(rolling_start: u32) -> String {
    format!("{rolling_start:010}")
}

fn scan_id(time: i64) -> String {
    format!("{:012}", time.max(0))
}

impl Record {
    /// Unix seconds before which nothing is kept.
    fn exposure_horizon(&self) -> i64 {
        self.store.now_millis().div_euclid(1000) - EXPOSURE_RETENTION_DAYS * 86_400
    }

    /// Keeps one of this phone's own keys (replacing one of the same start).
    pub fn keep_exposure_key(&self, key: &TemporaryExposureKey) -> Result<()> {
        let horizon = self.exposure_horizon();
        self.store.write(|w| {
            expire(w, horizon)?;
            w.put(
                EXPOSURE_KEY,
                &key_id(key.rolling_start),
                &KeptKey {
                    key: STANDARD.encode(key.bytes()),
                    rolling_start: key.rolling_start,
                    rolling_period: key.rolling_period,
                },
            )
        })
    }

    /// This phone's own keys of the last 14 days, oldest first.
    pub fn exposure_keys(&self) -> Result<Vec<TemporaryExposureKey>> {
        let horizon = self.exposure_horizon();
        self.store
            .read(|r| r.list::<KeptKey>(EXPOSURE_KEY))?
            .into_iter()
            .map(|(_, kept)| {
                let bytes = STANDARD
                    .decode(kept.key)
                    .map_err(|_| RecordError::Corrupt("an exposure key is not base64".into()))?;
                TemporaryExposureKey::new(&bytes, kept.rolling_start, kept.rolling_period)
                    .map_err(|e| RecordError::Corrupt(format!("an exposure key: {e}")))
            })
            .filter(|key| {
                key.as_ref().map_or(true, |key| {
                    i64::from(key.rolling_start + key.rolling_period) * INTERVAL_SECONDS > horizon
                })
            })
            .collect()
    }

    /// Keeps one scan's sightings (added to any already kept for the same second). Over
    /// [`MAX_SIGHTINGS_PER_SCAN`], only the strongest are kept.
    pub fn keep_sightings(&self, scan_time: i64, sightings: &[Sighting]) -> Result<()> {
        let horizon = self.exposure_horizon();
        if scan_time < horizon || sightings.is_empty() {
            return Ok(());
        }
        let id = scan_id(scan_time);
        self.store.write(|w| {
            expire(w, horizon)?;
            let mut kept = w
                .reader()
                .get::<KeptScan>(EXPOSURE_SCAN, &id)?
                .unwrap_or(KeptScan {
                    time: scan_time,
                    sightings: Vec::new(),
                });
            kept.sightings.extend(sightings.iter().map(|sighting| {
                (
                    STANDARD.encode(sighting.rpi),
                    STANDARD.encode(sighting.aem),
                    sighting.peak_rssi,
                    sighting.mean_rssi,
                    sighting.seconds_since_last_scan,
                )
            }));
            if kept.sightings.len() > MAX_SIGHTINGS_PER_SCAN {
                kept.sightings
                    .sort_by_key(|(_, _, peak, _, _)| std::cmp::Reverse(*peak));
                kept.sightings.truncate(MAX_SIGHTINGS_PER_SCAN);
            }
            w.put(EXPOSURE_SCAN, &id, &kept)
        })
    }

    /// Every sighting of the last 14 days.
    pub fn sightings(&self) -> Result<Vec<Sighting>> {
        let horizon = self.exposure_horizon();
        let scans = self.store.read(|r| r.list::<KeptScan>(EXPOSURE_SCAN))?;
        let mut sightings = Vec::new();
        for (_, scan) in scans.into_iter().filter(|(_, scan)| scan.time >= horizon) {
            for (rpi, aem, peak_rssi, mean_rssi, seconds_since_last_scan) in scan.sightings {
                let decode = |text: String| {
                    STANDARD
                        .decode(text)
                        .map_err(|_| RecordError::Corrupt("a sighting is not base64".into()))
                };
                let fixed = |what| RecordError::Corrupt(format!("a sighting's {what} length"));
                sightings.push(Sighting {
                    rpi: decode(rpi)?.try_into().map_err(|_| fixed("identifier"))?,
                    aem: decode(aem)?.try_into().map_err(|_| fixed("metadata"))?,
                    time: scan.time,
                    peak_rssi,
                    mean_rssi,
                    seconds_since_last_scan,
                });
            }
        }
        Ok(sightings)
    }

    /// Keeps the outcome of a check (replacing the previous one).
    pub fn keep_exposure_check(&self, check: &ExposureCheck) -> Result<()> {
        self.store.write(|w| w.put(EXPOSURE_CHECK, "last", check))
    }

    /// The last check's outcome, if any.
    pub fn exposure_check(&self) -> Result<Option<ExposureCheck>> {
        self.store.read(|r| r.get(EXPOSURE_CHECK, "last"))
    }

    /// Deletes what is older than 14 days; what was deleted.
    pub fn expire_exposure_data(&self) -> Result<ExposureDeletion> {
        let horizon = self.exposure_horizon();
        self.store.write(|w| expire(w, horizon))
    }

    /// Deletes every key, sighting and check outcome (the user turned exposure notification
    /// off, or asked).
    pub fn forget_exposure_data(&self) -> Result<ExposureDeletion> {
        self.store.write(|w| {
            w.delete(EXPOSURE_CHECK, "last")?;
            expire(w, i64::MAX / 2)
        })
    }
}

/// Deletes keys that ended and scans made before `horizon` (Unix seconds).
fn expire(w: &mut Writer<'_>, horizon: i64) -> Result<ExposureDeletion> {
    // A key's id is its start; it is kept while its end is after the horizon, that is while
    // it started less than one rolling period (at most 144 intervals) before it.
    let interval = horizon.div_euclid(INTERVAL_SECONDS);
    let keys: Vec<(String, KeptKey)> = w.reader().list(EXPOSURE_KEY)?;
    let mut deleted = ExposureDeletion::default();
    for (id, key) in keys {
        if i64::from(key.rolling_start) + i64::from(key.rolling_period) <= interval {
            w.delete(EXPOSURE_KEY, &id)?;
            deleted.keys += 1;
        }
    }
    deleted.scans = w.delete_below(EXPOSURE_SCAN, &scan_id(horizon))?;
    Ok(deleted)
}
