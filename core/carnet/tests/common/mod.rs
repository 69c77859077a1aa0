//! What the facade's integration tests share: a Carnet on a data directory with an in-memory
//! vault, and the reference server on loopback.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use carnet::{Carnet, LogLevel, MemoryKeyVault, Services, SystemClock};
use carnet_server::{RunningServer, ServerConfig};

/// A Carnet on `data_dir` (system clock, a fresh in-memory key vault, no logs).
pub fn open_carnet(data_dir: &Path) -> Carnet {
    Carnet::open(Services {
        clock: Arc::new(SystemClock),
        vault: Arc::new(MemoryKeyVault::new()),
        log_sink: None,
        min_log_level: LogLevel::Info,
        data_dir: data_dir.to_path_buf(),
    })
    .unwrap()
}

/// The reference server on a free loopback port, its data in `dir`.
pub async fn start_server(dir: &Path) -> RunningServer {
    RunningServer::start(ServerConfig {
        data_dir: dir.to_path_buf(),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}
