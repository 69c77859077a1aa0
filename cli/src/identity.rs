//! `carnet nir …` and `carnet ins …`.

use std::process::ExitCode;

use carnet::{CarnetError, Ins, InsInput, InsKind, Nir, NirDetails, Sex};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::exit::Exit;
use crate::session::{self, Options, SessionError};

/// `carnet nir …`
#[derive(Debug, Subcommand)]
pub enum NirCommand {
    /// Check a NIR: 15 characters (spaces ignored), 2A/2B allowed, control key.
    /// Exit 0 when valid, 1 when invalid (the reason is printed).
    Check {
        /// The NIR, for example 253072B07300470 or "2 53 07 2B 073 004 70".
        nir: String,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `carnet ins …`
#[derive(Debug, Subcommand)]
pub enum InsCommand {
    /// Check an INS: matricule, OID, the five traits, and their agreement with the matricule.
    /// Exit 0 when valid, 1 when invalid.
    Check(InsArgs),
}

/// The fields of an INS.
#[derive(Debug, Args)]
pub struct InsArgs {
    /// Matricule (NIR or NIA).
    #[arg(long)]
    matricule: String,
    /// OID of the matricule: 1.2.250.1.213.1.4.8 (NIR), .9 (NIA), .10 (test), .11 (demo).
    #[arg(long, default_value = "1.2.250.1.213.1.4.8")]
    oid: String,
    /// Birth name (nom de naissance).
    #[arg(long)]
    birth_name: String,
    /// Birth given names, space-separated.
    #[arg(long)]
    given_names: String,
    /// Sex: M, F or I.
    #[arg(long)]
    sex: String,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long)]
    birth_date: String,
    /// INSEE code of the birth place (commune, or 99 + country).
    #[arg(long)]
    birth_place: String,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// The JSON shape of a refusal.
#[derive(Serialize)]
struct Refusal<'a> {
    valid: bool,
    code: &'a str,
    message_key: &'a str,
    reason: String,
}

/// The JSON shape of a valid NIR.
#[derive(Serialize)]
struct ValidNir<'a> {
    valid: bool,
    nir: &'a Nir,
    #[serde(flatten)]
    details: NirDetails,
}

/// The JSON shape of a valid INS.
#[derive(Serialize)]
struct ValidIns<'a> {
    valid: bool,
    ins: &'a Ins,
}

/// Runs `carnet nir …`.
pub fn run_nir(options: &Options, command: NirCommand) -> Result<ExitCode, SessionError> {
    let NirCommand::Check { nir, json } = command;
    let carnet = session::open(options)?;
    Ok(match carnet.check_nir(&nir) {
        Ok(nir) => {
            if json {
                print_json(&ValidNir {
                    valid: true,
                    nir: &nir,
                    details: nir.details(),
                });
            } else {
                let d = nir.details();
                let place = if d.born_abroad {
                    "born abroad, country"
                } else {
                    "birth place"
                };
                outln!(
                    "valid NIR {}: sex code {}, born {:02}/{:02}, {place} {}, order {:03}, key {:02}",
                    nir.as_str(),
                    d.sex_code,
                    d.birth_month_code,
                    d.birth_year_digits,
                    d.birth_place_code,
                    d.order_number,
                    d.control_key
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => refuse("NIR", &error, json),
    })
}

/// Runs `carnet ins …`.
pub fn run_ins(options: &Options, command: InsCommand) -> Result<ExitCode, SessionError> {
    let InsCommand::Check(args) = command;
    let carnet = session::open(options)?;
    let input = InsInput {
        matricule: args.matricule,
        oid: args.oid,
        birth_name: args.birth_name,
        birth_given_names: args.given_names,
        sex: args.sex,
        birth_date: args.birth_date,
        birth_place: args.birth_place,
    };
    Ok(match carnet.check_ins(&input) {
        Ok(ins) => {
            if args.json {
                print_json(&ValidIns {
                    valid: true,
                    ins: &ins,
                });
            } else {
                outln!("valid INS: {}", describe_ins(&ins));
            }
            ExitCode::SUCCESS
        }
        Err(error) => refuse("INS", &error, args.json),
    })
}

/// One line describing an INS.
pub fn describe_ins(ins: &Ins) -> String {
    format!(
        "{} {} ({}) · {} {} · {} · {} · {}",
        match ins.kind() {
            InsKind::Nir => "NIR",
            InsKind::Nia => "NIA",
            InsKind::Test => "test INS",
            InsKind::Demo => "demonstration INS",
        },
        ins.matricule().as_str(),
        ins.oid(),
        ins.birth_name(),
        ins.birth_given_names(),
        match ins.sex() {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Indeterminate => "indeterminate",
        },
        ins.birth_date(),
        ins.birth_place()
    )
}

/// Reports a refused input (or a failure to check it) and picks the exit code.
fn refuse(what: &str, error: &CarnetError, json: bool) -> ExitCode {
    let refused = error.kind() == carnet::ErrorKind::InvalidInput;
    if json {
        print_json(&Refusal {
            valid: false,
            code: error.code(),
            message_key: error.message_key(),
            reason: error.to_string(),
        });
    } else if refused {
        errln!("invalid {what}: {error}");
    } else {
        errln!("cannot check the {what}: {error}");
    }
    ExitCode::from(if refused { Exit::Refused } else { Exit::Failed })
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => outln!("{text}"),
        // Serialising these plain structures cannot fail; say so rather than print nothing.
        Err(error) => errln!("carnet: cannot render JSON: {error}"),
    }
}
