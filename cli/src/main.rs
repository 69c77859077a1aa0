//! `carnet`: the desktop front end of the Carnet core.
//!
//! Exit codes are in [`exit`]; everything printed goes through [`output`] (control characters
//! of outside text escaped, a closed pipe ending the command quietly).

#[macro_use]
mod output;
#[cfg(feature = "ble")]
mod ble;
mod card;
mod demo;
mod exit;
mod exposure;
mod identity;
mod input;
mod mdoc;
mod pass;
mod qr;
mod record;
mod server;
mod session;
mod sync;
mod verify;
mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Carnet: the citizen's health wallet, from the command line.
#[derive(Debug, Parser)]
#[command(name = "carnet", version, about, propagate_version = true)]
struct Cli {
    /// Directory of Carnet's local data (default: $CARNET_HOME, else $XDG_DATA_HOME/carnet,
    /// else ~/.local/share/carnet).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory of the health record (default: record in the data directory). The
    /// passphrase comes from $CARNET_PASSPHRASE or a prompt.
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print the core's debug log on standard error.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk through what Carnet can do today, on sample data in a temporary directory.
    Demo,
    /// NIR (social security number) tools.
    Nir {
        #[command(subcommand)]
        command: identity::NirCommand,
    },
    /// INS (national health identifier) tools.
    Ins {
        #[command(subcommand)]
        command: identity::InsCommand,
    },
    /// Health certificates (EU DCC).
    Pass {
        #[command(subcommand)]
        command: pass::PassCommand,
    },
    /// The encrypted health record: documents, profile, agenda, inbox, access rules.
    Record {
        #[command(subcommand)]
        command: record::RecordCommand,
    },
    /// The carte Vitale on this device (ApCV): enrol, show, refresh, present; and read a
    /// phone's card as a pharmacy does.
    Card {
        #[command(subcommand)]
        command: card::CardCommand,
    },
    /// The pharmacy's reader: the issuer's lists, its certified key, ISO/IEC 18013-5 sessions.
    Reader {
        #[command(subcommand)]
        command: card::ReaderCommand,
    },
    /// The caisse's side on the reference server: register a card, report a phone lost.
    Caisse {
        #[command(subcommand)]
        command: card::CaisseCommand,
    },
    /// Bluetooth exposure notification: keys, check, the laboratory's side, the simulated
    /// town, and tools for testing other implementations.
    Exposure {
        #[command(subcommand)]
        command: exposure::ExposureCommand,
    },
    /// Run the reference server (the national services) on this machine.
    Server(server::ServerArgs),
    /// The DCC trust and revocation lists verifier mode uses.
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
    /// The certificate wallet (kept in the encrypted health record).
    Wallet {
        #[command(subcommand)]
        command: wallet::WalletCommand,
    },
    /// QR codes: decode an image, encode text.
    Qr {
        #[command(subcommand)]
        command: qr::QrCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ListsCommand {
    /// Download the lists if they changed, verify them against the anchor, keep them for
    /// offline use.
    Update(sync::ListsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = session::Options {
        data_dir: cli.data_dir,
        verbose: cli.verbose,
        store: cli.store,
    };
    let outcome = match cli.command {
        Command::Caisse { command } => card::run_caisse(command),
        Command::Card { command } => card::run(&options, command),
        Command::Demo => demo::run(&options),
        Command::Exposure { command } => exposure::run(&options, command),
        Command::Reader { command } => card::run_reader(&options, command),
        Command::Nir { command } => identity::run_nir(&options, command),
        Command::Ins { command } => identity::run_ins(&options, command),
        Command::Pass { command } => pass::run(&options, command),
        Command::Qr { command } => qr::run(command),
        Command::Record { command } => record::run(&options, command),
        Command::Server(args) => server::run(args),
        Command::Lists {
            command: ListsCommand::Update(args),
        } => sync::run_lists_update(&options, &args),
        Command::Wallet { command } => wallet::run(&options, command),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            let exit = error.exit();
            match &error {
                session::SessionError::Core(core) if core.kind() == carnet::ErrorKind::Offline => {
                    errln!(
                        "carnet: the national services cannot be reached ({core}); nothing is \
                         lost: run the command again when the network is back"
                    );
                }
                _ => errln!("carnet: {error}"),
            }
            exit.into()
        }
    }
}
