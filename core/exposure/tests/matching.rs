//! A phone hears another; the other tests positive; its keys, published in a signed file, are
//! matched against the sightings: windows, attenuations, tolerance, revoked keys, threads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Cursor;

use carnet_exposure::ExposureError;
use carnet_exposure::keyfile::{DiagnosisKey, ExportBatch, ExportSigner, KeyFile};
use carnet_exposure::keys::{TemporaryExposureKey, interval_number, metadata};
use carnet_exposure::matching::{MatchConfiguration, Matcher};
use carnet_exposure::radio::{
    Advertisement, Calibration, Reception, SERVICE_DATA_BYTES, Sighting, sightings_of_scan,
};
use carnet_exposure::risk::{RiskConfiguration, RiskLevel};

/// 2025-03-01 08:00 UTC.
const MORNING: i64 = 1_740_816_000;
const TX_POWER: i8 = -24;

fn tek(seed: u8, time: i64) -> TemporaryExposureKey {
    let interval = interval_number(time).unwrap();
    TemporaryExposureKey::new(&[seed; 16], interval - interval % 144, 144).unwrap()
}

fn advertisement(key: &TemporaryExposureKey, time: i64) -> Advertisement {
    let derived = key.derive();
    let rpi = derived.rpi(interval_number(time).unwrap());
    Advertisement {
        rpi,
        aem: derived.aem(&rpi, metadata(TX_POWER)),
    }
}

/// Bob scans every 4 minutes from `from` for `minutes`, hearing Alice three times a scan at
/// `rssi` (raw) and once a stranger.
fn bob_hears(alice: &TemporaryExposureKey, from: i64, minutes: i64, rssi: i8) -> Vec<Sighting> {
    let stranger = tek(99, from);
    let calibration = Calibration {
        rssi_correction: -5,
        tx_power: -20,
        confidence: 2,
    };
    let mut sightings = Vec::new();
    let mut previous = None;
    for scan in (from..from + minutes * 60).step_by(240) {
        let mut receptions: Vec<Reception> = [rssi, rssi - 4, rssi - 8]
            .into_iter()
            .map(|rssi| Reception {
                advertisement: advertisement(alice, scan),
                rssi,
                time: scan + 1,
            })
            .collect();
        receptions.push(Reception {
            advertisement: advertisement(&stranger, scan),
            rssi: -90,
            time: scan + 2,
        });
        sightings.extend(sightings_of_scan(&receptions, scan, previous, calibration));
        previous = Some(scan);
    }
    sightings
}

