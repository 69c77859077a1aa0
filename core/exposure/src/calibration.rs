//! The per-model calibration table of Exposure Notification (`oem, model, rssi correction,
//! tx, has direct measurement`): what each phone model adds to its RSSI to read as a reference
//! phone, and the TX power it writes in its metadata. A phone's shell passes its own row; the
//! simulation draws its virtual phones' models from the table.

use crate::ExposureError;
use crate::radio::Calibration;

/// Largest table read (the published one is about 400 KB).
pub const MAX_TABLE_BYTES: usize = 4 << 20;
/// Confidence of a model measured directly.
const MEASURED_CONFIDENCE: u8 = 3;
/// Confidence of a model whose values were estimated from its family.
const ESTIMATED_CONFIDENCE: u8 = 1;

/// One phone model's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCalibration {
    /// Manufacturer, as Android reports it.
    pub oem: String,
    /// Model, as Android reports it.
    pub model: String,
    /// Its transmit power and receive attenuation corrections.
    pub calibration: Calibration,
}

/// The calibration table: one row per phone model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalibrationTable {
    /// Its rows, in the file's order.
    pub models: Vec<ModelCalibration>,
}

impl CalibrationTable {
    /// Reads the CSV table (header row first).
    ///
    /// # Errors
    /// [`ExposureError::Calibration`] for an oversized table or a malformed row (with its
    /// line number).
    pub fn from_csv(text: &str) -> Result<Self, ExposureError> {
        if text.len() > MAX_TABLE_BYTES {
            return Err(ExposureError::Calibration(format!(
                "{} bytes is over the {MAX_TABLE_BYTES}-byte limit",
                text.len()
            )));
        }
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut models = Vec::new();
        for (line, record) in (2..).zip(reader.records()) {
            let malformed = |why: &str| ExposureError::Calibration(format!("line {line}: {why}"));
            let record = record.map_err(|error| malformed(&error.to_string()))?;
            let field = |index: usize| record.get(index).ok_or_else(|| malformed("missing field"));
            let number = |index: usize| {
                field(index)?
                    .parse::<i8>()
                    .map_err(|_| malformed("not a whole number of dB"))
            };
            let confidence = match field(4)? {
                "yes" => MEASURED_CONFIDENCE,
                "no" => ESTIMATED_CONFIDENCE,
                _ => return Err(malformed("measured must be yes or no")),
            };
            models.push(ModelCalibration {
                oem: field(0)?.to_owned(),
                model: field(1)?.to_owned(),
                calibration: Calibration {
                    rssi_correction: number(2)?,
                    tx_power: number(3)?,
                    confidence,
                },
            });
        }
        Ok(CalibrationTable { models })
    }

    /// The calibration of a model (maker and model compared without case); the default
    /// (uncalibrated) one when the table does not know it.
    #[must_use]
    pub fn of(&self, oem: &str, model: &str) -> Calibration {
        self.models
            .iter()
            .find(|row| row.oem.eq_ignore_ascii_case(oem) && row.model.eq_ignore_ascii_case(model))
            .map_or_else(Calibration::default, |row| row.calibration)
    }
}
