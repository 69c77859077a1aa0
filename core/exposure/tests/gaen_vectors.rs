//! Every value of Google's Exposure Notification v1.2 test vectors
//! (`fixtures/exposure/gaen_v1.2_google_internals.json`): the key's interval, RPIK, AEMK,
//! and the RPI and AEM of each of the day's 144 intervals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use carnet_exposure::ExposureError;
use carnet_exposure::keys::{TemporaryExposureKey, interval_number, metadata};
use ring::rand::SystemRandom;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!(
        "../../../fixtures/exposure/gaen_v1.2_google_internals.json"
    ))
    .unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap()).unwrap()
}

#[test]
fn every_gaen_vector_is_reproduced() {
    let v = vectors();
    let start = v["rolling_start_interval_number"].as_u64().unwrap() as u32;
    assert_eq!(
        interval_number(v["key_generation_unix_seconds"].as_i64().unwrap()),
        Some(start)
    );
    let tek = TemporaryExposureKey::new(
        &bytes(&v["tek_hex"]),
        start,
        v["rolling_period"].as_u64().unwrap() as u32,
    )
    .unwrap();
    assert_eq!(tek.rpik().to_vec(), bytes(&v["rpik_hex"]));
    assert_eq!(tek.aemk().to_vec(), bytes(&v["aemk_hex"]));
    let metadata_bytes: [u8; 4] = bytes(&v["ble_metadata_hex"]).try_into().unwrap();
    assert_eq!(metadata(8), metadata_bytes, "version 1.0, +8 dBm");
    let derived = tek.derive();
    let intervals = v["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 144);
    for case in intervals {
        let interval = case["enin"].as_u64().unwrap() as u32;
        assert!(tek.covers(interval));
        let rpi = derived.rpi(interval);
        assert_eq!(rpi.to_vec(), bytes(&case["rpi_hex"]), "RPI of {interval}");
        let aem = derived.aem(&rpi, metadata_bytes);
        assert_eq!(aem.to_vec(), bytes(&case["aem_hex"]), "AEM of {interval}");
        assert_eq!(derived.aem(&rpi, aem), metadata_bytes, "decryption");
    }
    assert!(!tek.covers(start + 144) && !tek.covers(start - 1));
}

#[test]
fn keys_are_generated_for_the_day_and_bad_ones_refused() {
    let key = TemporaryExposureKey::generate(2_642_976 + 77, &SystemRandom::new()).unwrap();
    assert_eq!((key.rolling_start, key.rolling_period), (2_642_976, 144));
    let other = TemporaryExposureKey::generate(2_642_976, &SystemRandom::new()).unwrap();
    assert_ne!(key.bytes(), other.bytes());
    assert_eq!(
        TemporaryExposureKey::new(&[0; 15], 0, 144),
        Err(ExposureError::Length {
            what: "a temporary exposure key",
            expected: 16,
            found: 15
        })
    );
    for period in [0, 145] {
        assert!(matches!(
            TemporaryExposureKey::new(&[0; 16], 0, period),
            Err(ExposureError::Period(_))
        ));
    }
    assert!(TemporaryExposureKey::new(&[0; 16], u32::MAX - 10, 144).is_err());
    assert_eq!(interval_number(-1), None);
    assert_eq!(interval_number(599), Some(0));
    assert!(!format!("{key:?}").contains(&format!("{:?}", key.bytes())));
}
