//! What a CDA header says: the document's identity, type, date, authors and patient.

/// An HL7 instance identifier (`II`): an OID and an optional extension.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceId {
    /// `@root`: an OID (or UUID).
    pub root: String,
    /// `@extension`, when present.
    pub extension: Option<String>,
}

/// A coded value (`CE`/`CD`): the code, its system and the name people read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    /// `@code`.
    pub code: String,
    /// `@codeSystem` (an OID: `2.16.840.1.113883.6.1` is LOINC).
    pub system: Option<String>,
    /// `@displayName`.
    pub display: Option<String>,
}

/// An HL7 timestamp (`TS`, `YYYYMMDD[HH[MM[SS[.f]]]][±ZZZZ]`) as written and as an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// As written in `@value`.
    pub text: String,
    /// The instant, Unix milliseconds (a time without offset is read as UTC); `None` when the
    /// text is not a timestamp.
    pub unix_millis: Option<i64>,
    /// The offset from UTC written with it, minutes; `None` when none was written.
    pub offset_minutes: Option<i32>,
}

impl Timestamp {
    /// Reads an HL7 timestamp as written (a text that is not one keeps `unix_millis` `None`).
    #[must_use]
    pub fn parse(text: &str) -> Timestamp {
        Timestamp {
            unix_millis: crate::time::unix_millis(text),
            offset_minutes: crate::time::offset_minutes(text),
            text: text.to_owned(),
        }
    }

    /// The FHIR `dateTime` of the same moment at the precision written: `2021`, `2021-01`,
    /// `2021-01-04`, or to the second with the offset written (`Z` when none was); `None`
    /// when the text is not a timestamp.
    #[must_use]
    pub fn fhir_date_time(&self) -> Option<String> {
        let millis = self.unix_millis?;
        let digits: String = self.text.chars().take_while(char::is_ascii_digit).collect();
        let offset = self.offset_minutes.unwrap_or(0);
        let local = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()?
            .to_offset(time::UtcOffset::from_whole_seconds(offset * 60).ok()?);
        let date = format!(
            "{:04}-{:02}-{:02}",
            local.year(),
            u8::from(local.month()),
            local.day()
        );
        Some(match digits.len() {
            4 => date.get(..4)?.to_owned(),
            6 => date.get(..7)?.to_owned(),
            8 => date,
            _ => {
                let zone = match self.offset_minutes {
                    None | Some(0) => "Z".to_owned(),
                    Some(m) => format!(
                        "{}{:02}:{:02}",
                        if m < 0 { '-' } else { '+' },
                        m.abs() / 60,
                        m.abs() % 60
                    ),
                };
                format!(
                    "{date}T{:02}:{:02}:{:02}{zone}",
                    local.hour(),
                    local.minute(),
                    local.second()
                )
            }
        })
    }
}

/// A person's name parts as CDA writes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonName {
    /// `prefix` (`M`, `MME`, `DR`).
    pub prefix: Option<String>,
    /// Given names, in order.
    pub given: Vec<String>,
    /// Family name.
    pub family: Option<String>,
}

