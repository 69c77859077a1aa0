//! CDA documents in the record: identity vigilance (a document for another patient is kept
//! apart) and versions (a newer version of a set replaces the older in lists).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use carnet::record::{Addressee, Gender, NewDocument, Patient};
use carnet::{HealthRecord, RecordUnlock};

/// An ANS level-3 laboratory report: patient DOMINIQUE PAT-TROIS, INS 279035121518989 (F,
/// born 1979-03-28), id `1.2.250.1.213.1.1.1.55.2024.9.1`, version 1 of its set.
const LAB: &str = "BIO-CR-BIO_2024.01_TSH_1.xml";
/// The INS the ANS examples name.
const ANS_PATIENT: &str = "279035121518989";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/cda")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn new_record(dir: &std::path::Path) -> HealthRecord {
    let carnet = common::open_carnet(dir);
    carnet
        .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap()
}

/// A new record whose owner has INS `ins`.
fn owned_record(dir: &std::path::Path, ins: &str) -> HealthRecord {
    let record = new_record(dir);
    record.with_content(|r| r.set_patient(&owner(ins))).unwrap();
    record
}

fn owner(ins: &str) -> Patient {
    Patient {
        given: "Dominique".into(),
        family: "Pat-Trois".into(),
        birth_date: "1979-03-28".into(),
        gender: Gender::Female,
        ins: Some(ins.into()),
    }
}

/// `record` exported, then imported into a new record in `dir`.
fn exported_and_imported(record: &HealthRecord, dir: &std::path::Path) -> HealthRecord {
    let archive = record
        .with_content(|r| r.export(std::io::Cursor::new(Vec::new()), &mut |_| {}))
        .unwrap()
        .into_inner();
    let restored = new_record(dir);
    restored
        .with_content(|r| r.import(std::io::Cursor::new(archive), &mut |_| {}))
        .unwrap();
    restored
}

fn add(record: &HealthRecord, xml: &str) -> carnet::record::Document {
    record
        .add_document(&NewDocument::default(), xml.as_bytes())
        .unwrap()
}

#[test]
fn a_document_for_another_patient_is_kept_apart_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let record = owned_record(dir.path(), "180012B07300470");
    let document = add(&record, &fixture(LAB));
    let Addressee::NotForThisPerson { reason } = &document.addressee else {
        panic!("{:?}", document.addressee)
    };
    assert!(reason.contains("DOMINIQUE PAT-TROIS"), "{reason}");
    assert!(
        !reason.contains(ANS_PATIENT),
        "the other patient's INS is not shown whole"
    );
    record
        .with_content(|r| {
            assert!(r.documents()?.is_empty(), "not listed as theirs");
            assert_eq!(r.documents_apart()?.len(), 1, "but kept");
            assert_eq!(r.pending_sync_count()?, 0, "and never sent up");
            let found = r.search_documents(&carnet::record::DocumentQuery {
                text: Some("biologie".into()),
                ..Default::default()
            })?;
            assert!(found.is_empty(), "nor found by search");
            Ok(())
        })
        .unwrap();
    // The record's export keeps it apart, with why.
    let other = tempfile::tempdir().unwrap();
    let restored = exported_and_imported(&record, other.path());
    let apart = restored.with_content(|r| r.documents_apart()).unwrap();
    assert_eq!(apart.len(), 1);
    assert_eq!(apart[0].addressee, document.addressee);
    assert_eq!(apart[0].patient, document.patient);
    assert_eq!(apart[0].unique_id, document.unique_id);
    assert!(restored.with_content(|r| r.documents()).unwrap().is_empty());
}

#[test]
fn the_owners_document_is_theirs_and_traits_that_contradict_the_ins_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let record = owned_record(dir.path(), ANS_PATIENT);
    let document = add(&record, &fixture(LAB));
    assert_eq!(document.addressee, Addressee::ThisPerson);
    assert_eq!(document.patient.as_ref().unwrap().sex.as_deref(), Some("F"));
    assert_eq!(
        document.patient.as_ref().unwrap().birth_date.as_deref(),
        Some("1979-03-28")
    );
    // The same document saying the patient is a man: the INS says a woman.
    let contradicting = fixture("VAC_2023.01.xml").replacen(
        "<administrativeGenderCode code=\"F\"",
        "<administrativeGenderCode code=\"M\"",
        1,
    );
    assert_ne!(contradicting, fixture("VAC_2023.01.xml"));
    let document = add(&record, &contradicting);
    let Addressee::NotForThisPerson { reason } = &document.addressee else {
        panic!("{:?}", document.addressee)
    };
    assert!(reason.contains("sex contradicts the INS"), "{reason}");
    let listed = record.with_content(|r| r.documents()).unwrap();
    assert_eq!(listed.len(), 1);
}

