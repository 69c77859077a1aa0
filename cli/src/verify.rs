//! `carnet pass verify`: verifier mode from the command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use carnet::certs::CertsError;
use carnet::certs::instant;
use carnet::certs::verifier::{Holder, Verdict};
use carnet::{CarnetError, Clock, SystemClock, VerifierLists};
use clap::Args;
use serde::Serialize;

use crate::input::{self, MAX_LIST_BYTES};
use crate::session::{self, Options, SessionError};

/// Arguments of `carnet pass verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `HC1:` text, a text file holding it, or a PNG/JPEG image of the QR code.
    input: OsString,
    /// Trusted signers: a document signer certificate (PEM or DER), or a signed trust list
    /// (with --anchor). Without it, the lists `carnet lists update` keeps are used, as a
    /// venue's verifier does; none held: "cannot confirm".
    #[arg(long, value_name = "PATH")]
    trust: Option<PathBuf>,
    /// Anchor key that signs the trust and revocation lists (PEM/DER public key or certificate).
    #[arg(long, value_name = "PATH")]
    anchor: Option<PathBuf>,
    /// Signed revocation list (needs --anchor). Without it, revocation is not checked.
    #[arg(long, value_name = "PATH")]
    revocation: Option<PathBuf>,
    /// Time of the check, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Country of arrival (ISO 3166-1 alpha-2): judge by its business rules as `carnet lists
    /// update` keeps them; "valid" then means "meets its rules now".
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    /// Language of the failed rules' descriptions (`fr`, `en`…; default: English).
    #[arg(long, value_name = "LANG", default_value = "en")]
    lang: String,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

/// The JSON shape of a verdict.
#[derive(Serialize)]
struct VerdictReport {
    verdict: &'static str,
    code: Option<&'static str>,
    reason: Option<String>,
    holder: Option<HolderReport>,
    certificate_type: Option<&'static str>,
    expires_at: Option<String>,
    revocation_checked: bool,
    country: Option<String>,
    failed_rules: Vec<FailedRuleReport>,
    trust_list: Option<ListReport>,
    revocation_list: Option<ListReport>,
    rules_list: Option<ListReport>,
}

/// A business rule the certificate does not meet, in the chosen language.
#[derive(Serialize)]
struct FailedRuleReport {
    identifier: String,
    country: String,
    description: String,
}

/// Version and age of an offline list, as shown to staff.
#[derive(Serialize)]
struct ListReport {
    version: u64,
    age_hours: i64,
}

/// The holder, as shown: names and birth date only.
#[derive(Serialize)]
struct HolderReport {
    family_name: String,
    given_name: String,
    family_name_icao: String,
    given_name_icao: String,
    birth_date: String,
}

impl From<Holder> for HolderReport {
    fn from(h: Holder) -> Self {
        HolderReport {
            family_name: h.family_name,
            given_name: h.given_name,
            family_name_icao: h.family_name_icao,
            given_name_icao: h.given_name_icao,
            birth_date: h.birth_date,
        }
    }
}

/// Runs `carnet pass verify`.
pub fn run(options: &Options, args: &VerifyArgs) -> Result<ExitCode, SessionError> {
    let given_at = match &args.at {
        Some(text) => Some(instant::parse(text).map_err(SessionError::Usage)?),
        None => None,
    };
    // The time of the check and of the lists' ages: --at, else now (read once).
    let at = given_at.unwrap_or_else(|| SystemClock.now_unix_millis().div_euclid(1000));
    if args.revocation.is_some() && args.anchor.is_none() {
        return Err(SessionError::Usage("--revocation needs --anchor".into()));
    }
    if args.anchor.is_some() && args.trust.is_none() {
        return Err(SessionError::Usage(
            "--anchor needs --trust (a signed trust list)".into(),
        ));
    }
    let country = input::country_code(args.country.as_deref())?;
    let text = input::code_text(&args.input, "HC1:", "health certificate")?;
    let (verdict, lists) = match &args.trust {
        Some(trust) => {
            let lists = lists_from_files(args, trust, at)?;
            (lists.verify_in(&text, country.as_deref(), at), Some(lists))
        }
        None => {
            let carnet = session::open(options)?;
            match carnet
                .held_verifier_lists()
                .map_err(|e| lists_unusable(&e))?
            {
                None => (
                    Verdict::CannotConfirm {
                        holder: None,
                        reason: "no trust list is held on this device: run `carnet lists \
                                 update --server URL --anchor KEY` once with the network"
                            .into(),
                    },
                    None,
                ),
                Some(lists) => {
                    let verdict = match given_at {
                        Some(at) => lists.verify_in(&text, country.as_deref(), at),
                        // The platform clock, behind the clock guard.
                        None => carnet.verify_pass_in(&text, &lists, country.as_deref())?,
                    };
                    (verdict, Some(lists))
                }
            }
        }
    };
    let revocation_checked = lists.as_ref().is_some_and(|l| l.revocation.is_some());
    let (mut report, exit) = report_of(verdict, revocation_checked, &args.lang);
    report.country = country;
    // Lists' ages are shown when they are signed lists (not one trusted certificate).
    if let Some(lists) = lists.filter(|_| args.anchor.is_some() || args.trust.is_none()) {
        let age_hours = |issued_at: i64| at.saturating_sub(issued_at).max(0) / 3600;
        let header = lists.trust.header();
        report.trust_list = Some(ListReport {
            version: header.version,
            age_hours: age_hours(header.issued_at),
        });
        report.revocation_list = lists.revocation.as_ref().map(|list| ListReport {
            version: list.header().version,
            age_hours: age_hours(list.header().issued_at),
        });
        report.rules_list = lists.rules.as_ref().map(|list| ListReport {
            version: list.header().version,
            age_hours: age_hours(list.header().issued_at),
        });
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_verdict(&report);
    }
    Ok(exit)
}

