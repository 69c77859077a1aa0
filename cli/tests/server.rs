//! `carnet server`: the reference services on loopback, used over HTTP, stopped by SIGTERM.

mod common;

use std::process::Command;

use common::*;

#[test]
fn the_reference_server_serves_on_loopback_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let data = tempfile::tempdir().unwrap();
    // A French document signer the server lists as trusted.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signer =
        carnet::certs::issuer::TestIssuer::new("FR", now - 86_400, now + 30 * 86_400).unwrap();
    std::fs::create_dir_all(data.path().join("lists/dsc")).unwrap();
    std::fs::write(
        data.path().join("lists/dsc/FR_test.der"),
        signer.certificate_der(),
    )
    .unwrap();
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
    assert!(
        stdout(&lists).contains("business rules version"),
        "{}",
        stdout(&lists)
    );

    // A genuine negative test sampled three weeks ago: valid as a signature, invalid by the
    // French rules, each failed rule described in French.
    let test = |sampled: i64| {
        let payload = serde_json::json!({"ver": "1.3.0", "nam": {"fnt": "DUPOND"}, "dob": "1980",
            "t": [{"tg": "840539006", "tt": "LP6464-4", "sc": carnet::certs::instant::format(sampled),
                   "tr": "260415000", "co": "FR", "is": "CNAM", "ci": format!("URN:UVCI:01:FR:{sampled}")}]});
        signer.issue(&payload, now - 60, now + 10 * 86_400).unwrap()
    };
    let old = test(now - 21 * 86_400);
    assert!(run(&["pass", "verify", &old]).status.success());
    let judged = run(&[
        "pass",
        "verify",
        &old,
        "--country",
        "FR",
        "--lang",
        "fr",
        "--json",
    ]);
    assert_eq!(judged.status.code(), Some(1), "{}", stderr(&judged));
    let report: serde_json::Value = serde_json::from_slice(&judged.stdout).unwrap();
    assert_eq!(report["code"], "dcc.rules_not_met", "{report}");
    assert_eq!(
        report["failed_rules"][0]["identifier"], "TR-FR-0002",
        "{report}"
    );
    assert!(
        report["failed_rules"][0]["description"]
            .as_str()
            .unwrap()
            .contains("moins de 48 heures"),
        "{report}"
    );
    let fresh = run(&["pass", "verify", &test(now - 3600), "--country", "fr"]);
    assert!(fresh.status.success(), "{}", stdout(&fresh));
    assert!(
        stdout(&fresh).starts_with("VALID for FR"),
        "{}",
        stdout(&fresh)
    );
    // No rules for a country: cannot confirm (exit 4), never valid.
    let elsewhere = run(&["pass", "verify", &test(now - 3600), "--country", "IT"]);
    assert_eq!(elsewhere.status.code(), Some(4), "{}", stdout(&elsewhere));
    // The wallet says until when its certificates meet a country's rules.
    let fresh_text = test(now - 3600);
    assert!(run(&["wallet", "add", &fresh_text]).status.success());
    assert!(run(&["wallet", "add", &old]).status.success());
    let listed = run(&["wallet", "list", "--country", "FR", "--lang", "fr"]);
    let text = stdout(&listed);
    assert!(text.contains("meets the rules of FR until"), "{text}");
    assert!(
        text.contains("does not meet the rules of FR: TR-FR-0002: La date du prélèvement"),
        "{text}"
    );
    let listed = run(&["wallet", "list", "--country", "FR", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let until = entries
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| {
            e["rules"]["until"]
                .as_str()
                .filter(|_| e["rules"]["now"] == "met")
        })
        .unwrap()
        .to_owned();
    assert_eq!(
        until,
        carnet::certs::instant::format(now - 3600 + 48 * 3600)
    );
    let wrong = run(&["pass", "verify", &old, "--country", "France"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));

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
