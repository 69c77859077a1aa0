//! What a document's coded entries say ([`carnet_cda::Finding`]: laboratory results,
//! vaccinations, allergies, treatments), offered to the medical profile as the FHIR R4
//! resources it keeps — Observation, Immunization, AllergyIntolerance, MedicationStatement —
//! each with the document as its source (`derivedFrom` where FHIR has it, and a
//! `source-document` extension on all). Nothing reaches the profile unless the person asks
//! for that finding ([`Record::add_finding`]); asking twice keeps one entry.

use carnet_cda::{Code, Finding, Quantity, ResultValue, Timestamp};
use serde_json::{Value, json};

use crate::document::Document;
use crate::error::{RecordError, Result};
use crate::model::system_of_oid;
use crate::profile::{PATIENT_REFERENCE, PROFILE, ProfileItem, ProfileKind, set};
use crate::record::Record;

/// The extension naming the document a profile entry was taken from.
pub const SOURCE_DOCUMENT_EXTENSION: &str =
    "https://carnet.invalid/fhir/StructureDefinition/source-document";
const UCUM: &str = "http://unitsofmeasure.org";

/// A finding of a document, as the profile would keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedFinding {
    /// Its place among the document's findings (what [`Record::add_finding`] takes).
    pub index: u32,
    /// Which part of the profile it would go to.
    pub kind: ProfileKind,
    /// One line for a person (`Thyréostimuline: 1.95 m[IU]/L (0.27–4.2), Normal`).
    pub summary: String,
    /// The FHIR R4 resource it would become.
    pub resource: Value,
    /// Whether the person already added it to the profile.
    pub in_profile: bool,
}

impl Record {
    /// The findings of document `id` (read from it by the caller, [`carnet_cda::findings`])
    /// as the profile would keep them; nothing is written.
    pub fn offer_findings(&self, id: &str, findings: &[Finding]) -> Result<Vec<OfferedFinding>> {
        let document = self.document(id)?;
        let kept = self.store.read(|r| r.list::<ProfileItem>(PROFILE))?;
        findings
            .iter()
            .enumerate()
            .map(|(index, finding)| {
                let index = u32::try_from(index)
                    .map_err(|_| RecordError::InvalidInput("too many findings".into()))?;
                let (kind, mut resource) = resource_of(finding, &document);
                let entry_id = entry_id(&document, index);
                // As the profile would keep it: typed and under its id.
                set(&mut resource, "resourceType", json!(kind.resource_type()));
                set(&mut resource, "id", json!(entry_id));
                Ok(OfferedFinding {
                    index,
                    kind,
                    summary: summary_of(finding),
                    resource,
                    in_profile: kept.iter().any(|(kept_id, _)| *kept_id == entry_id),
                })
            })
            .collect()
    }

    /// Adds finding `index` of document `id` to the profile, as the person asked: the FHIR
    /// resource [`Record::offer_findings`] shows, under an id of its own for that finding
    /// (asked again, the same entry is written again, not a second one). Queued for the
    /// health space as any profile change.
    pub fn add_finding(&self, id: &str, findings: &[Finding], index: u32) -> Result<ProfileItem> {
        let document = self.document(id)?;
        if document.addressee.is_apart() {
            return Err(RecordError::InvalidInput(
                "the document is kept apart as not for this person: its findings are not theirs"
                    .into(),
            ));
        }
        let finding = usize::try_from(index)
            .ok()
            .and_then(|i| findings.get(i))
            .ok_or(RecordError::NotFound("finding"))?;
        let (kind, resource) = resource_of(finding, &document);
        self.put_profile_resource(kind, &entry_id(&document, index), resource)
    }
}

/// The profile id of finding `index` of `document`.
fn entry_id(document: &Document, index: u32) -> String {
    let short: String = document.id.chars().take(40).collect();
    format!("cda-{short}-{index}")
}

