//! The medical profile as FHIR R4 resources: allergies, treatments, conditions,
//! vaccinations, measures.
//!
//! Resources are kept as JSON (`serde_json::Value`): a FHIR model crate would bring hundreds
//! of generated types and minutes of build for five resource types whose required elements
//! fit in [`ProfileKind::required_elements`]. The Bundle test checks them with a real FHIR
//! library (Python `fhir.resources`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{RecordError, Result};
use crate::model::{Coding, check_fhir_id};
use crate::outbox::{OUTBOX, PendingWrite};
use crate::record::{MAX_SHORT_TEXT, Record, check_text, format_instant};
use crate::store::Writer;

/// Item kind of profile entries.
pub(crate) const PROFILE: &str = "profile";
/// Largest resource accepted, serialised, in bytes.
const MAX_RESOURCE_BYTES: usize = 64 * 1024;
/// Reference to the record's owner used in resources.
pub(crate) const PATIENT_REFERENCE: &str = "Patient/self";
/// Code system of the vaccine groups of the French calendar ([`crate::agenda`]).
pub const VACCINE_GROUP_SYSTEM: &str = "https://carnet.invalid/fhir/CodeSystem/vaccine-group";
pub use crate::model::LOINC;
const UCUM: &str = "http://unitsofmeasure.org";

/// The kinds of profile entries, each a FHIR R4 resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// AllergyIntolerance.
    Allergy,
    /// MedicationStatement.
    Medication,
    /// A condition or diagnosis (FHIR `Condition`).
    Condition,
    /// A vaccination given (FHIR `Immunization`).
    Immunization,
    /// Observation (weight, blood pressure, glucose...).
    Observation,
}

impl ProfileKind {
    /// The five kinds, in the order the profile lists them.
    pub const ALL: [ProfileKind; 5] = [
        ProfileKind::Allergy,
        ProfileKind::Medication,
        ProfileKind::Condition,
        ProfileKind::Immunization,
        ProfileKind::Observation,
    ];

    /// The FHIR resource type.
    pub fn resource_type(self) -> &'static str {
        match self {
            ProfileKind::Allergy => "AllergyIntolerance",
            ProfileKind::Medication => "MedicationStatement",
            ProfileKind::Condition => "Condition",
            ProfileKind::Immunization => "Immunization",
            ProfileKind::Observation => "Observation",
        }
    }

    /// The kind of a FHIR resource type.
    pub fn from_resource_type(resource_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.resource_type() == resource_type)
    }

    /// The kind named as the CLI says it (`allergy`, `medication`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        serde_json::from_value(Value::String(name.into())).ok()
    }

    /// Elements FHIR R4 requires (cardinality 1..1) in this resource, each given as the
    /// alternatives that satisfy it (`medication[x]`).
    pub fn required_elements(self) -> &'static [&'static [&'static str]] {
        match self {
            ProfileKind::Allergy => &[&["patient"]],
            ProfileKind::Medication => &[
                &["status"],
                &["medicationCodeableConcept", "medicationReference"],
                &["subject"],
            ],
            ProfileKind::Condition => &[&["subject"]],
            ProfileKind::Immunization => &[
                &["status"],
                &["vaccineCode"],
                &["patient"],
                &["occurrenceDateTime", "occurrenceString"],
            ],
            ProfileKind::Observation => &[&["status"], &["code"]],
        }
    }
}

/// A measure the profile records as an Observation with its LOINC code and UCUM unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasureKind {
    /// Body weight, kg.
    Weight,
    /// Body height, cm.
    Height,
    /// Blood pressure: systolic then diastolic, mm[Hg].
    BloodPressure,
    /// Blood glucose, g/L.
    Glucose,
    /// Heart rate, beats per minute.
    HeartRate,
    /// Body temperature, °C.
    Temperature,
}

impl MeasureKind {
    /// The measure named as the CLI says it (`weight`, `blood-pressure`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "weight" => MeasureKind::Weight,
            "height" => MeasureKind::Height,
            "blood-pressure" => MeasureKind::BloodPressure,
            "glucose" => MeasureKind::Glucose,
            "heart-rate" => MeasureKind::HeartRate,
            "temperature" => MeasureKind::Temperature,
            _ => return None,
        })
    }

    /// LOINC code, display, UCUM unit, and the components' LOINC codes and displays when the
    /// measure has several values.
    fn definition(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    ) {
        match self {
            MeasureKind::Weight => ("29463-7", "Body weight", "kg", &[]),
            MeasureKind::Height => ("8302-2", "Body height", "cm", &[]),
            MeasureKind::BloodPressure => (
                "85354-9",
                "Blood pressure panel with all children optional",
                "mm[Hg]",
                &[
                    ("8480-6", "Systolic blood pressure"),
                    ("8462-4", "Diastolic blood pressure"),
                ],
            ),
            MeasureKind::Glucose => ("2339-0", "Glucose [Mass/volume] in Blood", "g/L", &[]),
            MeasureKind::HeartRate => ("8867-4", "Heart rate", "/min", &[]),
            MeasureKind::Temperature => ("8310-5", "Body temperature", "Cel", &[]),
        }
    }
}

