//! A simulated town: virtual phones carried by people through homes, offices, cafés and trams,
//! a Bluetooth radio between them no easier than the real one, and the truth of who was
//! really near whom — so that precision and recall of "exposed" can be measured.
//!
//! The radio: log-distance path loss (45 dB at 1 m, exponent drawn per place in 2–3), a
//! 12 dB wall between places, body and pocket attenuation per person (0, 5 or 10 dB, redrawn
//! every 15 minutes), Rayleigh-like fading as Gaussian noise of σ = 7 dB on every
//! advertisement, advertisements every 250 ms of which about 60 % are caught, a −100 dBm
//! sensitivity, and per-model calibration drawn from the published table with a residual
//! error (σ = 2 dB) on both the sender's TX power and the receiver's correction. Phones
//! follow GAEN's duty cycle: 4 seconds of scanning every 4 minutes, at a random phase.
//!
//! The truth: a person is exposed when within 2 m of one positive person for 15 minutes or
//! more in a day (summed over the day, sampled every minute).
//!
//! Everything is drawn from one seed: the same seed gives the same town, the same radio and
//! the same result.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Mutex;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::ExposureError;
use crate::calibration::CalibrationTable;
use crate::device::{CYCLE_SECONDS, Device, SCAN_SECONDS};
use crate::keyfile::{DiagnosisKey, KeyFile, VerificationKey};
use crate::keys::{KEY_BYTES, ROLLING_PERIOD, TemporaryExposureKey};
use crate::matching::{MatchConfiguration, Matcher};
use crate::radio::{Advertisement, BleTransport, Calibration, Reception, Sighting};
use crate::risk::{RiskConfiguration, RiskLevel};

const MINUTES_PER_DAY: u32 = 1440;
const DAY_SECONDS: i64 = 86_400;
/// Attenuation at 1 m between two reference phones in free space (dB).
const PATH_LOSS_AT_1M: f64 = 45.0;
/// Attenuation of a wall between two places (dB).
const WALL_DB: f64 = 12.0;
/// Body and pocket attenuation states (dB).
const BODY_DB: [f64; 3] = [0.0, 5.0, 10.0];
/// Fading noise on each advertisement (dB): at least the 6 dB the issue asks.
pub const NOISE_SIGMA_DB: f64 = 7.0;
/// Residual error of the calibration table on a phone (dB).
const CALIBRATION_RESIDUAL_DB: f64 = 2.0;
/// Advertisements sent during one scan (every 250 ms for 4 s).
const ADVERTISEMENTS_PER_SCAN: u32 = SCAN_SECONDS * 4;
/// Share of advertisements a scan catches (channel hopping, collisions).
const CATCH_RATE: f64 = 0.6;
/// Weakest RSSI a phone hears (dBm).
const SENSITIVITY_DBM: f64 = -100.0;
/// Beyond this distance nothing is heard (m).
const RADIO_RANGE_M: f64 = 25.0;
/// Side of the spatial grid's cells (m).
const CELL_M: f64 = 25.0;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// Phones (one person each).
    pub phones: usize,
    /// Days, from a Monday.
    pub days: u32,
    /// The seed of everything.
    pub seed: u64,
    /// Share of people who test positive at the end.
    pub positive_share: f64,
    /// Unix time of the first day's midnight (UTC).
    pub start: i64,
    /// Distance of the truth (m).
    pub exposure_distance_m: f64,
    /// Minutes in a day within that distance of one positive person that make someone exposed.
    pub exposure_minutes: u32,
}

impl Default for SimulationConfig {
    /// 200 phones for 3 days from Monday 2025-03-03, 5 % positive, seed 1; 2 m and 15 minutes.
    fn default() -> Self {
        SimulationConfig {
            phones: 200,
            days: 3,
            seed: 1,
            positive_share: 0.05,
            start: 1_740_960_000,
            exposure_distance_m: 2.0,
            exposure_minutes: 15,
        }
    }
}

/// Largest simulation run (phones × days), to keep a run within memory and minutes.
pub const MAX_PHONE_DAYS: usize = 20_000;