/// The FHIR system of a code system OID: the terminologies a finding's codes come from by
/// their FHIR URIs, the others as [`system_of_oid`] names them.
fn system_of(oid: Option<&str>) -> String {
    match oid {
        Some("2.16.840.1.113883.6.96") => "http://snomed.info/sct".to_owned(),
        Some("2.16.840.1.113883.6.73") => "http://www.whocc.no/atc".to_owned(),
        Some("2.16.840.1.113883.5.83") => {
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation".to_owned()
        }
        Some(oid) => system_of_oid(oid),
        None => "urn:ietf:rfc:3986".to_owned(),
    }
}

/// A CodeableConcept of a code, with `text` when a name is known.
fn concept(code: Option<&Code>, text: Option<&str>) -> Value {
    let mut concept = json!({});
    if let Some(code) = code {
        let mut coding = json!({ "system": system_of(code.system.as_deref()), "code": code.code });
        if let Some(display) = &code.display {
            set(&mut coding, "display", json!(display));
        }
        set(&mut concept, "coding", json!([coding]));
    }
    if let Some(text) = text.or_else(|| code.and_then(|c| c.display.as_deref())) {
        set(&mut concept, "text", json!(text));
    }
    concept
}

/// A FHIR Quantity (UCUM) of a CDA `PQ`; `None` when the decimal does not read.
fn quantity(q: &Quantity) -> Option<Value> {
    let value: f64 = q
        .value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())?;
    let mut quantity = json!({ "value": value });
    if let Some(unit) = &q.unit {
        set(&mut quantity, "unit", json!(unit));
        set(&mut quantity, "system", json!(UCUM));
        set(&mut quantity, "code", json!(unit));
    }
    Some(quantity)
}

fn date_time(time: Option<&Timestamp>) -> Option<String> {
    time.and_then(Timestamp::fhir_date_time)
}

/// The profile kind and FHIR R4 resource of a finding of `document`.
fn resource_of(finding: &Finding, document: &Document) -> (ProfileKind, Value) {
    let patient = json!({ "reference": PATIENT_REFERENCE });
    let source = json!({ "reference": format!("DocumentReference/{}", document.id), "display": document.title });
    let (kind, mut resource) = match finding {
        Finding::LabResult(result) => {
            let mut resource = json!({
                "status": "final",
                "category": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                }]}],
                "code": concept(Some(&result.code), None),
                "subject": patient,
                "derivedFrom": [source.clone()],
            });
            if let Some(when) = date_time(result.time.as_ref()) {
                set(&mut resource, "effectiveDateTime", json!(when));
            }
            match &result.value {
                Some(ResultValue::Quantity(q)) => match quantity(q) {
                    Some(value) => set(&mut resource, "valueQuantity", value),
                    None => set(&mut resource, "valueString", json!(q.value)),
                },
                Some(ResultValue::Coded(code)) => {
                    set(
                        &mut resource,
                        "valueCodeableConcept",
                        concept(Some(code), None),
                    );
                }
                Some(ResultValue::Text(text)) => set(&mut resource, "valueString", json!(text)),
                None => {}
            }
            if let Some(interpretation) = &result.interpretation {
                set(
                    &mut resource,
                    "interpretation",
                    json!([concept(Some(interpretation), None)]),
                );
            }
            if let Some(range) = &result.range {
                let mut fhir = json!({});
                if let Some(low) = range.low.as_ref().and_then(quantity) {
                    set(&mut fhir, "low", low);
                }
                if let Some(high) = range.high.as_ref().and_then(quantity) {
                    set(&mut fhir, "high", high);
                }
                if let Some(text) = &range.text {
                    set(&mut fhir, "text", json!(text));
                }
                if fhir.as_object().is_some_and(|o| !o.is_empty()) {
                    set(&mut resource, "referenceRange", json!([fhir]));
                }
            }
            (ProfileKind::Observation, resource)
        }
        Finding::Vaccination(vaccination) => {
            let mut resource = json!({
                "status": "completed",
                "vaccineCode": concept(vaccination.vaccine.as_ref(), vaccination.name.as_deref()),
                "patient": patient,
                "primarySource": false,
            });
            match date_time(vaccination.time.as_ref()) {
                Some(when) => set(&mut resource, "occurrenceDateTime", json!(when)),
                None => set(&mut resource, "occurrenceString", json!("date inconnue")),
            }
            if let Some(lot) = &vaccination.lot {
                set(&mut resource, "lotNumber", json!(lot));
            }
            (ProfileKind::Immunization, resource)
        }
        Finding::Allergy(allergy) => {
            let mut resource = json!({
                "clinicalStatus": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }]},
                "code": concept(allergy.agent.as_ref(), allergy.name.as_deref()),
                "patient": patient,
            });
            if let Some(since) = date_time(allergy.since.as_ref()) {
                set(&mut resource, "onsetDateTime", json!(since));
            }
            (ProfileKind::Allergy, resource)
        }
        Finding::Treatment(treatment) => {
            let mut resource = json!({
                "status": "active",
                "medicationCodeableConcept": concept(treatment.medication.as_ref(), treatment.name.as_deref()),
                "subject": patient,
                "derivedFrom": [source.clone()],
            });
            if let Some(since) = date_time(treatment.since.as_ref()) {
                set(&mut resource, "effectivePeriod", json!({ "start": since }));
            }
            if let Some(dose) = treatment.dose.as_ref().and_then(quantity) {
                set(
                    &mut resource,
                    "dosage",
                    json!([{ "doseAndRate": [{ "doseQuantity": dose }] }]),
                );
            }
            (ProfileKind::Medication, resource)
        }
    };
    set(
        &mut resource,
        "extension",
        json!([{ "url": SOURCE_DOCUMENT_EXTENSION, "valueReference": source }]),
    );
    (kind, resource)
}

