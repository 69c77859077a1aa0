//! Pull sync end to end over real HTTP on loopback: a professional deposits documents and a
//! message, the citizen's record pulls them, reads them with the server stopped, and pulls
//! again after a restart with no duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use base64::Engine;
use carnet_platform::{KeyVault, MemoryKeyVault};
use carnet_record::net::{Client, NetConfig, RetryPolicy};
use carnet_record::{DocumentSource, RecordError};
use carnet_server::{RunningServer, ServerConfig};
use common::*;
use serde_json::json;

async fn deposit(server: &RunningServer, user: &str, what: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/pro/patients/{user}/{what}",
            server.address()
        ))
        .bearer_auth(server.professional_key())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

fn document(id: &str, title: &str, content: &[u8]) -> serde_json::Value {
    json!({
        "id": id,
        "metadata": {
            "title": title,
            "type": { "system": "http://loinc.org", "code": "34874-8", "display": "Compte rendu opératoire" },
            "author": { "name": "Dr Marie Curie", "rpps": "10003456789" },
            "date": "2026-11-20T09:30:00Z",
            "confidentiality": "R"
        },
        "content_base64": base64::engine::general_purpose::STANDARD.encode(content),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_are_pulled_read_offline_and_pulled_again_without_duplicates() {
    let server_dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    let server = RunningServer::start(config.clone()).await.unwrap();
    let address = server.address();
    let mut net = NetConfig::new(format!("http://{address}"));
    net.retry = RetryPolicy {
        attempts: 2,
        first_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
    };
    let client = Client::new(net).unwrap();
    let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
    let credential = client
        .enrol(vault.as_ref(), "carnet-test-enrolment")
        .await
        .unwrap();

    let report_pdf = pdf(150_000, 9);
    deposit(
        &server,
        credential.user_id(),
        "documents",
        document("cr-001", "Compte rendu opératoire", &report_pdf),
    )
    .await;
    deposit(
        &server,
        credential.user_id(),
        "documents",
        document("cr-002", "Lettre de sortie", &cda("sortie")),
    )
    .await;
    deposit(&server, credential.user_id(), "messages", json!({
        "id": "msg-001", "sender": { "name": "Dr Marie Curie", "rpps": "10003456789" },
        "subject": "Votre compte rendu", "body": "Le compte rendu est joint.", "reply_allowed": true,
        "attachments": [{ "name": "cr.pdf", "content_base64": base64::engine::general_purpose::STANDARD.encode(&report_pdf) }]
    })).await;

    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &vault);
    let mut steps = Vec::new();
    let report = record
        .pull(&client, &credential, &mut |p| steps.push(p))
        .await
        .unwrap();
    assert_eq!(
        (report.documents, report.messages, report.already_there),
        (2, 1, 0)
    );
    assert_eq!(record.sync_cursor().unwrap(), 3);
    assert_eq!(steps.last().unwrap().done, 3);

    // Offline: the server is gone, everything reads from the record.
    server.stop().await.unwrap();
    let received = record.document("cr-001").unwrap();
    assert_eq!(received.confidentiality.code(), "R");
    assert_eq!(
        (
            received.source,
            received.author.unwrap().rpps.unwrap().as_str()
        ),
        (DocumentSource::Professional, "10003456789")
    );
    let mut bytes = Vec::new();
    record.read_document("cr-001", &mut bytes).unwrap();
    assert_eq!(bytes, report_pdf);
    let message = record.open_message("msg-001").unwrap();
    let mut attachment = Vec::new();
    record
        .read_attachment(&message.id, 0, &mut attachment)
        .unwrap();
    assert_eq!(attachment, report_pdf);
    record.reply("msg-001", "Merci").unwrap();
    let offline = record.pull(&client, &credential, &mut |_| {}).await;
    assert!(
        matches!(offline, Err(RecordError::Network(_))),
        "{offline:?}"
    );
    assert_eq!(
        record.sync_cursor().unwrap(),
        3,
        "a failed pull moves nothing"
    );

    // Back: one new document; a pull from scratch (cursor reset) adds no duplicate either.
    let server = RunningServer::start(ServerConfig {
        bind: address,
        ..config
    })
    .await
    .unwrap();
    deposit(
        &server,
        credential.user_id(),
        "documents",
        document("cr-003", "Ordonnance", &pdf(2_000, 3)),
    )
    .await;
    let report = record
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        (report.documents, report.messages, report.already_there),
        (1, 0, 0)
    );
    record
        .store()
        .write(|w| w.delete("sync", "health-space").map(drop))
        .unwrap();
    let again = record
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        (again.documents, again.messages, again.already_there),
        (0, 0, 4)
    );
    assert_eq!(record.documents().unwrap().len(), 3);
    assert_eq!(
        record.messages().unwrap().len(),
        2,
        "the message and the reply"
    );
    server.stop().await.unwrap();
}
