//! Exposure notification's keys and sightings in the record: kept encrypted, read back,
//! nothing older than 14 days surviving a write or showing in a read, deletion on request,
//! and none of it in an export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Cursor;
use std::sync::atomic::Ordering;

use carnet_exposure::keys::{TemporaryExposureKey, interval_number};
use carnet_exposure::radio::Sighting;
use carnet_record::{Record, StoreOptions, Unlock};
use common::{NOW, TestClock, memory_vault};

const DAY: i64 = 86_400;

fn sighting(day: i64, seed: u8) -> Sighting {
    Sighting {
        rpi: [seed; 16],
        aem: [seed, 1, 2, 3],
        time: NOW / 1000 + day * DAY,
        peak_rssi: -60,
        mean_rssi: -67,
        seconds_since_last_scan: 240,
    }
}

fn key_of_day(day: i64) -> TemporaryExposureKey {
    let interval = interval_number(NOW / 1000 + day * DAY).unwrap();
    TemporaryExposureKey::new(&[day as u8; 16], interval - interval % 144, 144).unwrap()
}

#[test]
fn twenty_days_of_keys_and_sightings_keep_only_the_last_fourteen() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let clock = TestClock::new();
    let record = Record::create(
        dir.path(),
        Unlock::DeviceKey,
        vault.clone(),
        clock.clone(),
        StoreOptions::default(),
    )
    .unwrap();
    for day in 0..20 {
        clock.0.store(NOW + day * DAY * 1000, Ordering::Relaxed);
        record.keep_exposure_key(&key_of_day(day)).unwrap();
        record
            .keep_sightings(sighting(day, 0).time, &[sighting(day, 1), sighting(day, 2)])
            .unwrap();
    }
    // Day 19 (the clock a few seconds past the hour): what was heard on days 6 to 19 is
    // within 14 days, day 5's scan is just older; day 5's key lasted until midnight, after
    // the horizon: kept.
    let sightings = record.sightings().unwrap();
    let days: Vec<i64> = sightings
        .iter()
        .map(|sighting| (sighting.time - NOW / 1000) / DAY)
        .collect();
    assert_eq!(days.first(), Some(&6), "{days:?}");
    assert_eq!(sightings.len(), 2 * 14);
    assert_eq!(sightings[0], sighting(6, 1));
    let keys = record.exposure_keys().unwrap();
    assert_eq!(keys.first().unwrap(), &key_of_day(5));
    assert_eq!(keys.last().unwrap(), &key_of_day(19));
    // What aged out is gone from the database, not only hidden.
    let count = |kind: &str| record.store().read(|r| r.count(kind)).unwrap();
    assert_eq!(count("exposure-scan"), 14);
    assert_eq!(count("exposure-key"), 15);
    // A day later with no write, reads already leave day 6 out; the expiry deletes it and
    // day 5's key.
    clock
        .0
        .store(NOW + (20 * DAY + 60) * 1000, Ordering::Relaxed);
    assert_eq!(record.sightings().unwrap().len(), 2 * 13);
    assert_eq!(record.exposure_keys().unwrap().len(), 14);
    let deleted = record.expire_exposure_data().unwrap();
    assert_eq!((deleted.keys, deleted.scans), (1, 1));
    assert_eq!(count("exposure-scan"), 13);
    // A scan older than 14 days is not even written.
    record
        .keep_sightings(sighting(1, 0).time, &[sighting(1, 9)])
        .unwrap();
    assert_eq!(count("exposure-scan"), 13);
    // Survives reopening; deletion on request removes everything.
    drop(record);
    let record = Record::open(
        dir.path(),
        Unlock::DeviceKey,
        vault,
        clock.clone(),
        StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(record.exposure_keys().unwrap().len(), 14);
    let deleted = record.forget_exposure_data().unwrap();
    assert_eq!((deleted.keys, deleted.scans), (14, 13));
    assert!(record.sightings().unwrap().is_empty());
    assert!(record.exposure_keys().unwrap().is_empty());
}

#[test]
fn a_crowded_scan_keeps_its_strongest_sightings_and_nothing_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let record = common::create(dir.path(), &vault);
    let time = NOW / 1000 + 60;
    let crowd: Vec<Sighting> = (0..2_500u32)
        .map(|index| Sighting {
            rpi: (u128::from(index)).to_le_bytes(),
            peak_rssi: -((index % 100) as i8) - 20,
            ..sighting(0, 0)
        })
        .map(|sighting| Sighting { time, ..sighting })
        .collect();
    record.keep_sightings(time, &crowd).unwrap();
    let kept = record.sightings().unwrap();
    assert_eq!(kept.len(), carnet_record::MAX_SIGHTINGS_PER_SCAN);
    // Peaks run from −20 to −119 dBm, 25 of each: the 2,000 kept are those of −99 and above.
    assert!(kept.iter().all(|sighting| sighting.peak_rssi >= -99));
    record.keep_exposure_key(&key_of_day(0)).unwrap();
    let archive = record.export(Cursor::new(Vec::new()), &mut |_| {}).unwrap();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = common::create(copy_dir.path(), &vault);
    copy.import(Cursor::new(archive.into_inner()), &mut |_| {})
        .unwrap();
    assert!(copy.sightings().unwrap().is_empty());
    assert!(copy.exposure_keys().unwrap().is_empty());
}
