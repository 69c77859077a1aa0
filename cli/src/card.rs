//! `carnet card …` (the carte Vitale on this device: enrol, show, refresh, and present it the
//! ISO/IEC 18013-5 way or as Carnet's counter QR) and `carnet reader …` (the pharmacy's
//! reader: the issuer's lists, its certified key, an ISO/IEC 18013-5 session).
//!
//! The reader's state lives in `DATA_DIR/reader/`: the issuer root it trusts (`root.der`),
//! the last status list (`status.cose`), the certificate the professionals' PKI gave its key
//! (`certificate.der`) and the session it has open (`session.cbor`). The phone's open
//! presentation lives in `DATA_DIR/card-session/` (`docs/adr/0008-cli-session-key.md`). The
//! reader's replay cache of counter QRs lives as long as one `carnet card read`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::codec::qr;
use carnet::{CardCheck, CardEngagement, CardPerson, CardReader, Carnet, PresentationStep};
use clap::{Args, Subcommand};

use crate::mdoc::{
    MAX_MESSAGE_TEXT_BYTES, MessageFormat, StateFiles, StoredKey, read_message, write_message,
};
use crate::session::{self, Options, SessionError};
use crate::sync::{Connection, runtime};

/// The reader's directory in the data directory.
const READER_DIR: &str = "reader";
/// The phone's presentation directory in the data directory.
const CARD_SESSION_DIR: &str = "card-session";
/// What a reader asks by default: what a pharmacy bills with.
const DEFAULT_ITEMS: &str =
    "family_name,given_names,birth_date,nir,regime,caisse,amo_valid_from,amo_valid_until";

/// `carnet card …`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Enrol the card on this device with the activation code the caisse sent (also opens the
    /// health-space account).
    Enrol {
        #[command(flatten)]
        connection: Connection,
        /// The card's NIR (the holder's).
        #[arg(long)]
        nir: String,
        /// The activation code.
        #[arg(long)]
        code: String,
    },
    /// The people on the card, their rights and when they were last confirmed (offline).
    Show {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask the caisse for the card again with the current rights.
    Refresh {
        #[command(flatten)]
        connection: Connection,
    },
    /// Show the card: an ISO/IEC 18013-5 engagement QR code (then `carnet card respond`), or
    /// with `--counter` Carnet's own counter QR.
    Present(PresentArgs),
    /// Start an ISO/IEC 18013-5 presentation: print the engagement (`mdoc:` text, or with
    /// `--nfc` the Handover Select message) and keep the session for `carnet card respond`.
    Engage(EngageArgs),
    /// Answer the reader's message (its SessionEstablishment, then SessionData) in the open
    /// presentation, after showing the verified reader and what it asks: writes the answer.
    Respond(RespondArgs),
    /// Read what a phone shows, as the pharmacy's reader: a counter QR (`APCV1:` text or an
    /// image of it; exit 0 accepted, 1 refused), or an engagement (`mdoc:` text or an image
    /// of it) to which it writes the session's first message (as `carnet reader request`).
    Read {
        /// The text, or a file holding it (an image of the QR code, or text).
        input: std::ffi::OsString,
        /// The date of care (`YYYY-MM-DD`): the AMO rights must cover it.
        #[arg(long, value_name = "DATE", value_parser = calendar_date)]
        date_of_care: Option<String>,
        /// The elements asked of an engagement, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = DEFAULT_ITEMS)]
        items: Vec<String>,
    },
}

/// How an engagement is shown.
#[derive(Debug, Args)]
pub struct EngageArgs {
    /// An NFC engagement (static handover): print the Handover Select message in hex.
    #[arg(long)]
    nfc: bool,
    /// Write the QR code as a PNG image.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Print the `mdoc:` text instead of drawing the code in the terminal.
    #[arg(long)]
    text: bool,
}

/// `carnet card present`
#[derive(Debug, Args)]
pub struct PresentArgs {
    /// Carnet's counter QR for person `--rank`: the default disclosure, signed for the current
    /// 30-second slot, with no request (nothing can be asked of it).
    #[arg(long)]
    counter: bool,
    /// Which person on the card (1: the holder), for `--counter` and `--remote`.
    #[arg(long, default_value_t = 1)]
    rank: u32,
    /// Present to a remote reader at this address (`https://…`; `http://` only on this
    /// machine): the session runs over HTTPS, and the reader's verdict is shown only when it
    /// is signed by the reader that asked.
    #[arg(long, value_name = "URL", conflicts_with = "counter")]
    remote: Option<String>,
    /// With `--remote`: consent without asking (the verified reader and what it asks are
    /// printed).
    #[arg(long, requires = "remote")]
    yes: bool,
    #[command(flatten)]
    engagement: EngageArgs,
}