fn signed(keys: &[DiagnosisKey]) -> (KeyFile, ExportSigner) {
    let signer =
        ExportSigner::from_pkcs8("FR", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let batch = ExportBatch::single(MORNING as u64, MORNING as u64 + 86_400, "FR");
    let zip = signer.write(&batch, keys).unwrap();
    let file = KeyFile::open(Cursor::new(zip), &[signer.verification_key()]).unwrap();
    (file, signer)
}

fn positive(key: TemporaryExposureKey, report_type: i32) -> DiagnosisKey {
    DiagnosisKey {
        key,
        report_type,
        days_since_onset_of_symptoms: Some(0),
        transmission_risk_level: None,
    }
}

#[test]
fn the_advertisement_round_trips_and_hostile_payloads_are_refused() {
    let sent = advertisement(&tek(1, MORNING), MORNING);
    let payload = sent.advertising_data();
    assert_eq!(payload.len(), 31);
    assert_eq!(
        Advertisement::from_advertising_data(&payload).unwrap(),
        Some(sent)
    );
    assert_eq!(
        Advertisement::from_service_data(&sent.service_data()).unwrap(),
        sent
    );
    // Another service's data: not ours, no error.
    let mut other = payload.clone();
    other[9] = 0x6E;
    assert_eq!(Advertisement::from_advertising_data(&other).unwrap(), None);
    // Overrun, oversized, wrong service data length.
    let mut overrun = payload.clone();
    overrun[7] = 40;
    assert!(matches!(
        Advertisement::from_advertising_data(&overrun),
        Err(ExposureError::Advertisement(_))
    ));
    assert!(matches!(
        Advertisement::from_advertising_data(&[0; 32]),
        Err(ExposureError::Advertisement(_))
    ));
    let short = [7, 0x16, 0x6F, 0xFD, 1, 2, 3, 4];
    assert!(matches!(
        Advertisement::from_advertising_data(&short),
        Err(ExposureError::Length {
            expected: SERVICE_DATA_BYTES,
            ..
        })
    ));
    assert_eq!(Advertisement::from_advertising_data(&[]).unwrap(), None);
}

#[test]
fn a_scan_gives_one_calibrated_sighting_per_identifier() {
    let alice = tek(1, MORNING);
    let sightings = bob_hears(&alice, MORNING, 4, -60);
    assert_eq!(sightings.len(), 2, "Alice and the stranger, once each");
    let heard = sightings
        .iter()
        .find(|sighting| sighting.rpi == advertisement(&alice, MORNING).rpi)
        .unwrap();
    assert_eq!(heard.peak_rssi, -65, "the strongest, corrected by −5 dB");
    assert_eq!(heard.mean_rssi, -69);
    assert_eq!(
        heard.seconds_since_last_scan, 300,
        "a first scan stands for 5 minutes"
    );
}

#[test]
fn a_positive_persons_key_gives_windows_of_at_most_30_minutes() {
    let alice = tek(1, MORNING);
    let sightings = bob_hears(&alice, MORNING, 44, -50);
    let (file, _) = signed(&[
        positive(alice.clone(), 1),
        positive(tek(2, MORNING), 1),
        positive(tek(3, MORNING), 1),
    ]);
    let matcher = Matcher::new(sightings, MatchConfiguration::default(), MORNING + 86_400);
    let report = matcher.run([Ok(file)], 2, &mut |_| {}).unwrap();
    assert_eq!(report.keys_checked, 3);
    assert_eq!(report.keys_matched, 1);
    assert_eq!(report.windows.len(), 2, "44 minutes: 30 + 14");
    let first = &report.windows[0];
    assert_eq!(first.scan_instances.len(), 8, "scans at 0, 4, … 28 minutes");
    assert_eq!(first.age_in_days, 1);
    assert_eq!(first.report_type, 1);
    assert_eq!(first.infectiousness, 2, "day of onset: high");
    let scan = first.scan_instances[1];
    // TX −24 in the metadata, RSSI −50 − 5 (correction): 31 dB; mean −59: 35 dB.
    assert_eq!(scan.min_attenuation, 31);
    assert_eq!(scan.typical_attenuation, 35);
    assert_eq!(scan.seconds_since_last_scan, 240);
    let summary = RiskConfiguration::default().summarize(&report.windows);
    assert_eq!(summary.total_risk_level, RiskLevel::High);
}

#[test]
fn identifiers_heard_more_than_two_hours_off_do_not_match() {
    let alice = tek(1, MORNING);
    // Bob's clock is 1 h 50 ahead, then 2 h 10: his sightings are timed that much later.
    let shifted = |offset: i64| {
        let mut sightings = bob_hears(&alice, MORNING, 20, -50);
        for sighting in &mut sightings {
            sighting.time += offset;
        }
        Matcher::new(sightings, MatchConfiguration::default(), MORNING + 86_400)
    };
    let (file, _) = signed(&[positive(alice.clone(), 1)]);
    let keys: Vec<DiagnosisKey> = file.keys().map(Result::unwrap).collect();
    let mut blocks = Vec::new();
    assert!(
        !shifted(110 * 60)
            .windows_of(&keys[0], &mut blocks)
            .is_empty()
    );
    assert!(
        shifted(130 * 60)
            .windows_of(&keys[0], &mut blocks)
            .is_empty()
    );
    assert!(
        !shifted(-110 * 60)
            .windows_of(&keys[0], &mut blocks)
            .is_empty()
    );
    assert!(
        shifted(-130 * 60)
            .windows_of(&keys[0], &mut blocks)
            .is_empty()
    );
}

#[test]
fn revoked_keys_and_metadata_of_another_version_give_nothing() {
    let alice = tek(1, MORNING);
    let matcher = Matcher::new(
        bob_hears(&alice, MORNING, 20, -50),
        MatchConfiguration::default(),
        MORNING,
    );
    let mut blocks = Vec::new();
    assert!(
        matcher
            .windows_of(&positive(alice.clone(), 5), &mut blocks)
            .is_empty()
    );
    assert!(
        !matcher
            .windows_of(&positive(alice.clone(), 0), &mut blocks)
            .is_empty()
    );
    let far_from_onset = DiagnosisKey {
        days_since_onset_of_symptoms: Some(20),
        ..positive(alice.clone(), 1)
    };
    assert!(matcher.windows_of(&far_from_onset, &mut blocks).is_empty());
    // The same identifiers with metadata of version 2 (a forged or garbled AEM).
    let mut sightings = bob_hears(&alice, MORNING, 20, -50);
    for sighting in &mut sightings {
        sighting.aem[0] ^= 0xC0;
    }
    let matcher = Matcher::new(sightings, MatchConfiguration::default(), MORNING);
    assert!(
        matcher
            .windows_of(&positive(alice, 1), &mut blocks)
            .is_empty()
    );
}

#[test]
fn one_and_two_threads_find_the_same_windows_and_report_progress() {
    let people: Vec<TemporaryExposureKey> = (1..=40).map(|seed| tek(seed, MORNING)).collect();
    let mut sightings = Vec::new();
    for (index, person) in people.iter().enumerate().step_by(3) {
        sightings.extend(bob_hears(person, MORNING + index as i64 * 600, 12, -55));
    }
    let mut keys: Vec<DiagnosisKey> = (0..9000u32)
        .map(|index| {
            positive(
                TemporaryExposureKey::new(&(u128::from(index) << 64).to_le_bytes(), 2_901_360, 144)
                    .unwrap(),
                1,
            )
        })
        .collect();
    keys.extend(people.iter().map(|person| positive(person.clone(), 1)));
    let (file, signer) = signed(&keys);
    let matcher = Matcher::new(sightings, MatchConfiguration::default(), MORNING);
    let reopen = || {
        let zip = signer
            .write(
                file.batch(),
                &file.keys().map(Result::unwrap).collect::<Vec<_>>(),
            )
            .unwrap();
        KeyFile::open(Cursor::new(zip), &[signer.verification_key()])
    };
    let sorted = |threads| {
        let mut steps = Vec::new();
        let mut report = matcher
            .run([reopen(), reopen()], threads, &mut |progress| {
                steps.push(progress)
            })
            .unwrap();
        report.windows.sort_by_key(|window| format!("{window:?}"));
        (report, steps)
    };
    let (one, one_steps) = sorted(1);
    let (two, _) = sorted(2);
    assert_eq!(one, two);
    assert_eq!(one.files, 2);
    assert_eq!(one.keys_checked, 2 * 9040);
    assert_eq!(
        one.keys_matched, 14,
        "people 1, 4, … 40 were heard; a key in both files counts once"
    );
    assert!(one_steps.len() >= 8, "progress by chunk: {one_steps:?}");
    assert_eq!(one_steps.last().unwrap().keys, 2 * 9040);
    assert!(
        one_steps
            .windows(2)
            .all(|pair| pair[0].keys <= pair[1].keys)
    );
    // A file that does not verify stops the run with its error.
    let refused = matcher.run(
        [reopen(), Err(ExposureError::Signature("test".into()))],
        2,
        &mut |_| {},
    );
    assert!(matches!(refused, Err(ExposureError::Signature(_))));
}

#[test]
fn revised_keys_replace_what_was_published_and_duplicates_count_once() {
    let alice = tek(1, MORNING);
    let matcher = Matcher::new(
        bob_hears(&alice, MORNING, 20, -50),
        MatchConfiguration::default(),
        MORNING + 86_400,
    );
    let signer =
        ExportSigner::from_pkcs8("FR", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let batch = ExportBatch::single(MORNING as u64, MORNING as u64 + 86_400, "FR");
    let trusted = [signer.verification_key()];
    let file = |keys: &[DiagnosisKey], revised: &[DiagnosisKey]| {
        let zip = signer.write_with_revisions(&batch, keys, revised).unwrap();
        KeyFile::open(Cursor::new(zip), &trusted)
    };
    let self_reported = positive(alice.clone(), 3);
    let check =
        |files: Vec<Result<KeyFile, ExposureError>>| matcher.run(files, 2, &mut |_| {}).unwrap();
    // Published as a self report, the same key published again the next day: one key.
    let twice = check(vec![
        file(std::slice::from_ref(&self_reported), &[]),
        file(std::slice::from_ref(&self_reported), &[]),
    ]);
    assert_eq!(twice.keys_matched, 1);
    assert_eq!(twice.windows.len(), 1);
    assert!(twice.windows.iter().all(|window| window.report_type == 3));
    // Then confirmed by a test: the revision replaces it, windows not doubled.
    let confirmed = check(vec![
        file(std::slice::from_ref(&self_reported), &[]),
        file(&[], &[positive(alice.clone(), 1)]),
    ]);
    assert_eq!(confirmed.keys_checked, 2);
    assert_eq!(confirmed.keys_matched, 1);
    assert_eq!(confirmed.windows.len(), 1);
    assert!(
        confirmed
            .windows
            .iter()
            .all(|window| window.report_type == 1)
    );
    // Or revoked: nothing is left of it, whichever file comes first.
    for files in [
        vec![
            file(std::slice::from_ref(&self_reported), &[]),
            file(&[], &[positive(alice.clone(), 5)]),
        ],
        vec![
            file(&[], &[positive(alice.clone(), 5)]),
            file(std::slice::from_ref(&self_reported), &[]),
        ],
    ] {
        let revoked = check(files);
        assert_eq!(revoked.keys_matched, 0);
        assert!(revoked.windows.is_empty());
    }
    // The revised keys are a field of their own: not among the keys.
    let both = file(&[positive(tek(2, MORNING), 1)], &[positive(alice, 5)]).unwrap();
    assert_eq!(both.keys().count(), 1);
    assert_eq!(
        both.revised_keys()
            .map(Result::unwrap)
            .next()
            .unwrap()
            .report_type,
        5
    );
}
