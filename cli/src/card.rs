//! `carnet card …` (the carte Vitale on this device: enrol, show, refresh, present, and read
//! what a phone shows, as a pharmacy does) and `carnet reader …` (the pharmacy's challenge and
//! the issuer's lists it reads with).
//!
//! The reader's state lives in `DATA_DIR/reader/`: the issuer root it trusts (`root.der`),
//! the last status list (`status.cose`), its id (`reader-id`) and the challenge it has
//! outstanding (`challenge.txt`). Its replay cache lives as long as one `carnet card read`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::codec::qr;
use carnet::wire::apcv::RemotePresentation;
use carnet::{CardCheck, CardPerson, CardReader, Carnet, PresentationRequest, read_challenge};
use clap::{Args, Subcommand, ValueEnum};

use crate::session::{self, Options, SessionError};
use crate::sync::{Connection, runtime};

/// The reader's directory in the data directory.
const READER_DIR: &str = "reader";
/// What a reader asks by default: the default disclosure.
const DEFAULT_ITEMS: &str =
    "family_name,given_names,birth_date,nir,regime,caisse,amo_valid_from,amo_valid_until";
/// The reader id used when none is given: an RPPS number of the test range.
pub const DEFAULT_READER_ID: &str = "10003456789";

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
    /// Show the card as a QR code: an answer to a reader's challenge, or a counter QR.
    Present(PresentArgs),
    /// Check what a phone shows (an `APCV1:` text, or a PNG/JPEG of the QR code), as the
    /// pharmacy's reader: exit 0 accepted, 1 refused.
    Read {
        /// The `APCV1:` text, or a file holding it (an image of the QR code, or text).
        input: std::ffi::OsString,
        /// The date of care (`YYYY-MM-DD`): the AMO rights must cover it.
        #[arg(long, value_name = "DATE", value_parser = calendar_date)]
        date_of_care: Option<String>,
    },
}

/// How a card is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresentMode {
    /// Answer the reader's challenge (`--challenge`).
    Challenge,
    /// A counter QR without a challenge (the default disclosure, valid about a minute).
    Counter,
    /// Send the answer to the endpoint the reader's remote `--challenge` names.
    Remote,
}

/// `carnet card present`
#[derive(Debug, Args)]
pub struct PresentArgs {
    /// Which person on the card (1: the holder).
    #[arg(long, default_value_t = 1)]
    rank: u32,
    /// How the reader's challenge is answered (counter or challenge text).
    #[arg(long, value_enum, default_value_t = PresentMode::Counter)]
    mode: PresentMode,
    /// The reader's `APCVR1:` challenge text (challenge mode).
    #[arg(long, value_name = "TEXT")]
    challenge: Option<String>,
    /// Consent without asking (the challenge's reader, purpose and items are printed).
    #[arg(long)]
    yes: bool,
    /// Write the QR code as a PNG image.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Print the `APCV1:` text instead of drawing the code in the terminal.
    #[arg(long)]
    text: bool,
}

/// `carnet reader …`
#[derive(Debug, Subcommand)]
pub enum ReaderCommand {
    /// Download the issuer's root (the first time) and its current status list.
    Update {
        #[command(flatten)]
        connection: Connection,
        /// This reader's id (RPPS or FINESS), kept for its challenges.
        #[arg(long, value_name = "ID", default_value = DEFAULT_READER_ID)]
        reader_id: String,
    },
    /// Remote presentation: make a challenge naming this reader's endpoint, serve the endpoint
    /// on loopback, check the answers phones send to it (one, or every one with `--keep`).
    Serve {
        /// Address to listen on (loopback; port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
        /// The elements asked, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = DEFAULT_ITEMS)]
        items: Vec<String>,
        /// Why (shown to the holder).
        #[arg(long, default_value = "Téléconsultation")]
        purpose: String,
        /// The date of care (`YYYY-MM-DD`) the rights must cover.
        #[arg(long, value_name = "DATE", value_parser = calendar_date)]
        date_of_care: Option<String>,
        /// Keep serving after the first answer (a new challenge each time).
        #[arg(long)]
        keep: bool,
    },
    /// Make a challenge asking for `--items`, show it as a QR code, keep it outstanding.
    Challenge {
        /// The elements asked, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = DEFAULT_ITEMS)]
        items: Vec<String>,
        /// Why (shown to the holder).
        #[arg(long, default_value = "Délivrance de médicaments")]
        purpose: String,
        /// Write the QR code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Print the `APCVR1:` text instead of drawing the code in the terminal.
        #[arg(long)]
        text: bool,
    },
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
        CardCommand::Present(args) => present(options, &args),
        CardCommand::Read {
            input,
            date_of_care,
        } => read(options, &input, date_of_care.as_deref()),
    }
}

