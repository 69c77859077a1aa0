//! METADATA.XML read as producers write it, written and read back, and refused when hostile.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use carnet_xdm::{
    Author, Code, DocumentEntry, Limits, PatientId, Person, Submission, SubmissionSet, XdmError,
    read_metadata, write_metadata,
};

/// A subset as a French hospital's MSSanté software writes one: ebRIM 3.0 in a default
/// namespace (no `rim:` prefix), a level-1 CDA report for the ANS test patient.
const HOSPITAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
    xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
  <RegistryObjectList>
    <ExtrinsicObject id="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" mimeType="text/xml"
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1" status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved">
      <Slot name="creationTime"><ValueList><Value>20210104150527</Value></ValueList></Slot>
      <Slot name="hash"><ValueList><Value>DA39A3EE5E6B4B0D3255BFEF95601890AFD80709</Value></ValueList></Slot>
      <Slot name="languageCode"><ValueList><Value>fr-FR</Value></ValueList></Slot>
      <Slot name="serviceStartTime"><ValueList><Value>20210104</Value></ValueList></Slot>
      <Slot name="size"><ValueList><Value>0</Value></ValueList></Slot>
      <Slot name="sourcePatientId"><ValueList><Value>1234567890121^^^&amp;1.2.3.4.567.8.9.10&amp;ISO</Value></ValueList></Slot>
      <Slot name="URI"><ValueList><Value>DOC0001.XML</Value></ValueList></Slot>
      <Name><LocalizedString charset="UTF-8" value="Compte rendu d'examens biologiques"/></Name>
      <Description><LocalizedString value="Bilan &#233;tabli &amp; valid&#xE9;"/></Description>
      <Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-a" nodeRepresentation="">
        <Slot name="authorPerson"><ValueList><Value>801234567897^CAMPARINI^Marcel^^^M^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS</Value></ValueList></Slot>
        <Slot name="authorInstitution"><ValueList><Value>Laboratoire des charmes^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^3123456789</Value></ValueList></Slot>
        <Slot name="authorRole"><ValueList><Value>ODONTOLOGUE^^^&amp;1.2.250.1.213.1.1.4.6&amp;ISO</Value></ValueList></Slot>
        <Slot name="authorSpecialty"><ValueList><Value>SM26^Biologie^1.2.250.1.71.4.2.5</Value></ValueList></Slot>
      </Classification>
      <Classification classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-b" nodeRepresentation="10">
        <Slot name="codingScheme"><ValueList><Value>1.2.250.1.213.1.1.4.1</Value></ValueList></Slot>
        <Name><LocalizedString value="Compte rendu"/></Name>
      </Classification>
      <Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-c" nodeRepresentation="N">
        <Slot name="codingScheme"><ValueList><Value>2.16.840.1.113883.5.25</Value></ValueList></Slot>
        <Name><LocalizedString value="Normal"/></Name>
      </Classification>
      <Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-d" nodeRepresentation="MASQUE_PS">
        <Slot name="codingScheme"><ValueList><Value>1.2.250.1.213.1.1.4.13</Value></ValueList></Slot>
        <Name><LocalizedString value="Masqué aux professionnels de santé"/></Name>
      </Classification>
      <Classification classificationScheme="urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-e" nodeRepresentation="urn:ihe:iti:xds-sd:pdf:2008">
        <Slot name="codingScheme"><ValueList><Value>1.3.6.1.4.1.19376.1.2.3</Value></ValueList></Slot>
        <Name><LocalizedString value="Document à corps non structuré en Pdf/A-1"/></Name>
      </Classification>
      <Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
          classifiedObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001" id="cl-f" nodeRepresentation="11502-2">
        <Slot name="codingScheme"><ValueList><Value>2.16.840.1.113883.6.1</Value></ValueList></Slot>
        <Name><LocalizedString value="CR d'examens biologiques"/></Name>
      </Classification>
      <ExternalIdentifier id="ei-a" registryObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001"
          identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
          value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH">
        <Name><LocalizedString value="XDSDocumentEntry.patientId"/></Name>
      </ExternalIdentifier>
      <ExternalIdentifier id="ei-b" registryObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001"
          identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
          value="1.2.250.1.213.1.1.1.55.2021.3.1">
        <Name><LocalizedString value="XDSDocumentEntry.uniqueId"/></Name>
      </ExternalIdentifier>
    </ExtrinsicObject>
    <RegistryPackage id="SubmissionSet01">
      <Slot name="submissionTime"><ValueList><Value>20210104160000</Value></ValueList></Slot>
      <Name><LocalizedString value="Résultats du laboratoire"/></Name>
      <Classification classificationScheme="urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
          classifiedObject="SubmissionSet01" id="cl-g" nodeRepresentation="">
        <Slot name="authorPerson"><ValueList><Value>801234567897^CAMPARINI^Marcel^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO</Value></ValueList></Slot>
      </Classification>
      <Classification classificationScheme="urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
          classifiedObject="SubmissionSet01" id="cl-h" nodeRepresentation="04">
        <Slot name="codingScheme"><ValueList><Value>1.2.250.1.213.1.1.4.12</Value></ValueList></Slot>
        <Name><LocalizedString value="Hospitalisation de jour"/></Name>
      </Classification>
      <ExternalIdentifier id="ei-c" registryObject="SubmissionSet01"
          identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
          value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"/>
      <ExternalIdentifier id="ei-d" registryObject="SubmissionSet01"
          identificationScheme="urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832" value="1.2.250.1.213.1.1.1.55"/>
      <ExternalIdentifier id="ei-e" registryObject="SubmissionSet01"
          identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" value="1.2.250.1.213.1.1.1.55.2021.3.99"/>
    </RegistryPackage>
    <Classification id="cl-i" classifiedObject="SubmissionSet01"
        classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>
    <Association id="as-a" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
        sourceObject="SubmissionSet01" targetObject="urn:uuid:0b7f3a5e-1111-4c1e-9a55-5e2c3c4d0001">
      <Slot name="SubmissionSetStatus"><ValueList><Value>Original</Value></ValueList></Slot>
    </Association>
  </RegistryObjectList>
