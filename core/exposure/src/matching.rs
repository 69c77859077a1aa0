//! Matching published keys against this phone's sightings (DESIGN.md §5): for each key, its
//! identifiers are derived and looked up among the sightings (±2 hours of tolerance on the
//! interval); the metadata of what matched is decrypted for the sender's TX power; the
//! sightings become exposure windows of at most 30 minutes, scored by [`crate::risk`].
//!
//! Key files are read one after another and their keys handed in chunks to worker threads
//! through a bounded channel: memory holds the sightings, one file's bytes and a few chunks,
//! whatever the number of keys. Progress is reported as chunks are handed out. A key's
//! windows are settled once all files are read: a revised key (field 8) replaces the key
//! published before it — revoked, it leaves nothing — and a key published twice counts once.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use crate::ExposureError;
use crate::keyfile::{DiagnosisKey, KeyFile, REPORT_TYPE_REVOKED};
use crate::keys::{INTERVAL_SECONDS, KEY_BYTES};
use crate::radio::Sighting;
use crate::risk::{ExposureWindow, Infectiousness, ReportType, ScanInstance};

/// Keys handed to a worker at a time.
const CHUNK_KEYS: usize = 2048;
/// Seconds in a day (windows are dated by UTC day, as GAEN does).
const DAY_SECONDS: i64 = 86_400;

/// How keys are matched and windows built.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchConfiguration {
    /// Intervals of tolerance between when an identifier should have been broadcast and when
    /// it was heard (12 intervals: ±2 hours, for phones whose clocks differ).
    pub tolerance_intervals: u32,
    /// Longest exposure window (GAEN: 30 minutes).
    pub window_seconds: i64,
    /// Days since the onset of symptoms at which the positive person counts as highly
    /// infectious.
    pub high_infectiousness_days: RangeInclusive<i32>,
    /// Days since onset at which they count as infectious at all (others are ignored).
    pub infectious_days: RangeInclusive<i32>,
    /// Infectiousness of a key published without days since onset.
    pub infectiousness_when_onset_missing: Infectiousness,
    /// Report type of a key published without one.
    pub report_type_when_missing: ReportType,
    /// This phone's calibration confidence (0 to 3), carried into its windows.
    pub calibration_confidence: u8,
}

impl Default for MatchConfiguration {
    /// GAEN's tolerance and window length; highly infectious from two days before the onset
    /// of symptoms to three days after (the peak of viral shedding), infectious from 14 days
    /// before to 14 after; a key without days since onset counts as standard, one without a
    /// report type as confirmed by a test (what a national server publishes).
    fn default() -> Self {
        MatchConfiguration {
            tolerance_intervals: 12,
            window_seconds: 30 * 60,
            high_infectiousness_days: -2..=3,
            infectious_days: -14..=14,
            infectiousness_when_onset_missing: Infectiousness::Standard,
            report_type_when_missing: ReportType::ConfirmedTest,
            calibration_confidence: 0,
        }
    }
}

impl MatchConfiguration {
    /// The infectiousness of a key; `None` when it is outside the infectious days.
    #[must_use]
    pub fn infectiousness(&self, days_since_onset: Option<i32>) -> Option<Infectiousness> {
        match days_since_onset {
            None => Some(self.infectiousness_when_onset_missing),
            Some(days) if self.high_infectiousness_days.contains(&days) => {
                Some(Infectiousness::High)
            }
            Some(days) if self.infectious_days.contains(&days) => Some(Infectiousness::Standard),
            Some(_) => None,
        }
    }
}

/// The sightings, indexed by identifier.
#[derive(Debug, Default)]
pub struct SightingIndex {
    /// Sorted by identifier then time, so that one identifier's sightings are contiguous.
    sightings: Vec<Sighting>,
    /// Identifier → (first position, count). std's keyed SipHash: identifiers are chosen by
    /// whoever broadcasts them, so an unkeyed hash would let a neighbour flood one bucket.
    positions: HashMap<[u8; KEY_BYTES], (u32, u32)>,
}

impl SightingIndex {
    /// An index of `sightings`.
    #[must_use]
    pub fn new(mut sightings: Vec<Sighting>) -> Self {
        sightings.sort_unstable_by(|a, b| a.rpi.cmp(&b.rpi).then(a.time.cmp(&b.time)));
        let mut positions: HashMap<[u8; KEY_BYTES], (u32, u32)> = HashMap::new();
        for (position, sighting) in sightings.iter().enumerate() {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            positions
                .entry(sighting.rpi)
                .and_modify(|(_, count)| *count += 1)
                .or_insert((position, 1));
        }
        SightingIndex {
            sightings,
            positions,
        }
    }

    /// Number of sightings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sightings.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sightings.is_empty()
    }

    /// The sightings of an identifier.
    #[must_use]
    pub fn of(&self, rpi: &[u8; KEY_BYTES]) -> &[Sighting] {
        self.positions
            .get(rpi)
            .and_then(|&(first, count)| {
                let first = first as usize;
                self.sightings.get(first..first + count as usize)
            })
            .unwrap_or_default()
    }
}

