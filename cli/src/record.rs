//! `carnet record …`: the encrypted health record (documents, profile, agenda, inbox,
//! access rules, export and import).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::HealthRecord;
use carnet::record::{
    Addressee, Coding, Confidentiality, Document, DocumentQuery, Gender, IncomingAttachment, LOINC,
    MeasureKind, NewAppointment, NewDocument, NewMessage, NewProfileItem, Patient, Professional,
    ProfileKind, Progress, ReminderStatus, VACCINE_GROUP_SYSTEM, parse_instant,
};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::input::resolve;
use crate::output::{date_time, print_json};
use crate::session::{self, Options, SessionError};

/// Code system of the DMP's document classes.
const DMP_CLASS_SYSTEM: &str = "urn:oid:1.2.250.1.213.1.1.4.1";

/// `carnet record …`
#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Create a new, empty record (asks for a passphrase of at least 12 characters).
    Init,
    /// Sync with the health space: bring down what the care team deposited, send what was
    /// added or changed here (enrols this device the first time).
    Sync(crate::sync::SyncArgs),
    /// Show the record's owner, or set it with all of --given, --family, --birth-date, --sex.
    Patient(PatientArgs),
    /// Add a document: PDF, CDA XML, JPEG, PNG or TIFF image, plain text or RTF. A CDA's
    /// header gives whatever the options leave out (title, type, author, date, patient).
    AddDoc(AddDocArgs),
    /// List the documents, newest first (a newer version of a document stands for the older).
    List {
        /// List instead the documents kept apart as not for this person (identity
        /// vigilance: they name another patient, or traits that contradict their INS).
        #[arg(long)]
        apart: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a document's details; --out writes the file a person opens (the PDF inside a
    /// level-1 CDA), --raw with it the document's file as stored (the CDA XML); --html and
    /// --text show a level-3 CDA as a readable page or text.
    Show {
        /// Document identifier (a unique prefix is enough).
        id: String,
        /// Write the file a person opens here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// With --out: write the document's file as stored, not what is inside it.
        #[arg(long, requires = "out")]
        raw: bool,
        /// Write a level-3 CDA as a readable, self-contained HTML page here.
        #[arg(long, value_name = "FILE", conflicts_with = "out")]
        html: Option<PathBuf>,
        /// Print a level-3 CDA as plain text.
        #[arg(long, conflicts_with_all = ["out", "json"])]
        text: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What a level-3 CDA's coded entries say (laboratory results, vaccinations, allergies,
    /// treatments), numbered; --add N puts finding N in the medical profile, with the
    /// document as its source (nothing is added otherwise).
    Findings {
        /// Document identifier (a unique prefix is enough).
        id: String,
        /// Add this finding to the profile; repeat for several.
        #[arg(long = "add", value_name = "N")]
        add: Vec<u32>,
        /// Print JSON (each finding with its FHIR R4 resource).
        #[arg(long)]
        json: bool,
    },
    /// Delete a document.
    Delete {
        /// Document identifier (a unique prefix is enough).
        id: String,
    },
    /// The medical profile (FHIR R4 resources).
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Appointments and prevention reminders.
    Agenda {
        #[command(subcommand)]
        command: Option<AgendaCommand>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Messages from the care team.
    Inbox {
        #[command(subcommand)]
        command: Option<InboxCommand>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hide a document from professionals (--show to share it again).
    Hide {
        /// Document identifier (a unique prefix is enough).
        id: String,
        /// Share it again.
        #[arg(long)]
        show: bool,
    },
    /// Block a professional from the record (--unblock to lift it); without --rpps, list.
    Block {
        /// The professional's RPPS number.
        #[arg(long)]
        rpps: Option<String>,
        /// The professional's name.
        #[arg(long)]
        name: Option<String>,
        /// Lift the block.
        #[arg(long)]
        unblock: bool,
    },
    /// Who looked at the record, and what was refused.
    AccessLog {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the documents (case and accents ignored).
    Search(SearchArgs),
    /// Export the whole record as a zip: a FHIR R4 Bundle and the files. The zip is NOT
    /// encrypted.
    Export {
        /// The zip to write.
        #[arg(long, value_name = "FILE.zip")]
        out: PathBuf,
    },
    /// Import an exported zip into a new record (created at --store if none is there).
    Import {
        /// The zip to read.
        file: PathBuf,
    },
    /// Import the documents of an IHE XDM archive (IHE_XDM.ZIP, as MSSanté delivers them):
    /// each file checked against its metadata's size and SHA-1, described by it and by a
    /// CDA's header; one already kept is skipped. All or nothing.
    ImportXdm {
        /// The archive to read.
        file: PathBuf,
    },
    /// Write documents as an IHE XDM archive, to hand them to a professional.
    ExportXdm {
        /// A document to put in (a unique prefix is enough); repeat for several.
        #[arg(long = "doc", value_name = "ID", required = true)]
        docs: Vec<String>,
        /// The archive to write.
        #[arg(long, value_name = "IHE_XDM.ZIP")]
        out: PathBuf,
    },
    /// Change the passphrase (the new one from $CARNET_NEW_PASSPHRASE or a prompt).
    Passwd,
    /// Close the account: erase the record for good (keys destroyed, files removed).
    Close {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `carnet record patient`
#[derive(Debug, Args)]
pub struct PatientArgs {
    /// Given names, space-separated.
    #[arg(long)]
    given: Option<String>,
    /// Family name.
    #[arg(long)]
    family: Option<String>,
    /// Birth date, YYYY-MM-DD.
    #[arg(long)]
    birth_date: Option<String>,
    /// female, male, other or unknown.
    #[arg(long)]
    sex: Option<String>,
    /// INS (matricule).
    #[arg(long)]
    ins: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `carnet record add-doc`
#[derive(Debug, Args)]
pub struct AddDocArgs {
    /// Title shown in lists (default: a CDA's own title).
    #[arg(long)]
    title: Option<String>,
    /// Document type, a LOINC code (11502-2 laboratory report, 34133-9 summary...).
    #[arg(long, value_name = "LOINC")]
    type_code: Option<String>,
    /// Document class, a DMP class code (10 compte rendu, 11 synthèse...).
    #[arg(long, value_name = "CODE")]
    class_code: Option<String>,
    /// Author's name.
    #[arg(long)]
    author: Option<String>,
    /// Author's RPPS number.
    #[arg(long, requires = "author")]
    rpps: Option<String>,
    /// Date of care, YYYY-MM-DD or RFC 3339.
    #[arg(long)]
    date: Option<String>,
    /// normal, restricted or very-restricted.
    #[arg(long, default_value = "normal")]
    confidentiality: String,
    /// A description in your own words.
    #[arg(long)]
    description: Option<String>,
    /// The document's file (PDF, CDA, JPEG, PNG, TIFF, text, RTF).
    file: PathBuf,
}

/// `carnet record search`
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words that must all appear (title, description, author, type, or what the document
    /// says: a level-3 CDA's narrative, a plain-text document's text), case and accents
    /// ignored.
    text: Option<String>,
    /// Care date on or after, YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// Care date before, YYYY-MM-DD.
    #[arg(long)]
    until: Option<String>,
    /// Type or class code.
    #[arg(long)]
    code: Option<String>,
    /// Author: part of the name, or the RPPS.
    #[arg(long)]
    author: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `carnet record profile …`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add an allergy, medication, condition, immunization or observation.
    Add {
        /// allergy, medication, condition, immunization or observation.
        #[arg(long)]
        kind: String,
        /// What it is ("Arachide", "Lévothyroxine 50 µg"...).
        #[arg(long)]
        text: String,
        /// When (onset, vaccination...), YYYY-MM-DD or RFC 3339; now by default.
        #[arg(long)]
        date: Option<String>,
        /// For an immunization: the vaccine group of the French calendar (dtp, grippe, ror...).
        #[arg(long)]
        vaccine: Option<String>,
    },
    /// Record a measure: weight (kg), height (cm), blood-pressure (two values, mm Hg),
    /// glucose (g/L), heart-rate (/min), temperature (°C).
    Measure {
        /// The measure's kind (weight, height, blood pressure...).
        #[arg(long)]
        kind: String,
        /// The value(s).
        #[arg(required = true)]
        values: Vec<f64>,
        /// When, YYYY-MM-DD or RFC 3339; now by default.
        #[arg(long)]
        date: Option<String>,
    },
    /// List the profile.
    List {
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON (the FHIR resources).
        #[arg(long)]
        json: bool,
    },
    /// Remove an entry.
    Remove {
        /// Entry identifier (a unique prefix is enough).
        id: String,
    },
}

/// `carnet record agenda …`
#[derive(Debug, Subcommand)]
pub enum AgendaCommand {
    /// Add an appointment.
    Add {
        /// What it is.
        #[arg(long)]
        title: String,
        /// Start, RFC 3339 (2026-12-03T14:30:00+01:00).
        #[arg(long)]
        start: String,
        /// End, RFC 3339.
        #[arg(long)]
        end: Option<String>,
        /// Where it takes place.
        #[arg(long)]
        location: Option<String>,
        /// The professional seen.
        #[arg(long)]
        with: Option<String>,
        /// Their RPPS number.
        #[arg(long, requires = "with")]
        rpps: Option<String>,
        /// Your own notes.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Cancel an appointment.
    Cancel {
        /// Appointment identifier (a unique prefix is enough).
        id: String,
    },
    /// Mark a prevention reminder done (a vaccination goes into the profile).
    Done {
        /// The reminder's rule (as `carnet record agenda` shows it).
        rule: String,
        /// When, YYYY-MM-DD; today by default.
        #[arg(long)]
        date: Option<String>,
    },
}

/// `carnet record inbox …`
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Read a message (marks it read); --save writes its attachments into a directory.
    Show {
        /// Message identifier (a unique prefix is enough).
        id: String,
        /// Directory to write the attachments into.
        #[arg(long, value_name = "DIR")]
        save: Option<PathBuf>,
    },
    /// Reply, where the sender allows it.
    Reply {
        /// Message identifier (a unique prefix is enough).
        id: String,
        /// The reply's text.
        text: String,
    },
    /// Deliver a message as a professional would (tests, demos; the health-space sync does
    /// this for real).
    Deliver {
        /// Sender's name.
        #[arg(long)]
        from: String,
        /// Sender's RPPS number.
        #[arg(long)]
        rpps: String,
        /// Subject line.
        #[arg(long)]
        subject: String,
        /// Body, plain text.
        #[arg(long)]
        body: String,
        /// Let the patient reply.
        #[arg(long)]
        reply_allowed: bool,
        /// Attachments (PDF, CDA XML, PNG, JPEG).
        files: Vec<PathBuf>,
    },
}

/// Runs `carnet record …`.
pub fn run(options: &Options, command: RecordCommand) -> Result<ExitCode, SessionError> {
    match command {
        RecordCommand::Init => {
            let (carnet, dir) = session::open_with_store(options)?;
            let unlock = session::new_passphrase("CARNET_PASSPHRASE")?;
            carnet.create_record(&dir, &unlock)?;
            outln!("record created in {}", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        RecordCommand::Import { file } => return import(options, &file),
        RecordCommand::Sync(args) => return crate::sync::run_sync(options, args),
        RecordCommand::Close { yes } => {
            let record = session::open_record(options)?;
            if !yes && !session::confirm("Erase the whole record for good? Type yes: ")? {
                outln!("nothing erased");
                return Ok(ExitCode::SUCCESS);
            }
            record.close_account()?;
            outln!("record erased: keys destroyed, files removed");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let record = session::open_record(options)?;
    match command {
        RecordCommand::Patient(args) => patient(&record, args)?,
        RecordCommand::AddDoc(args) => add_document(&record, args)?,
        RecordCommand::List { apart: false, json } => {
            print_documents(&record.with_content(|r| r.documents())?, json)
        }
        RecordCommand::List { apart: true, json } => {
            let apart = record.with_content(|r| r.documents_apart())?;
            if apart.is_empty() && !json {
                outln!("no document kept apart");
            } else {
                print_documents(&apart, json);
            }
        }
        RecordCommand::Show {
            id,
            out,
            raw,
            html,
            text,
            json,
        } => {
            let id = document_id(&record, &id)?;
            if let Some(path) = &html {
                std::fs::write(path, record.document_html(&id)?)
                    .map_err(|e| SessionError::Io(format!("{}: {e}", path.display())))?;
                outln!("page written to {}", path.display());
            }
            if text {
                outln!("{}", record.document_text(&id)?);
            }
            if html.is_some() || text {
                return Ok(ExitCode::SUCCESS);
            }
            let (document, written) = match &out {
                Some(path) if raw => {
                    let document = record.save_document(&id, path)?;
                    let media_type = document.media_type.clone();
                    (document, Some((path, media_type)))
                }
                Some(path) => {
                    let viewable = record.save_viewable(&id, path)?;
                    (viewable.document, Some((path, viewable.media_type)))
                }
                None => (record.with_content(|r| r.document(&id))?, None),
            };
            if json {
                print_json(&document);
            } else {
                print_document_details(&document);
                let versions = record.with_content(|r| r.document_versions(&id))?;
                if versions.len() > 1 {
                    outln!("  versions, newest first:");
                    for version in &versions {
                        outln!(
                            "    {} version {} added {}",
                            short(&version.id),
                            version.version.unwrap_or(1),
                            date_time(version.added_millis)
                        );
                    }
                }
            }
            if let Some((path, media_type)) = written {
                outln!("file written to {} ({media_type})", path.display());
            }
        }
        RecordCommand::Findings { id, add, json } => {
            let id = document_id(&record, &id)?;
            for index in &add {
                let item = record.add_finding_to_profile(&id, *index)?;
                outln!("added to the profile: {}", item.summary());
            }
            let offered = record.document_findings(&id)?;
            if json {
                let listed: Vec<serde_json::Value> = offered
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "index": f.index, "kind": f.kind, "summary": f.summary,
                            "in_profile": f.in_profile, "resource": f.resource,
                        })
                    })
                    .collect();
                print_json(&listed);
            } else if offered.is_empty() {
                outln!("no coded results, vaccinations, allergies or treatments in this document");
            } else if add.is_empty() {
                for finding in &offered {
                    let mark = if finding.in_profile {
                        " [in the profile]"
                    } else {
                        ""
                    };
                    outln!("{:>3}. {}{mark}", finding.index, finding.summary);
                }
                outln!("add one to the profile with --add N");
            }
        }
        RecordCommand::Delete { id } => {
            let id = document_id(&record, &id)?;
            record.with_content(|r| r.delete_document(&id))?;
            outln!("deleted {}", short(&id));
        }
        RecordCommand::Profile { command } => profile(&record, command)?,
        RecordCommand::Agenda { command, json } => agenda(&record, command, json)?,
        RecordCommand::Inbox { command, json } => inbox(&record, command, json)?,
        RecordCommand::Hide { id, show } => {
            let id = document_id(&record, &id)?;
            let document = record.with_content(|r| r.set_document_hidden(&id, !show))?;
            let state = if document.hidden {
                "hidden from"
            } else {
                "shared with"
            };
            outln!("{} is {state} professionals", document.title);
        }
        RecordCommand::Block {
            rpps,
            name,
            unblock,
        } => block(&record, rpps, name, unblock)?,
        RecordCommand::AccessLog { json } => {
            let log = record.with_content(|r| r.access_log())?;
            if json {
                print_json(&log);
            } else if log.is_empty() {
                outln!("no professional has accessed the record");
            }
            for entry in log.iter().filter(|_| !json) {
                let what = match (&entry.action, &entry.document_id) {
                    (carnet::record::AccessAction::ReadDocument, Some(id)) => {
                        format!("read document {}", short(id))
                    }
                    _ => "listed the documents".to_owned(),
                };
                let outcome = if entry.allowed { "" } else { " — REFUSED" };
                outln!(
                    "{} {} {what}{outcome}",
                    date_time(entry.at_millis),
                    who(&entry.professional)
                );
            }
        }
        RecordCommand::Search(args) => {
            let query = DocumentQuery {
                text: args.text,
                from_millis: args
                    .from
                    .as_deref()
                    .map(parse_instant)
                    .transpose()
                    .map_err(record_error)?,
                until_millis: args
                    .until
                    .as_deref()
                    .map(parse_instant)
                    .transpose()
                    .map_err(record_error)?,
                code: args.code,
                author: args.author,
            };
            print_documents(
                &record.with_content(|r| r.search_documents(&query))?,
                args.json,
            );
        }
        RecordCommand::Export { out } => {
            let bar = progress_bar("export");
            let result = record.export_to_path(&out, &mut |p| show_progress(&bar, p));
            bar.finish_and_clear();
            result?;
            outln!(
                "exported to {} (not encrypted: keep it safe)",
                out.display()
            );
        }
        RecordCommand::ImportXdm { file } => {
            let bar = progress_bar("import");
            let result = record.import_xdm_from_path(&file, &mut |p| show_progress(&bar, p));
            bar.finish_and_clear();
            let report = result?;
            outln!(
                "imported {} document(s) from {} subset(s); {} already in the record",
                report.imported.len(),
                report.subsets,
                report.already_present.len()
            );
            if !report.imported.is_empty() {
                print_documents(&report.imported, false);
            }
        }
        RecordCommand::ExportXdm { docs, out } => {
            let ids = docs
                .iter()
                .map(|doc| document_id(&record, doc))
                .collect::<Result<Vec<_>, _>>()?;
            record.export_xdm_to_path(&ids, &out)?;
            outln!(
                "{} document(s) written to {} as an IHE XDM archive (not encrypted: hand it \
                 on safely)",
                ids.len(),
                out.display()
            );
        }
        RecordCommand::Passwd => {
            let unlock = session::new_passphrase("CARNET_NEW_PASSPHRASE")?;
            let carnet::RecordUnlock::Passphrase { passphrase } = unlock else {
                return Err(SessionError::Usage("a passphrase is needed".into()));
            };
            let spinner = ProgressBar::new_spinner().with_message("deriving the new key…");
            spinner.enable_steady_tick(std::time::Duration::from_millis(100));
            let result = record.set_passphrase(&passphrase);
            spinner.finish_and_clear();
            result?;
            outln!("passphrase changed (the data key was rewrapped; nothing else changed)");
        }
        RecordCommand::Init
        | RecordCommand::Sync(_)
        | RecordCommand::Import { .. }
        | RecordCommand::Close { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn import(options: &Options, file: &Path) -> Result<ExitCode, SessionError> {
    // Checked before a record is created for it.
    fs::File::open(file).map_err(|e| {
        crate::input::file_error(
            file,
            carnet::codec::CodecError::Read {
                what: "archive",
                reason: carnet::codec::bounded::describe_io_error(&e),
            },
        )
    })?;
    let (carnet, dir) = session::open_with_store(options)?;
    let created = !carnet.record_exists(&dir);
    let record = if created {
        let unlock = session::new_passphrase("CARNET_PASSPHRASE")?;
        carnet.create_record(&dir, &unlock)?
    } else {
        session::open_record(options)?
    };
    let bar = progress_bar("import");
    let result = record.import_from_path(file, &mut |p| show_progress(&bar, p));
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            let count = record.with_content(|r| r.documents())?.len();
            outln!("imported into {}: {count} documents", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // A record created for this import goes again: nothing is left behind.
            if created {
                record.close_account()?;
            }
            Err(error.into())
        }
    }
}

fn patient(record: &HealthRecord, args: PatientArgs) -> Result<(), SessionError> {
    let given = [&args.given, &args.family, &args.birth_date, &args.sex];
    if given.iter().any(|a| a.is_some()) {
        let (Some(given), Some(family), Some(birth_date), Some(sex)) =
            (args.given, args.family, args.birth_date, args.sex)
        else {
            return Err(SessionError::Usage(
                "give --given, --family, --birth-date and --sex together".into(),
            ));
        };
        let gender: Gender = serde_json::from_value(serde_json::Value::String(sex.clone()))
            .map_err(|_| {
                SessionError::Usage(format!("--sex {sex}: female, male, other or unknown"))
            })?;
        record.with_content(|r| {
            r.set_patient(&Patient {
                given,
                family,
                birth_date,
                gender,
                ins: args.ins,
            })
        })?;
    }
    match record.with_content(|r| r.patient())? {
        Some(patient) if args.json => print_json(&patient),
        Some(p) => outln!(
            "{} {}, born {} ({}){}",
            p.given,
            p.family,
            p.birth_date,
            match p.gender {
                Gender::Female => "female",
                Gender::Male => "male",
                Gender::Other => "other",
                Gender::Unknown => "unknown",
            },
            p.ins.map(|i| format!(", INS {i}")).unwrap_or_default()
        ),
        None => outln!(
            "no owner set: carnet record patient --given … --family … --birth-date … --sex …"
        ),
    }
    Ok(())
}

fn add_document(record: &HealthRecord, args: AddDocArgs) -> Result<(), SessionError> {
    let confidentiality = match args.confidentiality.as_str() {
        "normal" => Confidentiality::Normal,
        "restricted" => Confidentiality::Restricted,
        "very-restricted" => Confidentiality::VeryRestricted,
        other => return Err(SessionError::Usage(format!("--confidentiality {other}"))),
    };
    let new = NewDocument {
        title: args.title.unwrap_or_default(),
        type_code: args.type_code.map(|code| Coding {
            system: LOINC.into(),
            code,
            display: None,
        }),
        class_code: args.class_code.map(|code| Coding {
            system: DMP_CLASS_SYSTEM.into(),
            code,
            display: None,
        }),
        author: args.author.map(|name| Professional {
            name,
            rpps: args.rpps,
        }),
        date_millis: args
            .date
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(record_error)?,
        ins: None,
        confidentiality,
        description: args.description,
        ..NewDocument::default()
    };
    let document = record.add_document_from_path(&new, &args.file)?;
    outln!(
        "added {} {} ({}, {} bytes){}",
        short(&document.id),
        document.title,
        document.media_type,
        document.size,
        addressee_note(&document)
    );
    Ok(())
}

fn profile(record: &HealthRecord, command: ProfileCommand) -> Result<(), SessionError> {
    match command {
        ProfileCommand::Add {
            kind,
            text,
            date,
            vaccine,
        } => {
            let kind = profile_kind(&kind)?;
            let code = vaccine.map(|group| Coding {
                system: VACCINE_GROUP_SYSTEM.into(),
                code: group,
                display: None,
            });
            let new = NewProfileItem {
                text,
                code,
                date_millis: date
                    .as_deref()
                    .map(parse_instant)
                    .transpose()
                    .map_err(record_error)?,
            };
            let item = record.with_content(|r| r.add_profile_item(kind, &new))?;
            outln!(
                "added {} {}: {}",
                short(&item.id),
                kind.resource_type(),
                item.summary()
            );
        }
        ProfileCommand::Measure { kind, values, date } => {
            let measure = MeasureKind::from_name(&kind).ok_or_else(|| {
                SessionError::Usage(format!(
                    "--kind {kind}: weight, height, blood-pressure, glucose, heart-rate or temperature"
                ))
            })?;
            let at = date
                .as_deref()
                .map(parse_instant)
                .transpose()
                .map_err(record_error)?;
            let item = record.with_content(|r| r.add_measure(measure, &values, at))?;
            outln!("added {} {}", short(&item.id), item.summary());
        }
        ProfileCommand::List { kind, json } => {
            let kind = kind.as_deref().map(profile_kind).transpose()?;
            let items = record.with_content(|r| r.profile(kind))?;
            if json {
                print_json(&items.iter().map(|i| &i.resource).collect::<Vec<_>>());
            } else if items.is_empty() {
                outln!("the profile is empty");
            }
            for item in items.iter().filter(|_| !json) {
                outln!(
                    "{} {:<20} {} (v{})",
                    short(&item.id),
                    item.kind.resource_type(),
                    item.summary(),
                    item.version
                );
            }
        }
        ProfileCommand::Remove { id } => {
            let items = record.with_content(|r| r.profile(None))?;
            let id = resolve(&id, items.iter().map(|i| i.id.as_str()))?;
            record.with_content(|r| r.delete_profile_item(&id))?;
            outln!("removed {}", short(&id));
        }
    }
    Ok(())
}

fn profile_kind(name: &str) -> Result<ProfileKind, SessionError> {
    ProfileKind::from_name(name).ok_or_else(|| {
        SessionError::Usage(format!(
            "--kind {name}: allergy, medication, condition, immunization or observation"
        ))
    })
}

fn agenda(
    record: &HealthRecord,
    command: Option<AgendaCommand>,
    json: bool,
) -> Result<(), SessionError> {
    match command {
        None => {
            let agenda = record.with_content(|r| r.agenda())?;
            if json {
                print_json(&agenda);
                return Ok(());
            }
            outln!("Appointments:");
            if agenda.appointments.is_empty() {
                outln!("  none to come");
            }
            for a in &agenda.appointments {
                let with = a
                    .professional
                    .as_ref()
                    .map(|p| format!(" with {}", p.name))
                    .unwrap_or_default();
                let place = a
                    .location
                    .as_ref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default();
                outln!(
                    "  {} {} {}{with}{place}",
                    short(&a.id),
                    date_time(a.start_millis),
                    a.title
                );
            }
            outln!("Prevention (French calendar; carnet record agenda done RULE when done):");
            if record.with_content(|r| r.patient())?.is_none() {
                outln!("  set the owner's birth date and sex first (carnet record patient)");
            } else if agenda.reminders.is_empty() {
                outln!("  nothing due in the next 12 months");
            }
            for r in &agenda.reminders {
                outln!(
                    "  {:<9} {} {:<22} {}",
                    match r.status {
                        ReminderStatus::Upcoming => "upcoming",
                        ReminderStatus::Due => "due",
                        ReminderStatus::Overdue => "overdue",
                    },
                    r.due_date,
                    r.rule_id,
                    r.label
                );
            }
        }
        Some(AgendaCommand::Add {
            title,
            start,
            end,
            location,
            with,
            rpps,
            notes,
        }) => {
            let new = NewAppointment {
                title,
                start_millis: parse_instant(&start).map_err(record_error)?,
                end_millis: end
                    .as_deref()
                    .map(parse_instant)
                    .transpose()
                    .map_err(record_error)?,
                location,
                professional: with.map(|name| Professional { name, rpps }),
                notes,
            };
            let appointment = record.with_content(|r| r.add_appointment(&new))?;
            outln!(
                "added {} {} {}",
                short(&appointment.id),
                date_time(appointment.start_millis),
                appointment.title
            );
        }
        Some(AgendaCommand::Cancel { id }) => {
            let appointments = record.with_content(|r| r.appointments())?;
            let id = resolve(&id, appointments.iter().map(|a| a.id.as_str()))?;
            record.with_content(|r| r.cancel_appointment(&id))?;
            outln!("cancelled {}", short(&id));
        }
        Some(AgendaCommand::Done { rule, date }) => {
            let at = match date {
                Some(date) => parse_instant(&date).map_err(record_error)?,
                None => record.with_content(|r| Ok(r.now_millis()))?,
            };
            record.with_content(|r| r.complete_reminder(&rule, at))?;
            outln!("{rule} done on {}", &date_time(at)[..10]);
        }
    }
    Ok(())
}

fn inbox(
    record: &HealthRecord,
    command: Option<InboxCommand>,
    json: bool,
) -> Result<(), SessionError> {
    let messages = record.with_content(|r| r.messages())?;
    match command {
        None => {
            if json {
                print_json(&messages);
            } else if messages.is_empty() {
                outln!("no messages");
            }
            for m in messages.iter().filter(|_| !json) {
                let mark = if m.outgoing {
                    "→"
                } else if m.read {
                    " "
                } else {
                    "•"
                };
                let clip = if m.attachments.is_empty() {
                    String::new()
                } else {
                    format!(" [{} attachment(s)]", m.attachments.len())
                };
                outln!(
                    "{mark} {} {} {} — {}{clip}",
                    short(&m.id),
                    date_time(m.at_millis),
                    m.professional.name,
                    m.subject
                );
            }
        }
        Some(InboxCommand::Show { id, save }) => {
            let id = resolve(&id, messages.iter().map(|m| m.id.as_str()))?;
            let message = record.with_content(|r| r.open_message(&id))?;
            outln!(
                "{} {}\n{}\n\n{}",
                date_time(message.at_millis),
                who(&message.professional),
                message.subject,
                message.body
            );
            for (index, attachment) in message.attachments.iter().enumerate() {
                outln!(
                    "attachment {index}: {} ({}, {} bytes)",
                    attachment.name,
                    attachment.media_type,
                    attachment.size
                );
                if let Some(dir) = &save {
                    let path = record.save_attachment(&id, index, dir)?;
                    outln!("  written to {}", path.display());
                }
            }
            if message.reply_allowed {
                outln!(
                    "(you may reply: carnet record inbox reply {} TEXT)",
                    short(&id)
                );
            }
        }
        Some(InboxCommand::Reply { id, text }) => {
            let id = resolve(&id, messages.iter().map(|m| m.id.as_str()))?;
            let reply = record.with_content(|r| r.reply(&id, &text))?;
            outln!(
                "reply {} to {} kept; it leaves with the next sync",
                short(&reply.id),
                reply.professional.name
            );
        }
        Some(InboxCommand::Deliver {
            from,
            rpps,
            subject,
            body,
            reply_allowed,
            files,
        }) => {
            let mut opened = Vec::new();
            for path in &files {
                let file = fs::File::open(path).map_err(|e| {
                    SessionError::Io(format!("cannot open {}: {e}", path.display()))
                })?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                opened.push((name, file));
            }
            let attachments = opened
                .iter_mut()
                .map(|(name, file)| IncomingAttachment {
                    name: name.clone(),
                    content: file,
                })
                .collect();
            let new = NewMessage {
                sender: Professional {
                    name: from,
                    rpps: Some(rpps),
                },
                subject,
                body,
                reply_allowed,
            };
            let message = record.with_content(|r| r.deliver_message(&new, attachments))?;
            outln!(
                "delivered {} with {} attachment(s)",
                short(&message.id),
                message.attachments.len()
            );
        }
    }
    Ok(())
}

fn block(
    record: &HealthRecord,
    rpps: Option<String>,
    name: Option<String>,
    unblock: bool,
) -> Result<(), SessionError> {
    match (rpps, unblock) {
        (Some(rpps), true) => {
            record.with_content(|r| r.unblock_professional(&rpps))?;
            outln!("{rpps} unblocked");
        }
        (Some(rpps), false) => {
            let name = name.ok_or_else(|| SessionError::Usage("give --name with --rpps".into()))?;
            record.with_content(|r| {
                r.block_professional(&Professional {
                    name: name.clone(),
                    rpps: Some(rpps),
                })
            })?;
            outln!("{name} is blocked from the record");
        }
        (None, _) => {
            let blocked = record.with_content(|r| r.blocked_professionals())?;
            if blocked.is_empty() {
                outln!("no professional is blocked");
            }
            for b in blocked {
                outln!(
                    "{} since {}",
                    who(&b.professional),
                    date_time(b.since_millis)
                );
            }
        }
    }
    Ok(())
}

/// The full id of the record's document that `id` (whole, or its first characters) names.
fn document_id(record: &HealthRecord, id: &str) -> Result<String, SessionError> {
    let documents = record.with_content(|r| r.every_document())?;
    resolve(id, documents.iter().map(|d| d.id.as_str()))
}

/// A record error met by the CLI itself (parsing a profile kind, a date) as the core reports it.
fn record_error(error: carnet::record::RecordError) -> SessionError {
    SessionError::Core(error.into())
}

fn progress_bar(label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(label);
    bar
}

fn show_progress(bar: &ProgressBar, progress: Progress) {
    bar.set_length(progress.total);
    bar.set_position(progress.done);
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn who(professional: &Professional) -> String {
    match &professional.rpps {
        Some(rpps) => format!("{} (RPPS {rpps})", professional.name),
        None => professional.name.clone(),
    }
}

fn print_documents(documents: &[Document], json: bool) {
    if json {
        print_json(documents);
        return;
    }
    if documents.is_empty() {
        outln!("no documents");
    }
    for d in documents {
        let when = d.date_millis.unwrap_or(d.added_millis);
        let hidden = if d.hidden {
            " [hidden from professionals]"
        } else {
            ""
        };
        let author = d
            .author
            .as_ref()
            .map(|a| format!(" — {}", a.name))
            .unwrap_or_default();
        outln!(
            "{} {} {}{author} ({}, {} bytes){hidden}{}",
            short(&d.id),
            &date_time(when)[..10],
            d.title,
            d.media_type,
            d.size,
            addressee_note(d)
        );
    }
}

/// What a list says of who a document is for, when it is not plainly this person's.
fn addressee_note(d: &Document) -> String {
    let named = d.patient.as_ref().map(|p| p.name.as_str()).unwrap_or("");
    match &d.addressee {
        Addressee::ThisPerson => String::new(),
        Addressee::Unchecked if named.is_empty() => " [patient not checked]".to_owned(),
        Addressee::Unchecked => {
            format!(" [for {named}: not checked, the record knows no INS yet]")
        }
        Addressee::NotForThisPerson { reason } => format!(" [not for this person: {reason}]"),
    }
}

fn print_document_details(d: &Document) {
    outln!(
        "{}\n  id {}\n  {} · {} bytes · sha256 {}",
        d.title,
        d.id,
        d.media_type,
        d.size,
        d.sha256
    );
    if let Some(code) = &d.type_code {
        outln!(
            "  type {} {}",
            code.code,
            code.display.as_deref().unwrap_or("")
        );
    }
    if let Some(code) = &d.class_code {
        outln!(
            "  class {} {}",
            code.code,
            code.display.as_deref().unwrap_or("")
        );
    }
    if let Some(author) = &d.author {
        outln!("  by {}", who(author));
    }
    if let Some(date) = d.date_millis {
        outln!("  care date {}", date_time(date));
    }
    outln!(
        "  added {} · {} · {}",
        date_time(d.added_millis),
        match d.confidentiality {
            Confidentiality::Normal => "normal confidentiality",
            Confidentiality::Restricted => "restricted",
            Confidentiality::VeryRestricted => "very restricted",
        },
        if d.hidden {
            "hidden from professionals"
        } else {
            "shared"
        }
    );
    if let Some(description) = &d.description {
        outln!("  {description}");
    }
    if let Some(patient) = &d.patient {
        let ins = d.ins.as_deref().map(|_| " (with an INS)").unwrap_or("");
        outln!("  about {}{ins}{}", patient.name, addressee_note(d));
    } else if d.addressee != Addressee::ThisPerson {
        outln!(" {}", addressee_note(d));
    }
    if let Some(version) = d.version {
        outln!("  version {version}");
    }
    if let Some(newer) = &d.replaced_by {
        outln!("  replaced by a newer version: {}", short(newer));
    }
}