/// What the caller says of a new profile entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewProfileItem {
    /// Free text (the allergen, the medication, the condition, the vaccine...).
    pub text: String,
    /// A code for it, when known (a vaccine group of [`VACCINE_GROUP_SYSTEM`], a LOINC code).
    pub code: Option<Coding>,
    /// When (onset, vaccination, measure), Unix milliseconds; now when absent.
    pub date_millis: Option<i64>,
}

/// A profile entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileItem {
    /// Identifier (also the resource's `id`).
    pub id: String,
    /// Which part of the profile it belongs to.
    pub kind: ProfileKind,
    /// The FHIR R4 resource.
    pub resource: Value,
    /// Version, from 1, incremented by each change.
    pub version: u32,
    /// Last change, Unix milliseconds.
    pub updated_millis: i64,
    /// The health space's version this entry was last in agreement with (none before its
    /// first sync).
    #[serde(default)]
    pub synced_version: Option<i64>,
}

impl ProfileItem {
    /// The entry that follows `previous` (if any) with this content.
    fn next(
        previous: Option<ProfileItem>,
        id: &str,
        kind: ProfileKind,
        resource: Value,
        updated_millis: i64,
        synced_version: Option<i64>,
    ) -> Self {
        ProfileItem {
            id: id.to_owned(),
            kind,
            resource,
            version: previous.map_or(1, |p| p.version + 1),
            updated_millis,
            synced_version,
        }
    }

    /// A one-line summary: the resource's code text or display.
    pub fn summary(&self) -> String {
        let concept = ["code", "medicationCodeableConcept", "vaccineCode"]
            .iter()
            .find_map(|k| self.resource.get(*k));
        let text = concept.and_then(|c| {
            c.get("text")
                .and_then(Value::as_str)
                .or_else(|| c.pointer("/coding/0/display").and_then(Value::as_str))
        });
        let mut summary = text.unwrap_or(self.kind.resource_type()).to_owned();
        if let Some(q) = self.resource.get("valueQuantity") {
            summary.push_str(&format!(
                ": {} {}",
                q.get("value").unwrap_or(&Value::Null),
                q.get("unit").and_then(Value::as_str).unwrap_or("")
            ));
        }
        if let Some(components) = self.resource.get("component").and_then(Value::as_array) {
            let values: Vec<String> = components
                .iter()
                .map(|c| {
                    c.pointer("/valueQuantity/value")
                        .map(Value::to_string)
                        .unwrap_or_default()
                })
                .collect();
            summary.push_str(&format!(": {}", values.join("/")));
        }
        summary
    }
}

impl Record {
    /// Adds a profile entry of `kind` made from `new`.
    pub fn add_profile_item(&self, kind: ProfileKind, new: &NewProfileItem) -> Result<ProfileItem> {
        check_text("text", &new.text, MAX_SHORT_TEXT)?;
        let id = crate::crypto::random_id()?;
        let when = format_instant(new.date_millis.unwrap_or_else(|| self.store.now_millis()));
        let mut concept = json!({ "text": new.text.trim() });
        if let Some(code) = &new.code {
            set(&mut concept, "coding", json!([coding_json(code)]));
        }
        let patient = json!({ "reference": PATIENT_REFERENCE });
        let clinical = |system: &str| json!({ "coding": [{ "system": system, "code": "active" }] });
        let resource = match kind {
            ProfileKind::Allergy => json!({
                "clinicalStatus": clinical("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"),
                "code": concept, "patient": patient, "recordedDate": when,
            }),
            ProfileKind::Medication => json!({
                "status": "active", "medicationCodeableConcept": concept,
                "subject": patient, "dateAsserted": when,
            }),
            ProfileKind::Condition => json!({
                "clinicalStatus": clinical("http://terminology.hl7.org/CodeSystem/condition-clinical"),
                "code": concept, "subject": patient, "recordedDate": when,
            }),
            ProfileKind::Immunization => json!({
                "status": "completed", "vaccineCode": concept, "patient": patient,
                "occurrenceDateTime": when,
            }),
            ProfileKind::Observation => json!({
                "status": "final", "code": concept, "subject": patient,
                "effectiveDateTime": when, "valueString": new.text.trim(),
            }),
        };
        self.put_profile_resource(kind, &id, resource)
    }