</lcm:SubmitObjectsRequest>
"#;

fn read(xml: &str) -> Result<Submission, XdmError> {
    read_metadata(xml.as_bytes(), &Limits::default())
}

#[test]
fn a_hospitals_subset_reads_whole() {
    let submission = read(HOSPITAL).unwrap();
    let set = submission.set.as_ref().unwrap();
    assert_eq!(set.entry_id, "SubmissionSet01");
    assert_eq!(
        set.unique_id.as_deref(),
        Some("1.2.250.1.213.1.1.1.55.2021.3.99")
    );
    assert_eq!(set.source_id.as_deref(), Some("1.2.250.1.213.1.1.1.55"));
    assert_eq!(set.submission_time.as_deref(), Some("20210104160000"));
    assert_eq!(set.title.as_deref(), Some("Résultats du laboratoire"));
    assert_eq!(set.content_type.as_ref().unwrap().code, "04");
    assert_eq!(
        set.authors[0].person.as_ref().unwrap().rpps(),
        Some("01234567897")
    );
    let [document] = submission.documents.as_slice() else {
        panic!("{:?}", submission.documents)
    };
    assert_eq!(document.unique_id, "1.2.250.1.213.1.1.1.55.2021.3.1");
    assert_eq!(document.mime_type, "text/xml");
    assert_eq!(document.uri, "DOC0001.XML");
    assert_eq!(
        document.hash.as_deref(),
        Some("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        "hex, lower case"
    );
    assert_eq!(document.size, Some(0));
    assert_eq!(
        document.title.as_deref(),
        Some("Compte rendu d'examens biologiques")
    );
    assert_eq!(document.comments.as_deref(), Some("Bilan établi & validé"));
    assert_eq!(document.creation_time.as_deref(), Some("20210104150527"));
    assert_eq!(document.language.as_deref(), Some("fr-FR"));
    assert_eq!(
        document.type_code,
        Some(Code {
            code: "11502-2".into(),
            scheme: Some("2.16.840.1.113883.6.1".into()),
            display: Some("CR d'examens biologiques".into()),
        })
    );
    assert_eq!(document.class_code.as_ref().unwrap().code, "10");
    assert_eq!(
        document.format_code.as_ref().unwrap().code,
        "urn:ihe:iti:xds-sd:pdf:2008"
    );
    let confidentiality: Vec<&str> = document
        .confidentiality
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(confidentiality, ["N", "MASQUE_PS"]);
    let author = &document.authors[0];
    let person = author.person.as_ref().unwrap();
    assert_eq!(person.name(), "Marcel CAMPARINI");
    assert_eq!(person.rpps(), Some("01234567897"));
    assert_eq!(author.institutions.len(), 1);
    assert_eq!(author.specialties, ["SM26^Biologie^1.2.250.1.71.4.2.5"]);
    assert_eq!(
        document.patient_id,
        Some(PatientId {
            id: "279035121518989".into(),
            authority: Some("1.2.250.1.213.1.4.10".into()),
        })
    );
    assert_eq!(
        document.source_patient_id.as_ref().unwrap().id,
        "1234567890121"
    );
    assert_eq!(document.service_start_time.as_deref(), Some("20210104"));
}

fn entry(n: u32, title: &str) -> DocumentEntry {
    DocumentEntry {
        entry_id: format!("Document{n:02}"),
        unique_id: format!("2.25.{n}"),
        mime_type: "application/pdf".into(),
        uri: format!("DOC{n:04}.PDF"),
        hash: Some("0123456789abcdef0123456789abcdef01234567".into()),
        size: Some(1234),
        title: Some(title.into()),
        creation_time: Some("20261201093000".into()),
        type_code: Some(Code {
            code: "11502-2".into(),
            scheme: Some("2.16.840.1.113883.6.1".into()),
            display: Some("CR d'examens biologiques".into()),
        }),
        confidentiality: vec![Code {
            code: "N".into(),
            scheme: Some("2.16.840.1.113883.5.25".into()),
            display: Some("Normal".into()),
        }],
        authors: vec![Author {
            person: Some(Person {
                id: Some("810003456789".into()),
                family: Some("Curie".into()),
                given: Some("Marie".into()),
                authority: Some("1.2.250.1.71.4.2.1".into()),
            }),
            ..Author::default()
        }],
        patient_id: Some(PatientId {
            id: "253072B07300470".into(),
            authority: Some("1.2.250.1.213.1.4.8".into()),
        }),
        ..DocumentEntry::default()
    }
}

#[test]
fn what_is_written_reads_back_the_same() {
    let written = Submission {
        set: Some(SubmissionSet {
            entry_id: "SubmissionSet01".into(),
            unique_id: Some("2.25.99".into()),
            source_id: Some("2.25.1".into()),
            patient_id: Some(PatientId {
                id: "253072B07300470".into(),
                authority: Some("1.2.250.1.213.1.4.8".into()),
            }),
            submission_time: Some("20261202100000".into()),
            title: Some("Pour le Dr Curie".into()),
            ..SubmissionSet::default()
        }),
        documents: vec![
            entry(1, "Bilan <sanguin> & \"thyroïde\""),
            entry(2, "Ordonnance"),
        ],
    };
    let xml = write_metadata(&written);
    let text = String::from_utf8(xml.clone()).unwrap();
    assert!(
        text.contains("Bilan &lt;sanguin&gt; &amp; &quot;thyroïde&quot;"),
        "{text}"
    );
    assert_eq!(
        read_metadata(xml.as_slice(), &Limits::default()).unwrap(),
        written
    );
}

#[test]
fn a_long_uri_split_in_parts_is_put_back_together() {
    let xml = HOSPITAL.replace(
        "<Slot name=\"URI\"><ValueList><Value>DOC0001.XML</Value></ValueList></Slot>",
        "<Slot name=\"URI\"><ValueList><Value>2|01.XML</Value><Value>1|DOC00</Value></ValueList></Slot>",
    );
    assert_eq!(read(&xml).unwrap().documents[0].uri, "DOC0001.XML");
}

#[test]
fn entries_missing_what_they_must_have_are_refused_in_words() {
    for (from, to, expected) in [
        (
            "identificationScheme=\"urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab\"",
            "identificationScheme=\"x\"",
            "has no uniqueId",
        ),
        ("<Slot name=\"URI\">", "<Slot name=\"url\">", "has no URI"),
        ("mimeType=\"text/xml\"", "", "has no mimeType"),
        ("<Value>0</Value>", "<Value>-3</Value>", "size of"),
        (
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            "not-a-hash",
            "not a SHA-1",
        ),
        (
            "objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\"",
            "objectType=\"urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248\"",
            "not a document on the media",
        ),
    ] {
        let xml = HOSPITAL.replacen(from, to, 1);
        assert_ne!(xml, HOSPITAL, "{from}");
        let error = read(&xml).unwrap_err();
        assert_eq!(error.code(), "xdm.entry", "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn two_entries_with_one_unique_id_are_refused() {
    let one = Submission {
        set: None,
        documents: vec![
            entry(1, "a"),
            DocumentEntry {
                entry_id: "Document02".into(),
                ..entry(1, "b")
            },
        ],
    };
    let error = read_metadata(write_metadata(&one).as_slice(), &Limits::default()).unwrap_err();
    assert!(
        error.to_string().contains("two entries have the unique id"),
        "{error}"
    );
}

#[test]
fn hostile_metadata_is_refused_with_a_typed_error() {
    let laughs = format!(
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{}",
        HOSPITAL
            .replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "", 1)
            .replacen("Compte rendu d'examens", "&lol2;", 1)
    );
    let external = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><lcm:SubmitObjectsRequest xmlns:lcm=\"l\">&x;</lcm:SubmitObjectsRequest>";
    for xml in [laughs.as_str(), external] {
        let error = read(xml).unwrap_err();
        assert!(
            matches!(&error, XdmError::Xml(carnet_cda::CdaError::Dtd)),
            "{error}"
        );
        assert_eq!(error.code(), "xdm.xml");
    }
    let undeclared = HOSPITAL.replacen("Compte rendu d'examens", "&x;", 1);
    assert!(read(&undeclared).unwrap_err().to_string().contains("&x;"));
    let deep = format!("<SubmitObjectsRequest>{}", "<a>".repeat(100_000));
    assert!(matches!(
        read(&deep).unwrap_err(),
        XdmError::Xml(carnet_cda::CdaError::TooLarge { .. })
    ));
    let not_xdm = "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>";
    assert_eq!(read(not_xdm).unwrap_err().code(), "xdm.not_submission");
    assert_eq!(
        read("<SubmitObjectsRequest><a>").unwrap_err().code(),
        "xdm.xml"
    );
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><SubmitObjectsRequest/>";
    assert_eq!(
        read_metadata(&latin1[..], &Limits::default())
            .unwrap_err()
            .code(),
        "xdm.xml"
    );
    // Past the counts: documents and values.
    let limits = Limits {
        max_documents: 1,
        ..Limits::default()
    };
    let two = Submission {
        set: None,
        documents: vec![entry(1, "a"), entry(2, "b")],
    };
    assert_eq!(
        read_metadata(write_metadata(&two).as_slice(), &limits).unwrap_err(),
        XdmError::TooMany("documents")
    );
    let many_values = HOSPITAL.replacen(
        "<Value>fr-FR</Value>",
        &"<Value>fr-FR</Value>".repeat(65),
        1,
    );
    assert_eq!(
        read(&many_values).unwrap_err(),
        XdmError::TooMany("values in one slot")
    );
    let long_value = HOSPITAL.replacen(
        "<Value>fr-FR</Value>",
        &format!("<Value>{}</Value>", "x".repeat(5000)),
        1,
    );
    assert_eq!(
        read(&long_value).unwrap_err(),
        XdmError::TooMany("characters in one value")
    );
    // /dev/zero: NUL bytes are not XML, and the reader stops at the size limit anyway.
    let zeros = std::fs::File::open("/dev/zero").unwrap();
    let error = read_metadata(std::io::BufReader::new(zeros), &Limits::default()).unwrap_err();
    assert_eq!(error.code(), "xdm.xml", "{error}");
}
