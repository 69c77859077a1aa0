//! The coded entries of the ANS examples read as findings: laboratory results, vaccinations,
//! allergies and treatments, checked by hand against the XML.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use carnet_cda::{
    Allergy, CdaError, Code, Finding, LabResult, Limits, Quantity, ResultValue, Treatment,
    Vaccination, findings,
};

fn read(name: &str) -> Vec<Finding> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/cda")
        .join(name);
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    findings(file, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn results(name: &str) -> Vec<LabResult> {
    read(name)
        .into_iter()
        .filter_map(|f| match f {
            Finding::LabResult(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn quantity(value: &str, unit: Option<&str>) -> Quantity {
    Quantity {
        value: value.into(),
        unit: unit.map(Into::into),
    }
}

#[test]
fn laboratory_results_carry_code_value_unit_range_and_interpretation() {
    let tsh = results("BIO-CR-BIO_2024.01_TSH_1.xml");
    assert_eq!(tsh.len(), 2);
    assert_eq!(tsh[0].code.code, "3016-3");
    assert_eq!(tsh[0].code.system.as_deref(), Some("2.16.840.1.113883.6.1"));
    assert_eq!(
        tsh[0].value,
        Some(ResultValue::Quantity(quantity("1.950", Some("m[IU]/L"))))
    );
    let range = tsh[0].range.as_ref().unwrap();
    assert_eq!(range.low, Some(quantity("0.270", Some("m[IU]/L"))));
    assert_eq!(range.high, Some(quantity("4.200", Some("m[IU]/L"))));
    assert_eq!(tsh[0].interpretation.as_ref().unwrap().code, "N");
    assert_eq!(tsh[0].time.as_ref().unwrap().text, "20140402145521+0200");
    assert_eq!(tsh[1].code.code, "3024-7");
    assert_eq!(
        tsh[1].value,
        Some(ResultValue::Quantity(quantity("7.67", Some("pg/mL"))))
    );
    assert_eq!(
        tsh[1].interpretation.as_ref().unwrap().display.as_deref(),
        Some("Anormalement bas")
    );
    // The HL7 namespace under a prefix of its own (`c:PQ`), a REAL without unit, a coded result.
    let lipids = results("BIO-CR-BIO_2021.01_Auto-Presentable.xml");
    assert_eq!(lipids.len(), 11);
    assert_eq!(
        (lipids[0].code.code.as_str(), lipids[0].value.clone()),
        (
            "2571-8",
            Some(ResultValue::Quantity(quantity("0.62", Some("g/L"))))
        )
    );
    let inr = results("BIO-CR-BIO_2021.01_CR-2nde-intention.xml");
    assert_eq!(
        (inr[0].code.code.as_str(), inr[0].value.clone()),
        ("6301-6", Some(ResultValue::Quantity(quantity("2.0", None))))
    );
    let covid = results("BIO-TROD_2024.01_COVID-19.xml");
    assert_eq!(
        covid[0].value,
        Some(ResultValue::Coded(Code {
            code: "260385009".into(),
            system: Some("2.16.840.1.113883.6.96".into()),
            display: Some("négatif".into()),
        }))
    );
    assert_eq!(results("BIO-CR-BIO_2024.01_Electrophorese.xml").len(), 44);
}

#[test]
fn vaccinations_allergies_and_treatments_are_read_from_their_entries() {
    let vaccinations: Vec<Vaccination> = read("VAC_2023.01.xml")
        .into_iter()
        .filter_map(|f| match f {
            Finding::Vaccination(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(vaccinations.len(), 4);
    assert_eq!(vaccinations[0].vaccine.as_ref().unwrap().code, "61077869");
    assert_eq!(vaccinations[0].lot.as_deref(), Some("235421176"));
    assert_eq!(vaccinations[0].time.as_ref().unwrap().text, "1975");
    let note = read("VAC-NOTE_2023.01.xml");
    let [Finding::Vaccination(note)] = note.as_slice() else {
        panic!("one vaccination in the note")
    };
    assert_eq!(
        (
            note.lot.as_deref(),
            note.time.as_ref().unwrap().text.as_str()
        ),
        (Some("4456672"), "20090928")
    );
    let allergies: Vec<Allergy> = read("CARD-F-PRC-TAP_2022.01.xml")
        .into_iter()
        .filter_map(|f| match f {
            Finding::Allergy(a) => Some(a),
            _ => None,
        })
        .collect();
    let agent = allergies[0].agent.as_ref().unwrap();
    assert_eq!(
        (agent.code.as_str(), agent.display.as_deref()),
        ("J01MA01", Some("ofloxacine"))
    );
    assert_eq!(allergies[0].since.as_ref().unwrap().text, "20220822");
    let treatments: Vec<Treatment> = read("eP-MED-DM_2024.01_PosoStruct.xml")
        .into_iter()
        .filter_map(|f| match f {
            Finding::Treatment(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(treatments.len(), 1);
    assert_eq!(treatments[0].medication.as_ref().unwrap().code, "63107752");
    assert_eq!(
        treatments[0].name.as_deref(),
        Some("PARACETAMOL MYLAN 500 mg, comprimé")
    );
    // A level-1 document has no coded entries.
    assert!(read("BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml").is_empty());
}

#[test]
fn every_example_reads_and_the_entries_add_up() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda");
    let (mut results, mut vaccinations, mut allergies, mut treatments) = (0, 0, 0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".xml") {
            continue;
        }
        for finding in read(&name) {
            match finding {
                Finding::LabResult(_) => results += 1,
                Finding::Vaccination(_) => vaccinations += 1,
                Finding::Allergy(_) => allergies += 1,
                Finding::Treatment(_) => treatments += 1,
            }
        }
    }
    // Floors under what the examples hold: the four templates appear 165, 84, 12 and 47
    // times in them (grep), some on entries that name no product or agent, some on
    // vaccinations recorded as not given, which are not findings.
    let counted = format!(
        "results {results}, vaccinations {vaccinations}, allergies {allergies}, treatments {treatments}"
    );
    assert!((150..=165).contains(&results), "{counted}");
    assert!((70..=84).contains(&vaccinations), "{counted}");
    assert!((8..=12).contains(&allergies), "{counted}");
    assert!((30..=47).contains(&treatments), "{counted}");
}

#[test]
fn hostile_entries_are_refused_as_the_reader_refuses_them() {
    let dtd = "<!DOCTYPE d [<!ENTITY x 'y'>]><ClinicalDocument/>";
    assert_eq!(
        findings(dtd.as_bytes(), &Limits::default()),
        Err(CdaError::Dtd)
    );
    let long_name = format!(
        "<ClinicalDocument><observation><templateId root=\"1.3.6.1.4.1.19376.1.5.3.1.4.6\"/>\
         <participant><participantRole><playingEntity><name>{}</name></playingEntity>\
         </participantRole></participant></observation></ClinicalDocument>",
        "x".repeat(5000)
    );
    assert!(matches!(
        findings(long_name.as_bytes(), &Limits::default()),
        Err(CdaError::TooLarge { .. })
    ));
}