fn present(options: &Options, args: &PresentArgs) -> Result<ExitCode, SessionError> {
    let request = match (args.mode, &args.challenge) {
        (PresentMode::Challenge | PresentMode::Remote, None) => {
            return Err(SessionError::Usage(
                "--mode challenge and --mode remote need the reader's --challenge text".into(),
            ));
        }
        (PresentMode::Challenge | PresentMode::Remote, Some(text)) => {
            let asked = read_challenge(text)?;
            outln!(
                "{} asks, for \"{}\": {}{}",
                asked.reader,
                asked.purpose,
                asked.items.join(", "),
                asked
                    .endpoint
                    .as_deref()
                    .map(|e| format!(" (the answer goes to {e})"))
                    .unwrap_or_default()
            );
            if !args.yes && !session::confirm("show these to this reader?")? {
                outln!("nothing shown");
                return Ok(ExitCode::from(crate::exit::Exit::Refused));
            }
            PresentationRequest::Challenge(text.clone())
        }
        (PresentMode::Counter, _) => PresentationRequest::Counter,
    };
    if let (PresentMode::Remote, PresentationRequest::Challenge(challenge)) = (args.mode, &request)
    {
        let (carnet, record) = session::open_core_and_record(options)?;
        let key = carnet.software_device_key()?;
        let check = runtime()?.block_on(record.send_card(args.rank, challenge, &key))?;
        return Ok(print_check(&check));
    }
    let (carnet, record) = session::open_core_and_record(options)?;
    let key = carnet.software_device_key()?;
    let text = record.present_card(args.rank, &request, &key)?;
    show_code(&text, args.png.as_deref(), args.text)?;
    Ok(ExitCode::SUCCESS)
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
    dir: PathBuf,
}

