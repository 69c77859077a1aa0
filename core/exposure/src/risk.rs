//! Risk of exposure windows, GAEN v2 style, with the Corona-Warn-App's configuration as the
//! default (DESIGN.md §5).
//!
//! Each exposure window (up to 30 minutes with one positive person's key) gets a transmission
//! risk level from its report type and infectiousness, a weighted time (the minutes of each
//! scan weighted by its attenuation bucket), and a normalised time (the two multiplied) that
//! maps to a low or high risk for that window. The normalised times of one day add up to the
//! day's risk; the days give the total. The field names follow CWA's published test cases,
//! so that a configuration or windows in that JSON shape can be read as they are.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ExposureError;

/// Largest JSON document of windows or configuration read (16 MiB).
pub const MAX_JSON_BYTES: usize = 16 << 20;

/// A numeric range with each bound inclusive unless marked exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    /// Lower bound of the range.
    pub min: f64,
    /// Upper bound of the range.
    pub max: f64,
    /// Whether `min` itself is outside the range.
    #[serde(default)]
    pub min_exclusive: bool,
    /// Whether `max` itself is outside the range.
    #[serde(default)]
    pub max_exclusive: bool,
}

impl Range {
    /// Whether `value` lies in the range.
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        let above = if self.min_exclusive {
            value > self.min
        } else {
            value >= self.min
        };
        let below = if self.max_exclusive {
            value < self.max
        } else {
            value <= self.max
        };
        above && below
    }
}

/// Drops a window when its minutes in an attenuation range fall in a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinutesAtAttenuationFilter {
    /// The attenuations (dB) whose scan time is counted.
    pub attenuation_range: Range,
    /// The minutes that drop the window.
    pub drop_if_minutes_in_range: Range,
}

/// Drops a window whose transmission risk level falls in a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransmissionRiskLevelFilter {
    /// The levels that drop the window.
    pub drop_if_trl_in_range: Range,
}

/// The weight of a scan's seconds at an attenuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttenuationWeight {
    /// The minimum attenuations (dB) the weight applies to.
    pub attenuation_range: Range,
    /// The weight the range gives, multiplied into the exposure time.
    pub weight: f64,
}

/// The risk level of a normalised time in a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedTimeToRiskLevel {
    /// The normalised times (weighted minutes × transmission risk value).
    pub normalized_time_range: Range,
    /// The level they map to.
    pub risk_level: RiskLevel,
}

/// How report type and infectiousness add up to a transmission risk level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names)]
pub struct TransmissionRiskLevelEncoding {
    /// Offset of standard infectiousness.
    pub infectiousness_offset_standard: u8,
    /// Offset of high infectiousness.
    pub infectiousness_offset_high: u8,
    /// Offset of a key passed on by a contact (recursive report).
    pub report_type_offset_recursive: u8,
    /// Offset of a self-reported positive.
    pub report_type_offset_self_report: u8,
    /// Offset of a clinical diagnosis.
    pub report_type_offset_confirmed_clinical_diagnosis: u8,
    /// Offset of a confirmed test.
    pub report_type_offset_confirmed_test: u8,
}

/// The value a transmission risk level multiplies the weighted minutes by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransmissionRiskValue {
    /// The transmission risk level the key files carry (1–8).
    pub transmission_risk_level: u8,
    /// The value it stands for in the computation.
    pub transmission_risk_value: f64,
}

/// A risk calculation configuration, in the shape of CWA's `riskCalculationParameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskConfiguration {
    /// Filters on minutes at attenuation (none by default).
    #[serde(default)]
    pub minutes_at_attenuation_filters: Vec<MinutesAtAttenuationFilter>,
    /// Filters on transmission risk levels (none by default).
    #[serde(default)]
    pub trl_filters: Vec<TransmissionRiskLevelFilter>,
    /// Attenuation buckets and their weights; a scan in no bucket weighs 0.
    pub minutes_at_attenuation_weights: Vec<AttenuationWeight>,
    /// Risk level of one window's normalised time.
    #[serde(rename = "normalizedTimePerEWToRiskLevelMapping")]
    pub normalized_time_per_window_to_risk_level_mapping: Vec<NormalizedTimeToRiskLevel>,
    /// Risk level of one day's summed normalised time; a day in no range carries no risk.
    pub normalized_time_per_day_to_risk_level_mapping: Vec<NormalizedTimeToRiskLevel>,
    /// Transmission risk level encoding.
    pub trl_encoding: TransmissionRiskLevelEncoding,
    /// Transmission risk values per level; a level absent here has value 0.
    pub transmission_risk_value_mapping: Vec<TransmissionRiskValue>,
}