/// One line for a person.
fn summary_of(finding: &Finding) -> String {
    let named = |code: Option<&Code>, name: Option<&str>| {
        name.or_else(|| code.and_then(|c| c.display.as_deref()))
            .or_else(|| code.map(|c| c.code.as_str()))
            .unwrap_or("?")
            .to_owned()
    };
    let amount = |q: &Quantity| match &q.unit {
        Some(unit) => format!("{} {unit}", q.value),
        None => q.value.clone(),
    };
    let when = |time: Option<&Timestamp>| {
        date_time(time)
            .map(|t| format!(", {}", t.get(..10).unwrap_or(&t)))
            .unwrap_or_default()
    };
    match finding {
        Finding::LabResult(result) => {
            let mut line = named(Some(&result.code), None);
            match &result.value {
                Some(ResultValue::Quantity(q)) => line.push_str(&format!(": {}", amount(q))),
                Some(ResultValue::Coded(code)) => {
                    line.push_str(&format!(": {}", named(Some(code), None)));
                }
                Some(ResultValue::Text(text)) => line.push_str(&format!(": {text}")),
                None => {}
            }
            if let Some(range) = &result.range {
                let bound =
                    |q: &Option<Quantity>| q.as_ref().map(|q| q.value.clone()).unwrap_or_default();
                match &range.text {
                    Some(text) => line.push_str(&format!(" ({text})")),
                    None => {
                        line.push_str(&format!(" ({}–{})", bound(&range.low), bound(&range.high)))
                    }
                }
            }
            if let Some(interpretation) = &result.interpretation {
                line.push_str(&format!(", {}", named(Some(interpretation), None)));
            }
            line.push_str(&when(result.time.as_ref()));
            line
        }
        Finding::Vaccination(v) => format!(
            "vaccination: {}{}",
            named(v.vaccine.as_ref(), v.name.as_deref()),
            when(v.time.as_ref())
        ),
        Finding::Allergy(a) => format!("allergy: {}", named(a.agent.as_ref(), a.name.as_deref())),
        Finding::Treatment(t) => format!(
            "treatment: {}",
            named(t.medication.as_ref(), t.name.as_deref())
        ),
    }
}