/// What a match run found and read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchReport {
    /// The exposure windows built from matched sightings.
    pub windows: Vec<ExposureWindow>,
    /// Key files read.
    pub files: u64,
    /// Published keys checked against the sightings.
    pub keys_checked: u64,
    /// Keys refused (bad length, period, report type): skipped, counted.
    pub keys_refused: u64,
    /// Keys that matched at least one sighting (once per key, after revisions).
    pub keys_matched: u64,
}

/// Progress of a match run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchProgress {
    /// Key files read so far.
    pub files: u64,
    /// Keys handed to the workers so far.
    pub keys: u64,
}

/// One key's windows, as a worker found them.
struct KeyWindows {
    key: [u8; KEY_BYTES],
    revised: bool,
    windows: Vec<ExposureWindow>,
}

/// Keeps one entry per key: a revised key replaces the original (its report type changed,
/// or it was revoked and has no windows); a key published twice counts once; of two
/// revisions, a revocation wins.
fn settle(by_key: &mut HashMap<[u8; KEY_BYTES], KeyWindows>, entry: KeyWindows) {
    match by_key.get_mut(&entry.key) {
        None => {
            by_key.insert(entry.key, entry);
        }
        Some(held) => {
            let replaces = entry.revised && (!held.revised || entry.windows.is_empty());
            if replaces {
                *held = entry;
            }
        }
    }
}

/// Matches keys against an index of sightings.
#[derive(Debug)]
pub struct Matcher {
    index: SightingIndex,
    configuration: MatchConfiguration,
    /// Today's UTC day number (Unix days), to date windows by age.
    today: i64,
}

impl Matcher {
    /// A matcher of `sightings` at Unix time `now`.
    #[must_use]
    pub fn new(sightings: Vec<Sighting>, configuration: MatchConfiguration, now: i64) -> Self {
        Matcher {
            index: SightingIndex::new(sightings),
            configuration,
            today: now.div_euclid(DAY_SECONDS),
        }
    }

    /// The sightings' index.
    #[must_use]
    pub fn index(&self) -> &SightingIndex {
        &self.index
    }

    /// The exposure windows of one key (none for most keys). `blocks` is a scratch buffer
    /// kept between calls.
    #[must_use]
    pub fn windows_of(
        &self,
        key: &DiagnosisKey,
        blocks: &mut Vec<aes::Block>,
    ) -> Vec<ExposureWindow> {
        if key.report_type == REPORT_TYPE_REVOKED {
            return Vec::new();
        }
        key.key.rpis_into(blocks);
        let tolerance = i64::from(self.configuration.tolerance_intervals);
        let mut matched: Vec<Sighting> = Vec::new();
        for (interval, block) in (i64::from(key.key.rolling_start)..).zip(blocks.iter()) {
            let rpi: [u8; KEY_BYTES] = (*block).into();
            for sighting in self.index.of(&rpi) {
                let heard = sighting.time.div_euclid(INTERVAL_SECONDS);
                if (heard - interval).abs() <= tolerance {
                    matched.push(*sighting);
                }
            }
        }
        if matched.is_empty() {
            return Vec::new();
        }
        let Some(infectiousness) = self
            .configuration
            .infectiousness(key.days_since_onset_of_symptoms)
        else {
            return Vec::new();
        };
        let report_type = ReportType::from_number(key.report_type.into())
            .unwrap_or(self.configuration.report_type_when_missing);
        let derived = key.key.derive();
        let mut scans: Vec<(i64, ScanInstance)> = matched
            .iter()
            .filter_map(|sighting| {
                let metadata = derived.aem(&sighting.rpi, sighting.aem);
                // Major version 1 (bits 7–6 = 01): anything else is not GAEN v1 metadata.
                let [version, tx_power, _, _] = metadata;
                if version >> 6 != 1 {
                    return None;
                }
                let tx_power = i16::from(i8::from_le_bytes([tx_power]));
                let attenuation =
                    |rssi: i8| u8::try_from((tx_power - i16::from(rssi)).clamp(0, 255)).ok();
                Some((
                    sighting.time,
                    ScanInstance {
                        min_attenuation: attenuation(sighting.peak_rssi)?,
                        typical_attenuation: attenuation(sighting.mean_rssi)?,
                        seconds_since_last_scan: sighting.seconds_since_last_scan.into(),
                    },
                ))
            })
            .collect();
        scans.sort_by_key(|(time, _)| *time);
        self.windows_from_scans(&scans, report_type, infectiousness)
    }

