//! What the CLI's tests share: running `carnet` on a fresh or given data directory, its output
//! as text, the DCC test data's CO3 certificate, and the family's card on the reference server.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::process::{Command, Output};

pub fn carnet(args: &[&str]) -> (Output, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .output()
        .unwrap();
    (output, data)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs `carnet` on a data directory with the record passphrase in the environment.
pub fn with_record(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("CARNET_PASSPHRASE", "cheval agrafe pile correcte")
        .output()
        .unwrap()
}

/// Runs `carnet` as [`with_record`] does, asserts it succeeded (its standard error in the
/// message otherwise), and returns its standard output.
pub fn succeeding(data: &std::path::Path, args: &[&str]) -> String {
    let output = with_record(data, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

pub fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/dcc/testdata")
}

/// CO3 of the common test data: its `HC1:` text, and its signer certificate written to `dir`.
pub fn co3(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    use base64::Engine;
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("common/2DCode/raw/CO3.json")).unwrap(),
    )
    .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(case["TESTCTX"]["CERTIFICATE"].as_str().unwrap())
        .unwrap();
    let path = dir.join("dsc.der");
    std::fs::write(&path, der).unwrap();
    (case["PREFIX"].as_str().unwrap().to_owned(), path)
}

/// The caisse registers the family of `fixtures/apcv/family.json` on the server at `url`;
/// returns the activation code.
pub fn register_family_card(url: &str, caisse_key: &str) -> String {
    let caisse = carnet_server::ProfessionalClient::new(url, caisse_key);
    let registered = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(caisse.register_card(&carnet_testing::family()))
        .unwrap();
    registered.activation_code
}

/// `carnet card enrol` of the family's card with `code`, against `url`.
pub fn card_enrol<'a>(url: &'a str, code: &'a str) -> [&'a str; 8] {
    [
        "card",
        "enrol",
        "--server",
        url,
        "--nir",
        "253072B07300470",
        "--code",
        code,
    ]
}

/// The reference server on its own thread, on loopback, as it runs for real; its data in the
/// directory returned with it. Also its URL.
pub fn background_server() -> (carnet_server::BackgroundServer, tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    let server =
        carnet_server::BackgroundServer::spawn(carnet_server::ServerConfig::at(data.path()))
            .unwrap();
    let url = format!("http://{}", server.address());
    (server, data, url)
}

/// The bytes a hexadecimal text spells.
pub fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