/// `carnet card respond`
#[derive(Debug, Args)]
pub struct RespondArgs {
    /// Which person on the card is shown (1: the holder).
    #[arg(long, default_value_t = 1)]
    rank: u32,
    /// Consent without asking (the verified reader and what it asks are printed).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    io: MessageFiles,
}

/// Where a session message comes from and where the answer goes.
#[derive(Debug, Args)]
pub struct MessageFiles {
    /// The message read: a file (hex, base64 or CBOR); standard input without it.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// The answer written: a file; standard output without it.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// How the answer is written.
    #[arg(long, value_enum, default_value_t = MessageFormat::Hex)]
    format: MessageFormat,
}

/// `carnet reader …`
#[derive(Debug, Subcommand)]
pub enum ReaderCommand {
    /// Download the issuer's root (the first time) and its current status list; with
    /// `--pro-key`, have this reader's key certified by the professionals' PKI.
    Update {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        certification: Certification,
    },
    /// Open an ISO/IEC 18013-5 session with the phone whose engagement is given (`mdoc:`
    /// text, an image of its QR code, or with `--nfc` a Handover Select message): writes the
    /// SessionEstablishment and keeps the session for `carnet reader read`.
    Request {
        /// The engagement: `mdoc:` text or a file holding it (an image, text), or with `--nfc`
        /// a file holding the Handover Select message (hex, base64 or bytes).
        #[arg(long, value_name = "TEXT|FILE")]
        engagement: std::ffi::OsString,
        /// The engagement is an NFC Handover Select message.
        #[arg(long)]
        nfc: bool,
        /// The elements asked, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = DEFAULT_ITEMS)]
        items: Vec<String>,
        /// The answer written: a file; standard output without it.
        #[arg(long = "out", value_name = "FILE")]
        output: Option<PathBuf>,
        /// How it is written.
        #[arg(long, value_enum, default_value_t = MessageFormat::Hex)]
        format: MessageFormat,
    },
    /// Serve remote presentations: phones post their engagement to `--endpoint`, each gets
    /// its own session, and each verdict is printed and sent back signed by this reader's
    /// certified key (its certificate must name the endpoint's host: `reader update --host`).
    Serve(ServeArgs),
    /// Check the phone's SessionData in the open session: exit 0 accepted, 1 refused.
    Read {
        /// The phone's message: a file (hex, base64 or CBOR); standard input without it.
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// The date of care (`YYYY-MM-DD`) the rights must cover.
        #[arg(long, value_name = "DATE", value_parser = calendar_date)]
        date_of_care: Option<String>,
    },
}

/// `carnet reader serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8471")]
    bind: std::net::SocketAddr,
    /// The address phones post to, as they see it (`https://…` behind a TLS proxy;
    /// default `http://BIND/mdoc`, on this machine only).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The elements asked of each phone, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ITEMS)]
    items: Vec<String>,
    /// The date of care (`YYYY-MM-DD`) the rights must cover.
    #[arg(long, value_name = "DATE", value_parser = calendar_date)]
    date_of_care: Option<String>,
    /// Stop after the first verdict, with its exit code (0 accepted, 1 refused).
    #[arg(long)]
    once: bool,
    /// The national services the issuer's status list is fetched from.
    #[command(flatten)]
    connection: Connection,
    /// How old the status list may be, in seconds, before a new phone's engagement fetches
    /// it again (a card enrolled since is otherwise `cannot_confirm`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    status_age: i64,
}

