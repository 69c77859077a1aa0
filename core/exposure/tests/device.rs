//! A phone's duty cycle: a key a day, the identifier of each interval broadcast, scans turned
//! into sightings, a radio's failure passed on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Mutex;

use carnet_exposure::ExposureError;
use carnet_exposure::device::Device;
use carnet_exposure::keys::{TemporaryExposureKey, interval_number};
use carnet_exposure::radio::{Advertisement, BleTransport, Calibration, Reception};

/// 2025-03-01 00:00 UTC.
const MIDNIGHT: i64 = 1_740_787_200;

/// A radio that records what it is asked to broadcast and hears one neighbour.
struct Recorder {
    advertised: Mutex<Vec<Advertisement>>,
    neighbour: Advertisement,
    broken: bool,
}

impl BleTransport for Recorder {
    fn advertise(&self, advertisement: &Advertisement) -> Result<(), ExposureError> {
        if self.broken {
            return Err(ExposureError::Radio("Bluetooth is off".into()));
        }
        self.advertised.lock().unwrap().push(*advertisement);
        Ok(())
    }

    fn scan(&self, seconds: u32) -> Result<Vec<Reception>, ExposureError> {
        Ok(vec![
            Reception {
                advertisement: self.neighbour,
                rssi: -70,
                time: 0,
            };
            seconds as usize
        ])
    }
}

fn keys() -> impl FnMut(u32) -> Result<TemporaryExposureKey, ExposureError> {
    let mut seed = 0u8;
    move |interval| {
        seed += 1;
        TemporaryExposureKey::new(&[seed; 16], interval - interval % 144, 144)
    }
}

#[test]
fn a_day_of_cycles_uses_one_key_and_rotates_identifiers_each_interval() {
    let radio = Recorder {
        advertised: Mutex::new(Vec::new()),
        neighbour: Advertisement {
            rpi: [9; 16],
            aem: [1, 2, 3, 4],
        },
        broken: false,
    };
    let calibration = Calibration {
        rssi_correction: 4,
        tx_power: -26,
        confidence: 3,
    };
    let mut device = Device::new(calibration, None);
    let mut new_key = keys();
    let mut started = Vec::new();
    let mut sightings = Vec::new();
    // From 23:00 to 01:00 the next day, a cycle every 4 minutes.
    for time in (MIDNIGHT + 23 * 3600..MIDNIGHT + 25 * 3600).step_by(240) {
        let cycle = device.cycle(&radio, time, &mut new_key).unwrap();
        started.extend(cycle.new_key);
        sightings.extend(cycle.sightings);
    }
    assert_eq!(
        started.len(),
        2,
        "the day's key, then the next day's at midnight"
    );
    assert_eq!(
        started[1].rolling_start,
        interval_number(MIDNIGHT + 86_400).unwrap()
    );
    let advertised = radio.advertised.lock().unwrap();
    let mut distinct = advertised.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        12,
        "one identifier per 10-minute interval over 2 hours"
    );
    let derived = started[0].derive();
    let first = interval_number(MIDNIGHT + 23 * 3600).unwrap();
    assert_eq!(advertised[0].rpi, derived.rpi(first));
    assert_eq!(
        derived.aem(&advertised[0].rpi, advertised[0].aem),
        [0x40, (-26i8).to_le_bytes()[0], 0, 0],
        "the metadata carries the calibrated TX power"
    );
    assert_eq!(sightings.len(), 30, "the neighbour once per scan");
    assert_eq!(sightings[0].peak_rssi, -66, "corrected by +4 dB");
    assert_eq!(sightings[0].seconds_since_last_scan, 300);
    assert_eq!(sightings[1].seconds_since_last_scan, 240);
}

#[test]
fn a_device_continues_its_stored_key_and_refuses_a_bad_new_one() {
    let today =
        TemporaryExposureKey::new(&[5; 16], interval_number(MIDNIGHT).unwrap(), 144).unwrap();
    let mut device = Device::new(Calibration::default(), Some(today.clone()));
    let mut never =
        |_| -> Result<TemporaryExposureKey, ExposureError> { panic!("today's key is stored") };
    let (advertisement, started) = device.advertisement(MIDNIGHT + 3600, &mut never).unwrap();
    assert!(started.is_none());
    assert_eq!(
        advertisement.rpi,
        today
            .derive()
            .rpi(interval_number(MIDNIGHT + 3600).unwrap())
    );
    // Tomorrow, a generator that returns yesterday's period is refused.
    let mut stale =
        |_| TemporaryExposureKey::new(&[6; 16], interval_number(MIDNIGHT).unwrap(), 144);
    assert!(matches!(
        device.advertisement(MIDNIGHT + 86_400, &mut stale),
        Err(ExposureError::Period(_))
    ));
    let radio = Recorder {
        advertised: Mutex::new(Vec::new()),
        neighbour: Advertisement {
            rpi: [0; 16],
            aem: [0; 4],
        },
        broken: true,
    };
    assert!(matches!(
        device.cycle(&radio, MIDNIGHT + 60, &mut keys()),
        Err(ExposureError::Radio(_))
    ));
}
