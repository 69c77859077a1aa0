//! The simulated town end to end: phones broadcast and scan through the simulated radio, the
//! positive people's keys are published in a signed file, every other phone checks itself,
//! and "exposed" is scored against the truth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use carnet_exposure::calibration::CalibrationTable;
use carnet_exposure::keyfile::{ExportBatch, ExportSigner};
use carnet_exposure::risk::RiskConfiguration;
use carnet_exposure::simulation::{SimulationConfig, simulate};

fn table() -> CalibrationTable {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/exposure/en_calibration_2020-06-13.csv"
    ))
    .unwrap();
    CalibrationTable::from_csv(&text).unwrap()
}

#[test]
fn the_calibration_table_reads_and_answers_by_model() {
    let table = table();
    assert_eq!(table.models.len(), 9_896);
    let pixel = table.of("google", "PIXEL 4");
    assert_eq!(
        (pixel.rssi_correction, pixel.tx_power, pixel.confidence),
        (5, -28, 3)
    );
    assert_eq!(table.of("Nobody", "Nothing"), Default::default());
    assert!(CalibrationTable::from_csv("oem,model,rssi,tx,measured\nA,B,x,-20,no\n").is_err());
    assert!(CalibrationTable::from_csv("oem,model,rssi,tx,measured\nA,B,1,-20,maybe\n").is_err());
    assert!(CalibrationTable::from_csv("oem,model,rssi,tx,measured\nA,B,1\n").is_err());
}

/// The CLI's default town (200 phones, 3 days) with seed 7, checked with CWA's configuration.
///
/// Thresholds. Recall ≥ 0.9: a true exposure (15 minutes within 2 m) is at least three scans
/// at attenuations CWA weighs 0.8 or more in this radio (45 dB at 1 m, 2–3 exponent, bodies),
/// so only the noise's and the bodies' tails can miss one; the run measures 1.00. Precision ≥
/// 0.35 and above the base rate (flagging everyone): CWA counts minutes up to 73 dB — about
/// 8 m here — by design, so a positive person's colleagues at desks 2.5 m apart, tram
/// neighbours and next tables are flagged without being within 2 m; BLE attenuation under
/// 7 dB of fading and unknown pockets cannot tell 2 m from 3. The run measures 0.41 against a
/// base rate of 0.36 (seeds 8 and 9: 0.43 and 0.44).
#[test]
fn a_seeded_town_flags_the_exposed_with_measured_precision_and_recall() {
    let config = SimulationConfig {
        seed: 7,
        ..SimulationConfig::default()
    };
    let mut hours = 0;
    let town = simulate(&config, &table(), &mut |_| hours += 1).unwrap();
    assert_eq!(hours, 72);
    let positives = town.phones.iter().filter(|phone| phone.positive).count();
    assert_eq!(positives, 10);
    assert!(
        town.phones.iter().all(|phone| phone.keys.len() == 3),
        "a key a day"
    );
    let exposed = town.phones.iter().filter(|phone| phone.exposed).count();
    let signer =
        ExportSigner::from_pkcs8("FR", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let batch = ExportBatch::single(config.start as u64, town.end() as u64, "FR");
    let zip = signer.write(&batch, &town.positive_keys()).unwrap();
    let flags = town
        .flag_exposed(
            &[zip],
            &[signer.verification_key()],
            &RiskConfiguration::default(),
            2,
        )
        .unwrap();
    let accuracy = town.accuracy(&flags);
    let base_rate = exposed as f64 / (town.phones.len() - positives) as f64;
    println!(
        "{exposed} exposed; {accuracy:?}; precision {:.2}, recall {:.2}, base rate {base_rate:.2}",
        accuracy.precision(),
        accuracy.recall()
    );
    assert!(
        exposed >= 20,
        "the town must expose people for the scores to mean something"
    );
    assert!(accuracy.recall() >= 0.9, "{accuracy:?}");
    assert!(accuracy.precision() >= 0.35, "{accuracy:?}");
    assert!(accuracy.precision() > base_rate, "{accuracy:?}");
    // Nobody near a positive person at all is never flagged: the far end of town stays quiet.
    assert!(accuracy.true_negatives > 0);
}

#[test]
fn the_same_seed_gives_the_same_town_and_another_seed_another() {
    let config = SimulationConfig {
        phones: 30,
        days: 1,
        seed: 3,
        ..SimulationConfig::default()
    };
    let run = |config: &SimulationConfig| {
        let town = simulate(config, &table(), &mut |_| {}).unwrap();
        town.phones
            .iter()
            .map(|phone| (phone.positive, phone.exposed, phone.sightings.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&config), run(&config));
    assert_ne!(
        run(&config),
        run(&SimulationConfig {
            seed: 4,
            ..config.clone()
        })
    );
}

#[test]
fn out_of_range_simulations_are_refused() {
    let table = table();
    for config in [
        SimulationConfig {
            phones: 1,
            ..SimulationConfig::default()
        },
        SimulationConfig {
            days: 0,
            ..SimulationConfig::default()
        },
        SimulationConfig {
            phones: 10_000,
            days: 14,
            ..SimulationConfig::default()
        },
        SimulationConfig {
            positive_share: 0.0,
            ..SimulationConfig::default()
        },
        SimulationConfig {
            positive_share: f64::NAN,
            ..SimulationConfig::default()
        },
    ] {
        assert!(matches!(
            simulate(&config, &table, &mut |_| {}),
            Err(carnet_exposure::ExposureError::Simulation(_))
        ));
    }
    assert!(
        simulate(
            &SimulationConfig::default(),
            &CalibrationTable::default(),
            &mut |_| {}
        )
        .is_err()
    );
}
