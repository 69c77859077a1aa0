//! Every example CDA document of the ANS (`fixtures/cda`) is read: its header, and its body —
//! the embedded file of a level-1 document decoded to a file of the declared type, the
//! section titles of a level-3 one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::BufReader;
use std::path::{Path, PathBuf};

use carnet_cda::{Body, Cda, Limits, read};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    paths
}

fn read_example(path: &Path) -> (Cda, Vec<u8>) {
    let mut embedded = Vec::new();
    let file = std::fs::File::open(path).unwrap();
    let cda = read(BufReader::new(file), &mut embedded, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (cda, embedded)
}

/// Title, type code, creation time, first author's national identifier and patient INS,
/// written down from the XML (read by another parser, Python's ElementTree).
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (&'static str, &'static str),
);

#[rustfmt::skip]
const EXPECTED: [Expected; 13] = [
    ("BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml", "Compte rendu d'examens biologiques", "11502-2", "20210104160527+0100", "801234534765", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("DOC_NON_STRUCTURE_CDA-R2-N1.xml", "Compte rendu d'examens biologiques", "11502-2", "20210401134745+0100", "801234534765", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml", "CR d\u{2019}imagerie médicale - Scanner Tête + Cou + Thorax avec injection", "18748-4", "20210108111700+0100", "801234560801", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("VAC_2023.01.xml", "Historique de vaccinations", "11369-6", "20210409170000+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("VAC-NOTE_2023.01.xml", "NOTE DE VACCINATION", "87273-9", "20210409153500+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("BIO-CR-BIO_2024.01_TSH_1.xml", "Compte rendu d'examens biologiques", "11502-2", "20210401171000+0100", "801234534765", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("LDL-EES_2022.01.xml", "Lettre de liaison à l'entrée en établissement de santé", "18761-7", "20191029111700+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("CSE-CS24_2024.01.xml", "TROISIEME CERTIFICAT DE SANTE (à établir obligatoirement au cours du 24ème mois)", "CERT_DECL", "20210803113623+0100", "801234567897", ("1.2.250.1.213.1.4.8", "221042545611404")),
    ("OBP-SNE_2024.01.xml", "Synthèse Salle de Naissance Enfant", "57075-4", "20230425111700+0100", "801234567897", ("1.2.250.1.213.1.4.8", "223042545611404")),
    ("eP-MED-DM_2024.01_PosoStruct.xml", "Prescription de médicaments et/ou de dispositifs médicaux", "57833-6", "20231201093000+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("BIO-TROD_2024.01_COVID-19.xml", "Test rapide d'orientation diagnostique : TROD Covid-19", "96173-0", "20240106113623+0100", "807655473259", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("IPS-FR_2024.01_DLU.xml", "SYNTHESE MEDICALE", "74207-2", "20240402111700+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
    ("CANCER-PPS_2022.01_Autopresentable.xml", "PROGRAMME PERSONNALISÉ DE SOINS EN CANCEROLOGIE", "18776-5", "20210113121700+0100", "801234567897", ("1.2.250.1.213.1.4.10", "279035121518989")),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/cda")
        .join(name)
}

#[test]
fn headers_say_what_the_xml_says() {
    for (name, title, type_code, created, national_id, (ins_root, ins)) in EXPECTED {
        let (cda, _) = read_example(&fixture(name));
        let header = &cda.header;
        assert_eq!(header.title.as_deref(), Some(title), "{name}");
        let code = header.type_code.as_ref().map(|c| c.code.as_str());
        assert_eq!(code, Some(type_code), "{name}");
        let time = header.created.as_ref().unwrap();
        assert_eq!(time.text, created, "{name}");
        assert_eq!(time.offset_minutes, Some(60), "{name}");
        let author = &header.authors[0];
        assert_eq!(author.national_id(), Some(national_id), "{name}");
        assert_eq!(author.rpps(), national_id.strip_prefix('8'), "{name}");
        let id = header.patient.ins().unwrap();
        let found = (id.root.as_str(), id.extension.as_deref());
        assert_eq!(found, (ins_root, Some(ins)), "{name}");
    }
    // One header in full.
    let (cda, _) = read_example(&fixture("BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml"));
    let header = cda.header;
    let patient = &header.patient;
    assert_eq!(patient.birth_name.as_deref(), Some("PAT-TROIS"));
    assert_eq!(
        patient.given_names.as_deref(),
        Some("DOMINIQUE MARIE-LOUISE")
    );
    assert_eq!(patient.first_given_name.as_deref(), Some("DOMINIQUE"));
    assert_eq!(patient.sex.as_deref(), Some("F"));
    assert_eq!(patient.birth_date.as_deref(), Some("19790328"));
    assert_eq!(patient.birth_place.as_deref(), Some("51215"));
    assert_eq!(patient.display_name(), "DOMINIQUE PAT-TROIS");
    let set_id = header.set_id.as_ref().map(|i| i.root.as_str());
    assert_eq!(set_id, Some("1.2.250.1.213.1.1.1.55.2021.3"));
    assert_eq!(header.version, Some(1));
    assert_eq!(header.confidentiality.as_deref(), Some("N"));
    assert_eq!(header.language.as_deref(), Some("fr-FR"));
    assert_eq!(header.custodian.as_deref(), Some("Laboratoire des charmes"));
    let author = &header.authors[0];
    assert_eq!(author.name.as_ref().unwrap().full(), "M Marcel CAMPARINI");
    assert_eq!(
        author.organisation.as_deref(),
        Some("Laboratoire des charmes")
    );
    let role = author.role.as_ref().and_then(|r| r.display.as_deref());
    assert_eq!(role, Some("Médecin - Biologie médicale (SM)"));
    assert_eq!(header.created.unwrap().unix_millis, Some(1_609_772_727_000));
}

/// The base64 text of a level-1 body, found by plain text search and decoded whole.
fn embedded_by_hand(xml: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body = &xml[xml.find("<nonXMLBody").unwrap()..];
    let start = body.find("<text").unwrap();
    let start = start + body[start..].find('>').unwrap() + 1;
    let end = body.find("</text>").unwrap();
    let text: String = body[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn every_example_is_read() {
    let paths = examples();
    assert_eq!(paths.len(), 63);
    let (mut unstructured, mut structured) = (0, 0);
    for path in &paths {
        let (cda, embedded) = read_example(path);
        let name = path.file_name().unwrap().to_string_lossy();
        let header = &cda.header;
        assert!(header.title.is_some(), "{name}: no title");
        assert!(header.type_code.is_some(), "{name}: no type");
        assert!(
            header
                .created
                .as_ref()
                .and_then(|t| t.unix_millis)
                .is_some(),
            "{name}: no date"
        );
        assert!(header.patient.ins().is_some(), "{name}: no INS");
        assert!(!header.authors.is_empty(), "{name}: no author");
        match &cda.body {
            Body::Unstructured { media_type, size } => {
                unstructured += 1;
                assert_eq!(media_type, "application/pdf", "{name}");
                assert!(embedded.starts_with(b"%PDF-"), "{name}: not a PDF");
                let tail = &embedded[embedded.len().saturating_sub(1024)..];
                assert!(
                    tail.windows(5).any(|w| w == b"%%EOF"),
                    "{name}: PDF cut short"
                );
                assert_eq!(*size, embedded.len() as u64, "{name}");
                let xml = std::fs::read_to_string(path).unwrap();
                assert_eq!(embedded, embedded_by_hand(&xml), "{name}");
            }
            Body::Structured { section_titles } => {
                structured += 1;
                assert!(embedded.is_empty(), "{name}");
                assert!(!section_titles.is_empty(), "{name}: no section title");
            }
            Body::Missing => panic!("{name}: no body"),
        }
    }
    assert_eq!((unstructured, structured), (3, 60));
}
