//! The `carnet` binary, run as a user would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};

fn carnet(args: &[&str]) -> (Output, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .output()
        .unwrap();
    (output, data)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

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

#[test]
fn version_is_printed() {
    let (output, _data) = carnet(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("carnet {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn demo_walks_through_every_step_and_keeps_only_its_own_files() {
    let (output, data) = carnet(&["demo"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "✓ 253072B07300470",
        "[nir.control_key]",
        "[ins.mismatch]",
        "on 2021-05-04T00:00:00Z: VALID: vaccination certificate for Musterfrau-Gößinger Gabriele",
        "today: INVALID: not valid at that time: expired [dcc.expiry]",
        "signature altered by one bit: INVALID: signature: signature does not verify [dcc.signature]",
        "kept in the wallet, inside the encrypted record (expired today)",
        "the name \"Quenouille\" appears in none of the store's files",
        "imported into a new record: 1 document, 2 profile entries, 1 message",
        "a wrong passphrase: wrong passphrase [record.wrong_passphrase]",
        "sync: received 1 document(s), 1 message(s), 0 profile change(s); sent 0 document(s), 2 profile change(s)",
        "[net.offline], 1 change(s) kept waiting",
        "server back: received 0 document(s), 0 message(s), 0 profile change(s); sent 0 document(s), 1 profile change(s)",
        "asked again: unchanged, nothing downloaded (304)",
        "the card enrolled on this device: 2 people, and the health-space account",
        "on the phone, offline: 2. LEA DUPONT, AMO rights 2026-01-01 to 2027-12-31",
        "✓ accepted: family_name=DUPONT, given_names=MARIE ANNE, amo_valid_from=2026-01-01",
        "the child's counter QR: ✓ accepted: family_name=DUPONT, given_names=LEA",
        "the same QR shown again: refused: replayed",
        "the credential copied to another phone: refused: device_signature",
        "status list updated: refused: revoked",
        "8 of Alice's rotating identifiers heard by Bob's phone",
        "the laboratory's one-time code publishes her 1 key",
        "1 matched what his phone heard",
        "HIGH RISK: exposed on 1 day(s), the most recent 1 day(s) ago",
        "a simulated town of 100 phones for 2 days",
        // One hour behind the time last seen, less the seconds the demo took since then.
        "clock one hour behind: moved backwards by 3",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let mut entries: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "export.zip",
            "exposure",
            "lists",
            "record",
            "record-copy",
            "server",
            "vault"
        ]
    );
}

#[test]
fn an_unusable_data_dir_exits_three_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(&file)
        .args(["nir", "check", "253072B07300470"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("cannot create the vault directory"),
        "{}",
        stderr(&output)
    );
}

fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/dcc/testdata")
}

#[test]
fn the_eu_test_data_passes_save_the_listed_test_data_defects() {
    let (output, _data) = carnet(&["pass", "conformance", testdata().to_str().unwrap()]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{}",
        text.lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        text.lines().last(),
        Some("373 passed, 0 failed, 59 skipped")
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("ok")).count(), 373);
    assert!(
        text.contains("ok    common/2DCode/raw/CO5.json"),
        "an invalid signature is detected as the file expects"
    );
}

#[test]
fn a_wrong_expectation_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("XX/2DCode/Raw");
    std::fs::create_dir_all(&raw).unwrap();
    let original = std::fs::read_to_string(testdata().join("common/2DCode/raw/CO3.json")).unwrap();
    std::fs::write(raw.join("good.json"), &original).unwrap();
    let lying = original.replacen("\"EXPECTEDVERIFY\": true", "\"EXPECTEDVERIFY\": false", 1);
    assert_ne!(lying, original);
    std::fs::write(raw.join("lying.json"), lying).unwrap();
    let (output, _data) = carnet(&["pass", "conformance", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("ok    XX/2DCode/Raw/good.json"), "{text}");
    assert!(
        text.contains("FAIL  XX/2DCode/Raw/lying.json: EXPECTEDVERIFY expected false, got true"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed, 0 skipped"));
}

/// CO3 of the common test data: its `HC1:` text, and its signer certificate written to `dir`.
fn co3(dir: &std::path::Path) -> (String, std::path::PathBuf) {
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

#[test]
fn pass_verify_reports_valid_invalid_and_reads_images() {
    let dir = tempfile::tempdir().unwrap();
    let (text, dsc) = co3(dir.path());
    let dsc = dsc.to_str().unwrap();
    let (output, _data) = carnet(&[
        "pass",
        "verify",
        &text,
        "--trust",
        dsc,
        "--at",
        "2021-05-03T18:00:00Z",
    ]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).starts_with("VALID\n"));
    assert!(stdout(&output).contains("MUSTERFRAU<GOESSINGER"));
    assert!(stdout(&output).contains("revocation not checked"));

    let png = dir.path().join("code.png");
    let (output, _data) = carnet(&["qr", "encode", &text, "--png", png.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (output, _data) = carnet(&["qr", "decode", png.to_str().unwrap()]);
    assert_eq!(stdout(&output).trim(), text);
    let (output, _data) = carnet(&[
        "pass",
        "verify",
        png.to_str().unwrap(),
        "--trust",
        dsc,
        "--at",
        "2030-01-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(verdict["verdict"], "invalid");
    assert_eq!(verdict["code"], "dcc.expiry");

    let text_file = dir.path().join("code.txt");
    std::fs::write(&text_file, format!("{}\n", text.replace("HC1:", "HC2:"))).unwrap();
    let (output, _data) = carnet(&[
        "pass",
        "verify",
        text_file.to_str().unwrap(),
        "--trust",
        dsc,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("dcc.prefix"));
}

#[test]
fn pass_verify_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (text, dsc) = co3(dir.path());
    let dsc = dsc.to_str().unwrap();
    let (output, _data) = carnet(&["pass", "verify", &text, "--trust", dsc, "--revocation", dsc]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--revocation needs --anchor"));
    let (output, _data) = carnet(&["pass", "verify", &text, "--trust", dsc, "--at", "tomorrow"]);
    assert_eq!(output.status.code(), Some(2));
    let (output, _data) = carnet(&["pass", "verify", &text, "--trust", "/nonexistent/dsc.pem"]);
    assert_eq!(output.status.code(), Some(3));
    let blank = dir.path().join("blank.png");
    std::fs::write(&blank, [0u8; 16]).unwrap();
    // An image file that is not an image is refused input; one that cannot be read is not.
    let (output, _data) = carnet(&["qr", "decode", blank.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("[input.unreadable]"));
}

/// Runs `carnet` on a data directory with the record passphrase in the environment.
fn with_record(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("CARNET_PASSPHRASE", "cheval agrafe pile correcte")
        .output()
        .unwrap()
}

#[test]
fn wallet_adds_lists_renders_and_removes_certificates() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| with_record(data.path(), args);
    let (text, _) = co3(data.path());
    let no_record = run(&["wallet", "add", &text]);
    assert_eq!(no_record.status.code(), Some(2));
    assert!(
        stderr(&no_record).contains("carnet record init"),
        "{}",
        stderr(&no_record)
    );
    assert!(run(&["record", "init"]).status.success());
    let added = run(&["wallet", "add", &text]);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(
        stdout(&added).contains(" vaccination 1/2 of 2021-02-18"),
        "{}",
        stdout(&added)
    );
    let again = run(&["wallet", "add", &text]);
    assert_eq!(
        stdout(&again),
        stdout(&added),
        "the same certificate is not stored twice"
    );
    assert_eq!(
        run(&["wallet", "add", "HC1:not base45"]).status.code(),
        Some(1)
    );

    let listed: serde_json::Value =
        serde_json::from_slice(&run(&["wallet", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        listed[0]["person"],
        "MUSTERFRAU<GOESSINGER|GABRIELE|1998-02-26"
    );
    assert_eq!(
        listed[0]["state"], "expired",
        "its 2021 validity is long past"
    );
    assert_eq!(
        listed[0]["best_for_entry"], false,
        "an expired certificate is never the one to show"
    );
    let id = listed[0]["id"].as_str().unwrap().to_owned();

    let svg = data.path().join("code.svg");
    assert!(
        run(&["wallet", "qr", &id[..6], "--svg", svg.to_str().unwrap()])
            .status
            .success()
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert!(run(&["wallet", "remove", &id]).status.success());
    let missing = run(&["wallet", "remove", &id]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("not_found"));
    assert!(stdout(&run(&["wallet", "list"])).contains("the wallet is empty"));
}

#[test]
fn record_commands_script_a_whole_record_and_its_export() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("mine");
    let store_arg = store.to_str().unwrap();
    let run = |args: &[&str]| {
        let output = with_record(data.path(), args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    run(&["record", "init", "--store", store_arg]);
    let pdf = data.path().join("cr.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\nCompte rendu de consultation").unwrap();
    let added = run(&[
        "record",
        "add-doc",
        "--store",
        store_arg,
        "--title",
        "Consultation cardiologie",
        "--type-code",
        "11488-4",
        "--author",
        "Dr Curie",
        "--rpps",
        "10003456789",
        "--date",
        "2026-11-02",
        pdf.to_str().unwrap(),
    ]);
    assert!(
        added.contains("Consultation cardiologie (application/pdf, 37 bytes)"),
        "{added}"
    );
    run(&[
        "record", "profile", "add", "--store", store_arg, "--kind", "allergy", "--text", "Arachide",
    ]);
    run(&[
        "record",
        "profile",
        "measure",
        "--store",
        store_arg,
        "--kind",
        "blood-pressure",
        "128",
        "82",
    ]);
    run(&[
        "record",
        "patient",
        "--store",
        store_arg,
        "--given",
        "Camille",
        "--family",
        "Martin",
        "--birth-date",
        "1975-06-01",
        "--sex",
        "female",
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["record", "list", "--store", store_arg, "--json"])).unwrap();
    assert_eq!(listed[0]["title"], "Consultation cardiologie");
    assert_eq!(listed[0]["type_code"]["code"], "11488-4");
    let id = listed[0]["id"].as_str().unwrap();
    let copy = data.path().join("copy.pdf");
    run(&[
        "record",
        "show",
        "--store",
        store_arg,
        &id[..5],
        "--out",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&pdf).unwrap());
    assert!(
        run(&["record", "search", "--store", store_arg, "CARDIO"])
            .contains("Consultation cardiologie")
    );
    assert!(
        run(&[
            "record", "search", "--store", store_arg, "--author", "dupont"
        ])
        .contains("no documents")
    );
    let profile: serde_json::Value = serde_json::from_str(&run(&[
        "record", "profile", "list", "--store", store_arg, "--json",
    ]))
    .unwrap();
    assert_eq!(profile[0]["resourceType"], "AllergyIntolerance");
    assert!(run(&["record", "agenda", "--store", store_arg]).contains("cancer-colorectal"));

    let zip = data.path().join("export.zip");
    run(&[
        "record",
        "export",
        "--store",
        store_arg,
        "--out",
        zip.to_str().unwrap(),
    ]);
    let other = data.path().join("other");
    assert!(
        run(&[
            "record",
            "import",
            "--store",
            other.to_str().unwrap(),
            zip.to_str().unwrap()
        ])
        .contains("1 documents")
    );
    let imported: serde_json::Value = serde_json::from_str(&run(&[
        "record",
        "list",
        "--store",
        other.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(imported, listed);

    // Refusals: a wrong passphrase, a weak one, a bad archive (the store made for it goes).
    let wrong = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "record",
            "list",
            "--store",
            store_arg,
        ])
        .env("CARNET_PASSPHRASE", "pas la bonne phrase")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("[record.wrong_passphrase]"),
        "{}",
        stderr(&wrong)
    );
    let weak = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "record",
            "init",
            "--store",
            "/tmp/never",
        ])
        .env("CARNET_PASSPHRASE", "123456")
        .output()
        .unwrap();
    assert_eq!(weak.status.code(), Some(1));
    assert!(stderr(&weak).contains("[record.weak_passphrase]"));
    std::fs::write(data.path().join("bad.zip"), b"PK\x03\x04 not really").unwrap();
    let third = data.path().join("third");
    let bad = with_record(
        data.path(),
        &[
            "record",
            "import",
            "--store",
            third.to_str().unwrap(),
            data.path().join("bad.zip").to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(
        !third.exists(),
        "the store created for a failed import is removed"
    );
    run(&["record", "close", "--store", store_arg, "--yes"]);
    assert!(!store.exists());
}

#[test]
fn pass_verify_checks_signed_lists_and_shows_their_age() {
    use carnet::certs::revocation::{HashKind, RevocationHashes};
    use carnet::certs::{Dsc, ListHeader, RevocationList, TrustList, hcert};
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    let dir = tempfile::tempdir().unwrap();
    let (text, dsc_path) = co3(dir.path());
    let der = std::fs::read(&dsc_path).unwrap();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let anchor =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // SubjectPublicKeyInfo of a P-256 key: the fixed algorithm header, then the point.
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(anchor.public_key().as_ref());
    let anchor_path = dir.path().join("anchor.der");
    std::fs::write(&anchor_path, spki).unwrap();

    let at = 1_620_086_400; // 2021-05-04T00:00:00Z
    let trust = TrustList::new(
        ListHeader {
            version: 12,
            issued_at: at - 5 * 3600,
        },
        vec![("XX".into(), der.clone())],
    )
    .unwrap();
    let trust_path = dir.path().join("trust.cose");
    std::fs::write(&trust_path, trust.seal(&anchor, b"anchor", &rng).unwrap()).unwrap();
    let clean = RevocationList::new(
        ListHeader {
            version: 3,
            issued_at: at - 3600,
        },
        [],
    );
    let clean_path = dir.path().join("clean.cose");
    std::fs::write(&clean_path, clean.seal(&anchor, b"anchor", &rng).unwrap()).unwrap();
    let decoded = hcert::decode(&text).unwrap();
    let hashes = RevocationHashes::of(&decoded, Dsc::from_der(&der).unwrap().key()).unwrap();
    let revoked = RevocationList::new(
        ListHeader {
            version: 4,
            issued_at: at - 3600,
        },
        [(HashKind::Uci, hashes.uci)],
    );
    let revoked_path = dir.path().join("revoked.cose");
    std::fs::write(
        &revoked_path,
        revoked.seal(&anchor, b"anchor", &rng).unwrap(),
    )
    .unwrap();

    let verify = |revocation: &std::path::Path| {
        carnet(&[
            "pass",
            "verify",
            &text,
            "--trust",
            trust_path.to_str().unwrap(),
            "--anchor",
            anchor_path.to_str().unwrap(),
            "--revocation",
            revocation.to_str().unwrap(),
            "--at",
            "2021-05-04T00:00:00Z",
        ])
        .0
    };
    let valid = verify(&clean_path);
    assert!(
        valid.status.success(),
        "{}{}",
        stdout(&valid),
        stderr(&valid)
    );
    assert!(
        stdout(&valid).contains("trust list:      version 12, 5 h old"),
        "{}",
        stdout(&valid)
    );
    assert!(!stdout(&valid).contains("revocation not checked"));
    let refused = verify(&revoked_path);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).contains("[dcc.revoked]"),
        "{}",
        stdout(&refused)
    );
    // A list signed by another key is refused before use.
    let wrong_anchor = carnet(&[
        "pass",
        "verify",
        &text,
        "--trust",
        trust_path.to_str().unwrap(),
        "--anchor",
        dsc_path.to_str().unwrap(),
    ])
    .0;
    assert_eq!(wrong_anchor.status.code(), Some(3));
    assert!(
        stderr(&wrong_anchor).contains("offline lists"),
        "{}",
        stderr(&wrong_anchor)
    );
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_reference_server_serves_on_loopback_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .args(["server", "--bind", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut server_out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    server_out.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(address.starts_with("127.0.0.1:"), "{line}");
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: carnet\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("ok"),
        "{response}"
    );
    assert!(
        data.path().join("server.sqlite").exists() && data.path().join("lists/anchor.pk8").exists()
    );

    // A citizen's record syncs with it, and the DCC lists come down verified.
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| with_record(home.path(), args);
    let url = format!("http://{address}");
    assert!(run(&["record", "init"]).status.success());
    let pdf = home.path().join("ordonnance.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\nordonnance\n%%EOF\n").unwrap();
    assert!(
        run(&[
            "record",
            "add-doc",
            pdf.to_str().unwrap(),
            "--title",
            "Ordonnance"
        ])
        .status
        .success()
    );
    let not_enrolled = run(&["record", "sync", "--server", &url]);
    assert_eq!(not_enrolled.status.code(), Some(2));
    assert!(
        stderr(&not_enrolled).contains("carnet card enrol"),
        "{}",
        stderr(&not_enrolled)
    );
    let registered = run(&[
        "caisse",
        "register",
        "--server",
        &url,
        "--key",
        data.path().join("professional.key").to_str().unwrap(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/apcv/family.json"),
    ]);
    assert!(registered.status.success(), "{}", stderr(&registered));
    let code = stdout(&registered)
        .trim()
        .strip_prefix("activation code: ")
        .unwrap()
        .to_owned();
    let enrolled = run(&card_enrol(&url, &code));
    assert!(enrolled.status.success(), "{}", stderr(&enrolled));
    let synced = run(&["record", "sync", "--server", &url]);
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert!(
        stdout(&synced).contains("sent 1 document(s)"),
        "{}",
        stdout(&synced)
    );
    let again = run(&["record", "sync", "--server", &url, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (
            &report["pulled"]["already_there"],
            &report["pushed"]["documents"]
        ),
        (&serde_json::json!(1), &serde_json::json!(0)),
        "its own upload comes back once, nothing is sent twice"
    );
    let mut anchor = Vec::new();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /v1/lists/anchor HTTP/1.1\r\nHost: carnet\r\nConnection: close\r\n\r\n")
        .unwrap();
    stream.read_to_end(&mut anchor).unwrap();
    let body = anchor
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| anchor[at + 4..].to_vec())
        .unwrap();
    let anchor_file = home.path().join("anchor.der");
    std::fs::write(&anchor_file, body).unwrap();
    // Verifier mode without --trust uses the lists the device keeps: none yet, so it cannot
    // confirm anything (exit 4), and says how to get them.
    let (certificate, _) = co3(home.path());
    let at = "2021-05-04T00:00:00Z";
    let unconfirmed = run(&["pass", "verify", &certificate, "--at", at]);
    assert_eq!(
        unconfirmed.status.code(),
        Some(4),
        "{}",
        stderr(&unconfirmed)
    );
    assert!(
        stdout(&unconfirmed).contains("CANNOT CONFIRM")
            && stdout(&unconfirmed).contains("carnet lists update"),
        "{}",
        stdout(&unconfirmed)
    );
    let lists = run(&[
        "lists",
        "update",
        "--server",
        &url,
        "--anchor",
        anchor_file.to_str().unwrap(),
    ]);
    assert!(
        stdout(&lists).contains("(downloaded); revocation list version"),
        "{}{}",
        stdout(&lists),
        stderr(&lists)
    );
    // With the lists kept (the reference server's trust list has no signer of the EU test
    // data), the certificate is judged against them: an unknown signer, the lists' age shown.
    let judged = run(&["pass", "verify", &certificate, "--at", at, "--json"]);
    assert_eq!(judged.status.code(), Some(1), "{}", stderr(&judged));
    let report: serde_json::Value = serde_json::from_slice(&judged.stdout).unwrap();
    assert_eq!(report["code"], "dcc.unknown_signer");
    assert_eq!(report["revocation_checked"], true);
    assert!(report["trust_list"]["version"].is_u64(), "{report}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    server_out.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("carnet-server stopped"), "{rest}");
    let offline = run(&["record", "sync", "--server", &url]);
    assert_eq!(offline.status.code(), Some(3));
    assert!(
        stderr(&offline).contains("nothing is lost"),
        "{}",
        stderr(&offline)
    );
}

/// The caisse registers the family of `fixtures/apcv/family.json` on the server at `url`;
/// returns the activation code.
fn register_family_card(url: &str, caisse_key: &str) -> String {
    let people: Vec<carnet::identity::apcv::ApcvClaims> =
        serde_json::from_str(include_str!("../../fixtures/apcv/family.json")).unwrap();
    let caisse = carnet_server::ProfessionalClient::new(url, caisse_key);
    let registered = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(caisse.register_card(&people))
        .unwrap();
    registered.activation_code
}

/// `carnet card enrol` of the family's card with `code`, against `url`.
fn card_enrol<'a>(url: &'a str, code: &'a str) -> [&'a str; 8] {
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

/// `carnet card present` answering `challenge` as text, consent given.
fn present_answer(challenge: &str) -> [&str; 8] {
    [
        "card",
        "present",
        "--mode",
        "challenge",
        "--challenge",
        challenge,
        "--yes",
        "--text",
    ]
}

#[test]
fn a_card_is_enrolled_presented_and_read_from_the_command_line() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = carnet_server::BackgroundServer::spawn(carnet_server::ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        ..carnet_server::ServerConfig::default()
    })
    .unwrap();
    let url = format!("http://{}", server.address());
    let code = register_family_card(&url, server.professional_key());
    let phone = tempfile::tempdir().unwrap();
    let pharmacy = tempfile::tempdir().unwrap();
    let run = |data: &std::path::Path, args: &[&str]| {
        let output = with_record(data, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    run(phone.path(), &["record", "init"]);
    let enrolled = run(phone.path(), &card_enrol(&url, &code));
    assert!(enrolled.contains("2. LEA DUPONT"), "{enrolled}");
    let shown: serde_json::Value =
        serde_json::from_str(&run(phone.path(), &["card", "show", "--json"])).unwrap();
    assert_eq!(shown[1]["ins_matricule"], "216087511603014");

    run(pharmacy.path(), &["reader", "update", "--server", &url]);
    let challenge = run(
        pharmacy.path(),
        &[
            "reader",
            "challenge",
            "--items",
            "family_name,amo_valid_from,amo_valid_until",
            "--text",
        ],
    );
    let answer = run(phone.path(), &present_answer(challenge.trim()));
    let answer = answer.lines().last().unwrap();
    assert!(answer.starts_with("APCV1:"));
    let read = run(
        pharmacy.path(),
        &["card", "read", answer, "--date-of-care", "2027-01-15"],
    );
    assert!(
        read.contains("accepted") && read.contains("family_name: DUPONT"),
        "{read}"
    );
    // An impossible date of care is a usage error, found before anything is read.
    let impossible = with_record(
        pharmacy.path(),
        &["card", "read", answer, "--date-of-care", "2027-02-30"],
    );
    assert_eq!(impossible.status.code(), Some(2), "{}", stderr(&impossible));

    // What the reader wrote is shown with its control characters escaped, and an element the
    // card does not hold (a portrait) is answered absent, not refused.
    let challenge = run(
        pharmacy.path(),
        &[
            "reader",
            "challenge",
            "--items",
            "family_name,portrait",
            "--purpose",
            "Pharmacie\u{1b}[8m hidden",
            "--text",
        ],
    );
    let challenge = challenge.trim();
    let presented = with_record(phone.path(), &present_answer(challenge));
    let shown = stdout(&presented) + &stderr(&presented);
    assert!(presented.status.success(), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("\\u{1b}[8m"), "{shown}");
    let answer = stdout(&presented);
    let answer = answer.lines().last().unwrap();
    let read = run(pharmacy.path(), &["card", "read", answer]);
    assert!(
        read.contains("accepted")
            && read.contains("family_name: DUPONT")
            && !read.contains("portrait"),
        "{read}"
    );

    // A counter QR as a PNG, read from the image; its date of care past the rights.
    let png = phone.path().join("counter.png");
    run(
        phone.path(),
        &[
            "card",
            "present",
            "--rank",
            "2",
            "--png",
            png.to_str().unwrap(),
        ],
    );
    let refused = with_record(
        pharmacy.path(),
        &[
            "card",
            "read",
            png.to_str().unwrap(),
            "--date-of-care",
            "2030-01-01",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("refused: rights_expired"));
    // Remote: the reader serves its endpoint on loopback; the phone sends its answer there.
    let mut endpoint = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(pharmacy.path())
        .args(["reader", "serve", "--items", "family_name,given_names"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(endpoint.stdout.take().unwrap()));
    let announced = lines.next().unwrap().unwrap();
    assert!(
        announced.starts_with("endpoint http://127.0.0.1:"),
        "{announced}"
    );
    let remote_challenge = lines.next().unwrap().unwrap();
    let sent = run(
        phone.path(),
        &[
            "card",
            "present",
            "--mode",
            "remote",
            "--challenge",
            &remote_challenge,
            "--yes",
        ],
    );
    assert!(
        sent.contains("(the answer goes to http://127.0.0.1:"),
        "{sent}"
    );
    assert!(
        sent.contains("accepted") && sent.contains("given_names: MARIE ANNE"),
        "{sent}"
    );
    assert!(
        endpoint.wait().unwrap().success(),
        "the reader saw an accepted answer"
    );
    let seen: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(seen.first().map(String::as_str), Some("accepted"));
    let no_challenge = with_record(phone.path(), &["card", "present", "--mode", "remote"]);
    assert_eq!(no_challenge.status.code(), Some(2));
    let mangled = with_record(pharmacy.path(), &["card", "read", "APCV1:NOT-BASE45"]);
    assert_eq!(mangled.status.code(), Some(1));
    assert!(stderr(&mangled).contains("[apcv.malformed]"));
    // A damaged reader state is the reader's problem (exit 3), with the way out; not the card's.
    std::fs::write(pharmacy.path().join("reader/status.cose"), b"").unwrap();
    let damaged = with_record(pharmacy.path(), &["card", "read", answer]);
    assert_eq!(damaged.status.code(), Some(3), "{}", stderr(&damaged));
    assert!(
        stderr(&damaged).contains("reader's state is damaged")
            && stderr(&damaged).contains("carnet reader update"),
        "{}",
        stderr(&damaged)
    );
    run(pharmacy.path(), &["reader", "update", "--server", &url]);
    server.stop().unwrap();
}

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
/// `ble` build.
#[test]
fn exposure_check_keys_and_forget_from_the_command_line() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = carnet_server::BackgroundServer::spawn(carnet_server::ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        ..carnet_server::ServerConfig::default()
    })
    .unwrap();
    let url = format!("http://{}", server.address());
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
    assert_eq!(scan.status.code(), Some(2), "{}", stderr(&scan));
    assert!(stderr(&scan).contains("--features ble"));
}