    /// Records a measure (`values`: one, or systolic and diastolic for blood pressure).
    pub fn add_measure(
        &self,
        measure: MeasureKind,
        values: &[f64],
        date_millis: Option<i64>,
    ) -> Result<ProfileItem> {
        let (code, display, unit, components) = measure.definition();
        let expected = components.len().max(1);
        if values.len() != expected
            || values
                .iter()
                .any(|v| !v.is_finite() || *v < 0.0 || *v > 100_000.0)
        {
            return Err(RecordError::InvalidInput(format!(
                "this measure takes {expected} value(s), each a plausible number"
            )));
        }
        let quantity =
            |value: f64| json!({ "value": value, "unit": unit, "system": UCUM, "code": unit });
        let loinc = |code: &str, display: &str| json!({ "coding": [{ "system": LOINC, "code": code, "display": display }], "text": display });
        let mut resource = json!({
            "status": "final",
            "category": [{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }]}],
            "code": loinc(code, display),
            "subject": { "reference": PATIENT_REFERENCE },
            "effectiveDateTime": format_instant(date_millis.unwrap_or_else(|| self.store.now_millis())),
        });
        if components.is_empty() {
            set(
                &mut resource,
                "valueQuantity",
                quantity(values.first().copied().unwrap_or_default()),
            );
        } else {
            set(&mut resource, "component", components
                .iter()
                .zip(values)
                .map(|((code, display), value)| json!({ "code": loinc(code, display), "valueQuantity": quantity(*value) }))
                .collect());
        }
        let id = crate::crypto::random_id()?;
        self.put_profile_resource(ProfileKind::Observation, &id, resource)
    }

    /// Adds or replaces a profile entry given as a FHIR R4 resource (from an import, a sync or
    /// a tool). Its type must be one of [`ProfileKind`]'s and its required elements present.
    pub fn put_profile_resource(
        &self,
        kind: ProfileKind,
        id: &str,
        resource: Value,
    ) -> Result<ProfileItem> {
        let resource = check_resource(kind, id, resource)?;
        let now = self.store.now_millis();
        self.store.write(|w| {
            let previous: Option<ProfileItem> = w.reader().get(PROFILE, id)?;
            let pending: Option<PendingWrite> = w.reader().get(OUTBOX, id)?;
            let synced_version = previous.as_ref().and_then(|p| p.synced_version);
            let item = ProfileItem::next(previous, id, kind, resource, now, synced_version);
            w.put(PROFILE, id, &item)?;
            // Queued for the health space, from the version the first unsent edit started at.
            let base_version = pending.map_or(synced_version, |p| p.base_version);
            let write = PendingWrite {
                resource: item.resource.clone(),
                base_version,
                deleted: false,
                updated_millis: now,
            };
            w.put(OUTBOX, id, &write)?;
            Ok(item)
        })
    }

    /// Settles a pushed change with the health space's answer: the entry as the server now
    /// holds it (`server_resource`, `None` for a tombstone) at `server_version`; `won` when the
    /// pushed change became current. A newer local edit made meanwhile stays queued, rebased
    /// on the server's version; otherwise the queue entry goes, and a lost change gives way
    /// to the server's (the loser is in the server's history).
    pub(crate) fn settle_profile_push(
        &self,
        id: &str,
        sent: &PendingWrite,
        server_version: i64,
        server_resource: Option<Value>,
        won: bool,
    ) -> Result<()> {
        let still_queued = self.store.write(|w| {
            let pending: Option<PendingWrite> = w.reader().get(OUTBOX, id)?;
            match pending {
                Some(newer) if &newer != sent => {
                    w.put(
                        OUTBOX,
                        id,
                        &PendingWrite {
                            base_version: Some(server_version),
                            ..newer
                        },
                    )?;
                    Ok(true)
                }
                _ => {
                    w.delete(OUTBOX, id)?;
                    if won && let Some(mut item) = w.reader().get::<ProfileItem>(PROFILE, id)? {
                        item.synced_version = Some(server_version);
                        w.put(PROFILE, id, &item)?;
                    }
                    Ok(false)
                }
            }
        })?;
        if !won && !still_queued {
            self.apply_synced_profile(id, server_resource, server_version)?;
        }
        Ok(())
    }

    /// The profile changes waiting to go up.
    pub(crate) fn pending_profile_writes(&self) -> Result<Vec<(String, PendingWrite)>> {
        self.store.read(|r| r.list(OUTBOX))
    }

    /// Applies an entry as the health space holds it (the answer to a push); see
    /// [`apply_synced_profile`].
    pub(crate) fn apply_synced_profile(
        &self,
        id: &str,
        resource: Option<Value>,
        server_version: i64,
    ) -> Result<bool> {
        let now = self.store.now_millis();
        self.store
            .write(|w| apply_synced_profile(w, id, resource, server_version, now))
    }

    /// Profile entries, of one kind or all, in the order of [`ProfileKind::ALL`] then by date.
    pub fn profile(&self, kind: Option<ProfileKind>) -> Result<Vec<ProfileItem>> {
        let mut items: Vec<ProfileItem> = self
            .store
            .read(|r| r.list(PROFILE))?
            .into_iter()
            .map(|(_, item)| item)
            .filter(|item: &ProfileItem| kind.is_none_or(|k| item.kind == k))
            .collect();
        items.sort_by_key(|i| (i.kind as u8, i.updated_millis));
        Ok(items)
    }

    /// Deletes profile entry `id`.
    pub fn delete_profile_item(&self, id: &str) -> Result<()> {
        let now = self.store.now_millis();
        self.store.write(|w| {
            let item: ProfileItem = w
                .reader()
                .get(PROFILE, id)?
                .ok_or(RecordError::NotFound("profile item"))?;
            let pending: Option<PendingWrite> = w.reader().get(OUTBOX, id)?;
            w.delete(PROFILE, id)?;
            match (item.synced_version, pending) {
                // Never reached the health space: nothing to tell it.
                (None, _) => {
                    w.delete(OUTBOX, id)?;
                }
                (Some(synced), pending) => {
                    let base_version = pending.map_or(Some(synced), |p| p.base_version);
                    let write = PendingWrite {
                        resource: item.resource,
                        base_version,
                        deleted: true,
                        updated_millis: now,
                    };
                    w.put(OUTBOX, id, &write)?;
                }
            }
            Ok(())
        })
    }
}

