//! What a level-3 document's coded entries say that a medical profile keeps: laboratory
//! results, vaccinations, allergies and treatments, found by the IHE templates the CI-SIS
//! profiles use (ITI PCC and PaLM) and read from their coded parts.
//!
//! | entry | template | what is read |
//! |---|---|---|
//! | laboratory result | `1.3.6.1.4.1.19376.1.3.1.6` (PaLM Laboratory Observation) | `code`, `value` (PQ, CD, ST…), `interpretationCode`, `referenceRange`, `effectiveTime` |
//! | vaccination | `1.3.6.1.4.1.19376.1.5.3.1.4.12` (PCC Immunization) | `consumable/…/manufacturedMaterial` code, name, lot; `effectiveTime`; `negationInd` |
//! | allergy | `1.3.6.1.4.1.19376.1.5.3.1.4.6` (PCC Allergy and Intolerance) | `participant/…/playingEntity` code and name, `value` (the kind of reaction), `effectiveTime/low` |
//! | treatment | `1.3.6.1.4.1.19376.1.5.3.1.4.7` (PCC Medication) | `consumable/…/manufacturedMaterial` code and name, `doseQuantity`, `effectiveTime/low` |
//!
//! Each `observation` and `substanceAdministration` is read as a frame of its own (entries
//! nest: a result inside an organizer, a treatment's own observations), and judged by its
//! templates when it closes.

use std::io::BufRead;

use crate::events::{Events, Item, attribute, local_name};
use crate::header::{Code, Timestamp};
use crate::reader::{code_of, time_of};
use crate::{CdaError, Limits};

/// The template of a laboratory result (IHE PaLM Laboratory Observation).
pub const LAB_RESULT_TEMPLATE: &str = "1.3.6.1.4.1.19376.1.3.1.6";
/// The template of a vaccination (IHE PCC Immunization).
pub const VACCINATION_TEMPLATE: &str = "1.3.6.1.4.1.19376.1.5.3.1.4.12";
/// The template of an allergy or intolerance (IHE PCC).
pub const ALLERGY_TEMPLATE: &str = "1.3.6.1.4.1.19376.1.5.3.1.4.6";
/// The template of a treatment (IHE PCC Medication).
pub const TREATMENT_TEMPLATE: &str = "1.3.6.1.4.1.19376.1.5.3.1.4.7";
/// Most findings read from one document.
const MAX_FINDINGS: usize = 10_000;

/// A physical quantity: a decimal as written and its UCUM unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    /// The decimal, as written (`1.950`).
    pub value: String,
    /// The UCUM unit (`m[IU]/L`), when given.
    pub unit: Option<String>,
}

/// What a result says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultValue {
    /// A measured quantity (`PQ`; a `REAL` or `INT`, which has no unit).
    Quantity(Quantity),
    /// A coded result (`CD`, `CE`: positive, a germ…).
    Coded(Code),
    /// Text (`ST`), or a value of another type, as written.
    Text(String),
}

/// The reference range of a result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceRange {
    /// The low bound.
    pub low: Option<Quantity>,
    /// The high bound.
    pub high: Option<Quantity>,
    /// The range as text, when written so.
    pub text: Option<String>,
}

/// A laboratory result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabResult {
    /// What was measured (LOINC, or a laboratory's own code).
    pub code: Code,
    /// The result.
    pub value: Option<ResultValue>,
    /// Normal, high, low… (HL7 ObservationInterpretation).
    pub interpretation: Option<Code>,
    /// The reference range.
    pub range: Option<ReferenceRange>,
    /// When the sample was taken or the result established.
    pub time: Option<Timestamp>,
}

/// A vaccination given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vaccination {
    /// The vaccine's code (a CIS, ATC or the like), when coded.
    pub vaccine: Option<Code>,
    /// The vaccine's name.
    pub name: Option<String>,
    /// The lot.
    pub lot: Option<String>,
    /// When.
    pub time: Option<Timestamp>,
}

/// An allergy or intolerance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allergy {
    /// What the person reacts to, when coded.
    pub agent: Option<Code>,
    /// Its name.
    pub name: Option<String>,
    /// The kind of reaction (allergy, intolerance…).
    pub kind: Option<Code>,
    /// Since when.
    pub since: Option<Timestamp>,
}

/// A treatment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Treatment {
    /// The medication's code, when coded.
    pub medication: Option<Code>,
    /// Its name.
    pub name: Option<String>,
    /// One dose.
    pub dose: Option<Quantity>,
    /// Since when.
    pub since: Option<Timestamp>,
}