/// One virtual phone at the end of the simulation.
#[derive(Debug, Clone)]
pub struct SimulatedPhone {
    /// Its maker and model (from the calibration table).
    pub model: String,
    /// Its calibration (as the table gives it).
    pub calibration: Calibration,
    /// Whether its person tests positive on the last day.
    pub positive: bool,
    /// Its own keys, one a day.
    pub keys: Vec<TemporaryExposureKey>,
    /// What it heard.
    pub sightings: Vec<Sighting>,
    /// The truth: within 2 m of one positive person for 15 minutes or more in a day.
    pub exposed: bool,
}

/// The simulated town after its days.
#[derive(Debug, Clone)]
pub struct SimulatedTown {
    /// The town's phones, with what each heard.
    pub phones: Vec<SimulatedPhone>,
    /// The configuration it ran with.
    pub config: SimulationConfig,
}

/// Progress of a simulation (in simulated minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulationProgress {
    /// Minutes of the town's life simulated.
    pub minutes: u64,
    /// Minutes to simulate.
    pub total: u64,
}

/// Precision and recall of "exposed" against the truth, over the people who did not test
/// positive themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Flagged and truly exposed.
    pub true_positives: u32,
    /// Flagged, not exposed.
    pub false_positives: u32,
    /// Exposed, not flagged.
    pub false_negatives: u32,
    /// Phones neither notified nor truly exposed.
    pub true_negatives: u32,
}

impl Accuracy {
    /// Share of the flagged who were exposed (1 when nobody is flagged).
    #[must_use]
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of the exposed who were flagged (1 when nobody was exposed).
    #[must_use]
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        1.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

impl SimulatedTown {
    /// The keys the positive people publish: all their keys, confirmed by a test, with days
    /// since the onset of symptoms counted from the day before the last.
    #[must_use]
    pub fn positive_keys(&self) -> Vec<DiagnosisKey> {
        let onset_day = self.config.start.div_euclid(DAY_SECONDS) + i64::from(self.config.days) - 2;
        self.phones
            .iter()
            .filter(|phone| phone.positive)
            .flat_map(|phone| phone.keys.iter())
            .map(|key| {
                let key_day = i64::from(key.rolling_start / ROLLING_PERIOD);
                DiagnosisKey {
                    key: key.clone(),
                    report_type: 1,
                    days_since_onset_of_symptoms: i32::try_from(key_day - onset_day).ok(),
                    transmission_risk_level: None,
                }
            })
            .collect()
    }

    /// Precision and recall of `flagged` (one flag per phone) against the truth.
    #[must_use]
    pub fn accuracy(&self, flagged: &[bool]) -> Accuracy {
        let mut accuracy = Accuracy {
            true_positives: 0,
            false_positives: 0,
            false_negatives: 0,
            true_negatives: 0,
        };
        for (phone, flagged) in self.phones.iter().zip(flagged) {
            if phone.positive {
                continue;
            }
            let count = match (*flagged, phone.exposed) {
                (true, true) => &mut accuracy.true_positives,
                (true, false) => &mut accuracy.false_positives,
                (false, true) => &mut accuracy.false_negatives,
                (false, false) => &mut accuracy.true_negatives,
            };
            *count += 1;
        }
        accuracy
    }