/// Sets element `name` of a JSON object (does nothing on anything else).
/// Applies an entry as the health space holds it (`None`: a tombstone) inside a write
/// transaction, unless a local change of it is still waiting to go up (the push settles that
/// one) or this version is already here. Returns whether it was applied.
pub(crate) fn apply_synced_profile(
    w: &mut Writer<'_>,
    id: &str,
    resource: Option<Value>,
    server_version: i64,
    now: i64,
) -> Result<bool> {
    if w.reader().get::<PendingWrite>(OUTBOX, id)?.is_some() {
        return Ok(false);
    }
    let previous: Option<ProfileItem> = w.reader().get(PROFILE, id)?;
    if previous
        .as_ref()
        .is_some_and(|p| p.synced_version == Some(server_version))
    {
        // Already this version (this device's own push, coming back in the feed).
        return Ok(false);
    }
    let Some(resource) = resource else {
        return w.delete(PROFILE, id);
    };
    let kind = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(ProfileKind::from_resource_type)
        .ok_or_else(|| RecordError::Sync("a profile item of an unknown type".into()))?;
    let resource = check_resource(kind, id, resource)?;
    let item = ProfileItem::next(previous, id, kind, resource, now, Some(server_version));
    w.put(PROFILE, id, &item)?;
    Ok(true)
}

pub(crate) fn set(object: &mut Value, name: &str, value: Value) {
    if let Some(object) = object.as_object_mut() {
        object.insert(name.to_owned(), value);
    }
}

/// A Coding as FHIR JSON.
pub(crate) fn coding_json(code: &Coding) -> Value {
    let mut coding = json!({ "system": code.system, "code": code.code });
    if let Some(display) = &code.display {
        set(&mut coding, "display", json!(display));
    }
    coding
}

/// Checks a resource of `kind` and sets its `resourceType` and `id`.
pub(crate) fn check_resource(kind: ProfileKind, id: &str, mut resource: Value) -> Result<Value> {
    check_fhir_id(id)?;
    let object = resource
        .as_object_mut()
        .ok_or_else(|| RecordError::InvalidInput("a FHIR resource is a JSON object".into()))?;
    if let Some(declared) = object.get("resourceType").and_then(Value::as_str)
        && declared != kind.resource_type()
    {
        return Err(RecordError::InvalidInput(format!(
            "a {declared} is not a {}",
            kind.resource_type()
        )));
    }
    for alternatives in kind.required_elements() {
        if !alternatives.iter().any(|name| object.contains_key(*name)) {
            return Err(RecordError::InvalidInput(format!(
                "{} requires {}",
                kind.resource_type(),
                alternatives.join(" or ")
            )));
        }
    }
    object.insert("resourceType".into(), json!(kind.resource_type()));
    object.insert("id".into(), json!(id));
    let size = serde_json::to_vec(&resource)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_RESOURCE_BYTES {
        return Err(RecordError::InvalidInput(
            "FHIR resource larger than 64 KiB".into(),
        ));
    }
    Ok(resource)
}
