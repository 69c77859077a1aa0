//! `carnet exposure`: the GAEN vectors, CWA's risk cases, the simulated town, and a phone's
//! commands against the reference server.

mod common;

use common::*;

/// `carnet exposure derive` reproduces Google's v1.2 test vectors: all 144 RPIs and AEMs.
#[test]
fn exposure_derive_gives_the_gaen_test_vectors() {
    let vectors: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/exposure/gaen_v1.2_google_internals.json"
    ))
    .unwrap();
    let interval = vectors["rolling_start_interval_number"].to_string();
    let (output, _data) = carnet(&[
        "exposure",
        "derive",
        "--tek",
        vectors["tek_hex"].as_str().unwrap(),
        "--interval",
        &interval,
        "--metadata",
        vectors["ble_metadata_hex"].as_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let derived: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(derived["rpik"], vectors["rpik_hex"]);
    assert_eq!(derived["aemk"], vectors["aemk_hex"]);
    let expected = vectors["intervals"].as_array().unwrap();
    let got = derived["intervals"].as_array().unwrap();
    assert_eq!(got.len(), 144);
    for (got, expected) in got.iter().zip(expected) {
        assert_eq!(got["interval"], expected["enin"]);
        assert_eq!(got["rpi"], expected["rpi_hex"]);
        assert_eq!(got["aem"], expected["aem_hex"]);
    }
    // A key of the wrong length is refused as input (exit 1), bad hex as usage (exit 2).
    let (short, _data) = carnet(&["exposure", "derive", "--tek", "00ff", "--interval", "1"]);
    assert_eq!(short.status.code(), Some(1), "{}", stderr(&short));
    let (garbage, _data) = carnet(&["exposure", "derive", "--tek", "xyz", "--interval", "1"]);
    assert_eq!(garbage.status.code(), Some(2), "{}", stderr(&garbage));
}

/// `carnet exposure risk --json` answers each of CWA's 29 cases with its expected fields.
#[test]
fn exposure_risk_answers_the_cwa_cases() {
    let cases: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/exposure/cwa_exposure-windows-risk-calculation.json"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        cases["defaultRiskCalculationConfiguration"].to_string(),
    )
    .unwrap();
    for (index, case) in cases["testCases"].as_array().unwrap().iter().enumerate() {
        let windows = dir.path().join(format!("case-{index}.json"));
        std::fs::write(
            &windows,
            serde_json::json!({ "exposureWindows": case["exposureWindows"] }).to_string(),
        )
        .unwrap();
        let (output, _data) = carnet(&[
            "exposure",
            "risk",
            "--windows",
            windows.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--json",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let answer: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        for (field, value) in answer.as_object().unwrap() {
            let expected = format!("exp{}{}", field[..1].to_uppercase(), &field[1..]);
            assert_eq!(
                &case[&expected], value,
                "case {index} ({}): {field}",
                case["description"]
            );
        }
        assert_eq!(answer.as_object().unwrap().len(), 7);
    }
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"exposureWindows\": [{\"ageInDays\": \"x\"}]}").unwrap();
    let (output, _data) = carnet(&["exposure", "risk", "--windows", garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("input.unreadable"),
        "{}",
        stderr(&output)
    );
}

/// `carnet exposure simulate` runs the town through the key server on loopback and reports
/// the same precision and recall as the core's simulation of the same seed.
#[test]
fn exposure_simulate_reports_precision_and_recall_end_to_end() {
    let (output, _data) = carnet(&[
        "exposure", "simulate", "--phones", "80", "--days", "2", "--seed", "5", "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let table = carnet::exposure_notification::calibration::CalibrationTable::from_csv(
        include_str!("../../fixtures/exposure/en_calibration_2020-06-13.csv"),
    )
    .unwrap();
    let config = carnet::exposure_notification::simulation::SimulationConfig {
        phones: 80,
        days: 2,
        seed: 5,
        ..Default::default()
    };
    let town =
        carnet::exposure_notification::simulation::simulate(&config, &table, &mut |_| {}).unwrap();
    let positives = town.phones.iter().filter(|phone| phone.positive).count();
    let exposed = town.phones.iter().filter(|phone| phone.exposed).count();
    assert_eq!(report["positives"], positives);
    assert_eq!(report["exposed"], exposed);
    assert_eq!(report["keys_uploaded"], positives * 2, "a key a day each");
    assert_eq!(report["day_files"], 1);
    let flagged =
        report["true_positives"].as_u64().unwrap() + report["false_positives"].as_u64().unwrap();
    assert!(flagged > 0);
    assert!(report["recall"].as_f64().unwrap() >= 0.9, "{report}");
    // Out-of-range towns are refused as input.
    let (refused, _data) = carnet(&["exposure", "simulate", "--phones", "1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
}

/// A phone's exposure commands against the reference server: the laboratory's code, a check
/// with nothing heard, publication refused without keys, deletion; the scanner needs the
/// `ble` build, and a Bluetooth adapter there.
#[test]
fn exposure_check_keys_and_forget_from_the_command_line() {
    let (_server, server_dir, url) = background_server();
    let key_file = server_dir.path().join("professional.key");
    let phone = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| with_record(phone.path(), args);
    assert!(run(&["record", "init"]).status.success());
    let reported = run(&[
        "exposure",
        "test-result",
        "--server",
        &url,
        "--key",
        key_file.to_str().unwrap(),
    ]);
    assert!(reported.status.success(), "{}", stderr(&reported));
    let code = stdout(&reported)
        .rsplit(' ')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(code.len(), 20, "{code}");
    let keys = run(&["exposure", "keys"]);
    assert!(
        stdout(&keys).contains("no exposure key"),
        "{}",
        stdout(&keys)
    );
    let publish = run(&["exposure", "keys", "--publish", &code, "--server", &url]);
    assert_eq!(publish.status.code(), Some(1), "{}", stderr(&publish));
    let check = run(&["exposure", "check", "--server", &url, "--json"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let check: serde_json::Value = serde_json::from_str(&stdout(&check)).unwrap();
    assert_eq!(check["keys_matched"], 0);
    assert_eq!(check["summary"]["totalRiskLevel"], 1);
    let forget = run(&["exposure", "forget"]);
    assert!(stdout(&forget).contains("deleted"), "{}", stdout(&forget));
    let scan = run(&["exposure", "scan", "--seconds", "1"]);
    if cfg!(feature = "ble") {
        // Built with the scanner (scripts/test builds so): no Bluetooth adapter or system bus
        // here, which is an error said in words.
        assert!(!scan.status.success(), "{}", stderr(&scan));
        assert!(
            stderr(&scan).contains("Bluetooth radio"),
            "{}",
            stderr(&scan)
        );
        assert!(
            stderr(&scan).contains("[exposure.radio]"),
            "{}",
            stderr(&scan)
        );
    } else {
        assert_eq!(scan.status.code(), Some(2), "{}", stderr(&scan));
        assert!(stderr(&scan).contains("--features ble"));
    }
}