/// Who this reader is, for the professionals' PKI to certify its key.
#[derive(Debug, Args)]
pub struct Certification {
    /// File holding the professionals' key (`professional.key` in the server's data
    /// directory): in France, the professional's CPS card.
    #[arg(long, value_name = "FILE")]
    pro_key: Option<PathBuf>,
    /// The professional's or establishment's name, as phones show it.
    #[arg(long, default_value = "Jeanne Martin")]
    name: String,
    /// The organisation: the pharmacy, the practice, the hospital.
    #[arg(long, default_value = "Pharmacie du Port")]
    organisation: String,
    /// `RPPS:<11 digits>` or `FINESS:<9 characters>`.
    #[arg(long, default_value = "RPPS:10003456789")]
    identifier: String,
    /// The profession code (`21` pharmacien, `10` médecin…) or `etablissement`.
    #[arg(long, default_value = "21")]
    profession: String,
    /// A host name (or IP address) the reader serves remote presentations on; repeat for
    /// several. Phones take a remote request only from a host its certificate names.
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
}

/// `carnet caisse …`: what the caisse's software does with cards on the reference server.
#[derive(Debug, Subcommand)]
pub enum CaisseCommand {
    /// Register a card: the people on it (a JSON array of claims, holder first, as in
    /// `fixtures/apcv/family.json`); prints the activation code the caisse would mail.
    Register {
        #[command(flatten)]
        caisse: ProfessionalConnection,
        /// The people on the card (JSON).
        people: PathBuf,
    },
    /// Change the people on card `--nir` or their rights (a JSON array as for `register`); the
    /// phone gets them at its next `carnet card refresh`.
    Update {
        #[command(flatten)]
        caisse: ProfessionalConnection,
        /// The card's NIR.
        #[arg(long)]
        nir: String,
        /// The people on the card (JSON).
        people: PathBuf,
    },
    /// Report the phone of card `--nir` lost: its credentials revoked, its account locked;
    /// prints the new activation code.
    DeviceLost {
        #[command(flatten)]
        caisse: ProfessionalConnection,
        /// The card's NIR.
        #[arg(long)]
        nir: String,
    },
}

