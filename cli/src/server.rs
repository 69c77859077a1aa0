//! `carnet server`: the reference server (national services) on this machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use carnet_server::ServerConfig;
use clap::Args;

use crate::session::SessionError;

/// `carnet server`
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Directory of the server's database, keys and lists.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8470).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// A JSON configuration file (every field optional; flags win).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs the server until Ctrl-C.
pub fn run(args: ServerArgs) -> Result<ExitCode, SessionError> {
    let failed = |e: carnet_server::ServerError| SessionError::Io(format!("server: {e}"));
    let mut config = match &args.config {
        Some(path) => ServerConfig::from_file(path).map_err(failed)?,
        None => ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8470)),
            ..ServerConfig::default()
        },
    };
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    let data_dir = config.data_dir.clone();
    carnet_server::run_until_interrupted(config, |address, _| {
        outln!(
            "carnet-server listening on http://{address} (data in {})",
            data_dir.display()
        );
        outln!(
            "professionals' key in {}; Ctrl-C stops",
            data_dir.join("professional.key").display()
        );
    })
    .map_err(failed)?;
    outln!("carnet-server stopped");
    Ok(ExitCode::SUCCESS)
}