impl PersonName {
    /// Prefix, given names and family name, as one line.
    #[must_use]
    pub fn full(&self) -> String {
        self.prefix
            .iter()
            .chain(self.given.iter())
            .chain(self.family.iter())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One author of the document (`author`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Author {
    /// When they wrote it (`time`).
    pub time: Option<Timestamp>,
    /// Their identifiers (`assignedAuthor/id`).
    pub ids: Vec<InstanceId>,
    /// Their profession or speciality (`assignedAuthor/code`).
    pub role: Option<Code>,
    /// Their name (`assignedAuthor/assignedPerson/name`); `None` for a device.
    pub name: Option<PersonName>,
    /// Their organisation (`assignedAuthor/representedOrganization/name`).
    pub organisation: Option<String>,
}

/// The OID of the French national identifier of health professionals (`8` + RPPS number).
pub const RPPS_ROOT: &str = "1.2.250.1.71.4.2.1";

impl Author {
    /// The national identifier of the professional: the id under [`RPPS_ROOT`].
    #[must_use]
    pub fn national_id(&self) -> Option<&str> {
        self.ids
            .iter()
            .find(|id| id.root == RPPS_ROOT)?
            .extension
            .as_deref()
    }

    /// The RPPS number: a national identifier of type `8` (`8` and the 11 digits of the
    /// RPPS) without its type; `None` for another kind (a structure's `3`…/FINESS, `4`…).
    #[must_use]
    pub fn rpps(&self) -> Option<&str> {
        rpps_of_national_id(self.national_id()?)
    }
}

/// The RPPS number in a French national professional identifier (root [`RPPS_ROOT`]): one of
/// type `8` is `8` and the 11 digits of the RPPS; `None` for another type.
#[must_use]
pub fn rpps_of_national_id(national_id: &str) -> Option<&str> {
    let rpps = national_id.strip_prefix('8')?;
    (rpps.len() == 11 && rpps.bytes().all(|b| b.is_ascii_digit())).then_some(rpps)
}

/// The care event the document records (`documentationOf/serviceEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceEvent {
    /// What was done (`code`).
    pub code: Option<Code>,
    /// When it started (`effectiveTime/low`).
    pub start: Option<Timestamp>,
    /// When it ended (`effectiveTime/high`).
    pub end: Option<Timestamp>,
}

/// The roots of the INS under which a patient's national health identifier is written.
pub const INS_ROOTS: [&str; 4] = [
    "1.2.250.1.213.1.4.8",
    "1.2.250.1.213.1.4.9",
    "1.2.250.1.213.1.4.10",
    "1.2.250.1.213.1.4.11",
];

/// The patient (`recordTarget/patientRole`), with the five INS traits where written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patient {
    /// Identifiers (`id`): the INS, local ones.
    pub ids: Vec<InstanceId>,
    /// Birth family name (`family` with qualifier `BR`, else the only one).
    pub birth_name: Option<String>,
    /// Used family name (`family` with qualifier `SP` or `CL`).
    pub used_name: Option<String>,
    /// Birth given names, space-separated as written (`given` without qualifier).
    pub given_names: Option<String>,
    /// First given name (`given` with qualifier `BR`).
    pub first_given_name: Option<String>,
    /// `administrativeGenderCode/@code`: `M`, `F` or `U`.
    pub sex: Option<String>,
    /// `birthTime/@value`, as written (`YYYYMMDD`).
    pub birth_date: Option<String>,
    /// Birth place, the INSEE code (`birthplace/place/addr/county`).
    pub birth_place: Option<String>,
}

impl Patient {
    /// The INS identifier: the first id under one of [`INS_ROOTS`].
    #[must_use]
    pub fn ins(&self) -> Option<&InstanceId> {
        self.ids
            .iter()
            .find(|id| INS_ROOTS.contains(&id.root.as_str()) && id.extension.is_some())
    }

    /// The name shown for the patient: first given name (or given names) and used (or birth)
    /// family name.
    #[must_use]
    pub fn display_name(&self) -> String {
        let given = self.first_given_name.as_ref().or(self.given_names.as_ref());
        let family = self.used_name.as_ref().or(self.birth_name.as_ref());
        given
            .into_iter()
            .chain(family)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Everything the header says that Carnet uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `id`: this version of the document.
    pub id: Option<InstanceId>,
    /// `setId`: every version of the document shares it.
    pub set_id: Option<InstanceId>,
    /// `versionNumber/@value`.
    pub version: Option<u32>,
    /// `code`: the document's type (LOINC).
    pub type_code: Option<Code>,
    /// `title`.
    pub title: Option<String>,
    /// `effectiveTime`: when the document was made.
    pub created: Option<Timestamp>,
    /// `confidentialityCode/@code`: `N`, `R` or `V`.
    pub confidentiality: Option<String>,
    /// `languageCode/@code` (`fr-FR`).
    pub language: Option<String>,
    /// The patient.
    pub patient: Patient,
    /// The authors, in order.
    pub authors: Vec<Author>,
    /// `custodian/…/representedCustodianOrganization/name`: who keeps the document.
    pub custodian: Option<String>,
    /// The first care event documented.
    pub service_event: Option<ServiceEvent>,
}

/// The body of the document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Body {
    /// No body was found.
    #[default]
    Missing,
    /// Level 1 (`nonXMLBody`): one embedded file, written to the sink given to the reader.
    Unstructured {
        /// Its media type (`application/pdf`…).
        media_type: String,
        /// Its size once decoded, bytes.
        size: u64,
    },
    /// Level 3 (`structuredBody`): sections of narrative and coded entries.
    Structured {
        /// The sections' titles, in document order (nested sections included).
        section_titles: Vec<String>,
    },
}

/// A CDA document read: its header and what its body is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cda {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: Body,
}