impl Default for RiskConfiguration {
    /// The Corona-Warn-App's configuration (the one its published test cases use).
    fn default() -> Self {
        let below = |min, max| Range {
            min,
            max,
            min_exclusive: false,
            max_exclusive: true,
        };
        let closed = |min, max| Range {
            min,
            max,
            min_exclusive: false,
            max_exclusive: false,
        };
        let weight = |range, weight| AttenuationWeight {
            attenuation_range: range,
            weight,
        };
        let level = |range, risk_level| NormalizedTimeToRiskLevel {
            normalized_time_range: range,
            risk_level,
        };
        RiskConfiguration {
            minutes_at_attenuation_filters: Vec::new(),
            trl_filters: Vec::new(),
            minutes_at_attenuation_weights: vec![
                weight(below(0.0, 63.0), 0.8),
                weight(below(63.0, 73.0), 1.0),
                weight(below(73.0, 79.0), 0.1),
            ],
            normalized_time_per_window_to_risk_level_mapping: vec![
                level(below(0.0, 9.0), RiskLevel::Low),
                level(closed(9.0, 9999.0), RiskLevel::High),
            ],
            normalized_time_per_day_to_risk_level_mapping: vec![
                level(below(5.0, 9.0), RiskLevel::Low),
                level(closed(9.0, 99999.0), RiskLevel::High),
            ],
            trl_encoding: TransmissionRiskLevelEncoding {
                infectiousness_offset_standard: 1,
                infectiousness_offset_high: 2,
                report_type_offset_recursive: 0,
                report_type_offset_self_report: 2,
                report_type_offset_confirmed_clinical_diagnosis: 4,
                report_type_offset_confirmed_test: 6,
            },
            transmission_risk_value_mapping: [0.0, 0.0, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6]
                .into_iter()
                .zip(1u8..)
                .map(|(value, level)| TransmissionRiskValue {
                    transmission_risk_level: level,
                    transmission_risk_value: value,
                })
                .collect(),
        }
    }
}

/// A risk level, numbered as in CWA's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum RiskLevel {
    /// Low risk (1).
    Low,
    /// High risk (2).
    High,
}

impl From<RiskLevel> for u8 {
    fn from(level: RiskLevel) -> u8 {
        match level {
            RiskLevel::Low => 1,
            RiskLevel::High => 2,
        }
    }
}

impl TryFrom<u8> for RiskLevel {
    type Error = String;

    fn try_from(level: u8) -> Result<Self, String> {
        match level {
            1 => Ok(RiskLevel::Low),
            2 => Ok(RiskLevel::High),
            other => Err(format!(
                "risk level {other} is neither 1 (low) nor 2 (high)"
            )),
        }
    }
}

/// The report type of a positive person's key (GAEN numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    /// Confirmed by a test (1).
    ConfirmedTest,
    /// Diagnosed by a clinician (2).
    ConfirmedClinicalDiagnosis,
    /// Reported by the person (3).
    SelfReport,
    /// Passed on from a contact (4).
    Recursive,
}

impl ReportType {
    /// The report type of its GAEN number; `None` for unknown (0), revoked (5) or other values.
    #[must_use]
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(ReportType::ConfirmedTest),
            2 => Some(ReportType::ConfirmedClinicalDiagnosis),
            3 => Some(ReportType::SelfReport),
            4 => Some(ReportType::Recursive),
            _ => None,
        }
    }

    /// Its GAEN number.
    #[must_use]
    pub fn number(self) -> u8 {
        match self {
            ReportType::ConfirmedTest => 1,
            ReportType::ConfirmedClinicalDiagnosis => 2,
            ReportType::SelfReport => 3,
            ReportType::Recursive => 4,
        }
    }
}

/// How infectious the positive person was on the window's day (GAEN numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Infectiousness {
    /// Standard (1).
    Standard,
    /// High (2).
    High,
}

/// One scan that saw the positive person's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanInstance {
    /// The lowest attenuation (dB) of the scan.
    pub min_attenuation: u8,
    /// The typical (mean) attenuation (dB) of the scan.
    pub typical_attenuation: u8,
    /// Seconds since the previous scan: the time this scan stands for. Negative values
    /// (a clock moved back) count as 0.
    pub seconds_since_last_scan: i64,
}

