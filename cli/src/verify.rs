//! `carnet pass verify`: verifier mode from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::certs::instant;
use carnet::certs::verifier::{self, Holder, Verdict};
use carnet::codec::qr;
use carnet::{CarnetError, Clock, SystemClock, VerifierLists};
use clap::Args;
use serde::Serialize;

use crate::session::SessionError;

/// Exit code when Carnet cannot confirm the certificate.
const EXIT_CANNOT_CONFIRM: u8 = 4;
/// Largest text file read as a certificate.
const MAX_TEXT_FILE_BYTES: u64 = 64 * 1024;
/// Largest trust list, revocation list, key or image file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Arguments of `carnet pass verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `HC1:` text, a text file holding it, or a PNG/JPEG image of the QR code.
    input: String,
    /// Trusted signers: a document signer certificate (PEM or DER), or a signed trust list
    /// (with --anchor).
    #[arg(long, value_name = "PATH")]
    trust: PathBuf,
    /// Anchor key that signs the trust and revocation lists (PEM/DER public key or certificate).
    #[arg(long, value_name = "PATH")]
    anchor: Option<PathBuf>,
    /// Signed revocation list (needs --anchor). Without it, revocation is not checked.
    #[arg(long, value_name = "PATH")]
    revocation: Option<PathBuf>,
    /// Time of the check, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
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
    trust_list: Option<ListReport>,
    revocation_list: Option<ListReport>,
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
pub fn run(args: &VerifyArgs) -> Result<ExitCode, SessionError> {
    let at = match &args.at {
        Some(text) => instant::parse(text).map_err(SessionError::Usage)?,
        None => SystemClock.now_unix_millis().div_euclid(1000),
    };
    if args.revocation.is_some() && args.anchor.is_none() {
        return Err(SessionError::Usage("--revocation needs --anchor".into()));
    }
    let text = read_certificate_text(&args.input)?;
    let trust = read_file(&args.trust, MAX_FILE_BYTES)?;
    let lists = match &args.anchor {
        Some(anchor) => {
            let revocation = args
                .revocation
                .as_deref()
                .map(|p| read_file(p, MAX_FILE_BYTES))
                .transpose()?;
            VerifierLists::open(
                &trust,
                &read_file(anchor, MAX_FILE_BYTES)?,
                revocation.as_deref(),
            )
        }
        None => VerifierLists::trusting_certificate(&trust, at),
    }
    .map_err(|e| SessionError::Io(format!("offline lists: {e}")))?;
    let verdict = verifier::verify(
        &text,
        &lists.trust,
        lists.revocation.as_ref(),
        at,
        &lists.policy,
    );
    let (mut report, exit) = report_of(verdict, lists.revocation.is_some());
    if args.anchor.is_some() {
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
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_verdict(&report);
    }
    Ok(exit)
}

fn report_of(verdict: Verdict, revocation_checked: bool) -> (VerdictReport, ExitCode) {
    let blank = VerdictReport {
        verdict: "",
        code: None,
        reason: None,
        holder: None,
        certificate_type: None,
        expires_at: None,
        revocation_checked,
        trust_list: None,
        revocation_list: None,
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
                reason: Some(reason.to_string()),
                holder: holder.map(Into::into),
                ..blank
            },
            ExitCode::from(crate::EXIT_REFUSED),
        ),
        Verdict::CannotConfirm { holder, reason } => (
            VerdictReport {
                verdict: "cannot_confirm",
                reason: Some(reason),
                holder: holder.map(Into::into),
                ..blank
            },
            ExitCode::from(EXIT_CANNOT_CONFIRM),
        ),
    }
}

fn print_verdict(report: &VerdictReport) {
    let headline = match report.verdict {
        "valid" => "VALID",
        "invalid" => "INVALID",
        _ => "CANNOT CONFIRM",
    };
    println!("{headline}");
    if let Some(holder) = &report.holder {
        let born = if holder.birth_date.is_empty() {
            "unknown"
        } else {
            &holder.birth_date
        };
        println!(
            "  holder:  {} {} ({} {}), born {born}",
            holder.family_name, holder.given_name, holder.family_name_icao, holder.given_name_icao
        );
    }
    if let (Some(kind), Some(until)) = (report.certificate_type, &report.expires_at) {
        println!("  {kind} certificate, valid until {until}");
    }
    if let Some(reason) = &report.reason {
        let code = report.code.map(|c| format!(" [{c}]")).unwrap_or_default();
        println!("  reason:  {reason}{code}");
    }
    if let Some(list) = &report.trust_list {
        println!(
            "  trust list:      version {}, {} h old",
            list.version, list.age_hours
        );
    }
    if let Some(list) = &report.revocation_list {
        println!(
            "  revocation list: version {}, {} h old",
            list.version, list.age_hours
        );
    }
    if !report.revocation_checked {
        println!("  note:    revocation not checked (no --revocation list)");
    }
}

/// The certificate text: the argument itself when it starts with `HC1:`, else the QR code in
/// an image file (`.png`, `.jpg`, `.jpeg`), else a text file's content.
pub fn read_certificate_text(input: &str) -> Result<String, SessionError> {
    if input.trim_start().starts_with("HC1:") {
        return Ok(input.trim().to_owned());
    }
    let path = Path::new(input);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg")) {
        let bytes = read_file(path, MAX_FILE_BYTES)?;
        return qr::scan_image_file(&bytes).map_err(|e| SessionError::Io(format!("{input}: {e}")));
    }
    let bytes = read_file(path, MAX_TEXT_FILE_BYTES)?;
    String::from_utf8(bytes)
        .map(|text| text.trim().to_owned())
        .map_err(|_| SessionError::Io(format!("{input}: not UTF-8 text")))
}

/// Reads a file of at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, SessionError> {
    let io_error = |e: std::io::Error| SessionError::Io(format!("{}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(io_error)?.len();
    if size > limit {
        return Err(SessionError::Io(format!(
            "{}: {size} bytes, the limit is {limit}",
            path.display()
        )));
    }
    std::fs::read(path).map_err(io_error)
}