/// One thing a document's entries say that a medical profile keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A laboratory result.
    LabResult(LabResult),
    /// A vaccination given.
    Vaccination(Vaccination),
    /// An allergy or intolerance.
    Allergy(Allergy),
    /// A treatment.
    Treatment(Treatment),
}

/// Reads the findings of a document's coded entries, in document order.
///
/// # Errors
/// [`CdaError`] as [`crate::read`] gives them; [`CdaError::TooLarge`] past 10,000 findings.
pub fn findings(input: impl BufRead, limits: &Limits) -> Result<Vec<Finding>, CdaError> {
    let mut events = Events::new(input, limits);
    let mut path: Vec<String> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut found = Vec::new();
    loop {
        match events.next_item()? {
            Item::Open(element) => {
                let name = local_name(&element);
                path.push(name.clone());
                if matches!(name.as_str(), "observation" | "substanceAdministration") {
                    frames.push(Frame {
                        depth: path.len(),
                        negated: attribute(&element, "negationInd")?.as_deref() == Some("true"),
                        ..Frame::default()
                    });
                    continue;
                }
                if let Some(frame) = frames.last_mut() {
                    let relative: Vec<&str> = path
                        .get(frame.depth..)
                        .unwrap_or_default()
                        .iter()
                        .map(String::as_str)
                        .collect();
                    frame.open(&relative, &element, path.len(), limits)?;
                }
            }
            Item::Text(text) => {
                if let Some(field) = frames.last_mut().and_then(|f| f.collecting.as_mut()) {
                    if field.text.len() + text.len() > limits.max_field_bytes {
                        return Err(CdaError::TooLarge {
                            what: "an entry's text",
                            limit: format!("{} bytes", limits.max_field_bytes),
                        });
                    }
                    field.text.push_str(&text);
                }
            }
            Item::Close => {
                let depth = path.len();
                path.pop();
                match frames.last_mut() {
                    Some(frame) if frame.depth == depth => {
                        if let Some(finding) = frames.pop().and_then(Frame::finding) {
                            if found.len() >= MAX_FINDINGS {
                                return Err(CdaError::TooLarge {
                                    what: "the document's entries",
                                    limit: format!("{MAX_FINDINGS} findings"),
                                });
                            }
                            found.push(finding);
                        }
                    }
                    Some(frame) => frame.close(depth),
                    None => {}
                }
            }
            Item::End => return Ok(found),
        }
    }
}

/// Which text of an entry is being gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    Value,
    RangeText,
    MaterialName,
    Lot,
    AgentName,
}

/// Text being gathered until the element at `depth` closes.
struct Collecting {
    field: TextField,
    depth: usize,
    text: String,
}

/// An `observation` or `substanceAdministration` being read.
#[derive(Default)]
struct Frame {
    depth: usize,
    negated: bool,
    templates: Vec<String>,
    code: Option<Code>,
    time: Option<Timestamp>,
    low_time: Option<Timestamp>,
    value_type: Option<String>,
    value_quantity: Option<Quantity>,
    value_code: Option<Code>,
    value_text: Option<String>,
    interpretation: Option<Code>,
    range: Option<ReferenceRange>,
    material: Option<Code>,
    material_name: Option<String>,
    lot: Option<String>,
    agent: Option<Code>,
    agent_name: Option<String>,
    dose: Option<Quantity>,
    collecting: Option<Collecting>,
}

/// The material of a substance administration, relative to it.
const MATERIAL: [&str; 3] = ["consumable", "manufacturedProduct", "manufacturedMaterial"];
/// The agent of an allergy, relative to its observation.
const AGENT: [&str; 3] = ["participant", "participantRole", "playingEntity"];