/// The lists given on the command line: one trusted certificate, or signed lists with
/// their anchor.
fn lists_from_files(
    args: &VerifyArgs,
    trust: &std::path::Path,
    at: i64,
) -> Result<VerifierLists, SessionError> {
    let trust = input::read(trust, MAX_LIST_BYTES, "trust list or certificate")?;
    match &args.anchor {
        Some(anchor) => {
            let revocation = args
                .revocation
                .as_deref()
                .map(|p| input::read(p, MAX_LIST_BYTES, "revocation list"))
                .transpose()?;
            VerifierLists::open(
                &trust,
                &input::read(anchor, MAX_LIST_BYTES, "anchor key")?,
                revocation.as_deref(),
            )
        }
        None => VerifierLists::trusting_certificate(&trust, at),
    }
    .map_err(|e| lists_unusable(&e))
}

/// Lists that cannot be used are the verifier's problem, not the certificate's: the command
/// could not run (exit 3), it did not find the certificate invalid.
fn lists_unusable(error: &CarnetError) -> SessionError {
    SessionError::Io(format!("offline lists: {error} [{}]", error.code()))
}

fn report_of(
    verdict: Verdict,
    revocation_checked: bool,
    language: &str,
) -> (VerdictReport, ExitCode) {
    let blank = VerdictReport {
        verdict: "",
        code: None,
        reason: None,
        holder: None,
        certificate_type: None,
        expires_at: None,
        revocation_checked,
        country: None,
        failed_rules: Vec::new(),
        trust_list: None,
        revocation_list: None,
        rules_list: None,
    };
    match verdict {
        Verdict::Valid {
            holder,
            cert_type,
            expires_at,
        } => (
            VerdictReport {
                verdict: "valid",
                holder: Some(holder.into()),
                certificate_type: Some(cert_type.name()),
                expires_at: Some(instant::format(expires_at)),
                ..blank
            },
            ExitCode::SUCCESS,
        ),
        Verdict::Invalid { holder, reason } => (
            VerdictReport {
                verdict: "invalid",
                code: Some(CarnetError::from(reason.clone()).code()),
                failed_rules: match &reason {
                    CertsError::RulesNotMet { failures, .. } => failures
                        .iter()
                        .map(|failure| FailedRuleReport {
                            identifier: failure.identifier.clone(),
                            country: failure.country.clone(),
                            description: failure.description(language).to_owned(),
                        })
                        .collect(),
                    _ => Vec::new(),
                },
                reason: Some(reason.to_string()),
                holder: holder.map(Into::into),
                ..blank
            },
            ExitCode::from(crate::exit::Exit::Refused),
        ),
        Verdict::CannotConfirm { holder, reason } => (
            VerdictReport {
                verdict: "cannot_confirm",
                reason: Some(reason),
                holder: holder.map(Into::into),
                ..blank
            },
            ExitCode::from(crate::exit::Exit::CannotConfirm),
        ),
    }
}

fn print_verdict(report: &VerdictReport) {
    let headline = match report.verdict {
        "valid" => "VALID",
        "invalid" => "INVALID",
        _ => "CANNOT CONFIRM",
    };
    match &report.country {
        Some(country) => outln!("{headline} for {country}"),
        None => outln!("{headline}"),
    }
    if let Some(holder) = &report.holder {
        let born = if holder.birth_date.is_empty() {
            "unknown"
        } else {
            &holder.birth_date
        };
        outln!(
            "  holder:  {} {} ({} {}), born {born}",
            holder.family_name,
            holder.given_name,
            holder.family_name_icao,
            holder.given_name_icao
        );
    }
    if let (Some(kind), Some(until)) = (report.certificate_type, &report.expires_at) {
        outln!("  {kind} certificate, valid until {until}");
    }
    if report.failed_rules.is_empty() {
        if let Some(reason) = &report.reason {
            let code = report.code.map(|c| format!(" [{c}]")).unwrap_or_default();
            outln!("  reason:  {reason}{code}");
        }
    } else {
        let country = report.country.as_deref().unwrap_or_default();
        outln!("  does not meet the rules of {country}:");
        for rule in &report.failed_rules {
            outln!(
                "  - {} ({}): {}",
                rule.identifier,
                rule.country,
                rule.description
            );
        }
    }
    if let Some(list) = &report.trust_list {
        outln!(
            "  trust list:      version {}, {} h old",
            list.version,
            list.age_hours
        );
    }
    if let Some(list) = &report.revocation_list {
        outln!(
            "  revocation list: version {}, {} h old",
            list.version,
            list.age_hours
        );
    }
    if let Some(list) = &report.rules_list {
        outln!(
            "  business rules:  version {}, {} h old",
            list.version,
            list.age_hours
        );
    }
    if !report.revocation_checked {
        outln!("  note:    revocation not checked (no revocation list)");
    }
}
