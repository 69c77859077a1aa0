//! `carnet record sync` and `carnet lists update`: the national services from the command
//! line, through the core's network layer (retries with backoff, device-signed requests). The
//! account comes with the card's enrolment (`carnet card enrol`).

use std::path::PathBuf;
use std::process::ExitCode;

use carnet::{Carnet, HealthRecord, NationalServices, SyncReport, SyncStage};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::session::{self, Options, SessionError};

/// Where `carnet server` listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8470";

/// How to reach the national services.
#[derive(Debug, Args)]
pub struct Connection {
    /// The services' address.
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER)]
    server: String,
    /// Trust only a server holding this key: SHA-256 of its certificate's
    /// SubjectPublicKeyInfo, in hex (repeat for several keys).
    #[arg(long = "pin", value_name = "SHA256")]
    pins: Vec<String>,
}

impl Connection {
    /// The services' address.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The pinned keys.
    pub fn pins(&self) -> Result<Vec<carnet::net::KeyPin>, SessionError> {
        self.pins
            .iter()
            .map(|pin| {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(pin, &mut bytes)
                    .map(|()| bytes)
                    .map_err(|_| SessionError::Usage(format!("--pin {pin}: not 64 hex digits")))
            })
            .collect()
    }
}

/// `carnet record sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    connection: Connection,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `carnet lists update`
#[derive(Debug, Args)]
pub struct ListsArgs {
    #[command(flatten)]
    connection: Connection,
    /// The lists' anchor key (PEM or DER public key or certificate) the lists must verify
    /// against; an app ships it, it is never taken from the server.
    #[arg(long, value_name = "FILE")]
    anchor: PathBuf,
}

/// A one-thread tokio runtime for the network calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, SessionError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SessionError::Io(format!("cannot start the network runtime: {e}")))
}

/// Syncs `record` with progress bars per stage; returns the report.
pub async fn sync_with_progress(
    services: &NationalServices,
    record: &HealthRecord,
) -> Result<SyncReport, SessionError> {
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let pull = ProgressBar::hidden()
        .with_style(style.clone())
        .with_prefix("pull");
    let push = ProgressBar::hidden().with_style(style).with_prefix("push");
    let report = services
        .sync_record(record, &mut |stage, progress| {
            let bar = match stage {
                SyncStage::Pull => &pull,
                SyncStage::Push => &push,
            };
            if bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(progress.total);
            bar.set_position(progress.done);
        })
        .await;
    pull.finish_and_clear();
    push.finish_and_clear();
    Ok(report?)
}

/// One line per direction.
pub fn describe(report: &SyncReport) -> String {
    let (pull, push) = (&report.pull, &report.push);
    let mut text = format!(
        "received {} document(s), {} message(s), {} profile change(s); sent {} document(s), \
         {} profile change(s)",
        pull.documents, pull.messages, pull.profile_items, push.documents, push.accepted
    );
    if push.superseded > 0 {
        text += &format!(
            " ({} overtaken by a later change from another device, kept in the server's history)",
            push.superseded
        );
    }
    if report.still_pending > 0 {
        text += &format!(
            "; {} change(s) still waiting (refused by the health space)",
            report.still_pending
        );
    }
    text
}

/// `carnet record sync`
pub fn run_sync(options: &Options, args: SyncArgs) -> Result<ExitCode, SessionError> {
    let (carnet, record) = session::open_core_and_record(options)?;
    let services = carnet.national_services(&args.connection.server, &args.connection.pins()?)?;
    if services.enrolled_user()?.is_none() {
        return Err(SessionError::Usage(
            "this device has no health-space account yet: enrol your card first \
             (carnet card enrol --nir … --code …)"
                .into(),
        ));
    }
    let report = runtime()?.block_on(sync_with_progress(&services, &record))?;
    if args.json {
        let (pull, push) = (&report.pull, &report.push);
        outln!(
            "{}",
            serde_json::json!({
                "pulled": { "documents": pull.documents, "messages": pull.messages,
                            "profile_items": pull.profile_items, "already_there": pull.already_there,
                            "cursor": pull.cursor },
                "pushed": { "documents": push.documents, "refused_documents": push.refused_documents,
                            "accepted": push.accepted, "superseded": push.superseded },
                "still_pending": report.still_pending,
            })
        );
    } else {
        outln!("{}", describe(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// `carnet lists update`
pub fn run_lists_update(options: &Options, args: &ListsArgs) -> Result<ExitCode, SessionError> {
    let anchor = crate::input::read(&args.anchor, crate::input::MAX_LIST_BYTES, "anchor key")?;
    let carnet: Carnet = session::open(options)?;
    let services = carnet.national_services(&args.connection.server, &args.connection.pins()?)?;
    let update = runtime()?.block_on(services.update_lists(&anchor))?;
    let age = |changed: bool| if changed { "downloaded" } else { "unchanged" };
    let trust = update.lists.trust.header();
    outln!(
        "trust list version {} ({}); revocation list {}",
        trust.version,
        age(update.trust_changed),
        match &update.lists.revocation {
            Some(list) => format!(
                "version {} ({})",
                list.header().version,
                age(update.revocation_changed)
            ),
            None => "none".into(),
        }
    );
    let rules = update
        .lists
        .rules
        .as_ref()
        .map(|list| list.header().version)
        .unwrap_or_default();
    outln!(
        "business rules version {rules} ({}); value sets {}",
        age(update.rules_changed),
        match update.lists.value_sets.header() {
            Some(header) => format!(
                "version {} ({})",
                header.version,
                age(update.value_sets_changed)
            ),
            None => "as shipped".into(),
        }
    );
    if !update.reached {
        outln!("offline: these are the lists held, as of their versions above");
    }
    outln!(
        "kept in {}",
        session::data_dir(options)?.join("lists").display()
    );
    Ok(ExitCode::SUCCESS)
}