    fn windows_from_scans(
        &self,
        scans: &[(i64, ScanInstance)],
        report_type: ReportType,
        infectiousness: Infectiousness,
    ) -> Vec<ExposureWindow> {
        // (start, time of the last scan, window)
        let mut windows: Vec<(i64, i64, ExposureWindow)> = Vec::new();
        for (time, scan) in scans {
            match windows.last_mut() {
                Some((start, last_time, window))
                    if *time < *start + self.configuration.window_seconds =>
                {
                    match window.scan_instances.last_mut() {
                        // Two identifiers of one key in the same scan (it rotated): one scan.
                        Some(last) if time == last_time => {
                            last.min_attenuation = last.min_attenuation.min(scan.min_attenuation);
                            last.typical_attenuation =
                                last.typical_attenuation.min(scan.typical_attenuation);
                        }
                        _ => window.scan_instances.push(*scan),
                    }
                    *last_time = *time;
                }
                _ => {
                    let age = self.today - time.div_euclid(DAY_SECONDS);
                    windows.push((
                        *time,
                        *time,
                        ExposureWindow {
                            age_in_days: u32::try_from(age.max(0)).unwrap_or(u32::MAX),
                            report_type: report_type.number(),
                            infectiousness: match infectiousness {
                                Infectiousness::Standard => 1,
                                Infectiousness::High => 2,
                            },
                            calibration_confidence: self.configuration.calibration_confidence,
                            scan_instances: vec![*scan],
                        },
                    ));
                }
            }
        }
        windows.into_iter().map(|(_, _, window)| window).collect()
    }

    /// Matches the keys of `files`, read one after another, on `threads` workers, reporting
    /// progress; a file that fails to open or verify stops the run with its error (a check
    /// that silently skipped a file could miss an exposure).
    ///
    /// # Errors
    /// The first file's error.
    pub fn run(
        &self,
        files: impl IntoIterator<Item = Result<KeyFile, ExposureError>>,
        threads: usize,
        progress: &mut dyn FnMut(MatchProgress),
    ) -> Result<MatchReport, ExposureError> {
        let threads = threads.max(1);
        let checked = AtomicU64::new(0);
        // (key, whether it is a revised key)
        let (sender, receiver) = sync_channel::<Vec<(DiagnosisKey, bool)>>(threads * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let receiver = Arc::clone(&receiver);
                    let checked = &checked;
                    scope.spawn(move || {
                        let mut found: Vec<KeyWindows> = Vec::new();
                        let mut blocks = Vec::with_capacity(144);
                        loop {
                            // A poisoned lock means another worker panicked: stop.
                            let chunk = match receiver.lock() {
                                Ok(receiver) => receiver.recv(),
                                Err(_) => break,
                            };
                            let Ok(chunk) = chunk else { break };
                            for (key, revised) in &chunk {
                                let windows = self.windows_of(key, &mut blocks);
                                // A revised key is kept even without windows: it may
                                // withdraw the original (revoked).
                                if !windows.is_empty() || *revised {
                                    found.push(KeyWindows {
                                        key: *key.key.bytes(),
                                        revised: *revised,
                                        windows,
                                    });
                                }
                            }
                            checked.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        }
                        found
                    })
                })
                .collect();
            let mut total = MatchReport::default();
            let mut handed = 0u64;
            let mut outcome = Ok(());
            'files: for file in files {
                let file = match file {
                    Ok(file) => file,
                    Err(error) => {
                        outcome = Err(error);
                        break;
                    }
                };
                let mut chunk = Vec::with_capacity(CHUNK_KEYS);
                let keys = file.keys().map(|key| (key, false));
                for (key, revised) in keys.chain(file.revised_keys().map(|key| (key, true))) {
                    match key {
                        Ok(key) => chunk.push((key, revised)),
                        Err(_) => total.keys_refused += 1,
                    }
                    if chunk.len() == CHUNK_KEYS {
                        handed += CHUNK_KEYS as u64;
                        if sender.send(std::mem::take(&mut chunk)).is_err() {
                            break 'files;
                        }
                        progress(MatchProgress {
                            files: total.files,
                            keys: handed,
                        });
                    }
                }
                handed += chunk.len() as u64;
                if !chunk.is_empty() && sender.send(chunk).is_err() {
                    break;
                }
                total.files += 1;
                progress(MatchProgress {
                    files: total.files,
                    keys: handed,
                });
            }
            drop(sender);
            let mut by_key: HashMap<[u8; KEY_BYTES], KeyWindows> = HashMap::new();
            for worker in workers {
                let found = worker.join().map_err(|_| {
                    ExposureError::Matching("a matching worker stopped unexpectedly".into())
                })?;
                for entry in found {
                    settle(&mut by_key, entry);
                }
            }
            outcome?;
            for entry in by_key
                .into_values()
                .filter(|entry| !entry.windows.is_empty())
            {
                total.keys_matched += 1;
                total.windows.extend(entry.windows);
            }
            total.keys_checked = checked.load(Ordering::Relaxed);
            Ok(total)
        })
    }
}
