//! Exposure notification through the facade, against the reference server on loopback: two
//! phones near each other for half an hour yesterday, one tests positive and publishes its
//! keys with the laboratory's code, the other downloads the day files and finds itself at
//! high risk; the outcome is kept offline, unchanged files are not downloaded again, and
//! deletion on request leaves nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use carnet::ManualClock;
use carnet::exposure_notification::ExposureError;
use carnet::exposure_notification::radio::{Advertisement, BleTransport, Calibration, Reception};
use carnet::exposure_notification::risk::RiskLevel;
use carnet::{
    Carnet, CarnetError, ExposureProgress, LogLevel, MemoryKeyVault, RecordUnlock, Services,
};
use common::start_server;

/// Two phones' radios in one room: what one advertises, the other hears at −60 dBm.
#[derive(Default)]
struct Room {
    advertised: Mutex<[Option<Advertisement>; 2]>,
}

struct Radio<'a> {
    room: &'a Room,
    me: usize,
}

impl BleTransport for Radio<'_> {
    fn advertise(&self, advertisement: &Advertisement) -> Result<(), ExposureError> {
        self.room.advertised.lock().unwrap()[self.me] = Some(*advertisement);
        Ok(())
    }

    fn scan(&self, _seconds: u32) -> Result<Vec<Reception>, ExposureError> {
        let other = self.room.advertised.lock().unwrap()[1 - self.me];
        Ok(other
            .map(|advertisement| Reception {
                advertisement,
                rssi: -60,
                time: 0,
            })
            .into_iter()
            .collect())
    }
}

fn phone(dir: &std::path::Path, clock: Arc<ManualClock>) -> Carnet {
    Carnet::open(Services {
        clock,
        vault: Arc::new(MemoryKeyVault::new()),
        log_sink: None,
        min_log_level: LogLevel::Info,
        data_dir: dir.to_path_buf(),
    })
    .unwrap()
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_of_yesterday_tests_positive_and_the_other_phone_finds_out() {
    let server = start_server().await;
    let base = format!("http://{}", server.address());
    let laboratory = carnet_server::ProfessionalClient::new(&base, server.professional_key());
    let trusted = [carnet_server::key_server_verification_key(server.data_dir()).unwrap()];

    // Yesterday at noon (UTC), for 32 minutes, a duty cycle every 4 minutes.
    let yesterday_noon = (now_millis() / 86_400_000 - 1) * 86_400_000 + 12 * 3_600_000;
    let clock = Arc::new(ManualClock::at(yesterday_noon));
    let (alice_dir, bob_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (alice, bob) = (
        phone(alice_dir.path(), clock.clone()),
        phone(bob_dir.path(), clock.clone()),
    );
    let alice_record = alice
        .create_record(&alice.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    let bob_record = bob
        .create_record(&bob.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    let room = Room::default();
    let alice_radio = alice_record.exposure_radio(Calibration::default()).unwrap();
    let bob_radio = bob_record.exposure_radio(Calibration::default()).unwrap();
    for _ in 0..8 {
        alice_record
            .exposure_cycle(&alice_radio, &Radio { room: &room, me: 0 })
            .unwrap();
        bob_record
            .exposure_cycle(&bob_radio, &Radio { room: &room, me: 1 })
            .unwrap();
        clock.advance(240_000);
    }
    assert_eq!(
        alice_record.exposure_keys().unwrap().len(),
        1,
        "one key for the day"
    );
    // A radio reopened the same day continues the day's key.
    let again = alice_record.exposure_radio(Calibration::default()).unwrap();
    let cycle = alice_record
        .exposure_cycle(&again, &Radio { room: &room, me: 0 })
        .unwrap();
    assert!(!cycle.new_key);

    // Today: Alice tests positive. A wrong code is refused and publishes nothing.
    clock.set(now_millis());
    let alice_services = alice.national_services(&base, &[]).unwrap();
    let wrong = alice_services
        .publish_exposure_keys(&alice_record, "NOT-A-CODE")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "exposure.code", "{wrong:?}");
    let code = laboratory.report_positive_test(None).await.unwrap().code;
    assert_eq!(
        alice_services
            .publish_exposure_keys(&alice_record, &code)
            .await
            .unwrap(),
        1
    );

    // Bob checks: he downloads today's file and is at high risk.
    let bob_services = bob.national_services(&base, &[]).unwrap();
    assert!(bob_record.exposure_status().unwrap().is_none());
    let mut steps = Vec::new();
    let (check, update) = bob_services
        .check_exposure(&bob_record, &trusted, 2, &mut |step| steps.push(step))
        .await
        .unwrap();
    assert_eq!(
        (update.files.len(), update.downloaded, update.reached),
        (1, 1, true)
    );
    assert_eq!(check.keys_matched, 1);
    assert!(check.keys_checked >= 14, "padded with fake keys");
    assert_eq!(check.summary.total_risk_level, RiskLevel::High);
    assert_eq!(
        check.summary.age_of_most_recent_date_with_high_risk,
        Some(1)
    );
    assert!(
        steps
            .iter()
            .any(|step| matches!(step, ExposureProgress::Downloading { .. }))
    );
    assert!(
        steps
            .iter()
            .any(|step| matches!(step, ExposureProgress::Matching { .. }))
    );
    assert_eq!(bob_record.exposure_status().unwrap(), Some(check.clone()));
    // Checked again: nothing downloaded again (304).
    let (_, update) = bob_services
        .check_exposure(&bob_record, &trusted, 1, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(update.downloaded, 0);
    // A file that does not verify (another key) fails the check and keeps the last outcome.
    let stranger = carnet::exposure_notification::keyfile::ExportSigner::from_pkcs8(
        "FR",
        "v1",
        &carnet::exposure_notification::keyfile::ExportSigner::generate_pkcs8().unwrap(),
    )
    .unwrap()
    .verification_key();
    let refused = bob_record
        .check_exposure(
            &update.files,
            &[stranger],
            &Default::default(),
            1,
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(
        refused,
        CarnetError::Exposure(ExposureError::Signature(_))
    ));
    assert_eq!(refused.code(), "exposure.signature");
    assert_eq!(bob_record.exposure_status().unwrap(), Some(check));

    // Offline, the files held are used.
    server.stop().await;
    let (offline, update) = bob_services
        .check_exposure(&bob_record, &trusted, 1, &mut |_| {})
        .await
        .unwrap();
    assert!(!update.reached);
    assert_eq!(offline.summary.total_risk_level, RiskLevel::High);

    // Deletion on request.
    let deleted = bob_record.forget_exposure_data().unwrap();
    assert_eq!(deleted.keys, 1);
    assert!(bob_record.exposure_status().unwrap().is_none());
    let (after, _) = bob_services
        .check_exposure(&bob_record, &trusted, 1, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(after.keys_matched, 0);
    assert_eq!(after.summary.number_of_days_with_high_risk, 0);
}