/// A professional's access to the reference server (the caisse, a laboratory).
#[derive(Debug, Args)]
pub struct ProfessionalConnection {
    /// The server's address.
    #[arg(long, value_name = "URL", default_value = crate::sync::DEFAULT_SERVER)]
    server: String,
    /// File holding the professionals' key (`professional.key` in the server's data
    /// directory).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

impl ProfessionalConnection {
    /// A client with the key read from its file.
    pub fn client(&self) -> Result<carnet_server::ProfessionalClient, SessionError> {
        let key = crate::input::read_text(&self.key, crate::input::MAX_TEXT_BYTES, "key file")?;
        Ok(carnet_server::ProfessionalClient::new(
            &self.server,
            key.trim(),
        ))
    }
}

/// Runs `carnet caisse …`.
pub fn run_caisse(command: CaisseCommand) -> Result<ExitCode, SessionError> {
    let client = ProfessionalConnection::client;
    let refused = |e: carnet_server::DepositError| SessionError::Io(e.to_string());
    let read_people =
        |path: &Path| -> Result<Vec<carnet::identity::apcv::ApcvClaims>, SessionError> {
            let text = crate::input::read_text(path, crate::input::MAX_JSON_BYTES, "card file")?;
            serde_json::from_str(&text)
                .map_err(|e| SessionError::Usage(format!("{}: {e}", path.display())))
        };
    let activation_code = match command {
        CaisseCommand::Register { caisse, people } => {
            runtime()?
                .block_on(client(&caisse)?.register_card(&read_people(&people)?))
                .map_err(refused)?
                .activation_code
        }
        CaisseCommand::Update {
            caisse,
            nir,
            people,
        } => {
            runtime()?
                .block_on(client(&caisse)?.update_card(&nir, &read_people(&people)?))
                .map_err(refused)?;
            outln!("card {nir} updated: the phone gets it at its next rights refresh");
            return Ok(ExitCode::SUCCESS);
        }
        CaisseCommand::DeviceLost { caisse, nir } => {
            runtime()?
                .block_on(client(&caisse)?.report_device_lost(&nir))
                .map_err(refused)?
                .activation_code
        }
    };
    outln!("activation code: {activation_code}");
    Ok(ExitCode::SUCCESS)
}

/// Runs `carnet card …`.
pub fn run(options: &Options, command: CardCommand) -> Result<ExitCode, SessionError> {
    match command {
        CardCommand::Enrol {
            connection,
            nir,
            code,
        } => {
            let (carnet, record) = session::open_core_and_record(options)?;
            let services = carnet.national_services(connection.server(), &connection.pins()?)?;
            let key = carnet.software_device_key()?;
            let people = runtime()?.block_on(services.enrol_card(&record, &nir, &code, &key))?;
            outln!("card enrolled on this device:");
            print_people(&people);
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::Show { json } => {
            let record = session::open_record(options)?;
            let people = record.card()?;
            if json {
                outln!("{}", people_json(&people));
            } else if people.is_empty() {
                outln!("no card on this device: carnet card enrol --nir … --code …");
            } else {
                print_people(&people);
            }
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::Refresh { connection } => {
            let (carnet, record) = session::open_core_and_record(options)?;
            let services = carnet.national_services(connection.server(), &connection.pins()?)?;
            let key = carnet.software_device_key()?;
            let people = runtime()?.block_on(services.refresh_card(&record, &key))?;
            outln!("rights refreshed:");
            print_people(&people);
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::Present(args) if args.counter => {
            let (carnet, record) = session::open_core_and_record(options)?;
            let key = carnet.software_device_key()?;
            let text = record.present_counter(args.rank, &key)?;
            errln!("Carnet's counter QR (not ISO/IEC 18013-5): the default disclosure, no request");
            show_code(&text, args.engagement.png.as_deref(), args.engagement.text)?;
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::Present(PresentArgs {
            remote: Some(endpoint),
            rank,
            yes,
            ..
        }) => present_remote(options, &endpoint, rank, yes),
        CardCommand::Present(args) => engage(options, &args.engagement),
        CardCommand::Engage(args) => engage(options, &args),
        CardCommand::Respond(args) => respond(options, &args),
        CardCommand::Read {
            input,
            date_of_care,
            items,
        } => read(options, &input, date_of_care.as_deref(), &items),
    }
}

/// The phone's open presentation: the session and the ephemeral key an engaged one waits
/// with.
const SESSION_FILE: &str = "session.cbor";
const KEY_FILE: &str = "key.bin";

/// The phone's open presentation, in the data directory.
fn card_session_files(options: &Options) -> Result<StateFiles, SessionError> {
    Ok(StateFiles::new(
        &session::data_dir(options)?,
        CARD_SESSION_DIR,
        MAX_MESSAGE_TEXT_BYTES,
        "session file",
    ))
}

/// `carnet card engage`: a new presentation, its engagement printed, its session kept.
fn engage(options: &Options, args: &EngageArgs) -> Result<ExitCode, SessionError> {
    let (_, record) = session::open_core_and_record(options)?;
    let record = std::sync::Arc::new(record);
    let files = card_session_files(options)?;
    let key = StoredKey::generate()?;
    let kept_key = key.to_bytes();
    let kind = if args.nfc {
        CardEngagement::Nfc
    } else {
        CardEngagement::Qr
    };
    let presentation = record.start_presentation_with(kind, Box::new(key))?;
    files.write(KEY_FILE, &kept_key)?;
    files.write(SESSION_FILE, &presentation.to_bytes()?)?;
    match presentation.handover_select() {
        Some(select) => {
            errln!("NFC Handover Select message (the phone's tag), for the reader:");
            outln!("{}", hex::encode(select));
        }
        None => show_code(&presentation.qr_text(), args.png.as_deref(), args.text)?,
    }
    errln!("waiting for the reader: give its message to `carnet card respond` within 5 minutes");
    Ok(ExitCode::SUCCESS)
}

/// `carnet card respond`: the reader's message taken in the open presentation, the answer
/// written.
fn respond(options: &Options, args: &RespondArgs) -> Result<ExitCode, SessionError> {
    if args.io.input.is_none() && !args.yes {
        return Err(SessionError::Usage(
            "the message comes on standard input, so consent cannot be asked there:              give it with --in FILE, or consent with --yes"
                .into(),
        ));
    }
    let (carnet, record) = session::open_core_and_record(options)?;
    let record = std::sync::Arc::new(record);
    let files = card_session_files(options)?;
    let saved = files.read(SESSION_FILE)?.ok_or_else(|| {
        SessionError::Usage("no presentation open: start one with carnet card engage".into())
    })?;
    let key = files
        .read(KEY_FILE)?
        .map(|bytes| StoredKey::from_bytes(&bytes))
        .transpose()?
        .map(|key| Box::new(key) as Box<dyn carnet::identity::session::KeyAgreement + Send + Sync>);
    let mut presentation = record.resume_presentation(&saved, key)?;
    let message = read_message(args.io.input.as_deref())?;
    let forget = || {
        files.remove(SESSION_FILE);
        files.remove(KEY_FILE);
    };
    let step = match presentation.receive(&message) {
        Ok(step) => step,
        Err(error) => {
            if let Some(closing) = presentation.closing_message() {
                write_message(&closing, args.io.output.as_deref(), args.io.format)?;
            }
            forget();
            return Err(error.into());
        }
    };
    // The key is spent once the session is established.
    files.remove(KEY_FILE);
    let PresentationStep::Asked(request) = step else {
        outln!("the reader ended the session");
        forget();
        return Ok(ExitCode::SUCCESS);
    };
    let consented = ask_consent(&request, args.yes)?;
    let answer = match &consented {
        Some(approved) => {
            presentation.respond(args.rank, approved, &carnet.software_device_key()?)?
        }
        None => presentation.decline()?,
    };
    files.write(SESSION_FILE, &presentation.to_bytes()?)?;
    write_message(&answer, args.io.output.as_deref(), args.io.format)?;
    Ok(if consented.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::Exit::Refused)
    })
}

/// Shows who asks (from its verified certificate) and what, and asks the person unless
/// `yes`: the elements to show, or `None` when nothing is (declined, or nothing this
/// reader may be given).
fn ask_consent(
    request: &carnet::ConsentRequest,
    yes: bool,
) -> Result<Option<Vec<String>>, SessionError> {
    let reader = &request.reader;
    if reader.verified {
        errln!(
            "{} — {} ({}, {}), verified by the professionals' PKI, asks:",
            reader.name,
            reader.organisation,
            reader.profession,
            reader.identifier
        );
    } else if let Some(refusal) = &reader.refusal {
        errln!("a reader whose certificate is refused ({refusal}) asks (nothing will be shown):");
    } else {
        errln!("a reader that does not say who it is asks (the names at most, if you choose):");
    }
    for element in &request.elements {
        errln!(
            "  {}{}{}",
            element.name,
            if element.intent_to_retain {
                " (kept by the reader)"
            } else {
                ""
            },
            if element.allowed {
                ""
            } else {
                " — not for this reader: never shown"
            }
        );
    }
    let approved: Vec<String> = request
        .elements
        .iter()
        .filter(|element| element.allowed)
        .map(|element| element.name.clone())
        .collect();
    let consented = !approved.is_empty()
        && (yes || session::confirm(&format!("show {} to this reader?", approved.join(", ")))?);
    if !consented {
        errln!("nothing shown");
    }
    Ok(consented.then_some(approved))
}

/// `carnet card present --remote URL`: the session with a remote reader, over HTTPS.
fn present_remote(
    options: &Options,
    endpoint: &str,
    rank: u32,
    yes: bool,
) -> Result<ExitCode, SessionError> {
    let (carnet, record) = session::open_core_and_record(options)?;
    let record = std::sync::Arc::new(record);
    let runtime = runtime()?;
    let presentation = runtime.block_on(record.start_remote_presentation(endpoint))?;
    let outcome = match ask_consent(presentation.request(), yes)? {
        Some(approved) => {
            let key = carnet.software_device_key()?;
            runtime.block_on(presentation.respond(rank, &approved, &key))?
        }
        None => runtime.block_on(presentation.decline())?,
    };
    Ok(match outcome {
        carnet::RemoteOutcome::Confirmed {
            accepted: true,
            elements,
            ..
        } => {
            outln!(
                "the reader accepted the card (its verdict is signed by its certificate): {}",
                elements.join(", ")
            );
            ExitCode::SUCCESS
        }
        carnet::RemoteOutcome::Confirmed { code, .. } => {
            outln!(
                "the reader refused the card: {code} (its verdict is signed by its certificate)"
            );
            ExitCode::from(crate::exit::Exit::Refused)
        }
        carnet::RemoteOutcome::Unconfirmed { reason } => {
            outln!(
                "your answer was sent; what the reader says of it cannot be confirmed: {reason}"
            );
            ExitCode::from(crate::exit::Exit::CannotConfirm)
        }
        carnet::RemoteOutcome::Declined => {
            outln!("declined: the reader was told, nothing was shown");
            ExitCode::from(crate::exit::Exit::Refused)
        }
    })
}

/// Prints `text` as a terminal QR code (or as text), and writes the PNG if asked.
fn show_code(text: &str, png: Option<&Path>, as_text: bool) -> Result<(), SessionError> {
    crate::qr::write_images(text, png, None, crate::qr::DEFAULT_SCALE, |e| {
        SessionError::Io(e.to_string())
    })?;
    if let Some(path) = png {
        errln!("QR code written to {}", path.display());
    }
    if as_text || !std::io::stdout().is_terminal() {
        outln!("{text}");
        return Ok(());
    }
    let (lines, width) = qr::render_terminal(text).map_err(|e| SessionError::Io(e.to_string()))?;
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(80);
    if width > columns {
        outln!(
            "the QR code is {width} columns wide, wider than this terminal ({columns}): \
             widen it, or use --png FILE or --text"
        );
    } else {
        outln!("{lines}");
    }
    Ok(())
}

fn print_people(people: &[CardPerson]) {
    for person in people {
        outln!(
            "  {}. {} {} (born {}), INS {} — AMO rights {} to {}, regime {} caisse {}; \
             shown until {}, confirmed {}",
            person.rank,
            person.given_names,
            person.family_name,
            person.birth_date,
            person.ins_matricule,
            person.amo_valid_from,
            person.amo_valid_until,
            person.regime,
            person.caisse,
            crate::output::date_time(person.valid_until * 1000),
            crate::output::date_time(person.refreshed_millis),
        );
    }
}

fn people_json(people: &[CardPerson]) -> serde_json::Value {
    serde_json::Value::Array(
        people
            .iter()
            .map(|p| {
                serde_json::json!({
                    "rank": p.rank, "family_name": p.family_name, "given_names": p.given_names,
                    "birth_date": p.birth_date, "nir": p.nir, "ins_matricule": p.ins_matricule,
                    "regime": p.regime, "caisse": p.caisse,
                    "amo_valid_from": p.amo_valid_from, "amo_valid_until": p.amo_valid_until,
                    "valid_until": p.valid_until, "refreshed_millis": p.refreshed_millis,
                })
            })
            .collect(),
    )
}

/// A `--date-of-care`: a real calendar date, `YYYY-MM-DD` (2027-02-30 is a usage error).
fn calendar_date(text: &str) -> Result<String, String> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|_| text.to_owned())
    .map_err(|_| format!("{text:?} is not a date of the calendar (YYYY-MM-DD)"))
}

/// The reader's files.
struct ReaderFiles {
    files: StateFiles,
}

impl ReaderFiles {
    fn new(options: &Options) -> Result<Self, SessionError> {
        Ok(ReaderFiles {
            files: StateFiles::new(
                &session::data_dir(options)?,
                READER_DIR,
                crate::input::MAX_LIST_BYTES,
                "reader file",
            ),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.files.path(name)
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SessionError> {
        self.files.read(name)
    }

    /// Keeps `name`, owner-only: the session file holds the session's keys.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), SessionError> {
        self.files.write(name, bytes)
    }

    /// The reader with its root and certificate only (what `reader update` starts from).
    fn trusting_reader(&self, carnet: &Carnet) -> Result<CardReader, SessionError> {
        let root = self.read("root.der")?.ok_or_else(|| {
            SessionError::Usage(
                "this reader has no issuer root yet: run carnet reader update".into(),
            )
        })?;
        let certificate = self.read("certificate.der")?;
        let anonymous = carnet
            .card_reader(&root, None)
            .map_err(|e| self.damaged("root.der", &e))?;
        match certificate {
            None => Ok(anonymous),
            Some(certificate) => carnet
                .card_reader(&root, Some(certificate))
                .map_err(|e| self.damaged("certificate.der", &e)),
        }
    }

    /// The reader with its root, its certificate and its status list: what serves remote
    /// presentations, which keep their sessions in memory.
    fn reader_with_status(&self, carnet: &Carnet) -> Result<CardReader, SessionError> {
        let mut reader = self.trusting_reader(carnet)?;
        if let Some(status) = self.read("status.cose")? {
            reader
                .update_status(&status)
                .map_err(|e| self.damaged("status.cose", &e))?;
        }
        Ok(reader)
    }

    /// The reader as kept: its root, its certificate (it then authenticates), its status
    /// list, the session it has open. A kept file that does not load is the reader's
    /// problem, not the card's: exit 3 with the way out.
    fn reader(&self, carnet: &Carnet) -> Result<CardReader, SessionError> {
        let mut reader = self.reader_with_status(carnet)?;
        if let Some(session) = self.read("session.cbor")? {
            reader
                .resume_session(&session)
                .map_err(|e| self.damaged("session.cbor", &e))?;
        }
        Ok(reader)
    }

    /// A session the reader just opened: kept for `carnet reader read`, its first message
    /// (`establishment`) written to `output` (standard output without it).
    fn keep_opened(
        &self,
        reader: &CardReader,
        establishment: &[u8],
        output: Option<&Path>,
        format: MessageFormat,
    ) -> Result<(), SessionError> {
        self.write("session.cbor", &reader.save_session()?)?;
        write_message(establishment, output, format)
    }

    fn damaged(&self, name: &str, error: &carnet::CarnetError) -> SessionError {
        let way_out = match name {
            "root.der" => {
                "remove it and run `carnet reader update` to fetch the issuer's root again"
            }
            "session.cbor" => "remove it and open a new session with `carnet reader request`",
            "certificate.der" => {
                "remove it and run `carnet reader update --pro-key FILE` to have the key certified again"
            }
            _ => "run `carnet reader update` to fetch the issuer's lists again",
        };
        SessionError::Io(format!(
            "this reader's state is damaged: {} cannot be used ({error} [{}]); {way_out}",
            self.path(name).display(),
            error.code()
        ))
    }
}

/// Runs `carnet reader …`.
pub fn run_reader(options: &Options, command: ReaderCommand) -> Result<ExitCode, SessionError> {
    let files = ReaderFiles::new(options)?;
    let carnet = session::open(options)?;
    match command {
        ReaderCommand::Update {
            connection,
            certification,
        } => update_reader(&files, &carnet, &connection, &certification),
        ReaderCommand::Request {
            engagement,
            nfc,
            items,
            output,
            format,
        } => {
            let mut reader = files.reader(&carnet)?;
            let establishment = if nfc {
                let select = read_message(Some(Path::new(&engagement)))?;
                reader.request_nfc(&select, &items)?
            } else {
                let text = crate::input::code_text(&engagement, "mdoc:", "engagement")?;
                reader.request(&text, &items)?
            };
            files.keep_opened(&reader, &establishment, output.as_deref(), format)?;
            Ok(ExitCode::SUCCESS)
        }
        ReaderCommand::Serve(args) => serve_remote(&files, &carnet, &args),
        ReaderCommand::Read {
            input,
            date_of_care,
        } => {
            let mut reader = files.reader(&carnet)?;
            let message = read_message(input.as_deref())?;
            let check = reader.read(&message, date_of_care.as_deref());
            match reader.save_session() {
                Ok(session) => files.write("session.cbor", &session)?,
                Err(_) => files.files.remove("session.cbor"),
            }
            Ok(print_check(&check?))
        }
    }
}

/// `carnet reader serve`: remote presentations at the endpoint until interrupted (or, with
/// `--once`, until the first verdict, whose exit code it returns).
fn serve_remote(
    files: &ReaderFiles,
    carnet: &Carnet,
    args: &ServeArgs,
) -> Result<ExitCode, SessionError> {
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("http://{}/mdoc", args.bind));
    let reader = files.reader_with_status(carnet)?;
    let services = std::sync::Arc::new(
        carnet.national_services(args.connection.server(), &args.connection.pins()?)?,
    );
    let remote = std::sync::Arc::new(
        reader
            .serve_remote(&endpoint, &args.items, args.date_of_care.as_deref())?
            .with_status_refresh(services, args.status_age),
    );
    let (verdicts, mut verdict) = tokio::sync::mpsc::unbounded_channel::<ExitCode>();
    let router = carnet::remote_reader_router(
        remote,
        std::sync::Arc::new(move |check: &CardCheck| {
            let _ = verdicts.send(print_check(check));
        }),
    );
    let once = args.once;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|e| SessionError::Io(format!("cannot listen on {}: {e}", args.bind)))?;
        errln!("serving remote presentations at {endpoint} (Ctrl-C stops)");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = carnet_server::ServerConfig::default().connection_limits();
        let server = tokio::spawn(carnet_server::serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        let exit = loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break ExitCode::SUCCESS,
                received = verdict.recv() => match received {
                    Some(exit) if once => break exit,
                    Some(_) => {}
                    None => break ExitCode::SUCCESS,
                },
            }
        };
        let _ = stop.send(());
        let _ = server.await;
        Ok(exit)
    })
}