/// Up to 30 minutes of sightings of one positive person's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposureWindow {
    /// Days between the window's day and today (0 = today).
    pub age_in_days: u32,
    /// The GAEN report type of the key (1 to 4; other values make the window ignored).
    pub report_type: u8,
    /// The GAEN infectiousness (1 standard, 2 high; other values make it ignored).
    pub infectiousness: u8,
    /// How well the receiving phone is calibrated (0 to 3); kept apart when counting encounters.
    pub calibration_confidence: u8,
    /// The scans of the window: attenuation and seconds since the last scan.
    pub scan_instances: Vec<ScanInstance>,
}

/// A set of windows in the shape of CWA's test cases: `{"exposureWindows": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposureWindows {
    /// The exposure windows of the day.
    pub exposure_windows: Vec<ExposureWindow>,
}

/// The outcome of a risk calculation, with the fields of CWA's test cases (without `exp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskSummary {
    /// High if any day is high, else low.
    pub total_risk_level: RiskLevel,
    /// Age of the most recent low-risk day.
    pub age_of_most_recent_date_with_low_risk: Option<u32>,
    /// Age of the most recent high-risk day.
    pub age_of_most_recent_date_with_high_risk: Option<u32>,
    /// Days at low risk.
    pub number_of_days_with_low_risk: u32,
    /// Days at high risk.
    pub number_of_days_with_high_risk: u32,
    /// Summed over the days at risk (low or high), the distinct (transmission risk level, calibration confidence)
    /// pairs among each day's low-risk windows: a lower bound on the people met.
    pub total_minimum_distinct_encounters_with_low_risk: u32,
    /// The same for high-risk windows.
    pub total_minimum_distinct_encounters_with_high_risk: u32,
}

/// One window's risk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowRisk {
    /// Its transmission risk level.
    pub transmission_risk_level: u8,
    /// Weighted minutes × transmission risk value.
    pub normalized_time: f64,
    /// The level that maps to.
    pub risk_level: RiskLevel,
}

/// Normalised times are sums of products of decimal weights: rounded to this many decimal
/// places so that a threshold (9.0) is not missed by a binary rounding error (8.999…), as
/// CWA's case EXPOSUREAPP-12211 requires.
const NORMALIZED_TIME_DECIMALS: f64 = 1e9;

fn rounded(time: f64) -> f64 {
    (time * NORMALIZED_TIME_DECIMALS).round() / NORMALIZED_TIME_DECIMALS
}

/// A day's summed normalised time as CWA maps it (`aggregateRiskPerDate`,
/// `roundToDecimal(1)`): to one decimal, halves away from zero — a day at 8.96 is 9.0, HIGH.
fn day_time(time: f64) -> f64 {
    (time * 10.0).round() / 10.0
}

