//! The Bluetooth side: the Exposure Notification advertisement (service UUID 0xFD6F with the
//! RPI and AEM as service data), the [`BleTransport`] a platform or a simulation implements,
//! and what a scan leaves behind: one [`Sighting`] per identifier heard in the scan.

use std::collections::HashMap;

use crate::ExposureError;
use crate::keys::{KEY_BYTES, METADATA_BYTES};

/// The Exposure Notification service's 16-bit UUID.
pub const SERVICE_UUID: u16 = 0xFD6F;
/// Its full 128-bit form, as platform Bluetooth APIs name services.
pub const SERVICE_UUID_FULL: &str = "0000fd6f-0000-1000-8000-00805f9b34fb";
/// Service data length: RPI and AEM.
pub const SERVICE_DATA_BYTES: usize = KEY_BYTES + METADATA_BYTES;
/// A legacy advertisement's payload is at most 31 bytes.
pub const MAX_ADVERTISING_DATA_BYTES: usize = 31;
/// Longest time one scan stands for: a phone that did not scan for an hour did not see its
/// neighbours for an hour either.
pub const MAX_SECONDS_SINCE_LAST_SCAN: u16 = 300;

/// AD types of the Bluetooth Core Specification Supplement used by the advertisement.
const AD_FLAGS: u8 = 0x01;
const AD_COMPLETE_16_BIT_UUIDS: u8 = 0x03;
const AD_SERVICE_DATA_16_BIT: u8 = 0x16;
/// LE General Discoverable, BR/EDR not supported (as GAEN's specification sets them).
const FLAGS_VALUE: u8 = 0x1A;

/// What a phone broadcasts: its current rolling proximity identifier and encrypted metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// The rolling proximity identifier.
    pub rpi: [u8; KEY_BYTES],
    /// The associated encrypted metadata.
    pub aem: [u8; METADATA_BYTES],
}

impl Advertisement {
    /// The 20 bytes of service data (RPI ‖ AEM).
    #[must_use]
    pub fn service_data(&self) -> [u8; SERVICE_DATA_BYTES] {
        let mut data = [0u8; SERVICE_DATA_BYTES];
        let (rpi, aem) = data.split_at_mut(KEY_BYTES);
        rpi.copy_from_slice(&self.rpi);
        aem.copy_from_slice(&self.aem);
        data
    }

    /// An advertisement from its service data, as a platform's scan result gives it.
    ///
    /// # Errors
    /// [`ExposureError::Length`] unless the data is exactly 20 bytes.
    pub fn from_service_data(data: &[u8]) -> Result<Self, ExposureError> {
        let data: &[u8; SERVICE_DATA_BYTES] =
            data.try_into().map_err(|_| ExposureError::Length {
                what: "Exposure Notification service data",
                expected: SERVICE_DATA_BYTES,
                found: data.len(),
            })?;
        let (rpi, aem) = data.split_at(KEY_BYTES);
        Ok(Advertisement {
            rpi: rpi.try_into().unwrap_or_default(),
            aem: aem.try_into().unwrap_or_default(),
        })
    }

    /// The whole advertising payload: flags, the service's UUID, its service data (28 bytes).
    #[must_use]
    pub fn advertising_data(&self) -> Vec<u8> {
        let [uuid_low, uuid_high] = SERVICE_UUID.to_le_bytes();
        let mut payload = vec![
            2,
            AD_FLAGS,
            FLAGS_VALUE,
            3,
            AD_COMPLETE_16_BIT_UUIDS,
            uuid_low,
            uuid_high,
            3 + SERVICE_DATA_BYTES as u8,
            AD_SERVICE_DATA_16_BIT,
            uuid_low,
            uuid_high,
        ];
        payload.extend_from_slice(&self.service_data());
        payload
    }

    /// The advertisement in a raw advertising payload; `None` when the payload is well formed
    /// but carries no Exposure Notification service data (another device).
    ///
    /// # Errors
    /// [`ExposureError::Advertisement`] for a payload over 31 bytes or whose AD structures
    /// overrun it; [`ExposureError::Length`] for EN service data of the wrong length.
    pub fn from_advertising_data(payload: &[u8]) -> Result<Option<Self>, ExposureError> {
        if payload.len() > MAX_ADVERTISING_DATA_BYTES {
            return Err(ExposureError::Advertisement(format!(
                "{} bytes (a legacy advertisement has at most 31)",
                payload.len()
            )));
        }
        let mut rest = payload;
        let mut found = None;
        while let Some((&length, after)) = rest.split_first() {
            if length == 0 {
                // Zero-length structures pad the end of the payload.
                break;
            }
            let structure = after.get(..usize::from(length)).ok_or_else(|| {
                ExposureError::Advertisement("an AD structure overruns the payload".into())
            })?;
            rest = after.get(usize::from(length)..).unwrap_or_default();
            if let [AD_SERVICE_DATA_16_BIT, uuid_low, uuid_high, data @ ..] = structure
                && u16::from_le_bytes([*uuid_low, *uuid_high]) == SERVICE_UUID
            {
                found = Some(Self::from_service_data(data)?);
            }
        }
        Ok(found)
    }
}