/// `carnet reader update`: the issuer's root (the first time) and status list, and with a
/// professionals' key the reader's key certified.
fn update_reader(
    files: &ReaderFiles,
    carnet: &Carnet,
    connection: &Connection,
    certification: &Certification,
) -> Result<ExitCode, SessionError> {
    let services = carnet.national_services(connection.server(), &connection.pins()?)?;
    let runtime = runtime()?;
    if files.read("root.der")?.is_none() {
        let root = runtime.block_on(services.issuer_root())?;
        // Checked before it is kept: a root that is not a CA certificate is refused.
        carnet.card_reader(&root, None)?;
        files.write("root.der", &root)?;
        outln!("issuer root kept (first use: in production it ships with the reader)");
    }
    if let Some(pro_key) = &certification.pro_key {
        use base64::Engine;
        let key = crate::input::read_text(pro_key, crate::input::MAX_TEXT_BYTES, "key file")?;
        let pki = carnet_server::ProfessionalClient::new(connection.server(), key.trim());
        let request = carnet::wire::readers::ReaderCertificateRequest {
            name: certification.name.clone(),
            organisation: certification.organisation.clone(),
            identifier: certification.identifier.clone(),
            profession: certification.profession.clone(),
            hosts: certification.hosts.clone(),
            public_key: base64::engine::general_purpose::STANDARD
                .encode(carnet.reader_public_key()?),
        };
        let issued = runtime
            .block_on(pki.certify_reader(&request))
            .map_err(|e| SessionError::Io(e.to_string()))?;
        let certificate = base64::engine::general_purpose::STANDARD
            .decode(&issued.certificate)
            .map_err(|_| SessionError::Io("the PKI's certificate is not base64".into()))?;
        files.write("certificate.der", &certificate)?;
        outln!(
            "reader key certified for {} ({}), serial {}",
            certification.name,
            certification.identifier,
            issued.serial
        );
    }
    let status = runtime.block_on(services.issuer_status())?;
    let mut reader = files.trusting_reader(carnet)?;
    if !reader.update_status(&status)? {
        return Err(SessionError::Io(
            "the status list is not signed by the issuer this reader trusts".into(),
        ));
    }
    files.write("status.cose", &status)?;
    outln!("status list updated ({} bytes)", status.len());
    Ok(ExitCode::SUCCESS)
}

