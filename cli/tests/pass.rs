//! Health certificates from the command line: `pass conformance` over the EU test data, `pass
//! verify` (texts, images, signed lists and their age), and the wallet.

mod common;

use common::*;

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
        Some("278 passed, 0 failed, 154 skipped")
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("ok")).count(), 278);
    // Checked against the schema the file names: several certificates in one payload fail it.
    assert!(text.contains("ok    common/2DCode/raw/DGC2.json"), "{text}");
    assert!(
        text.contains(
            "known NL/2DCode/raw/001-NL-test.json: EXPECTEDSCHEMAVALIDATION: the NL generator"
        ),
        "{text}"
    );
    assert!(
        text.contains("ok    common/2DCode/raw/CO5.json"),
        "an invalid signature is detected as the file expects"
    );
}

#[test]
fn the_gateway_business_rule_tests_all_pass_and_a_wrong_one_fails() {
    let rules = testdata().join("../../dcc-rules/business-rules");
    let (output, _data) = carnet(&["pass", "rules-conformance", rules.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(stdout(&output).lines().last(), Some("969 passed, 0 failed"));

    let dir = tempfile::tempdir().unwrap();
    let rule_dir = dir.path().join("FR/TR-FR-0003");
    std::fs::create_dir_all(rule_dir.join("tests")).unwrap();
    let source = rules.join("FR/TR-FR-0003");
    std::fs::copy(source.join("rule.json"), rule_dir.join("rule.json")).unwrap();
    let mut tests: Vec<_> = std::fs::read_dir(source.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    tests.sort();
    let text = std::fs::read_to_string(&tests[0]).unwrap();
    let mut test: serde_json::Value = serde_json::from_str(&text).unwrap();
    std::fs::write(rule_dir.join("tests/good.json"), &text).unwrap();
    test["expected"] = serde_json::Value::Bool(!test["expected"].as_bool().unwrap());
    std::fs::write(rule_dir.join("tests/lying.json"), test.to_string()).unwrap();
    let (output, _data) = carnet(&["pass", "rules-conformance", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("FAIL  FR/TR-FR-0003/tests/lying.json"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
    let (empty, _data) = carnet(&[
        "pass",
        "rules-conformance",
        rule_dir.join("tests").to_str().unwrap(),
    ]);
    assert_ne!(empty.status.code(), Some(0));
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
        stdout(&added).contains(" vaccination 1/2 of 2021-02-18 · COVID-19, Comirnaty, "),
        "the value sets' names, not the codes: {}",
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
        listed[0]["details"][1],
        serde_json::json!({"field": "vaccine", "code": "EU/1/20/1528", "name": "Comirnaty"})
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

    // `pass verify` of the text against the trust list, checked with `anchor`.
    let verify_with = |anchor: &std::path::Path, revocation: Option<&std::path::Path>| {
        let mut args = vec![
            "pass",
            "verify",
            &text,
            "--trust",
            trust_path.to_str().unwrap(),
            "--anchor",
            anchor.to_str().unwrap(),
            "--at",
            "2021-05-04T00:00:00Z",
        ];
        if let Some(revocation) = revocation {
            args.extend(["--revocation", revocation.to_str().unwrap()]);
        }
        carnet(&args).0
    };
    let verify = |revocation: &std::path::Path| verify_with(&anchor_path, Some(revocation));
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
    let wrong_anchor = verify_with(&dsc_path, None);
    assert_eq!(wrong_anchor.status.code(), Some(3));
    assert!(
        stderr(&wrong_anchor).contains("offline lists"),
        "{}",
        stderr(&wrong_anchor)
    );
}
