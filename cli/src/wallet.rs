//! `carnet wallet …`: the holder's certificates, kept in the encrypted health record.

use std::path::PathBuf;
use std::process::ExitCode;

use carnet::WalletEntry;
use carnet::certs::country_rules::{RulesVerdict, RulesWindow};
use carnet::certs::instant;
use carnet::certs::wallet::{ExpiryState, Purpose};
use clap::Subcommand;
use serde::Serialize;

use crate::session::{self, Options, SessionError};

/// `carnet wallet …`
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Add a certificate: `HC1:` text, a text file holding it, or a PNG/JPEG of its QR code.
    Add {
        /// The certificate: an `HC1:` text, a file holding one, or a QR image.
        input: std::ffi::OsString,
    },
    /// List the certificates by person; `*` marks the one to show at an entrance.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also say whether each meets this country's business rules (ISO 3166-1 alpha-2) now,
        /// and from and until when, by the rules `carnet lists update` keeps.
        #[arg(long, value_name = "CC")]
        country: Option<String>,
        /// Language of the failed rules' descriptions (default: English).
        #[arg(long, value_name = "LANG", default_value = "en")]
        lang: String,
    },
    /// Show one certificate.
    Show {
        /// Its identifier (a unique prefix is enough).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render a certificate's QR code again.
    Qr {
        /// Its identifier (a unique prefix is enough).
        id: String,
        /// Write a PNG image here.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Write an SVG image here.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Remove a certificate.
    Remove {
        /// Its identifier (a unique prefix is enough).
        id: String,
    },
}

/// The JSON shape of a wallet entry.
#[derive(Serialize)]
struct EntryReport {
    id: String,
    person: String,
    family_name: String,
    given_name: String,
    birth_date: String,
    certificate_type: &'static str,
    dose: Option<u64>,
    total_doses: Option<u64>,
    event_date: String,
    details: Vec<DetailReport>,
    issued_at: String,
    expires_at: String,
    state: &'static str,
    best_for_entry: bool,
    added_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<RulesReport>,
}

/// One fact of the event (`vaccine`, `test type`…), its code and the name people read.
#[derive(Serialize)]
struct DetailReport {
    field: &'static str,
    code: String,
    name: Option<String>,
}

/// Whether a certificate meets a country's rules, for `--json`.
#[derive(Serialize)]
struct RulesReport {
    country: String,
    /// `met`, `not_met` or `undecided`.
    now: &'static str,
    from: Option<String>,
    until: Option<String>,
    failed_rules: Vec<String>,
    reason: Option<String>,
}

fn rules_report(window: Option<RulesWindow>, country: &str, language: &str) -> RulesReport {
    let mut report = RulesReport {
        country: country.to_owned(),
        now: "undecided",
        from: None,
        until: None,
        failed_rules: Vec::new(),
        reason: None,
    };
    let Some(window) = window else {
        report.reason = Some("no business rules are held: run `carnet lists update`".into());
        return report;
    };
    report.from = window.from.map(instant::format);
    report.until = window.until.map(instant::format);
    match window.now {
        RulesVerdict::Met { .. } => report.now = "met",
        RulesVerdict::NotMet(failures) => {
            report.now = "not_met";
            report.failed_rules = failures
                .iter()
                .map(|f| format!("{}: {}", f.identifier, f.description(language)))
                .collect();
        }
        RulesVerdict::Undecided(reason) => report.reason = Some(reason),
    }
    report
}

fn describe_rules(report: &RulesReport) -> String {
    let country = &report.country;
    match (report.now, &report.from, &report.until) {
        ("met", _, Some(until)) => format!("meets the rules of {country} until {until}"),
        ("met", _, None) => format!("meets the rules of {country}"),
        ("not_met", Some(from), until) => format!(
            "meets the rules of {country} from {from}{}",
            until
                .as_ref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default()
        ),
        ("not_met", None, _) => format!(
            "does not meet the rules of {country}: {}",
            report.failed_rules.join("; ")
        ),
        _ => format!(
            "cannot tell for {country}: {}",
            report.reason.as_deref().unwrap_or_default()
        ),
    }
}

fn report(entry: &WalletEntry, state: ExpiryState, best: bool) -> EntryReport {
    let s = &entry.summary;
    EntryReport {
        id: entry.id.clone(),
        person: s.person_key(),
        family_name: s.holder.family_name.clone(),
        given_name: s.holder.given_name.clone(),
        birth_date: s.holder.birth_date.clone(),
        certificate_type: s.cert_type.name(),
        dose: s.doses.map(|d| d.0),
        total_doses: s.doses.map(|d| d.1),
        event_date: s.event_date.clone(),
        details: s
            .details
            .iter()
            .map(|d| DetailReport {
                field: d.field.label(),
                code: d.code.clone(),
                name: d.name.clone(),
            })
            .collect(),
        issued_at: instant::format(s.issued_at),
        expires_at: instant::format(s.expires_at),
        state: state.name(),
        best_for_entry: best,
        added_at: instant::format(entry.added_at),
        rules: None,
    }
}

fn describe(entry: &WalletEntry, state: ExpiryState) -> String {
    let s = &entry.summary;
    let what = match s.doses {
        Some((dose, total)) => format!("{} {dose}/{total}", s.cert_type.name()),
        None => s.cert_type.name().to_owned(),
    };
    let details: Vec<&str> = s.details.iter().map(|d| d.shown()).collect();
    format!(
        "{} {what} of {} · {} · {} {} (born {}) · {} · expires {}",
        entry.id.get(..8).unwrap_or(&entry.id),
        s.event_date,
        details.join(", "),
        s.holder.family_name,
        s.holder.given_name,
        s.holder.birth_date,
        state.name(),
        instant::format(s.expires_at)
    )
}

/// Runs `carnet wallet …`.
pub fn run(options: &Options, command: WalletCommand) -> Result<ExitCode, SessionError> {
    let (core, carnet) = session::open_core_and_record(options)?;
    match command {
        WalletCommand::Add { input } => {
            let text = crate::input::code_text(&input, "HC1:", "health certificate")?;
            match carnet.wallet_add(&text) {
                Ok(entry) => outln!("{}", describe(&entry, carnet.wallet_state(&entry))),
                Err(error) => {
                    errln!("not added: {error} [{}]", error.code());
                    return Ok(ExitCode::from(crate::exit::Exit::Refused));
                }
            }
        }
        WalletCommand::List {
            json,
            country,
            lang,
        } => {
            let entries = carnet.wallet_list()?;
            let country = crate::input::country_code(country.as_deref())?;
            let lists = match &country {
                Some(_) => core.held_verifier_lists()?,
                None => None,
            };
            let rules_of = |entry: &WalletEntry| -> Result<Option<RulesReport>, SessionError> {
                let Some(code) = &country else {
                    return Ok(None);
                };
                let window = match &lists {
                    Some(lists) => carnet.wallet_rules(entry, lists, code)?,
                    None => None,
                };
                Ok(Some(rules_report(window, code, &lang)))
            };
            let mut people: Vec<String> = entries.iter().map(|e| e.summary.person_key()).collect();
            people.sort();
            people.dedup();
            let best_ids: Vec<&str> = people
                .iter()
                .filter_map(|person| carnet.best_of(&entries, person, Purpose::AnyProof))
                .map(|best| best.id.as_str())
                .collect();
            if json {
                let reports = entries
                    .iter()
                    .map(|e| {
                        let mut shown =
                            report(e, carnet.wallet_state(e), best_ids.contains(&e.id.as_str()));
                        shown.rules = rules_of(e)?;
                        Ok(shown)
                    })
                    .collect::<Result<Vec<_>, SessionError>>()?;
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&reports).unwrap_or_default()
                );
            } else if entries.is_empty() {
                outln!("the wallet is empty: add a certificate with `carnet wallet add`");
            } else {
                for entry in &entries {
                    let mark = if best_ids.contains(&entry.id.as_str()) {
                        "*"
                    } else {
                        " "
                    };
                    outln!("{mark} {}", describe(entry, carnet.wallet_state(entry)));
                    if let Some(rules) = rules_of(entry)? {
                        outln!("    {}", describe_rules(&rules));
                    }
                }
            }
        }
        WalletCommand::Show { id, json } => {
            let entry = carnet.wallet_entry(&resolve(&carnet, &id)?)?;
            let state = carnet.wallet_state(&entry);
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&report(&entry, state, false)).unwrap_or_default()
                );
            } else {
                outln!("{}\n{}", describe(&entry, state), entry.text);
            }
        }
        WalletCommand::Qr { id, png, svg } => {
            let entry = carnet.wallet_entry(&resolve(&carnet, &id)?)?;
            if png.is_none() && svg.is_none() {
                return Err(SessionError::Usage("give --png FILE or --svg FILE".into()));
            }
            crate::qr::write_images(
                &entry.text,
                png.as_deref(),
                svg.as_deref(),
                crate::qr::DEFAULT_SCALE,
                |e| SessionError::Io(e.to_string()),
            )?;
        }
        WalletCommand::Remove { id } => {
            let id = resolve(&carnet, &id)?;
            carnet.wallet_remove(&id)?;
            outln!("removed {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The wallet entry whose identifier starts with `prefix`.
fn resolve(record: &carnet::HealthRecord, prefix: &str) -> Result<String, SessionError> {
    let entries = record.wallet_list()?;
    crate::input::resolve(prefix, entries.iter().map(|e| e.id.as_str()))
}
