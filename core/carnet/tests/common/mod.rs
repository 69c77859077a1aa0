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
    RunningServer::start(ServerConfig::at(dir)).await.unwrap()
}

/// The family's card (`fixtures/apcv/family.json`) registered by the caisse on `server`.
/// Returns the activation code.
pub async fn register_family_card(server: &RunningServer) -> String {
    let people: Vec<carnet::identity::apcv::ApcvClaims> =
        serde_json::from_str(include_str!("../../../../fixtures/apcv/family.json")).unwrap();
    let caisse = carnet_server::ProfessionalClient::new(
        &format!("http://{}", server.address()),
        server.professional_key(),
    );
    caisse.register_card(&people).await.unwrap().activation_code
}

/// Enrols the family's card on `carnet`'s device (software key), which opens its health-space
/// account; returns the account's user id.
pub async fn enrol_family_card(
    server: &RunningServer,
    carnet: &Carnet,
    services: &carnet::NationalServices,
    record: &carnet::HealthRecord,
) -> String {
    let code = register_family_card(server).await;
    let key = carnet.software_device_key().unwrap();
    services
        .enrol_card(record, "253072B07300470", &code, &key)
        .await
        .unwrap();
    services.enrolled_user().unwrap().unwrap()
}
