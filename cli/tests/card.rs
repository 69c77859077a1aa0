//! `carnet card` and `carnet reader`: the ApCV enrolled, presented and read from the command line.

mod common;

use std::process::Command;

use common::*;

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
    let (server, _server_dir, url) = background_server();
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