#[test]
fn a_record_without_ins_takes_documents_unchecked_until_it_knows_one() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path());
    let lab = add(&record, &fixture(LAB));
    assert_eq!(lab.addressee, Addressee::Unchecked);
    assert_eq!(lab.patient.as_ref().unwrap().name, "DOMINIQUE PAT-TROIS");
    let listed = record.with_content(|r| r.documents()).unwrap();
    assert_eq!(listed.len(), 1, "taken as it came");
    assert_eq!(record.with_content(|r| r.pending_sync_count()).unwrap(), 1);
    // Once the owner's INS is known (another person's), the document goes apart and off the
    // upload queue.
    record
        .with_content(|r| r.set_patient(&owner("180012B07300470")))
        .unwrap();
    record
        .with_content(|r| {
            assert!(r.documents()?.is_empty());
            assert!(r.document(&lab.id)?.addressee.is_apart());
            assert_eq!(r.pending_sync_count()?, 0);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_new_version_replaces_the_older_in_lists_and_keeps_it_in_history() {
    let dir = tempfile::tempdir().unwrap();
    let record = owned_record(dir.path(), ANS_PATIENT);
    let first_xml = fixture(LAB);
    let header = carnet::record::read_header(first_xml.as_bytes()).unwrap();
    let id = header.id.as_ref().unwrap();
    assert_eq!(header.version, Some(1), "{LAB} is version 1");
    let second_xml = first_xml
        .replacen(
            &format!("root=\"{}\"", id.root),
            &format!("root=\"{}.99\"", id.root),
            1,
        )
        .replacen(
            "<versionNumber value=\"1\"/>",
            "<versionNumber value=\"2\"/>",
            1,
        );
    assert!(second_xml.contains("<versionNumber value=\"2\"/>"));
    let first = add(&record, &first_xml);
    let second = add(&record, &second_xml);
    assert_eq!(second.version, Some(2));
    assert_eq!(first.set_id, second.set_id);
    record
        .with_content(|r| {
            let listed = r.documents()?;
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].id, second.id, "the newer version is listed");
            assert_eq!(
                r.document(&first.id)?.replaced_by.as_deref(),
                Some(&*second.id)
            );
            let versions: Vec<String> = r
                .document_versions(&first.id)?
                .into_iter()
                .map(|d| d.id)
                .collect();
            assert_eq!(versions, [second.id.clone(), first.id.clone()]);
            Ok(())
        })
        .unwrap();
    // The same version again (same unique id) adds nothing.
    let again = add(&record, &first_xml);
    assert_eq!(again.id, first.id);
    assert_eq!(
        record.with_content(|r| r.every_document()).unwrap().len(),
        2
    );
    // The newer version deleted, the older is listed again.
    record
        .with_content(|r| r.delete_document(&second.id))
        .unwrap();
    let listed = record.with_content(|r| r.documents()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, first.id);
    assert_eq!(listed[0].replaced_by, None);
}

#[test]
fn an_older_version_arriving_late_is_already_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path());
    let v1 = fixture(LAB);
    let v3 = v1
        .replacen(
            "<versionNumber value=\"1\"/>",
            "<versionNumber value=\"3\"/>",
            1,
        )
        .replacen("55.2024.9.1\"", "55.2024.9.3\"", 1);
    assert_ne!(v1, v3);
    let newest = add(&record, &v3);
    let late = add(&record, &v1);
    assert_ne!(newest.id, late.id);
    assert_eq!(late.replaced_by.as_deref(), Some(&*newest.id));
    let listed = record.with_content(|r| r.documents()).unwrap();
    assert_eq!(
        listed.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&newest.id]
    );
}

