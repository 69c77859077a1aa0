//! What the facade's integration tests share: a Carnet on a data directory with an in-memory
//! vault, and the reference server on loopback as it runs for real.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use carnet::{Carnet, LogLevel, MemoryKeyVault, Services, SystemClock};
use carnet_server::{RunningServer, ServerConfig};
use carnet_testing::server::TestServer;

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

/// The reference server on loopback as it runs for real: accounts come with the card's
/// enrolment only.
pub async fn start_server() -> TestServer {
    TestServer::start_with(card_enrolment_only).await
}

/// As [`start_server`], its data in `data` (prepared by the test).
pub async fn start_server_in(data: tempfile::TempDir) -> TestServer {
    TestServer::start_in(data, card_enrolment_only).await
}

fn card_enrolment_only(config: &mut ServerConfig) {
    config.test_enrolment_code = None;
}

/// The family's card (`fixtures/apcv/family.json`) registered by the caisse on `server`.
/// Returns the activation code.
pub async fn register_family_card(server: &RunningServer) -> String {
    let caisse = carnet_server::ProfessionalClient::new(
        &format!("http://{}", server.address()),
        server.professional_key(),
    );
    caisse
        .register_card(&carnet_testing::family())
        .await
        .unwrap()
        .activation_code
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

/// A phone with the family's card enrolled on `server`: its data directory (removed when
/// dropped), its Carnet, its connection to the services and its record.
pub struct EnrolledPhone {
    pub data: tempfile::TempDir,
    pub carnet: Carnet,
    pub services: carnet::NationalServices,
    pub record: Arc<carnet::HealthRecord>,
}

/// A new phone on a fresh data directory, a record created, the family's card enrolled.
pub async fn enrolled_phone(server: &RunningServer) -> EnrolledPhone {
    let data = tempfile::tempdir().unwrap();
    let carnet = open_carnet(data.path());
    let services = carnet
        .national_services(&format!("http://{}", server.address()), &[])
        .unwrap();
    let record = Arc::new(
        carnet
            .create_record(&carnet.record_dir(), &carnet::RecordUnlock::DeviceKey)
            .unwrap(),
    );
    enrol_family_card(server, &carnet, &services, &record).await;
    EnrolledPhone {
        data,
        carnet,
        services,
        record,
    }
}