    /// Checks every phone that did not test positive against the published key files, as
    /// each phone would (matching its own sightings, then the risk); a phone is flagged
    /// exposed at high risk. Phones are shared among `threads` workers.
    ///
    /// # Errors
    /// A key file's error (it does not verify, it is malformed).
    pub fn flag_exposed(
        &self,
        key_files: &[Vec<u8>],
        trusted: &[VerificationKey],
        risk: &RiskConfiguration,
        threads: usize,
    ) -> Result<Vec<bool>, ExposureError> {
        let now = self.end();
        let check = |phone: &SimulatedPhone| -> Result<bool, ExposureError> {
            if phone.positive {
                return Ok(false);
            }
            let configuration = MatchConfiguration {
                calibration_confidence: phone.calibration.confidence,
                ..MatchConfiguration::default()
            };
            let matcher = Matcher::new(phone.sightings.clone(), configuration, now);
            let files = key_files
                .iter()
                .map(|zip| KeyFile::open(Cursor::new(zip.as_slice()), trusted));
            let report = matcher.run(files, 1, &mut |_| {})?;
            Ok(risk.summarize(&report.windows).total_risk_level == RiskLevel::High)
        };
        let share = self.phones.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .phones
                .chunks(share)
                .map(|phones| scope.spawn(move || phones.iter().map(check).collect::<Vec<_>>()))
                .collect();
            let mut flags = Vec::with_capacity(self.phones.len());
            for worker in workers {
                let results = worker.join().map_err(|_| {
                    ExposureError::Matching("a checking worker stopped unexpectedly".into())
                })?;
                for flag in results {
                    flags.push(flag?);
                }
            }
            Ok(flags)
        })
    }

    /// Unix time at the end of the simulated days.
    #[must_use]
    pub fn end(&self) -> i64 {
        self.config.start + i64::from(self.config.days) * DAY_SECONDS
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlaceKind {
    Home,
    Office,
    Cafe,
    Tram,
}

#[derive(Debug, Clone)]
struct Place {
    kind: PlaceKind,
    origin: (f64, f64),
    size: (f64, f64),
    path_loss_exponent: f64,
}

/// A person's fixed traits.
#[derive(Debug, Clone)]
struct Person {
    home: usize,
    /// Place in the household (0 and 1 share a bed).
    rank_at_home: usize,
    office: Option<(usize, usize)>,
    /// Minutes offset of the person's day (leaves earlier or later).
    shift: i64,
    positive: bool,
    /// The true offsets of the phone: TX power over what the table says, RSSI correction
    /// error.
    tx_residual: f64,
    rssi_residual: f64,
}

/// Where a person is at a minute.
#[derive(Debug, Clone, Copy)]
struct Spot {
    place: usize,
    x: f64,
    y: f64,
}

struct Town {
    config: SimulationConfig,
    places: Vec<Place>,
    people: Vec<Person>,
    cafes: Vec<usize>,
    trams: Vec<usize>,
}

/// Adds a place (its path loss exponent drawn in 2–3); its index.
fn add_place(
    places: &mut Vec<Place>,
    kind: PlaceKind,
    origin: (f64, f64),
    size: (f64, f64),
    rng: &mut ChaCha8Rng,
) -> usize {
    places.push(Place {
        kind,
        origin,
        size,
        path_loss_exponent: rng.random_range(2.0..=3.0),
    });
    places.len() - 1
}

/// Adds `count` places of one kind in a row from `x`, `spacing` metres apart.
fn street(
    places: &mut Vec<Place>,
    kind: PlaceKind,
    count: usize,
    x: f64,
    spacing: f64,
    size: (f64, f64),
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    (0..count)
        .map(|index| add_place(places, kind, (x + index as f64 * spacing, 0.0), size, rng))
        .collect()
}

/// A deterministic generator for one question (person, block of time, what): the town's
/// draws do not depend on the order in which they are made.
fn draw(seed: u64, person: usize, block: i64, what: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((person as u64) << 40) ^ ((block as u64) << 8) ^ what);
    rng
}

