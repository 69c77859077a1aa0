//! `carnet exposure …`: Bluetooth exposure notification from the command line — this phone's
//! keys and their publication after a positive test, the check against the key server, the
//! laboratory's side, the simulated town, and two tools for testing other implementations
//! (`derive`, `risk`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use carnet::exposure_notification::calibration::CalibrationTable;
use carnet::exposure_notification::keyfile::VerificationKey;
use carnet::exposure_notification::keys::{METADATA_BYTES, TemporaryExposureKey};
use carnet::exposure_notification::risk::{
    ExposureWindows, RiskConfiguration, RiskLevel, RiskSummary,
};
use carnet::exposure_notification::simulation::{
    Accuracy, SimulatedTown, SimulationConfig, SimulationProgress, simulate,
};
use carnet::record::ExposureCheck;
use carnet::{ExposureProgress, NationalServices};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::card::ProfessionalConnection;
use crate::output::print_json;
use crate::session::{self, Options, SessionError};
use crate::sync::{Connection, runtime};

/// The published calibration table (9,896 phone models), for the simulated town.
const CALIBRATION_TABLE: &str =
    include_str!("../../fixtures/exposure/en_calibration_2020-06-13.csv");
const DAY_SECONDS: i64 = 86_400;

/// `carnet exposure …`
#[derive(Debug, Subcommand)]
pub enum ExposureCommand {
    /// This phone's own keys of the last 14 days; with `--publish CODE`, send them to the key
    /// server after a positive test (the code comes from the laboratory).
    Keys {
        #[command(flatten)]
        connection: Connection,
        /// The laboratory's one-time code: publish the keys with it.
        #[arg(long, value_name = "CODE")]
        publish: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Listen for Exposure Notification advertisements with this computer's Bluetooth adapter
    /// and keep what is heard (needs a build with `--features ble`, BlueZ and D-Bus).
    Scan {
        /// How long to listen.
        #[arg(long, default_value_t = 30)]
        seconds: u32,
    },
    /// Download the key server's day files and check this phone's sightings against them.
    Check {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        key: VerificationKeyArgs,
        /// Matching threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete every exposure key, sighting and check outcome of this phone.
    Forget,
    /// The laboratory: report a positive test; prints the one-time code for the person.
    TestResult {
        #[command(flatten)]
        laboratory: ProfessionalConnection,
        /// The day symptoms began (YYYY-MM-DD), if any.
        #[arg(long, value_name = "DATE")]
        onset: Option<String>,
    },
    /// Run the simulated town end to end — phones moving and scanning through a noisy radio,
    /// the positive people's keys uploaded to the key server, day files downloaded, every
    /// phone checked — and print precision and recall of "exposed" against the truth (within
    /// 2 m of a positive person for 15 minutes or more in a day).
    Simulate {
        /// Phones in the town.
        #[arg(long, default_value_t = 200)]
        phones: usize,
        /// Days simulated (ending yesterday).
        #[arg(long, default_value_t = 3)]
        days: u32,
        /// Seed of everything.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A risk configuration (CWA's shape; default CWA's).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A key server to use instead of one started on loopback for the run.
        #[arg(long, value_name = "URL", requires = "laboratory_key")]
        server: Option<String>,
        /// The professionals' key of that server (to report the positive tests).
        #[arg(long, value_name = "FILE")]
        laboratory_key: Option<PathBuf>,
        /// Threads checking phones (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The 144 identifiers (RPI) and encrypted metadata (AEM) of a key from an interval.
    Derive {
        /// The key (32 hex digits).
        #[arg(long, value_name = "HEX")]
        tek: String,
        /// Its first interval (ENIntervalNumber).
        #[arg(long)]
        interval: u32,
        /// The 4 metadata bytes encrypted into the AEM (default 40000000: version 1.0).
        #[arg(long, value_name = "HEX")]
        metadata: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The risk of exposure windows (`{"exposureWindows": [...]}`, CWA's shape).
    Risk {
        /// The exposure windows to score (JSON, as GAEN gives them).
        #[arg(long, value_name = "FILE")]
        windows: PathBuf,
        /// A risk configuration (CWA's shape; default CWA's).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON with the fields of CWA's test cases.
        #[arg(long)]
        json: bool,
    },
}

/// Which key verifies the day files.
#[derive(Debug, Args)]
pub struct VerificationKeyArgs {
    /// The key server's public key (PEM `PUBLIC KEY`), as an app ships it. Without it, the
    /// key is asked of the server itself (fine for the reference server on loopback; a real
    /// app must not trust a server to name its own key).
    #[arg(long, value_name = "FILE")]
    verification_key: Option<PathBuf>,
    /// The key's id in the files.
    #[arg(long, default_value = "FR")]
    key_id: String,
    /// The key's version in the files.
    #[arg(long, default_value = "v1")]
    key_version: String,
}

impl VerificationKeyArgs {
    async fn key(&self, services: &NationalServices) -> Result<VerificationKey, SessionError> {
        match &self.verification_key {
            Some(path) => {
                let pem = read_key(path)?;
                Ok(
                    VerificationKey::from_pem(&self.key_id, &self.key_version, &pem)
                        .map_err(carnet::CarnetError::from)?,
                )
            }
            None => {
                errln!("carnet: no --verification-key: trusting the key the server gives");
                Ok(services.exposure_verification_key().await?)
            }
        }
    }
}

fn read_json(path: &Path, what: &'static str) -> Result<String, SessionError> {
    crate::input::read_text(path, crate::input::MAX_JSON_BYTES, what)
}

fn read_key(path: &Path) -> Result<String, SessionError> {
    crate::input::read_text(path, crate::input::MAX_TEXT_BYTES, "key file")
}

fn read_configuration(path: Option<&Path>) -> Result<RiskConfiguration, SessionError> {
    match path {
        Some(path) => Ok(RiskConfiguration::from_json(
            read_json(path, "risk configuration")?.as_bytes(),
        )
        .map_err(carnet::CarnetError::from)?),
        None => Ok(RiskConfiguration::default()),
    }
}

fn threads(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Runs `carnet exposure …`.
pub fn run(options: &Options, command: ExposureCommand) -> Result<ExitCode, SessionError> {
    match command {
        ExposureCommand::Keys {
            connection,
            publish,
            json,
        } => keys(options, &connection, publish.as_deref(), json),
        ExposureCommand::Scan { seconds } => scan(options, seconds),
        ExposureCommand::Check {
            connection,
            key,
            threads: requested,
            json,
        } => check(options, &connection, &key, threads(requested), json),
        ExposureCommand::Forget => {
            let record = session::open_record(options)?;
            let deleted = record.forget_exposure_data()?;
            outln!(
                "deleted: {} keys, {} scans, and the last check",
                deleted.keys,
                deleted.scans
            );
            Ok(ExitCode::SUCCESS)
        }
        ExposureCommand::TestResult { laboratory, onset } => {
            let answer = runtime()?
                .block_on(laboratory.client()?.report_positive_test(onset.as_deref()))
                .map_err(|e| SessionError::Io(e.to_string()))?;
            outln!(
                "positive test reported; the person's code (valid 24 hours): {}",
                answer.code
            );
            Ok(ExitCode::SUCCESS)
        }
        ExposureCommand::Simulate {
            phones,
            days,
            seed,
            config,
            server,
            laboratory_key,
            threads: requested,
            json,
        } => {
            let town = SimulationConfig {
                phones,
                days,
                seed,
                start: (now_secs().div_euclid(DAY_SECONDS) - i64::from(days)) * DAY_SECONDS,
                ..SimulationConfig::default()
            };
            let risk = read_configuration(config.as_deref())?;
            let server = match server.zip(laboratory_key) {
                Some((url, key)) => Some((url, read_key(&key)?.trim().to_owned())),
                None => None,
            };
            let report = run_simulation(options, &town, &risk, server, threads(requested))?;
            print_town(&report, &town, json);
            Ok(ExitCode::SUCCESS)
        }
        ExposureCommand::Derive {
            tek,
            interval,
            metadata,
            json,
        } => derive(&tek, interval, metadata.as_deref(), json),
        ExposureCommand::Risk {
            windows,
            config,
            json,
        } => {
            let windows = ExposureWindows::from_json(
                read_json(&windows, "exposure windows file")?.as_bytes(),
            )
            .map_err(carnet::CarnetError::from)?;
            let summary =
                read_configuration(config.as_deref())?.summarize(&windows.exposure_windows);
            if json {
                print_json(&serde_json::to_value(&summary).unwrap_or_default());
            } else {
                outln!("{}", describe_summary(&summary));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

fn keys(
    options: &Options,
    connection: &Connection,
    publish: Option<&str>,
    json: bool,
) -> Result<ExitCode, SessionError> {
    let (carnet, record) = session::open_core_and_record(options)?;
    if let Some(code) = publish {
        let services = carnet.national_services(connection.server(), &connection.pins()?)?;
        let accepted = runtime()?.block_on(services.publish_exposure_keys(&record, code))?;
        outln!(
            "{accepted} keys published: people you met will be warned, without learning who you are"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let keys = record.exposure_keys()?;
    if json {
        let keys: Vec<_> = keys
            .iter()
            .map(|key| {
                json!({
                    "rolling_start": key.rolling_start,
                    "rolling_period": key.rolling_period,
                    "day": day_of_interval(key.rolling_start),
                })
            })
            .collect();
        print_json(&json!({ "keys": keys }));
    } else if keys.is_empty() {
        outln!("no exposure key: exposure notification has not run on this device");
    } else {
        for key in &keys {
            outln!(
                "{}  interval {} for {} intervals",
                day_of_interval(key.rolling_start),
                key.rolling_start,
                key.rolling_period
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn day_of_interval(interval: u32) -> String {
    crate::output::date_time(i64::from(interval) * 600 * 1000)
}

#[cfg(feature = "ble")]
fn scan(options: &Options, seconds: u32) -> Result<ExitCode, SessionError> {
    use carnet::exposure_notification::radio::BleTransport;
    let record = session::open_record(options)?;
    let started = now_secs();
    let scanner = crate::ble::DesktopScanner::new().map_err(carnet::CarnetError::from)?;
    let receptions = scanner.scan(seconds).map_err(carnet::CarnetError::from)?;
    let kept = record.keep_exposure_scan(
        &receptions,
        started,
        None,
        carnet::exposure_notification::radio::Calibration::default(),
    )?;
    outln!(
        "{} advertisements heard in {seconds} s: {kept} identifiers kept",
        receptions.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "ble"))]
fn scan(_options: &Options, _seconds: u32) -> Result<ExitCode, SessionError> {
    Err(SessionError::Usage(
        "this build has no Bluetooth scanner: build the CLI with `--features ble` (Debian: libdbus-1-dev)"
            .into(),
    ))
}

fn progress_bar(template: &str) -> ProgressBar {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Shows check progress on standard error.
fn show_check_progress(bar: &ProgressBar, step: ExposureProgress) {
    if bar.is_hidden() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    match step {
        ExposureProgress::Downloading { done, total } => {
            bar.set_length(u64::from(total));
            bar.set_position(u64::from(done));
            bar.set_message("day files");
        }
        ExposureProgress::Matching { files, keys } => {
            bar.set_position(keys);
            bar.set_length(keys.max(1));
            bar.set_message(format!("keys checked ({files} files)"));
        }
    }
}

fn check(
    options: &Options,
    connection: &Connection,
    key: &VerificationKeyArgs,
    threads: usize,
    json: bool,
) -> Result<ExitCode, SessionError> {
    let (carnet, record) = session::open_core_and_record(options)?;
    let services = carnet.national_services(connection.server(), &connection.pins()?)?;
    let bar = progress_bar("{bar:30} {pos}/{len} {msg}");
    let (check, update) = runtime()?.block_on(async {
        let trusted = key.key(&services).await?;
        let outcome = services
            .check_exposure(&record, &[trusted], threads, &mut |step| {
                show_check_progress(&bar, step);
            })
            .await?;
        Ok::<_, SessionError>(outcome)
    })?;
    bar.finish_and_clear();
    if json {
        print_json(&check_json(&check));
    } else {
        if !update.reached {
            outln!(
                "offline: checked against the {} day files held",
                update.files.len()
            );
        }
        outln!(
            "{} day files ({} new), {} keys checked, {} matched what this device heard",
            update.files.len(),
            update.downloaded,
            check.keys_checked,
            check.keys_matched
        );
        outln!("{}", describe_summary(&check.summary));
    }
    Ok(ExitCode::SUCCESS)
}

fn check_json(check: &ExposureCheck) -> serde_json::Value {
    json!({
        "checked_millis": check.checked_millis,
        "files": check.files,
        "keys_checked": check.keys_checked,
        "keys_matched": check.keys_matched,
        "windows": check.windows,
        "summary": check.summary,
    })
}

pub(crate) fn describe_summary(summary: &RiskSummary) -> String {
    match summary.total_risk_level {
        RiskLevel::High => format!(
            "HIGH RISK: exposed on {} day(s), the most recent {} day(s) ago; at least {} \
             encounter(s). Follow the health authority's advice (test, isolation).",
            summary.number_of_days_with_high_risk,
            summary
                .age_of_most_recent_date_with_high_risk
                .unwrap_or_default(),
            summary.total_minimum_distinct_encounters_with_high_risk
        ),
        RiskLevel::Low if summary.number_of_days_with_low_risk > 0 => format!(
            "low risk: brief or distant encounters on {} day(s), the most recent {} day(s) ago",
            summary.number_of_days_with_low_risk,
            summary
                .age_of_most_recent_date_with_low_risk
                .unwrap_or_default()
        ),
        RiskLevel::Low => "no risky encounter found".into(),
    }
}

fn derive(
    tek: &str,
    interval: u32,
    metadata: Option<&str>,
    json: bool,
) -> Result<ExitCode, SessionError> {
    let bytes =
        hex::decode(tek).map_err(|_| SessionError::Usage(format!("--tek {tek}: not hex")))?;
    let key =
        TemporaryExposureKey::new(&bytes, interval, 144).map_err(carnet::CarnetError::from)?;
    let metadata: [u8; METADATA_BYTES] = match metadata {
        Some(text) => hex::decode(text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| SessionError::Usage(format!("--metadata {text}: not 8 hex digits")))?,
        None => [0x40, 0, 0, 0],
    };
    let rows = key.identifiers(metadata);
    if json {
        let intervals: Vec<_> = rows
            .iter()
            .map(|row| {
                json!({
                    "interval": row.interval,
                    "rpi": hex::encode(row.rpi),
                    "aem": hex::encode(row.aem),
                })
            })
            .collect();
        print_json(&json!({
            "tek": hex::encode(key.bytes()),
            "rpik": hex::encode(*key.rpik()),
            "aemk": hex::encode(*key.aemk()),
            "metadata": hex::encode(metadata),
            "intervals": intervals,
        }));
    } else {
        // 145 lines, often piped into `head`: a closed pipe ends the listing quietly.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "RPIK {}  AEMK {}",
            hex::encode(*key.rpik()),
            hex::encode(*key.aemk())
        );
        for row in rows {
            let line = format!(
                "{}  {}  {}",
                row.interval,
                hex::encode(row.rpi),
                hex::encode(row.aem)
            );
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The simulation end to end: the town, uploads through the key server, the day files
/// downloaded by the facade, every phone checked.
fn run_simulation(
    options: &Options,
    config: &SimulationConfig,
    risk: &RiskConfiguration,
    server: Option<(String, String)>,
    threads: usize,
) -> Result<TownReport, SessionError> {
    let started = Instant::now();
    let table = CalibrationTable::from_csv(CALIBRATION_TABLE).map_err(carnet::CarnetError::from)?;
    let bar = progress_bar("simulating {bar:30} {pos}/{len} hours");
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let town = simulate(
        config,
        &table,
        &mut |SimulationProgress { minutes, total }| {
            bar.set_length(total / 60);
            bar.set_position(minutes / 60);
        },
    )
    .map_err(carnet::CarnetError::from)?;
    bar.finish_and_clear();
    let simulated = started.elapsed();

    // The key server: the one given, or one on loopback for this run.
    let scratch = tempfile::tempdir().map_err(|e| SessionError::Io(e.to_string()))?;
    let (_background, url, laboratory) = match server {
        Some((url, key)) => {
            let laboratory = carnet_server::ProfessionalClient::new(&url, &key);
            (None, url, laboratory)
        }
        None => {
            let server = carnet_server::BackgroundServer::spawn(carnet_server::ServerConfig {
                data_dir: scratch.path().join("server"),
                ..carnet_server::ServerConfig::default()
            })
            .map_err(|e| SessionError::Io(format!("server: {e}")))?;
            let url = format!("http://{}", server.address());
            let laboratory =
                carnet_server::ProfessionalClient::new(&url, server.professional_key());
            (Some(server), url, laboratory)
        }
    };
    let checker = session::open_at(
        options,
        scratch.path().join("checker"),
        std::sync::Arc::new(carnet::SystemClock),
    )?;
    let services = checker.national_services(&url, &[])?;
    let runtime = runtime()?;
    let (published, update, trusted) = runtime.block_on(async {
        let published = upload_positives(&town, &services, &laboratory).await?;
        let trusted = services.exposure_verification_key().await?;
        let update = services.download_key_files(&mut |_| {}).await?;
        Ok::<_, SessionError>((published, update, trusted))
    })?;
    let zips = update
        .files
        .iter()
        .map(|path| {
            crate::input::read(
                path,
                usize::try_from(carnet::exposure_notification::keyfile::MAX_ZIP_BYTES)
                    .unwrap_or(usize::MAX),
                "key file",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let flags = town
        .flag_exposed(&zips, &[trusted], risk, threads)
        .map_err(carnet::CarnetError::from)?;
    let positives = town.phones.iter().filter(|phone| phone.positive).count();
    let exposed = town.phones.iter().filter(|phone| phone.exposed).count();
    Ok(TownReport {
        accuracy: town.accuracy(&flags),
        phones: town.phones.len(),
        positives,
        exposed,
        published,
        day_files: update.files.len(),
        simulated_secs: simulated.as_secs_f64(),
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// What a simulated town came to.
struct TownReport {
    phones: usize,
    positives: usize,
    exposed: usize,
    published: u64,
    day_files: usize,
    accuracy: Accuracy,
    simulated_secs: f64,
    total_secs: f64,
}

impl TownReport {
    /// Precision of flagging every phone that did not test positive.
    fn base_rate(&self) -> f64 {
        self.exposed as f64 / (self.phones - self.positives).max(1) as f64
    }
}

fn print_town(report: &TownReport, config: &SimulationConfig, json: bool) {
    let accuracy = &report.accuracy;
    let base_rate = report.base_rate();
    if json {
        print_json(&json!({
            "phones": report.phones,
            "days": config.days,
            "seed": config.seed,
            "positives": report.positives,
            "exposed": report.exposed,
            "keys_uploaded": report.published,
            "day_files": report.day_files,
            "true_positives": accuracy.true_positives,
            "false_positives": accuracy.false_positives,
            "false_negatives": accuracy.false_negatives,
            "true_negatives": accuracy.true_negatives,
            "precision": accuracy.precision(),
            "recall": accuracy.recall(),
            "base_rate": base_rate,
        }));
        return;
    }
    outln!(
        "{} phones, {} days (seed {}), simulated in {:.1} s: {} tested positive, {} of the {} \
         others truly exposed (15 min within 2 m in a day)",
        report.phones,
        config.days,
        config.seed,
        report.simulated_secs,
        report.positives,
        report.exposed,
        report.phones - report.positives
    );
    outln!(
        "{} keys uploaded with the laboratories' codes; {} day file(s) downloaded and verified",
        report.published,
        report.day_files
    );
    outln!(
        "flagged at high risk: {} true, {} false; missed: {}; quiet and right: {}",
        accuracy.true_positives,
        accuracy.false_positives,
        accuracy.false_negatives,
        accuracy.true_negatives
    );
    outln!(
        "precision {:.2}, recall {:.2} (flagging everyone: precision {base_rate:.2}); {:.1} s in all",
        accuracy.precision(),
        accuracy.recall(),
        report.total_secs
    );
}

/// The demo's simulated town: 100 phones for 2 days, against the demo's server.
pub(crate) fn demo_town(
    options: &Options,
    url: &str,
    laboratory_key: &str,
) -> Result<(), SessionError> {
    let days = 2;
    let town = SimulationConfig {
        phones: 100,
        days,
        seed: 1,
        start: (now_secs().div_euclid(DAY_SECONDS) - i64::from(days)) * DAY_SECONDS,
        ..SimulationConfig::default()
    };
    let report = run_simulation(
        options,
        &town,
        &RiskConfiguration::default(),
        Some((url.to_owned(), laboratory_key.to_owned())),
        threads(None),
    )?;
    outln!(
        "   a simulated town of {} phones for {days} days (noisy radio, people moving): {} \
         tested positive and uploaded their keys; of the {} others, {} were truly exposed; \
         precision {:.2}, recall {:.2} (flagging everyone: precision {:.2})",
        report.phones,
        report.positives,
        report.phones - report.positives,
        report.exposed,
        report.accuracy.precision(),
        report.accuracy.recall(),
        report.base_rate()
    );
    Ok(())
}

/// Each positive person gets a code from a laboratory and uploads their keys with it; the
/// keys the server accepted.
async fn upload_positives(
    town: &SimulatedTown,
    services: &NationalServices,
    laboratory: &carnet_server::ProfessionalClient,
) -> Result<u64, SessionError> {
    let onset_day = town.config.start.div_euclid(DAY_SECONDS) + i64::from(town.config.days) - 2;
    let onset = crate::output::date_time(onset_day * DAY_SECONDS * 1000);
    let onset = onset.get(..10).unwrap_or_default().to_owned();
    let mut accepted = 0;
    for phone in town.phones.iter().filter(|phone| phone.positive) {
        let answer = laboratory
            .report_positive_test(Some(&onset))
            .await
            .map_err(|e| SessionError::Io(format!("laboratory: {e}")))?;
        accepted += u64::from(
            services
                .upload_exposure_keys(&phone.keys, &answer.code)
                .await?,
        );
    }
    Ok(accepted)
}