impl Frame {
    fn open(
        &mut self,
        relative: &[&str],
        element: &quick_xml::events::BytesStart<'_>,
        depth: usize,
        limits: &Limits,
    ) -> Result<(), CdaError> {
        let collect = |field| {
            Some(Collecting {
                field,
                depth,
                text: String::new(),
            })
        };
        match relative {
            ["templateId"] => {
                if let Some(root) = attribute(element, "root")?
                    && self.templates.len() < limits.max_repeats
                {
                    self.templates.push(root);
                }
            }
            ["code"] => self.code = code_of(element)?,
            ["effectiveTime"] => self.time = time_of(element)?,
            ["effectiveTime", "low"] => self.low_time = time_of(element)?,
            ["value"] => {
                // `xsi:type="PQ"`, or with the HL7 namespace's own prefix (`c:PQ`).
                self.value_type = attribute(element, "type")?
                    .map(|t| t.rsplit(':').next().unwrap_or_default().to_owned());
                match self.value_type.as_deref() {
                    Some("PQ" | "REAL" | "INT") => self.value_quantity = quantity_of(element)?,
                    Some("CD" | "CE" | "CV" | "CO") => self.value_code = code_of(element)?,
                    _ => {
                        self.value_text = attribute(element, "value")?;
                        if self.value_text.is_none() {
                            self.collecting = collect(TextField::Value);
                        }
                    }
                }
            }
            ["interpretationCode"] => self.interpretation = code_of(element)?,
            [
                "referenceRange",
                "observationRange",
                "value",
                bound @ ("low" | "high"),
            ] => {
                let range = self.range.get_or_insert_with(ReferenceRange::default);
                let quantity = quantity_of(element)?;
                if *bound == "low" {
                    range.low = quantity;
                } else {
                    range.high = quantity;
                }
            }
            ["referenceRange", "observationRange", "text"] => {
                self.range.get_or_insert_with(ReferenceRange::default);
                self.collecting = collect(TextField::RangeText);
            }
            [a, b, c, "code"] if [*a, *b, *c] == MATERIAL => self.material = code_of(element)?,
            [a, b, c, "name"] if [*a, *b, *c] == MATERIAL => {
                self.collecting = collect(TextField::MaterialName);
            }
            [a, b, c, "lotNumberText"] if [*a, *b, *c] == MATERIAL => {
                self.collecting = collect(TextField::Lot);
            }
            [a, b, c, "code"] if [*a, *b, *c] == AGENT => self.agent = code_of(element)?,
            [a, b, c, "name"] if [*a, *b, *c] == AGENT => {
                self.collecting = collect(TextField::AgentName);
            }
            ["doseQuantity"] => self.dose = quantity_of(element)?,
            _ => {}
        }
        Ok(())
    }

    /// The element at `depth` closes: the text gathered inside it, if any, is kept.
    fn close(&mut self, depth: usize) {
        let Some(collecting) = self.collecting.take_if(|c| c.depth == depth) else {
            return;
        };
        let text = collecting
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text = (!text.is_empty()).then_some(text);
        match collecting.field {
            TextField::Value => self.value_text = text,
            TextField::RangeText => {
                if let Some(range) = &mut self.range {
                    range.text = text;
                }
            }
            TextField::MaterialName => self.material_name = text,
            TextField::Lot => self.lot = text,
            TextField::AgentName => self.agent_name = text,
        }
    }

    fn has(&self, template: &str) -> bool {
        self.templates.iter().any(|t| t == template)
    }

    /// What the entry says, judged by its templates when it closes.
    fn finding(self) -> Option<Finding> {
        if self.has(LAB_RESULT_TEMPLATE) {
            let value = match (self.value_quantity, self.value_code, self.value_text) {
                (Some(quantity), _, _) => Some(ResultValue::Quantity(quantity)),
                (None, Some(code), _) => Some(ResultValue::Coded(code)),
                (None, None, Some(text)) => Some(ResultValue::Text(text)),
                (None, None, None) => None,
            };
            return Some(Finding::LabResult(LabResult {
                code: self.code?,
                value,
                interpretation: self.interpretation,
                range: self.range,
                time: self.time.or(self.low_time),
            }));
        }
        if self.has(VACCINATION_TEMPLATE) {
            // A vaccination recorded as not given is not one the profile keeps.
            if self.negated || (self.material.is_none() && self.material_name.is_none()) {
                return None;
            }
            return Some(Finding::Vaccination(Vaccination {
                vaccine: self.material,
                name: self.material_name,
                lot: self.lot,
                time: self.time.or(self.low_time),
            }));
        }
        if self.has(ALLERGY_TEMPLATE) {
            if self.negated || (self.agent.is_none() && self.agent_name.is_none()) {
                return None;
            }
            return Some(Finding::Allergy(Allergy {
                agent: self.agent,
                name: self.agent_name,
                kind: self.value_code,
                since: self.low_time.or(self.time),
            }));
        }
        if self.has(TREATMENT_TEMPLATE) {
            if self.negated || (self.material.is_none() && self.material_name.is_none()) {
                return None;
            }
            return Some(Finding::Treatment(Treatment {
                medication: self.material,
                name: self.material_name,
                dose: self.dose,
                since: self.low_time.or(self.time),
            }));
        }
        None
    }
}

fn quantity_of(element: &quick_xml::events::BytesStart<'_>) -> Result<Option<Quantity>, CdaError> {
    Ok(attribute(element, "value")?.map(|value| Quantity {
        value,
        unit: attribute(element, "unit").ok().flatten(),
    }))
}
