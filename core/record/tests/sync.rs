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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edits_made_offline_go_up_and_conflicts_settle_last_writer_wins() {
    use carnet_record::{NewProfileItem, ProfileKind};
    let server_dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    let server = RunningServer::start(config).await.unwrap();
    let client = Client::new(NetConfig::new(format!("http://{}", server.address()))).unwrap();
    let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
    let credential = client
        .enrol(vault.as_ref(), "carnet-test-enrolment")
        .await
        .unwrap();
    // Two devices of the same account (sharing the credential for the test).
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One clock for both, as real devices share real time.
    let clock = TestClock::new();
    let device = |dir: &std::path::Path| {
        carnet_record::Record::create(
            dir,
            carnet_record::Unlock::DeviceKey,
            vault.clone(),
            clock.clone(),
            Default::default(),
        )
        .unwrap()
    };
    let (phone, tablet) = (device(dir_a.path()), device(dir_b.path()));

    let allergy = phone
        .add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: "Arachide".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let asthma = phone
        .add_profile_item(
            ProfileKind::Condition,
            &NewProfileItem {
                text: "Asthme".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let pushed = phone.push(&client, &credential, &mut |_| {}).await.unwrap();
    assert_eq!((pushed.accepted, pushed.superseded), (2, 0));
    assert_eq!(
        phone
            .push(&client, &credential, &mut |_| {})
            .await
            .unwrap()
            .accepted,
        0,
        "the queue is empty"
    );
    tablet
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(tablet.profile(None).unwrap().len(), 2);

    // Both edit the allergy offline; the tablet's edit is the later one.
    let edit = |record: &carnet_record::Record, text: &str| {
        let mut resource = record.profile(Some(ProfileKind::Allergy)).unwrap()[0]
            .resource
            .clone();
        resource["code"]["text"] = text.into();
        record
            .put_profile_resource(ProfileKind::Allergy, &allergy.id, resource)
            .unwrap();
    };
    edit(&phone, "Arachide (sévère)");
    edit(&tablet, "Arachide et noix");
    phone.delete_profile_item(&asthma.id).unwrap();
    let tablet_push = tablet
        .push(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((tablet_push.accepted, tablet_push.superseded), (1, 0));
    // The phone's allergy edit is earlier than the tablet's: it loses and shows the winner.
    let phone_push = phone.push(&client, &credential, &mut |_| {}).await.unwrap();
    assert_eq!(
        (phone_push.accepted, phone_push.superseded),
        (1, 1),
        "the deletion goes through, the edit loses"
    );
    let text = |record: &carnet_record::Record| {
        record.profile(Some(ProfileKind::Allergy)).unwrap()[0].summary()
    };
    assert_eq!(text(&phone), "Arachide et noix");
    tablet
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert!(
        tablet
            .profile(Some(ProfileKind::Condition))
            .unwrap()
            .is_empty(),
        "the tombstone came down"
    );
    assert_eq!(text(&tablet), "Arachide et noix");
    // The losing version is kept on the server.
    let history = client
        .signed(
            &credential,
            reqwest::Method::GET,
            &format!("/v1/me/profile/{}/history", allergy.id),
            Vec::new(),
        )
        .await
        .unwrap();
    let history: serde_json::Value = serde_json::from_slice(&history.body).unwrap();
    let lost: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["outcome"] == "lost")
        .map(|v| v["resource"]["code"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(lost, ["Arachide (sévère)"]);
    server.stop().await.unwrap();
}