impl Town {
    fn build(config: &SimulationConfig, rng: &mut ChaCha8Rng) -> Result<Town, ExposureError> {
        let mut places = Vec::new();
        // Homes of 1 to 4 people, 12 × 10 m, in streets with 4 m between them.
        let mut people = Vec::with_capacity(config.phones);
        let mut home_index = 0;
        while people.len() < config.phones {
            let size = match rng.random_range(0..100) {
                0..35 => 1,
                35..65 => 2,
                65..85 => 3,
                _ => 4,
            };
            let origin = (
                f64::from(home_index % 10) * 16.0,
                f64::from(home_index / 10) * 14.0,
            );
            let home = add_place(&mut places, PlaceKind::Home, origin, (12.0, 10.0), rng);
            home_index += 1;
            for rank in 0..size {
                if people.len() == config.phones {
                    break;
                }
                people.push(Person {
                    home,
                    rank_at_home: rank,
                    office: None,
                    shift: rng.random_range(-30..=30),
                    positive: false,
                    tx_residual: 0.0,
                    rssi_residual: 0.0,
                });
            }
        }
        // Offices of 30 × 20 m with desks 2.5 m apart; four people in five work.
        let offices = street(
            &mut places,
            PlaceKind::Office,
            config.phones.div_ceil(15),
            1000.0,
            50.0,
            (30.0, 20.0),
            rng,
        );
        let mut desks: HashMap<usize, usize> = HashMap::new();
        for person in &mut people {
            if rng.random_bool(0.8)
                && let Some(&office) = offices.get(rng.random_range(0..offices.len().max(1)))
            {
                let desk = desks.entry(office).or_insert(0);
                person.office = Some((office, *desk));
                *desk += 1;
            }
        }
        let cafes = street(
            &mut places,
            PlaceKind::Cafe,
            config.phones / 25 + 1,
            2000.0,
            30.0,
            (15.0, 10.0),
            rng,
        );
        let trams = street(
            &mut places,
            PlaceKind::Tram,
            config.phones / 12 + 1,
            3000.0,
            30.0,
            (2.5, 12.0),
            rng,
        );
        let positives = ((config.phones as f64 * config.positive_share).round() as usize).max(1);
        let mut order: Vec<usize> = (0..people.len()).collect();
        for index in 0..order.len() {
            let other = rng.random_range(index..order.len());
            order.swap(index, other);
        }
        let residual = normal(CALIBRATION_RESIDUAL_DB)?;
        for (rank, &index) in order.iter().enumerate() {
            if let Some(person) = people.get_mut(index) {
                person.positive = rank < positives;
                person.tx_residual = residual.sample(rng);
                person.rssi_residual = residual.sample(rng);
            }
        }
        Ok(Town {
            config: config.clone(),
            places,
            people,
            cafes,
            trams,
        })
    }

    /// Where `person` is at `minute` of `day` (global coordinates).
    fn spot(&self, index: usize, day: u32, minute: u32) -> Spot {
        let Some(person) = self.people.get(index) else {
            return Spot {
                place: 0,
                x: 0.0,
                y: 0.0,
            };
        };
        let seed = self.config.seed;
        let minute = i64::from(minute);
        let block = i64::from(day) * 1000 + minute / 15;
        let mut daily = draw(seed, index, i64::from(day), 1);
        let shift = person.shift + daily.random_range(-10..=10);
        let leave = 7 * 60 + 30 + shift;
        let commute = 20 + daily.random_range(0..=20);
        let lunch = 12 * 60 + shift / 2;
        let back = 17 * 60 + 30 + shift;
        let evening_out = daily.random_bool(0.3);
        let tram_morning = daily.random_range(0..self.trams.len().max(1));
        let tram_evening = daily.random_range(0..self.trams.len().max(1));
        let pick =
            |places: &[usize], choice: usize| places.get(choice % places.len().max(1)).copied();
        let (place, anchor): (Option<usize>, Option<(f64, f64)>) = match person.office {
            Some((office, desk)) => {
                // Colleagues lunch in fours (neighbouring desks): a café and a table per
                // group and day.
                let group = office * 8 + desk / 4;
                let lunch_cafe = pick(&self.cafes, group + day as usize);
                if minute < leave || minute >= back + commute + 150 && !evening_out {
                    (Some(person.home), self.home_anchor(person, minute))
                } else if minute < leave + commute {
                    (pick(&self.trams, tram_morning), None)
                } else if (lunch..lunch + 45).contains(&minute) {
                    (lunch_cafe, Some(table(group)))
                } else if minute < back {
                    // Six neighbouring desks meet a tenth of the time, around one table.
                    let team = office * 8 + desk / 6;
                    let meeting = draw(seed, team, block, 2).random_bool(0.1);
                    if meeting {
                        (Some(office), Some((22.0 + (team % 2) as f64 * 4.0, 15.0)))
                    } else {
                        let desk = desk as f64;
                        (
                            Some(office),
                            Some((2.0 + (desk % 10.0) * 2.5, 2.0 + (desk / 10.0).floor() * 3.0)),
                        )
                    }
                } else if minute < back + commute {
                    (pick(&self.trams, tram_evening), None)
                } else if evening_out && (19 * 60..20 * 60 + 30).contains(&minute) {
                    (
                        pick(&self.cafes, person.home + day as usize),
                        Some(table(person.home)),
                    )
                } else {
                    (Some(person.home), self.home_anchor(person, minute))
                }
            }
            None => {
                let morning = (10 * 60..11 * 60).contains(&minute) && daily.random_bool(0.5);
                if morning {
                    (pick(&self.cafes, index + day as usize), None)
                } else {
                    (Some(person.home), self.home_anchor(person, minute))
                }
            }
        };
        let place = place.unwrap_or(person.home);
        let Some(area) = self.places.get(place) else {
            return Spot {
                place,
                x: 0.0,
                y: 0.0,
            };
        };
        // Anchored people sit within 0.6 m of their seat; others move about the place,
        // every 15 minutes at home and in cafés, every 5 in a tram.
        let moves = if area.kind == PlaceKind::Tram {
            minute / 5
        } else {
            minute / 15
        };
        let mut local = draw(seed, index, i64::from(day) * 1000 + moves, 3);
        let (x, y) = match anchor {
            Some((x, y)) => (
                x + local.random_range(-0.6..=0.6),
                y + local.random_range(-0.6..=0.6),
            ),
            None => (
                local.random_range(0.0..=area.size.0),
                local.random_range(0.0..=area.size.1),
            ),
        };
        Spot {
            place,
            x: area.origin.0 + x.clamp(0.0, area.size.0),
            y: area.origin.1 + y.clamp(0.0, area.size.1),
        }
    }

