//! What the record's content modules share: coded concepts, how code systems are named, and
//! the id rule. A leaf: it uses nothing of the content modules, so that they can all use it.

use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};

/// A code from a terminology (LOINC for document types, the DMP's class codes...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The code system's URI (`http://loinc.org`).
    pub system: String,
    /// The code within the system (a LOINC code, an ATC code...).
    pub code: String,
    /// Its human-readable label.
    pub display: Option<String>,
}

/// LOINC's system URI.
pub const LOINC: &str = "http://loinc.org";
/// The OID of LOINC, as CDA and XDS metadata name it.
pub(crate) const LOINC_OID: &str = "2.16.840.1.113883.6.1";

/// The FHIR system of a code system named by its OID in a CDA or XDS metadata: LOINC's URI for
/// LOINC, else the OID as a URN.
pub(crate) fn system_of_oid(oid: &str) -> String {
    if oid == LOINC_OID {
        LOINC.to_owned()
    } else {
        format!("urn:oid:{oid}")
    }
}

/// The OID of a FHIR system, the reverse of [`system_of_oid`] (a system that is neither is
/// given as it is).
pub(crate) fn oid_of_system(system: &str) -> String {
    match system {
        LOINC => LOINC_OID.to_owned(),
        system => system.strip_prefix("urn:oid:").unwrap_or(system).to_owned(),
    }
}

/// Checks a FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub(crate) fn check_fhir_id(id: &str) -> Result<()> {
    if carnet_wire::is_fhir_id(id) {
        Ok(())
    } else {
        Err(RecordError::InvalidInput(format!(
            "{id:?} is not a FHIR id"
        )))
    }
}
