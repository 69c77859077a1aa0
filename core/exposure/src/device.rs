//! What a phone does for exposure notification, whatever its radio: at each duty cycle it
//! broadcasts the identifier of the current interval (starting a new key when the day
//! changes) and scans; what it heard becomes sightings. The caller keeps the new keys and the
//! sightings (the encrypted record on a phone, memory in the simulation).

use crate::ExposureError;
use crate::keys::{DerivedKeys, ROLLING_PERIOD, TemporaryExposureKey, interval_number, metadata};
use crate::radio::{Advertisement, BleTransport, Calibration, Sighting, sightings_of_scan};

/// Seconds a duty cycle scans (GAEN scans about 4 seconds every few minutes).
pub const SCAN_SECONDS: u32 = 4;
/// Seconds between duty cycles.
pub const CYCLE_SECONDS: i64 = 240;

/// A phone's exposure state between cycles.
pub struct Device {
    calibration: Calibration,
    current: Option<(TemporaryExposureKey, DerivedKeys)>,
    last_scan: Option<i64>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("calibration", &self.calibration)
            .field("key", &self.current.as_ref().map(|(key, _)| key))
            .field("last_scan", &self.last_scan)
            .finish()
    }
}

/// What one cycle produced.
#[derive(Debug, Default)]
pub struct Cycle {
    /// The key started in this cycle (a new day), to keep.
    pub new_key: Option<TemporaryExposureKey>,
    /// What the scan heard.
    pub sightings: Vec<Sighting>,
}

impl Device {
    /// A phone with this calibration, continuing `current_key` (today's key, from storage)
    /// when there is one.
    #[must_use]
    pub fn new(calibration: Calibration, current_key: Option<TemporaryExposureKey>) -> Self {
        Device {
            calibration,
            current: current_key.map(|key| {
                let derived = key.derive();
                (key, derived)
            }),
            last_scan: None,
        }
    }

    /// The phone's calibration.
    #[must_use]
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The advertisement of `now`; a new key from `new_key` (called with the interval) when
    /// the current one does not cover it.
    ///
    /// # Errors
    /// [`ExposureError::Period`] for a time outside the interval range, or `new_key`'s error.
    pub fn advertisement(
        &mut self,
        now: i64,
        new_key: &mut dyn FnMut(u32) -> Result<TemporaryExposureKey, ExposureError>,
    ) -> Result<(Advertisement, Option<TemporaryExposureKey>), ExposureError> {
        let interval =
            interval_number(now).ok_or(ExposureError::Period("a time outside the intervals"))?;
        let mut started = None;
        let covered = self
            .current
            .as_ref()
            .is_some_and(|(key, _)| key.covers(interval));
        if !covered {
            let key = new_key(interval)?;
            if !key.covers(interval) || key.rolling_period != ROLLING_PERIOD {
                return Err(ExposureError::Period("a new key must cover the day of now"));
            }
            let derived = key.derive();
            started = Some(key.clone());
            self.current = Some((key, derived));
        }
        let Some((_, derived)) = &self.current else {
            return Err(ExposureError::Period("no key"));
        };
        let rpi = derived.rpi(interval);
        let advertisement = Advertisement {
            rpi,
            aem: derived.aem(&rpi, metadata(self.calibration.tx_power)),
        };
        Ok((advertisement, started))
    }

    /// One duty cycle at `now`: advertise, scan, turn what was heard into sightings.
    ///
    /// # Errors
    /// The transport's errors, or [`Device::advertisement`]'s.
    pub fn cycle(
        &mut self,
        transport: &dyn BleTransport,
        now: i64,
        new_key: &mut dyn FnMut(u32) -> Result<TemporaryExposureKey, ExposureError>,
    ) -> Result<Cycle, ExposureError> {
        let (advertisement, started) = self.advertisement(now, new_key)?;
        transport.advertise(&advertisement)?;
        Ok(Cycle {
            new_key: started,
            sightings: self.scan(transport, now)?,
        })
    }

    /// Scans for [`SCAN_SECONDS`] at `now` and turns what was heard into sightings.
    ///
    /// # Errors
    /// The transport's errors.
    pub fn scan(
        &mut self,
        transport: &dyn BleTransport,
        now: i64,
    ) -> Result<Vec<Sighting>, ExposureError> {
        let receptions = transport.scan(SCAN_SECONDS)?;
        let sightings = sightings_of_scan(&receptions, now, self.last_scan, self.calibration);
        self.last_scan = Some(now);
        Ok(sightings)
    }
}