    /// At night the household sleeps: the first two share a bed, the others have rooms.
    fn home_anchor(&self, person: &Person, minute: i64) -> Option<(f64, f64)> {
        let night = !(7 * 60..23 * 60).contains(&minute);
        night.then_some(match person.rank_at_home {
            0 => (2.0, 2.0),
            1 => (3.0, 2.0),
            2 => (9.0, 2.0),
            _ => (9.0, 8.0),
        })
    }

    fn body_attenuation(&self, person: usize, day: u32, minute: u32) -> f64 {
        let block = i64::from(day) * 1000 + i64::from(minute / 15);
        let state = draw(self.config.seed, person, block, 4).random_range(0..BODY_DB.len());
        BODY_DB.get(state).copied().unwrap_or_default()
    }
}

/// The centre of one of a café's eight tables (3.5 m apart), chosen by `group`.
fn table(group: usize) -> (f64, f64) {
    let group = group % 8;
    (
        2.0 + (group % 4) as f64 * 3.5,
        2.0 + (group / 4) as f64 * 4.0,
    )
}

fn poisoned<T>(_: T) -> ExposureError {
    ExposureError::Radio("the simulated air is poisoned".into())
}

fn normal(sigma: f64) -> Result<Normal<f64>, ExposureError> {
    Normal::new(0.0, sigma).map_err(|error| ExposureError::Simulation(error.to_string()))
}

/// The grid cell of a point.
fn cell(x: f64, y: f64) -> (i64, i64) {
    ((x / CELL_M).floor() as i64, (y / CELL_M).floor() as i64)
}

/// The air between the phones at one minute: where everyone is, what each phone broadcasts.
struct Air<'a> {
    town: &'a Town,
    /// The table's calibration of each phone.
    calibrations: Vec<Calibration>,
    spots: Vec<Spot>,
    body: Vec<f64>,
    grid: HashMap<(i64, i64), Vec<usize>>,
    advertisements: Mutex<Vec<Option<Advertisement>>>,
    noise: Normal<f64>,
    rng: Mutex<ChaCha8Rng>,
    now: i64,
}

