//! `carnet card` and `carnet reader`: the ApCV enrolled, then presented the ISO/IEC 18013-5 way
//! between two data directories (a phone and a pharmacy whose key the professionals' PKI
//! certified), one session message at a time through files, over the QR and the NFC
//! engagement; an anonymous reader; Carnet's counter QR from an image.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;

#[test]
fn a_card_is_enrolled_presented_and_read_from_the_command_line() {
    let (server, server_dir, url) = background_server();
    let code = register_family_card(&url, server.professional_key());
    let pro_key = server_dir.path().join("professional.key");
    let phone = tempfile::tempdir().unwrap();
    let pharmacy = tempfile::tempdir().unwrap();
    let messages = tempfile::tempdir().unwrap();
    let file = |name: &str| messages.path().join(name).to_str().unwrap().to_owned();
    let run = |data: &Path, args: &[&str]| {
        let output = with_record(data, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        (stdout(&output), stderr(&output))
    };
    run(phone.path(), &["record", "init"]);
    let (enrolled, _) = run(phone.path(), &card_enrol(&url, &code));
    assert!(enrolled.contains("2. LEA DUPONT"), "{enrolled}");
    let (shown, _) = run(phone.path(), &["card", "show", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown[1]["ins_matricule"], "216087511603014");

    let (updated, _) = run(
        pharmacy.path(),
        &[
            "reader",
            "update",
            "--server",
            &url,
            "--pro-key",
            pro_key.to_str().unwrap(),
        ],
    );
    assert!(
        updated.contains("reader key certified for Jeanne Martin"),
        "{updated}"
    );

    // QR: the phone engages, the pharmacy asks, the phone answers after showing who asks.
    let (engagement, _) = run(phone.path(), &["card", "engage", "--text"]);
    let engagement = engagement.trim();
    assert!(engagement.starts_with("mdoc:"), "{engagement}");
    run(
        pharmacy.path(),
        &[
            "reader",
            "request",
            "--engagement",
            engagement,
            "--items",
            "family_name,amo_valid_from,amo_valid_until,ins_matricule",
            "--out",
            &file("establishment.hex"),
        ],
    );
    let respond = |rank: &str, input: &str, output: &str| {
        with_record(
            phone.path(),
            &[
                "card", "respond", "--rank", rank, "--yes", "--in", input, "--out", output,
            ],
        )
    };
    let answered = respond("1", &file("establishment.hex"), &file("answer.hex"));
    assert!(answered.status.success(), "{}", stderr(&answered));
    let told = stderr(&answered);
    assert!(
        told.contains("Jeanne Martin — Pharmacie du Port (Pharmacien, RPPS 10003456789), verified"),
        "{told}"
    );
    assert!(
        told.contains("ins_matricule — not for this reader: never shown"),
        "{told}"
    );
    let (read, _) = run(
        pharmacy.path(),
        &[
            "reader",
            "read",
            "--in",
            &file("answer.hex"),
            "--date-of-care",
            "2027-01-15",
        ],
    );
    assert!(
        read.contains("accepted") && read.contains("family_name: DUPONT"),
        "{read}"
    );
    assert!(!read.contains("ins_matricule"), "{read}");
    // An impossible date of care is a usage error, found before anything is read.
    let impossible = with_record(
        pharmacy.path(),
        &[
            "reader",
            "read",
            "--in",
            &file("answer.hex"),
            "--date-of-care",
            "2027-02-30",
        ],
    );
    assert_eq!(impossible.status.code(), Some(2), "{}", stderr(&impossible));
    // The same establishment again: refused, and the reader is told why.
    let replayed = respond("1", &file("establishment.hex"), &file("closing.hex"));
    assert!(!replayed.status.success());
    assert!(
        stderr(&replayed).contains("[mdoc.decryption]"),
        "{}",
        stderr(&replayed)
    );
    let closing = with_record(
        pharmacy.path(),
        &["reader", "read", "--in", &file("closing.hex")],
    );
    assert_eq!(closing.status.code(), Some(1));
    assert!(
        stdout(&closing).contains("refused: phone_decryption_error"),
        "{}",
        stdout(&closing)
    );
    // The message on standard input leaves no way to ask for consent.
    let no_consent = with_record(phone.path(), &["card", "respond"]);
    assert_eq!(no_consent.status.code(), Some(2));

    // NFC: the phone's Handover Select, the child's card.
    let (select, _) = run(phone.path(), &["card", "engage", "--nfc"]);
    std::fs::write(file("select.hex"), select.trim()).unwrap();
    run(
        pharmacy.path(),
        &[
            "reader",
            "request",
            "--nfc",
            "--engagement",
            &file("select.hex"),
            "--items",
            "given_names,nir",
            "--format",
            "base64",
            "--out",
            &file("establishment.b64"),
        ],
    );
    let answered = respond("2", &file("establishment.b64"), &file("answer2.hex"));
    assert!(answered.status.success(), "{}", stderr(&answered));
    let (read, _) = run(
        pharmacy.path(),
        &["reader", "read", "--in", &file("answer2.hex")],
    );
    assert!(read.contains("given_names: LEA"), "{read}");

    // A reader with no certificate: the names at most, whatever the person says.
    let stranger = tempfile::tempdir().unwrap();
    run(stranger.path(), &["reader", "update", "--server", &url]);
    let (engagement, _) = run(phone.path(), &["card", "engage", "--text"]);
    run(
        stranger.path(),
        &[
            "reader",
            "request",
            "--engagement",
            engagement.trim(),
            "--items",
            "family_name,nir",
            "--out",
            &file("anonymous.hex"),
        ],
    );
    let answered = respond("1", &file("anonymous.hex"), &file("anonymous-answer.hex"));
    assert!(
        stderr(&answered).contains("a reader that does not say who it is"),
        "{}",
        stderr(&answered)
    );
    let (read, _) = run(
        stranger.path(),
        &["reader", "read", "--in", &file("anonymous-answer.hex")],
    );
    assert!(
        read.contains("family_name: DUPONT") && !read.contains("nir"),
        "{read}"
    );

    // Carnet's counter QR as a PNG, read from the image; its date of care past the rights.
    let png = phone.path().join("counter.png");
    run(
        phone.path(),
        &[
            "card",
            "present",
            "--counter",
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
    let mangled = with_record(pharmacy.path(), &["card", "read", "APCV1:NOT-BASE45"]);
    assert_eq!(mangled.status.code(), Some(1));
    assert!(stderr(&mangled).contains("[apcv.malformed]"));
    // `card read` of an engagement opens the reader's session (its first step).
    let (engagement, _) = run(phone.path(), &["card", "engage", "--text"]);
    let (opened, told) = run(pharmacy.path(), &["card", "read", engagement.trim()]);
    assert!(told.contains("session opened"), "{told}");
    assert!(
        opened.trim().chars().all(|c| c.is_ascii_hexdigit()),
        "{opened}"
    );
    // A damaged reader state is the reader's problem (exit 3), with the way out; not the card's.
    std::fs::write(pharmacy.path().join("reader/status.cose"), b"").unwrap();
    let damaged = with_record(pharmacy.path(), &["card", "read", "APCV1:ABC"]);
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

/// `carnet reader serve --once` in the background on a free loopback port, once it listens:
/// the process and its endpoint.
fn serving_reader(pharmacy: &Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(pharmacy)
        .args([
            "reader",
            "serve",
            "--once",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--date-of-care", "2027-01-15"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut told = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut told)
        .unwrap();
    assert!(told.contains("serving remote presentations at"), "{told}");
    (child, format!("http://127.0.0.1:{port}/mdoc"))
}

#[test]
fn a_card_is_presented_to_a_remote_reader_from_the_command_line() {
    let (server, server_dir, url) = background_server();
    let code = register_family_card(&url, server.professional_key());
    let pro_key = server_dir.path().join("professional.key");
    let phone = tempfile::tempdir().unwrap();
    succeeding(phone.path(), &["record", "init"]);
    succeeding(phone.path(), &card_enrol(&url, &code));
    let certify = |data: &Path, host: &str| {
        succeeding(
            data,
            &[
                "reader",
                "update",
                "--server",
                &url,
                "--pro-key",
                pro_key.to_str().unwrap(),
            ]
            .into_iter()
            .chain(["--organisation", "Pharmacie en ligne", "--host", host])
            .collect::<Vec<_>>(),
        )
    };

    // A pharmacy certified for 127.0.0.1: the phone sees it verified, answers, and shows the
    // verdict the reader signed; the reader prints what it read.
    let pharmacy = tempfile::tempdir().unwrap();
    certify(pharmacy.path(), "127.0.0.1");
    let (reader, endpoint) = serving_reader(pharmacy.path());
    let presented = with_record(
        phone.path(),
        &["card", "present", "--remote", &endpoint, "--yes"],
    );
    assert!(presented.status.success(), "{}", stderr(&presented));
    assert!(
        stderr(&presented).contains("Pharmacie en ligne (Pharmacien, RPPS 10003456789), verified"),
        "{}",
        stderr(&presented)
    );
    assert!(
        stdout(&presented).contains("the reader accepted the card (its verdict is signed"),
        "{}",
        stdout(&presented)
    );
    let read = reader.wait_with_output().unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let read = String::from_utf8(read.stdout).unwrap();
    assert!(
        read.contains("accepted") && read.contains("nir: 253072B07300470"),
        "{read}"
    );

    // A pharmacy whose certificate names another host: refused before anything is shown.
    let elsewhere = tempfile::tempdir().unwrap();
    certify(elsewhere.path(), "pharmacie.example");
    let (reader, endpoint) = serving_reader(elsewhere.path());
    let presented = with_record(
        phone.path(),
        &["card", "present", "--remote", &endpoint, "--yes"],
    );
    assert_eq!(presented.status.code(), Some(1), "{}", stderr(&presented));
    assert!(
        stderr(&presented).contains("certificate is refused (reader_origin)"),
        "{}",
        stderr(&presented)
    );
    assert!(stdout(&presented).contains("nothing was shown"));
    let read = reader.wait_with_output().unwrap();
    assert_eq!(read.status.code(), Some(1));
    assert!(
        String::from_utf8(read.stdout)
            .unwrap()
            .contains("refused: not_shown")
    );

    // Not https, not on this machine: a usage of the wrong address, refused before any post.
    let plain = with_record(
        phone.path(),
        &[
            "card",
            "present",
            "--remote",
            "http://pharmacie.example/mdoc",
            "--yes",
        ],
    );
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    assert!(
        stderr(&plain).contains("must be https://"),
        "{}",
        stderr(&plain)
    );
    // A reader without a certified key cannot serve.
    let anonymous = tempfile::tempdir().unwrap();
    succeeding(anonymous.path(), &["reader", "update", "--server", &url]);
    let refused = with_record(anonymous.path(), &["reader", "serve", "--once"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("must authenticate"),
        "{}",
        stderr(&refused)
    );
    server.stop().unwrap();
}