#[test]
fn a_reports_results_are_offered_to_the_profile_and_added_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let record = owned_record(dir.path(), ANS_PATIENT);
    let report = add(&record, &fixture(LAB));
    let offered = record.document_findings(&report.id).unwrap();
    assert_eq!(offered.len(), 2);
    let tsh = &offered[0];
    assert_eq!(tsh.kind, carnet::record::ProfileKind::Observation);
    assert!(!tsh.in_profile);
    assert!(
        tsh.summary.starts_with("Thyréostimuline [Arbitraire/Volume] Sérum/Plasma ; Numérique: 1.950 m[IU]/L (0.270–4.200), Normal, 2014-04-02"),
        "{}",
        tsh.summary
    );
    let resource = &tsh.resource;
    assert_eq!(resource["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(resource["code"]["coding"][0]["code"], "3016-3");
    assert_eq!(resource["valueQuantity"]["value"], 1.95);
    assert_eq!(resource["valueQuantity"]["code"], "m[IU]/L");
    assert_eq!(resource["referenceRange"][0]["high"]["value"], 4.2);
    assert_eq!(resource["interpretation"][0]["coding"][0]["code"], "N");
    assert_eq!(resource["effectiveDateTime"], "2014-04-02T14:55:21+02:00");
    assert_eq!(
        resource["derivedFrom"][0]["reference"],
        format!("DocumentReference/{}", report.id)
    );
    // Nothing is in the profile until asked.
    let profile = |r: &HealthRecord| r.with_content(|r| r.profile(None)).unwrap();
    assert!(profile(&record).is_empty());
    let added = record.add_finding_to_profile(&report.id, 0).unwrap();
    assert_eq!(added.resource["valueQuantity"], resource["valueQuantity"]);
    record.add_finding_to_profile(&report.id, 0).unwrap();
    assert_eq!(profile(&record).len(), 1, "asked twice, kept once");
    let offered = record.document_findings(&report.id).unwrap();
    assert!(offered[0].in_profile && !offered[1].in_profile);
    assert_eq!(
        record
            .add_finding_to_profile(&report.id, 9)
            .unwrap_err()
            .code(),
        "record.not_found"
    );
    // A vaccination note's vaccination, as an Immunization.
    let note = add(&record, &fixture("VAC-NOTE_2023.01.xml"));
    let [vaccination] = record
        .document_findings(&note.id)
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(vaccination.kind, carnet::record::ProfileKind::Immunization);
    assert_eq!(vaccination.resource["lotNumber"], "4456672");
    assert_eq!(vaccination.resource["occurrenceDateTime"], "2009-09-28");
    // A document kept apart gives nothing to the profile.
    let someone_else = fixture(LAB)
        .replace(ANS_PATIENT, "180012B07300470")
        .replacen("55.2024.9.1\"", "55.2024.9.7\"", 1);
    let apart = add(&record, &someone_else);
    assert!(apart.addressee.is_apart());
    let refused = record.add_finding_to_profile(&apart.id, 0).unwrap_err();
    assert!(refused.to_string().contains("kept apart"), "{refused}");
}

#[test]
fn what_documents_say_is_searched_with_case_and_accents_folded() {
    let dir = tempfile::tempdir().unwrap();
    let record = owned_record(dir.path(), ANS_PATIENT);
    let report = add(&record, &fixture(LAB));
    let note = record
        .add_document(
            &NewDocument {
                title: "Note".into(),
                ..NewDocument::default()
            },
            "Glycémie à jeun : 0,95 g/L, contrôle dans six mois\n".as_bytes(),
        )
        .unwrap();
    let found = |r: &HealthRecord, text: &str| -> Vec<String> {
        r.with_content(|r| {
            r.search_documents(&carnet::record::DocumentQuery {
                text: Some(text.into()),
                ..Default::default()
            })
        })
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect()
    };
    // Words of the narrative, not of the title or metadata.
    assert_eq!(
        found(&record, "ECL modular"),
        std::slice::from_ref(&report.id)
    );
    assert_eq!(
        found(&record, "THYREOSTIMULINE"),
        std::slice::from_ref(&report.id)
    );
    assert_eq!(
        found(&record, "glycemie six"),
        std::slice::from_ref(&note.id)
    );
    assert!(found(&record, "glycemie modular").is_empty());
    // The words are sealed in the store: none is in clear in its files.
    for entry in std::fs::read_dir(dir.path().join("record")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(7).any(|w| w == b"modular" || w == b"Modular"),
                "{} holds a word in clear",
                path.display()
            );
        }
    }
    // They travel with the record's export, and go with the document.
    let other = tempfile::tempdir().unwrap();
    let restored = exported_and_imported(&record, other.path());
    assert_eq!(
        found(&restored, "ecl modular"),
        std::slice::from_ref(&report.id)
    );
    record
        .with_content(|r| r.delete_document(&report.id))
        .unwrap();
    assert!(found(&record, "modular").is_empty());
}

#[test]
fn every_ans_example_is_added_with_its_title_and_type_and_no_flags() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path());
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda");
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "xml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 63);
    for path in &names {
        let document = record
            .add_document_from_path(&NewDocument::default(), path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!document.title.is_empty(), "{}", path.display());
        assert!(
            document
                .type_code
                .as_ref()
                .is_some_and(|c| !c.code.is_empty()),
            "{}",
            path.display()
        );
        assert_eq!(document.media_type, "text/xml", "{}", path.display());
    }
    assert_eq!(
        record.with_content(|r| r.every_document()).unwrap().len(),
        63
    );
}