/// One advertisement heard during a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// What was heard.
    pub advertisement: Advertisement,
    /// Its received signal strength (dBm), as the radio reports it (before calibration).
    pub rssi: i8,
    /// When (Unix seconds).
    pub time: i64,
}

impl Reception {
    /// What a platform's scan heard as service data of UUID 0xFD6F, with its signal strength
    /// and time; `None` for service data that is no exposure advertisement (a nearby
    /// stranger's noise, skipped by every shell alike rather than failing the scan).
    #[must_use]
    pub fn of_service_data(service_data: &[u8], rssi: i8, time: i64) -> Option<Reception> {
        Some(Reception {
            advertisement: Advertisement::from_service_data(service_data).ok()?,
            rssi,
            time,
        })
    }
}

/// A phone's Bluetooth radio for exposure notification. The phones implement it in the shell
/// (Android's `BluetoothLeAdvertiser`/`BluetoothLeScanner`, iOS's Core Bluetooth) through the
/// bindings' foreign trait; the desktop CLI has a scan-only btleplug one (feature `ble`); the
/// simulation gives each virtual phone one.
pub trait BleTransport: Send + Sync {
    /// Broadcasts `advertisement` from now on, replacing the previous one.
    ///
    /// # Errors
    /// [`ExposureError::Radio`] when the radio cannot advertise.
    fn advertise(&self, advertisement: &Advertisement) -> Result<(), ExposureError>;

    /// Scans for `seconds` and returns the EN advertisements heard.
    ///
    /// # Errors
    /// [`ExposureError::Radio`] when the radio cannot scan.
    fn scan(&self, seconds: u32) -> Result<Vec<Reception>, ExposureError>;
}

/// This phone's calibration, from the per-model table: what its radio's RSSI needs added to
/// read as a reference phone's, and the TX power it writes in its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Added to every RSSI this phone measures (dB).
    pub rssi_correction: i8,
    /// The TX power (dBm) written in the metadata, as a reference phone would report it.
    pub tx_power: i8,
    /// How well the model is calibrated (GAEN: 0 lowest to 3 highest).
    pub confidence: u8,
}

impl Default for Calibration {
    /// An uncalibrated phone: the table's most common values for unmeasured models.
    fn default() -> Self {
        Calibration {
            rssi_correction: 0,
            tx_power: -20,
            confidence: 0,
        }
    }
}

/// One identifier heard in one scan: the strongest and mean calibrated RSSI of its
/// receptions, and the time since this phone's previous scan (the time the scan stands for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// The rolling proximity identifier heard.
    pub rpi: [u8; KEY_BYTES],
    /// Its encrypted metadata.
    pub aem: [u8; METADATA_BYTES],
    /// When the scan started (Unix seconds).
    pub time: i64,
    /// Strongest calibrated RSSI (dBm).
    pub peak_rssi: i8,
    /// Mean calibrated RSSI (dBm).
    pub mean_rssi: i8,
    /// Seconds since the previous scan, at most [`MAX_SECONDS_SINCE_LAST_SCAN`].
    pub seconds_since_last_scan: u16,
}

/// The sightings of one scan: receptions grouped by identifier, calibrated with this phone's
/// RSSI correction.
#[must_use]
pub fn sightings_of_scan(
    receptions: &[Reception],
    scan_started: i64,
    previous_scan: Option<i64>,
    calibration: Calibration,
) -> Vec<Sighting> {
    let since_last = previous_scan.map_or(MAX_SECONDS_SINCE_LAST_SCAN, |previous| {
        u16::try_from((scan_started - previous).clamp(0, MAX_SECONDS_SINCE_LAST_SCAN.into()))
            .unwrap_or(MAX_SECONDS_SINCE_LAST_SCAN)
    });
    let mut heard: HashMap<Advertisement, (i8, i32, i32)> = HashMap::new();
    let mut order = Vec::new();
    for reception in receptions {
        let rssi = reception.rssi.saturating_add(calibration.rssi_correction);
        let entry = heard.entry(reception.advertisement).or_insert_with(|| {
            order.push(reception.advertisement);
            (rssi, 0, 0)
        });
        entry.0 = entry.0.max(rssi);
        entry.1 += i32::from(rssi);
        entry.2 += 1;
    }
    order
        .into_iter()
        .filter_map(|advertisement| {
            let (peak, sum, count) = heard.get(&advertisement)?;
            Some(Sighting {
                rpi: advertisement.rpi,
                aem: advertisement.aem,
                time: scan_started,
                peak_rssi: *peak,
                mean_rssi: i8::try_from(sum / count.max(&1)).unwrap_or(i8::MIN),
                seconds_since_last_scan: since_last,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exposure_service_data_is_a_reception() {
        let data: Vec<u8> = (0u8..20).collect();
        let heard = Reception::of_service_data(&data, -60, 1_700_000_000).unwrap();
        assert_eq!(heard.advertisement.service_data().to_vec(), data);
        assert_eq!((heard.rssi, heard.time), (-60, 1_700_000_000));
        for noise in [&data[..19], &[0u8; 21][..], &[]] {
            assert!(Reception::of_service_data(noise, -60, 0).is_none());
        }
    }
}
