//! What the record's content modules share: coded concepts and the id rule. A leaf: it uses
//! nothing of the content modules, so that they can all use it.

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
