//! IHE XDM archives built here from the ANS example documents, with metadata written by hand
//! as MSSanté software writes it: imported (one and several subsets), refused when they lie
//! or are hostile (nothing written), and made from the record for a professional.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Cursor, Write};

use carnet::record::{Addressee, Gender, Patient, Record};
use carnet::{CarnetError, HealthRecord, RecordUnlock};
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use zip::write::SimpleFileOptions;

/// The ANS examples' patient.
const ANS_PATIENT: &str = "279035121518989";
const TSH: &str = "BIO-CR-BIO_2024.01_TSH_1.xml";
const LEVEL1: &str = "BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/cda")
            .join(name),
    )
    .unwrap()
}

/// One file of a subset and what its DocumentEntry says.
struct File {
    name: &'static str,
    bytes: Vec<u8>,
    mime: &'static str,
    title: &'static str,
    unique_id: String,
    /// The hash and size the entry gives (the file's own unless a test lies).
    hash: String,
    size: usize,
    patient: &'static str,
}

impl File {
    fn new(name: &'static str, bytes: Vec<u8>, mime: &'static str, title: &'static str) -> Self {
        File {
            name,
            hash: hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, &bytes).as_ref()),
            size: bytes.len(),
            bytes,
            mime,
            title,
            unique_id: format!("1.2.250.1.999.{}", name.len() * 7 + title.len()),
            patient: ANS_PATIENT,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// A subset's METADATA.XML, by hand, as ebRIM 3.0.
fn metadata(files: &[File]) -> String {
    let mut objects = String::new();
    for (n, f) in files.iter().enumerate() {
        let id = format!("urn:uuid:00000000-0000-4000-8000-00000000000{n}");
        objects.push_str(&format!(
            r#"<rim:ExtrinsicObject id="{id}" mimeType="{mime}" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
  <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20240401171000</rim:Value></rim:ValueList></rim:Slot>
  <rim:Slot name="hash"><rim:ValueList><rim:Value>{hash}</rim:Value></rim:ValueList></rim:Slot>
  <rim:Slot name="size"><rim:ValueList><rim:Value>{size}</rim:Value></rim:ValueList></rim:Slot>
  <rim:Slot name="URI"><rim:ValueList><rim:Value>{uri}</rim:Value></rim:ValueList></rim:Slot>
  <rim:Name><rim:LocalizedString value="{title}"/></rim:Name>
  <rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="{id}" id="a{n}" nodeRepresentation="">
    <rim:Slot name="authorPerson"><rim:ValueList><rim:Value>810003456789^CURIE^Marie^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO</rim:Value></rim:ValueList></rim:Slot>
  </rim:Classification>
  <rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="{id}" id="t{n}" nodeRepresentation="11502-2">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString value="CR d'examens biologiques"/></rim:Name>
  </rim:Classification>
  <rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" classifiedObject="{id}" id="c{n}" nodeRepresentation="R">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.5.25</rim:Value></rim:ValueList></rim:Slot>
  </rim:Classification>
  <rim:ExternalIdentifier id="p{n}" registryObject="{id}" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="{patient}^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"/>
  <rim:ExternalIdentifier id="u{n}" registryObject="{id}" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="{unique}"/>
</rim:ExtrinsicObject>
"#,
            mime = f.mime,
            hash = f.hash,
            size = f.size,
            uri = escape(f.name),
            title = escape(f.title),
            patient = f.patient,
            unique = f.unique_id,
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
<rim:RegistryObjectList>
{objects}<rim:RegistryPackage id="SS">
  <rim:Slot name="submissionTime"><rim:ValueList><rim:Value>20240401180000</rim:Value></rim:ValueList></rim:Slot>
  <rim:ExternalIdentifier id="s1" registryObject="SS" identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" value="1.2.250.1.999.1"/>
</rim:RegistryPackage>
<rim:Classification id="s2" classifiedObject="SS" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>
</rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"#
    )
}

/// An `IHE_XDM.ZIP` of the given subsets (each its files and its metadata).
fn archive(subsets: &[(&str, &[File], Option<&str>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for (name, text) in [("INDEX.HTM", "<html></html>"), ("README.TXT", "test media")] {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    for (subset, files, override_metadata) in subsets {
        zip.start_file(format!("IHE_XDM/{subset}/METADATA.XML"), options)
            .unwrap();
        let text = override_metadata.map_or_else(|| metadata(files), str::to_owned);
        zip.write_all(text.as_bytes()).unwrap();
        for file in *files {
            zip.start_file(format!("IHE_XDM/{subset}/{}", file.name), options)
                .unwrap();
            zip.write_all(&file.bytes).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

fn new_record(dir: &std::path::Path, ins: Option<&str>) -> HealthRecord {
    let carnet = common::open_carnet(dir);
    let record = carnet
        .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    if let Some(ins) = ins {
        record
            .with_content(|r| {
                r.set_patient(&Patient {
                    given: "Dominique".into(),
                    family: "Pat-Trois".into(),
                    birth_date: "1979-03-28".into(),
                    gender: Gender::Female,
                    ins: Some(ins.into()),
                })
            })
            .unwrap();
    }
    record
}

fn import(record: &HealthRecord, bytes: &[u8]) -> Result<carnet::record::XdmImport, CarnetError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("IHE_XDM.ZIP");
    std::fs::write(&path, bytes).unwrap();
    record.import_xdm_from_path(&path, &mut |_| {})
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n% ordonnance\n%%EOF\n".to_vec()
}

#[test]
fn an_archive_of_two_subsets_is_imported_with_its_metadata_and_once_only() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path(), Some(ANS_PATIENT));
    let lab = File::new("DOC0001.XML", fixture(LEVEL1), "text/xml", "");
    let letter = File::new(
        "DOC0002.PDF",
        pdf(),
        "application/pdf",
        "Ordonnance & conseils",
    );
    let tsh = File::new("DOC0001.XML", fixture(TSH), "text/xml", "Bilan thyroïdien");
    let bytes = archive(&[
        ("SUBSET01", &[lab, letter], None),
        ("SUBSET02", &[tsh], None),
    ]);
    let mut steps = Vec::new();
    let path = dir.path().join("IHE_XDM.ZIP");
    std::fs::write(&path, &bytes).unwrap();
    let report = record
        .import_xdm_from_path(&path, &mut |p| steps.push(p))
        .unwrap();
    assert_eq!(report.subsets, 2);
    assert_eq!(report.imported.len(), 3);
    assert!(report.already_present.is_empty());
    let done = steps.last().unwrap();
    assert_eq!(done.done, done.total, "progress reaches its end");
    let by_title = |title: &str| {
        report
            .imported
            .iter()
            .find(|d| d.title == title)
            .unwrap_or_else(|| panic!("{title}: {:?}", report.imported))
    };
    // The entry's title is empty: the CDA header's is taken; the rest from the metadata.
    let level1 = by_title("Compte rendu d'examens biologiques");
    assert_eq!(level1.media_type, "text/xml");
    assert_eq!(
        level1.author.as_ref().unwrap().rpps.as_deref(),
        Some("10003456789")
    );
    assert_eq!(level1.type_code.as_ref().unwrap().code, "11502-2");
    assert_eq!(level1.confidentiality.code(), "R");
    assert_eq!(level1.addressee, Addressee::ThisPerson);
    assert_eq!(level1.ins.as_deref(), Some(ANS_PATIENT));
    let letter = by_title("Ordonnance & conseils");
    assert_eq!(letter.media_type, "application/pdf");
    assert_eq!(
        letter.date_millis,
        Some(1_711_991_400_000),
        "20240401171000 UTC"
    );
    assert_eq!(
        by_title("Bilan thyroïdien").set_id.as_deref(),
        Some("1.2.250.1.213.1.1.1.55.2024.9")
    );
    let (pdf_bytes, viewable) = record.viewable_bytes(&level1.id).unwrap();
    assert_eq!(
        (viewable.media_type.as_str(), pdf_bytes.len()),
        ("application/pdf", 326_650)
    );
    assert_eq!(record.with_content(Record::pending_sync_count).unwrap(), 3);
    // The same archive again: every document is already there.
    let again = import(&record, &bytes).unwrap();
    assert!(again.imported.is_empty());
    assert_eq!(again.already_present.len(), 3);
    assert_eq!(record.with_content(|r| r.documents()).unwrap().len(), 3);
}

#[test]
fn a_document_for_another_patient_is_imported_apart() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path(), Some("253072B07300470"));
    let bytes = archive(&[(
        "SUBSET01",
        &[File::new("DOC0001.XML", fixture(TSH), "text/xml", "TSH")],
        None,
    )]);
    let report = import(&record, &bytes).unwrap();
    assert!(
        report.imported[0].addressee.is_apart(),
        "{:?}",
        report.imported[0]
    );
    assert!(record.with_content(|r| r.documents()).unwrap().is_empty());
    assert_eq!(record.with_content(Record::pending_sync_count).unwrap(), 0);
}

/// Imports `bytes` expecting a refusal with `code` whose message holds `words`, and checks
/// that nothing was written.
fn refused(bytes: &[u8], code: &str, words: &str) {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path(), None);
    let before = record.with_content(|r| Ok(r.write_counter())).unwrap();
    let error = import(&record, bytes).unwrap_err();
    assert_eq!(error.code(), code, "{error}");
    assert!(error.to_string().contains(words), "{error}");
    assert!(
        !error.to_string().contains("Error {"),
        "no debug text: {error}"
    );
    assert_eq!(
        record.with_content(|r| Ok(r.write_counter())).unwrap(),
        before
    );
    assert!(
        record
            .with_content(|r| r.every_document())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn archives_that_lie_or_lack_a_file_are_refused_and_nothing_is_written() {
    let good = || File::new("DOC0001.PDF", pdf(), "application/pdf", "Ordonnance");
    let second = || File::new("DOC0002.XML", fixture(TSH), "text/xml", "TSH");
    let mut wrong_hash = second();
    wrong_hash.hash = "0".repeat(40);
    refused(
        &archive(&[("SUBSET01", &[good(), wrong_hash], None)]),
        "record.import_refused",
        "its SHA-1 is not the one its entry gives",
    );
    let mut wrong_size = good();
    wrong_size.size += 1;
    refused(
        &archive(&[("SUBSET01", &[wrong_size], None)]),
        "record.import_refused",
        "its entry says",
    );
    let files = [good()];
    let missing = metadata(&files).replace("DOC0001.PDF", "DOC0009.PDF");
    refused(
        &archive(&[("SUBSET01", &files, Some(&missing))]),
        "record.import_refused",
        "its file \"DOC0009.PDF\" is missing from the archive",
    );
    let escaping = metadata(&files).replace("DOC0001.PDF", "../../etc/passwd");
    refused(
        &archive(&[("SUBSET01", &files, Some(&escaping))]),
        "record.import_refused",
        "is missing from the archive",
    );
    let mut bad_cda = File::new(
        "DOC0001.XML",
        b"<ClinicalDocument><title>cut".to_vec(),
        "text/xml",
        "x",
    );
    bad_cda.unique_id = "1.2.3".into();
    refused(
        &archive(&[("SUBSET01", &[bad_cda], None)]),
        "record.import_refused",
        "not well-formed XML",
    );
    refused(&archive(&[]), "record.import_refused", "not an XDM archive");
    refused(b"not a zip", "record.import_refused", "not a zip archive");
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let files = [File::new(
        "DOC0001.PDF",
        pdf(),
        "application/pdf",
        "Ordonnance",
    )];
    let laughs = metadata(&files).replacen(
        "<lcm:SubmitObjectsRequest",
        "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><lcm:SubmitObjectsRequest",
        1,
    ).replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "", 1);
    refused(
        &archive(&[("SUBSET01", &files, Some(&laughs))]),
        "xdm.xml",
        "DTD",
    );
    let external = metadata(&files).replacen("Ordonnance", "&ext;", 1);
    refused(
        &archive(&[("SUBSET01", &files, Some(&external))]),
        "xdm.xml",
        "&ext;",
    );
    let deep = format!(
        "<lcm:SubmitObjectsRequest xmlns:lcm=\"l\">{}",
        "<a>".repeat(100_000)
    );
    refused(
        &archive(&[("SUBSET01", &files, Some(&deep))]),
        "xdm.xml",
        "too large",
    );
    // Unsafe entry names.
    for name in [
        "../evil.pdf",
        "/etc/evil",
        "IHE_XDM/SUBSET01/a\\b.pdf",
        "IHE_XDM/SUBSET01/x y.pdf",
    ] {
        let mut zip = zip::ZipWriter::new(Cursor::new(archive(&[("SUBSET01", &files, None)])));
        zip = zip::ZipWriter::new_append(Cursor::new(zip.finish().unwrap().into_inner())).unwrap();
        zip.start_file(name, SimpleFileOptions::default()).unwrap();
        zip.write_all(b"x").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        refused(
            &bytes,
            "record.import_refused",
            "unsafe or unexpected entry name",
        );
    }
    // A bomb: 64 MiB of zeros deflated to a few kilobytes.
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(
        "IHE_XDM/SUBSET01/METADATA.XML",
        SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(metadata(&files).as_bytes()).unwrap();
    zip.start_file("IHE_XDM/SUBSET01/DOC0001.PDF", SimpleFileOptions::default())
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        zip.write_all(&zeros).unwrap();
    }
    let bomb = zip.finish().unwrap().into_inner();
    refused(&bomb, "record.import_refused", "a zip bomb");
}

#[test]
fn documents_are_handed_on_as_an_xdm_archive_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path(), Some(ANS_PATIENT));
    let lab = record
        .add_document(&carnet::record::NewDocument::default(), &fixture(LEVEL1))
        .unwrap();
    let letter = record
        .add_document(
            &carnet::record::NewDocument {
                title: "Ordonnance <2024>".into(),
                ..Default::default()
            },
            &pdf(),
        )
        .unwrap();
    let out = dir.path().join("IHE_XDM.ZIP");
    record
        .export_xdm_to_path(&[lab.id.clone(), letter.id.clone()], &out)
        .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    let names: Vec<String> = zip
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    for expected in [
        "INDEX.HTM",
        "README.TXT",
        "IHE_XDM/SUBSET01/METADATA.XML",
        "IHE_XDM/SUBSET01/DOC0001.XML",
        "IHE_XDM/SUBSET01/DOC0002.PDF",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut metadata = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("IHE_XDM/SUBSET01/METADATA.XML").unwrap(),
        &mut metadata,
    )
    .unwrap();
    let submission =
        carnet_xdm::read_metadata(metadata.as_bytes(), &carnet_xdm::Limits::default()).unwrap();
    let entry = &submission.documents[0];
    assert_eq!(
        entry.unique_id, "1.2.250.1.213.1.1.1.55.2021.3.1",
        "the CDA's own id"
    );
    assert_eq!(entry.size, Some(lab.size));
    let mut file = Vec::new();
    std::io::Read::read_to_end(
        &mut zip.by_name("IHE_XDM/SUBSET01/DOC0001.XML").unwrap(),
        &mut file,
    )
    .unwrap();
    assert_eq!(
        entry.hash.as_deref().unwrap(),
        hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, &file).as_ref()).to_lowercase()
    );
    assert_eq!(
        submission.documents[1].title.as_deref(),
        Some("Ordonnance <2024>")
    );
    assert_eq!(
        submission
            .set
            .as_ref()
            .unwrap()
            .patient_id
            .as_ref()
            .unwrap()
            .id,
        ANS_PATIENT
    );
    // Into another record: the same documents, the same metadata.
    let other = tempfile::tempdir().unwrap();
    let second = new_record(other.path(), Some(ANS_PATIENT));
    let report = import(&second, &bytes).unwrap();
    let titles: Vec<&str> = report.imported.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles, [lab.title.as_str(), "Ordonnance <2024>"]);
    assert_eq!(report.imported[0].sha256, lab.sha256);
    // A document kept apart is not handed on.
    let for_someone_else = String::from_utf8(fixture(TSH))
        .unwrap()
        .replace(ANS_PATIENT, "180012B07300470");
    let apart = record
        .add_document(
            &carnet::record::NewDocument::default(),
            for_someone_else.as_bytes(),
        )
        .unwrap();
    assert!(apart.addressee.is_apart());
    let error = record
        .export_xdm_to_path(&[apart.id], &dir.path().join("no.zip"))
        .unwrap_err();
    assert!(error.to_string().contains("kept apart"), "{error}");
    assert!(!dir.path().join("no.zip").exists());
}

#[test]
fn a_document_masked_to_professionals_stays_hidden_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let record = new_record(dir.path(), None);
    let files = [File::new(
        "DOC0001.PDF",
        pdf(),
        "application/pdf",
        "Ordonnance",
    )];
    let masked = metadata(&files).replacen(
        "</rim:ExtrinsicObject>",
        r#"<rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" classifiedObject="x" id="m0" nodeRepresentation="MASQUE_PS">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.213.1.1.4.13</rim:Value></rim:ValueList></rim:Slot>
  </rim:Classification>
</rim:ExtrinsicObject>"#,
        1,
    );
    let report = import(&record, &archive(&[("SUBSET01", &files, Some(&masked))])).unwrap();
    let document = &report.imported[0];
    assert!(document.hidden, "MASQUE_PS: hidden from professionals");
    assert_eq!(
        document.confidentiality.code(),
        "R",
        "the HL7 code still read"
    );
}