impl Air<'_> {
    fn settle(&mut self, day: u32, minute: u32) {
        self.spots = (0..self.town.people.len())
            .map(|person| self.town.spot(person, day, minute))
            .collect();
        self.body = (0..self.town.people.len())
            .map(|person| self.town.body_attenuation(person, day, minute))
            .collect();
        self.grid.clear();
        for (person, spot) in self.spots.iter().enumerate() {
            self.grid
                .entry(cell(spot.x, spot.y))
                .or_default()
                .push(person);
        }
    }

    /// Everyone within `range` metres of `person`, with the distance.
    fn near(&self, person: usize, range: f64) -> Vec<(usize, f64)> {
        let Some(me) = self.spots.get(person) else {
            return Vec::new();
        };
        let (column, row) = cell(me.x, me.y);
        let mut near = Vec::new();
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &other in self
                    .grid
                    .get(&(column + dx, row + dy))
                    .into_iter()
                    .flatten()
                {
                    let Some(spot) = self.spots.get(other) else {
                        continue;
                    };
                    let distance = (spot.x - me.x).hypot(spot.y - me.y);
                    if other != person && distance <= range {
                        near.push((other, distance));
                    }
                }
            }
        }
        near
    }
}

/// One virtual phone's radio.
struct PhoneRadio<'a> {
    air: &'a Air<'a>,
    phone: usize,
}

impl BleTransport for PhoneRadio<'_> {
    fn advertise(&self, advertisement: &Advertisement) -> Result<(), ExposureError> {
        let mut advertisements = self.air.advertisements.lock().map_err(poisoned)?;
        if let Some(slot) = advertisements.get_mut(self.phone) {
            *slot = Some(*advertisement);
        }
        Ok(())
    }

    fn scan(&self, seconds: u32) -> Result<Vec<Reception>, ExposureError> {
        let air = self.air;
        let advertisements = air.advertisements.lock().map_err(poisoned)?;
        let mut rng = air.rng.lock().map_err(poisoned)?;
        let (Some(me), Some(receiver)) =
            (air.spots.get(self.phone), air.town.people.get(self.phone))
        else {
            return Ok(Vec::new());
        };
        let exponent = air
            .town
            .places
            .get(me.place)
            .map_or(2.0, |place| place.path_loss_exponent);
        let correction = air
            .calibrations
            .get(self.phone)
            .map_or(0.0, |calibration| f64::from(calibration.rssi_correction));
        let my_body = air.body.get(self.phone).copied().unwrap_or_default();
        let mut receptions = Vec::new();
        for (other, distance) in air.near(self.phone, RADIO_RANGE_M) {
            let (Some(Some(advertisement)), Some(sender), Some(spot), Some(calibration)) = (
                advertisements.get(other),
                air.town.people.get(other),
                air.spots.get(other),
                air.calibrations.get(other),
            ) else {
                continue;
            };
            let wall = if spot.place == me.place { 0.0 } else { WALL_DB };
            let loss = PATH_LOSS_AT_1M
                + 10.0 * exponent * distance.max(0.3).log10()
                + wall
                + my_body
                + air.body.get(other).copied().unwrap_or_default();
            let received = f64::from(calibration.tx_power) + sender.tx_residual - loss;
            for _ in 0..seconds * (ADVERTISEMENTS_PER_SCAN / SCAN_SECONDS) {
                if !rng.random_bool(CATCH_RATE) {
                    continue;
                }
                // What this phone's radio reads: the reference reading, minus the correction
                // the table says it needs, off by this phone's own residual.
                let raw =
                    received + air.noise.sample(&mut *rng) - correction + receiver.rssi_residual;
                if raw < SENSITIVITY_DBM {
                    continue;
                }
                receptions.push(Reception {
                    advertisement: *advertisement,
                    rssi: raw.round().clamp(-127.0, 0.0) as i8,
                    time: air.now,
                });
            }
        }
        Ok(receptions)
    }
}

