//! Bluetooth exposure notification, compatible with Google/Apple Exposure Notification v1.2
//! (DESIGN.md §5): phones broadcast rotating identifiers derived from a daily key; when
//! someone tests positive their keys are published, and others find out whether they saw
//! them without anyone learning who met whom.
//!
//! * [`keys`]: temporary exposure keys (TEK), their interval numbers, and what derives from
//!   them — the rolling proximity identifiers (RPI) and the encrypted metadata (AEM).
//! * [`keyfile`]: diagnosis key files — verified and read key by key; written and signed by
//!   `ExportSigner` with the feature `key-server` (the reference server).
//! * [`radio`]: the Bluetooth advertisement, the transport a platform implements, sightings.
//! * [`device`]: a phone's duty cycle — broadcast the current identifier, scan.
//! * [`calibration`]: the per-model calibration table.
//! * `simulation` (feature `simulation`, a tool of the CLI and the tests): virtual phones on
//!   a map, a noisy radio between them, and the precision and recall of "exposed" against what
//!   really happened.
//! * [`matching`]: published keys against sightings, into exposure windows, on many threads.
//! * [`risk`]: the risk of exposure windows (GAEN v2 scoring, CWA's configuration).
//!
//! Every function returns a typed [`ExposureError`]; nothing here panics on any input.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod calibration;
pub mod device;
mod error;
pub mod keyfile;
pub mod keys;
pub mod matching;
pub mod radio;
pub mod risk;
#[cfg(feature = "simulation")]
pub mod simulation;

pub use error::ExposureError;
