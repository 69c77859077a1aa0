//! `carnet nir check` and `carnet ins check`, run as a user would.

mod common;

use common::*;

#[test]
fn a_valid_nir_says_valid_and_exits_zero() {
    let (output, _data) = carnet(&["nir", "check", "253072B07300470"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("valid NIR 253072B07300470"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_wrong_control_key_exits_one_naming_the_key() {
    let (output, _data) = carnet(&["nir", "check", "253072B07300471"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("control key 71") && message.contains("expected 70"),
        "{message}"
    );
}

#[test]
fn json_output_carries_the_code_and_details() {
    let (output, _data) = carnet(&["nir", "check", "--json", "253072B07300471"]);
    assert_eq!(output.status.code(), Some(1));
    let refusal: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(refusal["valid"], false);
    assert_eq!(refusal["code"], "nir.control_key");

    let (output, _data) = carnet(&["nir", "check", "--json", "2 95 10 99 126 111 93"]);
    assert!(output.status.success());
    let valid: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(valid["nir"], "295109912611193");
    assert_eq!(valid["born_abroad"], true);
    assert_eq!(valid["control_key"], 93);
}

#[test]
fn ins_check_accepts_consistent_traits_and_refuses_others() {
    let args = |sex: &'static str| {
        vec![
            "ins",
            "check",
            "--matricule",
            "253072B07300470",
            "--birth-name",
            "DUPONT",
            "--given-names",
            "MARIE",
            "--sex",
            sex,
            "--birth-date",
            "1953-07-14",
            "--birth-place",
            "2B073",
            "--json",
        ]
    };
    let (output, _data) = carnet(&args("F"));
    assert!(output.status.success(), "{}", stderr(&output));
    let valid: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(valid["ins"]["kind"], "nir");
    assert_eq!(valid["ins"]["matricule"], "253072B07300470");
    let (output, _data) = carnet(&args("M"));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("ins.mismatch"));
}