/// Runs the town for its days, reporting progress every simulated hour.
///
/// # Errors
/// [`ExposureError::Simulation`] for a configuration out of range or an empty calibration
/// table.
pub fn simulate(
    config: &SimulationConfig,
    table: &CalibrationTable,
    progress: &mut dyn FnMut(SimulationProgress),
) -> Result<SimulatedTown, ExposureError> {
    if config.phones < 2
        || config.days == 0
        || config.phones.saturating_mul(config.days as usize) > MAX_PHONE_DAYS
    {
        return Err(ExposureError::Simulation(format!(
            "{} phones for {} days: at least 2 phones and 1 day, at most {MAX_PHONE_DAYS} phone-days",
            config.phones, config.days
        )));
    }
    if !(config.positive_share > 0.0 && config.positive_share <= 1.0) {
        return Err(ExposureError::Simulation(
            "the positive share must be in (0, 1]".into(),
        ));
    }
    if table.models.is_empty() {
        return Err(ExposureError::Simulation(
            "the calibration table is empty".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let town = Town::build(config, &mut rng)?;
    let models: Vec<_> = (0..config.phones)
        .filter_map(|_| table.models.get(rng.random_range(0..table.models.len())))
        .collect();
    let mut devices: Vec<Device> = models
        .iter()
        .map(|model| Device::new(model.calibration, None))
        .collect();
    let phases: Vec<u32> = (0..config.phones).map(|_| rng.random_range(0..4)).collect();
    let mut keys: Vec<Vec<TemporaryExposureKey>> = vec![Vec::new(); config.phones];
    let mut sightings: Vec<Vec<Sighting>> = vec![Vec::new(); config.phones];
    let mut air = Air {
        town: &town,
        calibrations: models.iter().map(|model| model.calibration).collect(),
        spots: Vec::new(),
        body: Vec::new(),
        grid: HashMap::new(),
        advertisements: Mutex::new(vec![None; config.phones]),
        noise: normal(NOISE_SIGMA_DB)?,
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed)),
        now: config.start,
    };
    let mut near_positive: HashMap<(usize, usize, u32), u32> = HashMap::new();
    let total = u64::from(config.days) * u64::from(MINUTES_PER_DAY);
    let scan_minutes = (CYCLE_SECONDS / 60) as u32;
    let mut new_key = |interval: u32| {
        let mut bytes = [0u8; KEY_BYTES];
        rng.fill_bytes(&mut bytes);
        TemporaryExposureKey::new(&bytes, interval - interval % ROLLING_PERIOD, ROLLING_PERIOD)
    };
    for day in 0..config.days {
        for minute in 0..MINUTES_PER_DAY {
            air.now = config.start + i64::from(day) * DAY_SECONDS + i64::from(minute) * 60;
            air.settle(day, minute);
            for (positive, person) in town.people.iter().enumerate() {
                if person.positive {
                    for (other, _) in air.near(positive, config.exposure_distance_m) {
                        *near_positive.entry((other, positive, day)).or_default() += 1;
                    }
                }
            }
            for (phone, device) in devices.iter_mut().enumerate() {
                let radio = PhoneRadio { air: &air, phone };
                let (advertisement, started) = device.advertisement(air.now, &mut new_key)?;
                radio.advertise(&advertisement)?;
                if let (Some(key), Some(own)) = (started, keys.get_mut(phone)) {
                    own.push(key);
                }
            }
            for (phone, device) in devices.iter_mut().enumerate() {
                let phase = phases.get(phone).copied().unwrap_or_default();
                if (minute + phase) % scan_minutes == 0 {
                    let heard = device.scan(&PhoneRadio { air: &air, phone }, air.now)?;
                    if let Some(own) = sightings.get_mut(phone) {
                        own.extend(heard);
                    }
                }
            }
            if minute % 60 == 59 {
                progress(SimulationProgress {
                    minutes: u64::from(day) * u64::from(MINUTES_PER_DAY) + u64::from(minute) + 1,
                    total,
                });
            }
        }
    }
    let mut exposed = vec![false; config.phones];
    for ((person, _, _), minutes) in near_positive {
        if minutes >= config.exposure_minutes
            && let Some(flag) = exposed.get_mut(person)
        {
            *flag = true;
        }
    }
    let phones = models
        .into_iter()
        .zip(town.people.iter())
        .zip(keys.into_iter().zip(sightings).zip(exposed))
        .map(
            |((model, person), ((keys, sightings), exposed))| SimulatedPhone {
                model: format!("{} {}", model.oem, model.model),
                calibration: model.calibration,
                positive: person.positive,
                keys,
                sightings,
                exposed: exposed && !person.positive,
            },
        )
        .collect();
    Ok(SimulatedTown {
        phones,
        config: config.clone(),
    })
}