impl ReaderFiles {
    fn new(options: &Options) -> Result<Self, SessionError> {
        Ok(ReaderFiles {
            dir: session::data_dir(options)?.join(READER_DIR),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SessionError> {
        let path = self.path(name);
        if !path.exists() {
            return Ok(None);
        }
        crate::input::read(&path, crate::input::MAX_LIST_BYTES, "reader file").map(Some)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), SessionError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| SessionError::Io(format!("{}: {e}", self.dir.display())))?;
        let temporary = self.path(&format!("{name}.tmp"));
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, self.path(name)))
            .map_err(|e| SessionError::Io(format!("{}: {e}", self.path(name).display())))
    }

    /// The reader with its root and id only (what `reader update` starts from).
    fn trusting_reader(&self, carnet: &Carnet) -> Result<CardReader, SessionError> {
        let root = self.read("root.der")?.ok_or_else(|| {
            SessionError::Usage(
                "this reader has no issuer root yet: run carnet reader update".into(),
            )
        })?;
        let reader_id = self
            .read("reader-id")?
            .map(|id| String::from_utf8_lossy(&id).trim().to_owned())
            .unwrap_or_else(|| DEFAULT_READER_ID.to_owned());
        carnet
            .card_reader(&root, &reader_id)
            .map_err(|e| self.damaged("root.der", &e))
    }

    /// The reader as kept: its root, id, status list and outstanding challenge. A kept file
    /// that does not load is the reader's problem, not the card's: exit 3 with the way out.
    fn reader(&self, carnet: &Carnet) -> Result<CardReader, SessionError> {
        let mut reader = self.trusting_reader(carnet)?;
        if let Some(status) = self.read("status.cose")? {
            reader
                .update_status(&status)
                .map_err(|e| self.damaged("status.cose", &e))?;
        }
        if let Some(challenge) = self.read("challenge.txt")? {
            reader
                .resume_challenge(&String::from_utf8_lossy(&challenge))
                .map_err(|e| self.damaged("challenge.txt", &e))?;
        }
        Ok(reader)
    }

    fn damaged(&self, name: &str, error: &carnet::CarnetError) -> SessionError {
        let way_out = if name == "root.der" {
            "remove it and run `carnet reader update` to fetch the issuer's root again"
        } else {
            "run `carnet reader update` to fetch the issuer's lists again"
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
            reader_id,
        } => {
            let services = carnet.national_services(connection.server(), &connection.pins()?)?;
            let runtime = runtime()?;
            if files.read("root.der")?.is_none() {
                let root = runtime.block_on(services.issuer_root())?;
                // Checked before it is kept: a root that is not a CA certificate is refused.
                carnet.card_reader(&root, &reader_id)?;
                files.write("root.der", &root)?;
                outln!("issuer root kept (first use: in production it ships with the reader)");
            }
            files.write("reader-id", reader_id.as_bytes())?;
            let status = runtime.block_on(services.issuer_status())?;
            let mut reader = files.trusting_reader(&carnet)?;
            if !reader.update_status(&status)? {
                return Err(SessionError::Io(
                    "the status list is not signed by the issuer this reader trusts".into(),
                ));
            }
            files.write("status.cose", &status)?;
            outln!("status list updated ({} bytes)", status.len());
            Ok(ExitCode::SUCCESS)
        }
        ReaderCommand::Serve {
            bind,
            items,
            purpose,
            date_of_care,
            keep,
        } => {
            let reader = files.reader(&carnet)?;
            runtime()?.block_on(serve(reader, bind, &purpose, &items, date_of_care, keep))
        }
        ReaderCommand::Challenge {
            items,
            purpose,
            png,
            text,
        } => {
            let mut reader = files.reader(&carnet)?;
            let challenge = reader.challenge(&purpose, &items)?;
            files.write("challenge.txt", challenge.as_bytes())?;
            show_code(&challenge, png.as_deref(), text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(
    options: &Options,
    input: &std::ffi::OsStr,
    date_of_care: Option<&str>,
) -> Result<ExitCode, SessionError> {
    let text = crate::input::code_text(input, "APCV1:", "card answer")?;
    let files = ReaderFiles::new(options)?;
    let carnet = session::open(options)?;
    let mut reader = files.reader(&carnet)?;
    let check = reader.read(&text, date_of_care)?;
    // An answer consumes the challenge; a counter QR leaves it outstanding.
    if !reader.has_challenge() {
        let _ = std::fs::remove_file(files.path("challenge.txt"));
    }
    Ok(print_check(&check))
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

/// What the endpoint task shares.
struct Endpoint {
    reader: std::sync::Mutex<CardReader>,
    date_of_care: Option<String>,
    answered: tokio::sync::mpsc::Sender<CardCheck>,
}

/// `carnet reader serve`: the reader's endpoint on loopback. Prints the challenge (text, then
/// QR code), checks each posted answer, answers the phone with the verdict and prints it.
async fn serve(
    mut reader: CardReader,
    bind: std::net::SocketAddr,
    purpose: &str,
    items: &[String],
    date_of_care: Option<String>,
    keep: bool,
) -> Result<ExitCode, SessionError> {
    if !bind.ip().is_loopback() {
        return Err(SessionError::Usage(
            "the reference reader listens on loopback only (behind an HTTPS proxy otherwise)"
                .into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| SessionError::Io(format!("listen on {bind}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let endpoint_url = format!("http://{address}/apcv");
    let challenge = reader.remote_challenge(purpose, items, &endpoint_url)?;
    outln!("endpoint {endpoint_url}");
    outln!("{challenge}");
    let (answered, mut answers) = tokio::sync::mpsc::channel(4);
    let state = std::sync::Arc::new(Endpoint {
        reader: std::sync::Mutex::new(reader),
        date_of_care,
        answered,
    });
    let app = axum::Router::new()
        .route("/apcv", axum::routing::post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let mut last = ExitCode::SUCCESS;
    while let Some(check) = answers.recv().await {
        last = print_check(&check);
        if !keep {
            break;
        }
        let next = state
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remote_challenge(purpose, items, &endpoint_url)?;
        outln!("{next}");
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(last)
}

/// `POST /apcv` [`RemotePresentation`] → the [`carnet::wire::apcv::RemoteVerdict`] (400 and a
/// refusal for what does not parse).
async fn receive(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<Endpoint>>,
    axum::Json(body): axum::Json<RemotePresentation>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let check = state
        .reader
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .read(&body.presentation, state.date_of_care.as_deref());
    match check {
        Ok(check) => {
            let answer = carnet::remote_verdict(&check);
            let _ = state.answered.send(check).await;
            (axum::http::StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err(error) => {
            let refusal = carnet::wire::Refusal {
                code: error.code().to_owned(),
                message: error.to_string(),
            };
            (axum::http::StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response()
        }
    }
}