/// `carnet card read`: a counter QR checked, or an engagement given its first message.
fn read(
    options: &Options,
    input: &std::ffi::OsStr,
    date_of_care: Option<&str>,
    items: &[String],
) -> Result<ExitCode, SessionError> {
    // The input first: what the phone shows is checked before the reader's own state.
    let text = match input.to_str().map(str::trim) {
        Some(text) if text.starts_with("mdoc:") => text.to_owned(),
        _ => crate::input::code_text(input, "APCV1:", "card QR code")?,
    };
    let files = ReaderFiles::new(options)?;
    let carnet = session::open(options)?;
    let mut reader = files.reader(&carnet)?;
    if text.starts_with("mdoc:") {
        let establishment = reader.request(&text, items)?;
        files.keep_opened(&reader, &establishment, None, MessageFormat::Hex)?;
        errln!("session opened: give this to the phone, then its answer to carnet reader read");
        return Ok(ExitCode::SUCCESS);
    }
    Ok(print_check(&reader.read_counter(&text, date_of_care)?))
}

/// Prints a reader's verdict; the exit code says it (0 accepted, 1 refused).
fn print_check(check: &CardCheck) -> ExitCode {
    match check {
        CardCheck::Accepted { elements } => {
            outln!("accepted");
            for element in elements {
                outln!("  {}: {}", element.name, element.value);
            }
            ExitCode::SUCCESS
        }
        CardCheck::Refused { code } => {
            outln!("refused: {code}");
            ExitCode::from(crate::exit::Exit::Refused)
        }
    }
}
