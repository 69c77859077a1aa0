//! `carnet record`: a whole record scripted from the command line, and its export.

mod common;

use std::process::Command;

use common::*;

#[test]
fn record_commands_script_a_whole_record_and_its_export() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("mine");
    let store_arg = store.to_str().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
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

/// A title another party wrote is shown with its control characters escaped: `ESC[8m` would
/// hide everything printed after it on a terminal, a carriage return would overwrite the line.
#[test]
fn text_from_outside_is_shown_escaped_not_obeyed() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("mine");
    let store_arg = store.to_str().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
    run(&["record", "init", "--store", store_arg]);
    let pdf = data.path().join("cr.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\nCompte rendu").unwrap();
    let hostile = "Compte rendu\u{1b}[8m\rCACHE";
    let added = run(&[
        "record",
        "add-doc",
        "--store",
        store_arg,
        "--title",
        hostile,
        pdf.to_str().unwrap(),
    ]);
    let listed = run(&["record", "list", "--store", store_arg]);
    for shown in [&added, &listed] {
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\r'),
            "{shown:?}"
        );
        assert!(
            shown.contains(r"Compte rendu\u{1b}[8m\u{d}CACHE"),
            "{shown}"
        );
    }
}

#[test]
fn a_cda_describes_itself_and_shows_the_pdf_inside() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cda");
    run(&["record", "init"]);
    let level1 = fixtures.join("BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml");
    let added = run(&["record", "add-doc", level1.to_str().unwrap()]);
    assert!(
        added.contains("Compte rendu d'examens biologiques (text/xml, "),
        "{added}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["record", "list", "--json"])).unwrap();
    let document = &listed[0];
    assert_eq!(document["type_code"]["code"], "11502-2");
    assert_eq!(document["author"]["rpps"], "01234534765");
    assert_eq!(document["ins"], "279035121518989");
    let id = document["id"].as_str().unwrap();
    let pdf = data.path().join("cr.pdf");
    let shown = run(&["record", "show", &id[..8], "--out", pdf.to_str().unwrap()]);
    assert!(shown.contains("(application/pdf)"), "{shown}");
    let written = std::fs::read(&pdf).unwrap();
    assert!(written.starts_with(b"%PDF-"));
    assert_eq!(written.len(), 326_650, "the size of the decoded base64");
    let xml = data.path().join("cr.xml");
    run(&[
        "record",
        "show",
        &id[..8],
        "--out",
        xml.to_str().unwrap(),
        "--raw",
    ]);
    assert_eq!(
        std::fs::read(&xml).unwrap(),
        std::fs::read(&level1).unwrap()
    );
    // A level-3 document and a plain-text one; a title given wins over the header's.
    let level3 = fixtures.join("VAC_2023.01.xml");
    let added = run(&[
        "record",
        "add-doc",
        "--title",
        "Mes vaccins",
        level3.to_str().unwrap(),
    ]);
    assert!(added.contains("Mes vaccins (text/xml"), "{added}");
    let short_id = added.split_whitespace().nth(1).unwrap();
    let page = data.path().join("vaccins.html");
    run(&["record", "show", short_id, "--html", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<h1>Historique de vaccinations</h1>"),
        "{html}"
    );
    assert!(!html.contains("<script"));
    let text = run(&["record", "show", short_id, "--text"]);
    assert!(text.starts_with("Historique de vaccinations\n"), "{text}");
    // A level-1 document has no page: it holds a file.
    let refused = with_record(data.path(), &["record", "show", &id[..8], "--text"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("[cda.body]"),
        "{}",
        stderr(&refused)
    );
    let text = data.path().join("note.txt");
    std::fs::write(&text, "Glycémie à jeun : 0,95 g/L\n").unwrap();
    let added = run(&[
        "record",
        "add-doc",
        "--title",
        "Note",
        text.to_str().unwrap(),
    ]);
    assert!(added.contains("(text/plain, "), "{added}");
    // What the documents say is searched: the note's text, the vaccination history's narrative.
    let found = run(&["record", "search", "glycemie A JEUN"]);
    assert!(
        found.contains("Note") && !found.contains("Mes vaccins"),
        "{found}"
    );
    let found = run(&["record", "search", "tetanique"]);
    assert!(
        found.contains("Mes vaccins") && !found.contains("Note"),
        "{found}"
    );
}

#[test]
fn a_hostile_cda_is_refused_and_nothing_is_stored() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
    run(&["record", "init"]);
    for (xml, code) in [
        (
            "<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><ClinicalDocument><title>&x;</title></ClinicalDocument>",
            "[cda.dtd]",
        ),
        (
            "<ClinicalDocument><component><nonXMLBody><text mediaType=\"application/pdf\" representation=\"B64\">JVB!</text></nonXMLBody></component></ClinicalDocument>",
            "[cda.body]",
        ),
        ("<ClinicalDocument><title>cut", "[cda.malformed]"),
    ] {
        let file = data.path().join("evil.xml");
        std::fs::write(&file, xml).unwrap();
        let output = with_record(data.path(), &["record", "add-doc", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{xml}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(code), "{stderr}");
    }
    assert!(
        run(&["record", "list"]).contains("no documents"),
        "nothing stored"
    );
}

#[test]
fn a_cda_for_another_patient_is_listed_apart() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cda/BIO-CR-BIO_2024.01_TSH_1.xml");
    run(&["record", "init"]);
    run(&[
        "record",
        "patient",
        "--given",
        "Marie",
        "--family",
        "Dupont",
        "--birth-date",
        "1953-07-14",
        "--sex",
        "female",
        "--ins",
        "253072B07300470",
    ]);
    let added = run(&["record", "add-doc", fixture.to_str().unwrap()]);
    assert!(
        added.contains(
            "[not for this person: it is about another patient: DOMINIQUE PAT-TROIS (INS 2*****…89)]"
        ),
        "{added}"
    );
    assert!(run(&["record", "list"]).contains("no documents"));
    let apart = run(&["record", "list", "--apart"]);
    assert!(
        apart.contains("Compte rendu d'examens biologiques"),
        "{apart}"
    );
    let id = apart.split_whitespace().next().unwrap();
    let shown = run(&["record", "show", id]);
    assert!(
        shown.contains("about DOMINIQUE PAT-TROIS (with an INS) [not for this person"),
        "{shown}"
    );
}

#[test]
fn documents_go_out_and_come_back_as_an_xdm_archive() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| succeeding(data.path(), args);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cda");
    let mine = data.path().join("mine");
    let theirs = data.path().join("theirs");
    let (mine, theirs) = (mine.to_str().unwrap(), theirs.to_str().unwrap());
    run(&["record", "init", "--store", mine]);
    run(&["record", "init", "--store", theirs]);
    let mut ids = Vec::new();
    for name in ["BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml", "VAC_2023.01.xml"] {
        let added = run(&[
            "record",
            "add-doc",
            "--store",
            mine,
            fixtures.join(name).to_str().unwrap(),
        ]);
        ids.push(added.split_whitespace().nth(1).unwrap().to_owned());
    }
    let archive = data.path().join("IHE_XDM.ZIP");
    let archive = archive.to_str().unwrap();
    let written = run(&[
        "record",
        "export-xdm",
        "--store",
        mine,
        "--doc",
        &ids[0],
        "--doc",
        &ids[1],
        "--out",
        archive,
    ]);
    assert!(written.contains("2 document(s) written to"), "{written}");
    let imported = run(&["record", "import-xdm", "--store", theirs, archive]);
    assert!(
        imported.contains("imported 2 document(s) from 1 subset(s); 0 already in the record"),
        "{imported}"
    );
    assert!(
        imported.contains("Compte rendu d'examens biologiques"),
        "{imported}"
    );
    let again = run(&["record", "import-xdm", "--store", theirs, archive]);
    assert!(
        again.contains("imported 0 document(s) from 1 subset(s); 2 already in the record"),
        "{again}"
    );
    // Not an XDM archive: refused in words, exit 1.
    let not_xdm = data.path().join("not.zip");
    std::fs::write(&not_xdm, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let output = with_record(
        data.path(),
        &[
            "record",
            "import-xdm",
            "--store",
            theirs,
            not_xdm.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not an XDM archive"),
        "{}",
        stderr(&output)
    );
}