impl RiskConfiguration {
    /// A configuration from JSON in CWA's shape.
    ///
    /// # Errors
    /// [`ExposureError::Json`] for malformed or oversized JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, ExposureError> {
        from_bounded_json(json)
    }

    /// The transmission risk level of a window; `None` when its report type or infectiousness
    /// is unknown.
    #[must_use]
    pub fn transmission_risk_level(&self, window: &ExposureWindow) -> Option<u8> {
        let encoding = &self.trl_encoding;
        let report = match ReportType::from_number(window.report_type.into())? {
            ReportType::ConfirmedTest => encoding.report_type_offset_confirmed_test,
            ReportType::ConfirmedClinicalDiagnosis => {
                encoding.report_type_offset_confirmed_clinical_diagnosis
            }
            ReportType::SelfReport => encoding.report_type_offset_self_report,
            ReportType::Recursive => encoding.report_type_offset_recursive,
        };
        let infectiousness = match window.infectiousness {
            1 => encoding.infectiousness_offset_standard,
            2 => encoding.infectiousness_offset_high,
            _ => return None,
        };
        report.checked_add(infectiousness)
    }

    /// A window's risk; `None` when it is filtered out or its report type or infectiousness
    /// is unknown.
    #[must_use]
    pub fn window_risk(&self, window: &ExposureWindow) -> Option<WindowRisk> {
        let seconds = |scan: &ScanInstance| scan.seconds_since_last_scan.max(0) as f64;
        let dropped_by_minutes = self.minutes_at_attenuation_filters.iter().any(|filter| {
            let seconds_in_range: f64 = window
                .scan_instances
                .iter()
                .filter(|scan| {
                    filter
                        .attenuation_range
                        .contains(scan.min_attenuation.into())
                })
                .map(seconds)
                .sum();
            filter
                .drop_if_minutes_in_range
                .contains(seconds_in_range / 60.0)
        });
        if dropped_by_minutes {
            return None;
        }
        let level = self.transmission_risk_level(window)?;
        if self
            .trl_filters
            .iter()
            .any(|filter| filter.drop_if_trl_in_range.contains(level.into()))
        {
            return None;
        }
        let value = self
            .transmission_risk_value_mapping
            .iter()
            .find(|mapping| mapping.transmission_risk_level == level)
            .map_or(0.0, |mapping| mapping.transmission_risk_value);
        let weighted_seconds: f64 = window
            .scan_instances
            .iter()
            .map(|scan| {
                let weight = self
                    .minutes_at_attenuation_weights
                    .iter()
                    .find(|weight| {
                        weight
                            .attenuation_range
                            .contains(scan.min_attenuation.into())
                    })
                    .map_or(0.0, |weight| weight.weight);
                seconds(scan) * weight
            })
            .sum();
        let normalized_time = rounded(weighted_seconds / 60.0 * value);
        let risk_level = level_of(
            &self.normalized_time_per_window_to_risk_level_mapping,
            normalized_time,
        )?;
        Some(WindowRisk {
            transmission_risk_level: level,
            normalized_time,
            risk_level,
        })
    }

    /// The risk of a set of windows (any number of days).
    #[must_use]
    pub fn summarize(&self, windows: &[ExposureWindow]) -> RiskSummary {
        let mut days: BTreeMap<u32, DayTally> = BTreeMap::new();
        for window in windows {
            if let Some(risk) = self.window_risk(window) {
                days.entry(window.age_in_days)
                    .or_default()
                    .add(window, risk);
            }
        }
        let mut summary = RiskSummary {
            total_risk_level: RiskLevel::Low,
            age_of_most_recent_date_with_low_risk: None,
            age_of_most_recent_date_with_high_risk: None,
            number_of_days_with_low_risk: 0,
            number_of_days_with_high_risk: 0,
            total_minimum_distinct_encounters_with_low_risk: 0,
            total_minimum_distinct_encounters_with_high_risk: 0,
        };
        // Ages ascending: the first day met of each level is its most recent.
        for (age, tally) in &days {
            let time = day_time(tally.normalized_time);
            match level_of(&self.normalized_time_per_day_to_risk_level_mapping, time) {
                Some(RiskLevel::High) => {
                    summary.total_risk_level = RiskLevel::High;
                    summary
                        .age_of_most_recent_date_with_high_risk
                        .get_or_insert(*age);
                    summary.number_of_days_with_high_risk += 1;
                }
                Some(RiskLevel::Low) => {
                    summary
                        .age_of_most_recent_date_with_low_risk
                        .get_or_insert(*age);
                    summary.number_of_days_with_low_risk += 1;
                }
                // A day without risk counts no encounter either.
                None => continue,
            }
            summary.total_minimum_distinct_encounters_with_low_risk +=
                tally.encounters(RiskLevel::Low);
            summary.total_minimum_distinct_encounters_with_high_risk +=
                tally.encounters(RiskLevel::High);
        }
        summary
    }
}

impl ExposureWindows {
    /// Windows from JSON in CWA's shape (`{"exposureWindows": [...]}`).
    ///
    /// # Errors
    /// [`ExposureError::Json`] for malformed or oversized JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, ExposureError> {
        from_bounded_json(json)
    }
}

/// One day's windows added up.
#[derive(Default)]
struct DayTally {
    normalized_time: f64,
    /// (window level, transmission risk level, calibration confidence) seen.
    encounters: BTreeSet<(RiskLevel, u8, u8)>,
}

impl DayTally {
    fn add(&mut self, window: &ExposureWindow, risk: WindowRisk) {
        self.normalized_time += risk.normalized_time;
        self.encounters.insert((
            risk.risk_level,
            risk.transmission_risk_level,
            window.calibration_confidence,
        ));
    }

    fn encounters(&self, level: RiskLevel) -> u32 {
        let count = self
            .encounters
            .iter()
            .filter(|(window_level, _, _)| *window_level == level)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

fn level_of(mapping: &[NormalizedTimeToRiskLevel], time: f64) -> Option<RiskLevel> {
    mapping
        .iter()
        .find(|entry| entry.normalized_time_range.contains(time))
        .map(|entry| entry.risk_level)
}

/// JSON from outside, refused above [`MAX_JSON_BYTES`] (serde_json bounds the nesting at 128).
fn from_bounded_json<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, ExposureError> {
    if json.len() > MAX_JSON_BYTES {
        return Err(ExposureError::Json(format!(
            "{} bytes is over the {MAX_JSON_BYTES}-byte limit",
            json.len()
        )));
    }
    serde_json::from_slice(json).map_err(|error| ExposureError::Json(error.to_string()))
}
