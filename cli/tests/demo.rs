//! `carnet demo`, `--version` and the data directory, run as a user would.

mod common;

use std::process::Command;

use common::*;

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
        "kept in the wallet, inside the encrypted record, as vaccination COVID-19, Comirnaty, SARS-CoV-2 mRNA vaccine, Biontech Manufacturing GmbH (expired today)",
        "the name \"Quenouille\" appears in none of the store's files",
        "imported into a new record: 1 document, 2 profile entries, 1 message",
        "a wrong passphrase: wrong passphrase [record.wrong_passphrase]",
        "sync: received 4 document(s), 1 message(s), 0 profile change(s); sent 0 document(s), 2 profile change(s)",
        "the level-1 report opens as its application/pdf (326650 bytes)",
        "patient MARIE DUPONT (INS 253072B07300470)",
        "0. Thyréostimuline [Arbitraire/Volume] Sérum/Plasma ; Numérique: 1.950 m[IU]/L (0.270–4.200), Normal, 2014-04-02",
        "she adds result 0 to her profile: a FHIR Observation taken from the report",
        "handed on for her doctor as an IHE XDM archive, as MSSanté carries it",
        "identity vigilance: « Compte rendu d'examens biologiques » kept apart, not for this person (it is about another patient: DOMINIQUE PAT-TROIS (INS 2*****…89)); 4 document(s) listed as hers",
        "Thyréostimuline (TSH) (ECL Modular) | 1.950 mUI/l | (0.270 - 4.200)",
        "[net.offline], 2 change(s) kept waiting",
        "server back: received 0 document(s), 0 message(s), 0 profile change(s); sent 0 document(s), 2 profile change(s)",
        "asked again: unchanged, nothing downloaded (304)",
        "the card enrolled on this device: 2 people, and the health-space account",
        "on the phone, offline: 2. LEA DUPONT, AMO rights 2026-01-01 to 2027-12-31",
        "Jeanne Martin — Pharmacie du Port (Pharmacien, RPPS 10003456789), verified",
        "not for a pharmacy, never shown: ins_matricule",
        "✓ accepted: family_name=DUPONT, given_names=MARIE ANNE, nir=253072B07300470",
        "the phone offers only family_name, given_names, and by default shows nothing: refused: not_shown",
        "the child's counter QR (Carnet's own, no request): ✓ accepted: family_name=DUPONT, given_names=LEA",
        "the same QR shown again: refused: replayed",
        "the credential copied to another phone: refused: device_signature",
        "status list updated: refused: revoked",
        "8 of Alice's rotating identifiers heard by Bob's phone",
        "the laboratory's one-time code publishes her 1 key",
        "1 matched what his phone heard",
        "HIGH RISK: exposed on 1 day(s), the most recent 1 day(s) ago",
        "a simulated town of 100 phones for 2 days",
        "business rules of 9 countries, value sets",
        "a negative PCR test sampled 3 weeks ago: INVALID for France — TR-FR-0002 : « La date du prélèvement de l'échantillon doit avoir été réalisée moins de 48 heures",
        "the first of two doses, a month ago: INVALID for France — VR-FR-0002 : « Le nombre de doses prises",
        "a negative PCR test sampled 2 hours ago: VALID for France (test)",
        "in the wallet: meets France's rules until",
        "the second of two doses, 2 days ago: INVALID for France — VR-FR-0008",
        "in the wallet: meets France's rules from",
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
            "IHE_XDM.ZIP",
            "bilan-thyroidien.html",
            "compte-rendu-biologie.pdf",
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
