//! Pull sync end to end over real HTTP on loopback: a professional deposits documents and a
//! message, the citizen's record pulls them, reads them with the server stopped, and pulls
//! again after a restart with no duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use base64::Engine;
use carnet_record::net::{NetConfig, RetryPolicy};
use carnet_record::{DocumentSource, RecordError};
use carnet_testing::server::TestServer;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_are_pulled_read_offline_and_pulled_again_without_duplicates() {
    let server = TestServer::start().await;
    let mut net = NetConfig::new(server.url());
    net.retry = RetryPolicy {
        attempts: 2,
        first_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
    };
    let (client, vault, credential) = server.enrol_device_with(net).await.into_parts();

    let report_pdf = pdf(150_000, 9);
    deposit_document(
        &server,
        credential.user_id(),
        "cr-001",
        "Compte rendu opératoire",
        &report_pdf,
    )
    .await;
    deposit_document(
        &server,
        credential.user_id(),
        "cr-002",
        "Lettre de sortie",
        &cda("sortie"),
    )
    .await;
    deposit_message(&server, credential.user_id(), json!({
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
    let server = server.stop().await;
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
    let server = server.start().await;
    deposit_document(
        &server,
        credential.user_id(),
        "cr-003",
        "Ordonnance",
        &pdf(2_000, 3),
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
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edits_made_offline_go_up_and_conflicts_settle_last_writer_wins() {
    use carnet_record::{NewProfileItem, ProfileKind};
    let server = TestServer::start().await;
    let (client, vault, credential) = server.enrol_device().await.into_parts();
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
    server.stop().await;
}

/// One conflict per kind: documents and messages are immutable (another body under a taken id
/// is refused and the first one stays, on the server and on the device); profile entries settle
/// last writer wins, deletion against edit in both orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_settle_per_kind() {
    use carnet_record::{NewProfileItem, ProfileKind};
    let server = TestServer::start().await;
    let (client, vault, credential) = server.enrol_device().await.into_parts();
    let user = credential.user_id().to_owned();
    let clock = TestClock::new();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
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

    // Documents: the health space holds "cr-x"; the phone made its own "cr-x".
    deposit_document(&server, &user, "cr-x", "Compte rendu", &pdf(3_000, 1)).await;
    let mine = pdf(3_000, 2);
    phone
        .receive_document(
            "cr-x",
            &lab_report("Mon ordonnance"),
            DocumentSource::User,
            &mut mine.as_slice(),
        )
        .unwrap();
    let pushed = phone.push(&client, &credential, &mut |_| {}).await.unwrap();
    assert_eq!((pushed.documents, pushed.refused_documents), (0, 1));
    assert_eq!(
        phone.pending_sync_count().unwrap(),
        1,
        "kept on the device, still queued"
    );
    let mut bytes = Vec::new();
    phone.read_document("cr-x", &mut bytes).unwrap();
    assert_eq!(bytes, mine);

    // Messages: a second deposit under the same id with another body is refused.
    let letter = |body: &str| {
        json!({ "id": "msg-x", "sender": { "name": "Dr Marie Curie", "rpps": "10003456789" },
                "subject": "Rendez-vous", "body": body })
    };
    deposit_message(&server, &user, letter("Lundi 10 h")).await;
    let again = professional(&server)
        .deposit_message(&user, &common::letter(letter("Mardi 11 h")))
        .await;
    assert!(matches!(
        again,
        Err(carnet_server::DepositError::Refused { status: 409, .. })
    ));
    deposit_message(&server, &user, letter("Lundi 10 h")).await;
    tablet
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    let messages = tablet.messages().unwrap();
    assert_eq!(
        messages.len(),
        1,
        "the same deposit again is no new message"
    );
    assert_eq!(
        tablet.open_message(&messages[0].id).unwrap().body,
        "Lundi 10 h"
    );

    // Profile: an edit and a deletion of the same entry, in both orders of time.
    let add = |text: &str| {
        phone
            .add_profile_item(
                ProfileKind::Condition,
                &NewProfileItem {
                    text: text.into(),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    let (first, second) = (add("Asthme"), add("Migraine"));
    phone.push(&client, &credential, &mut |_| {}).await.unwrap();
    tablet
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    let edit = |record: &carnet_record::Record, id: &str| {
        let mut resource = record
            .profile(Some(ProfileKind::Condition))
            .unwrap()
            .into_iter()
            .find(|i| i.id == id)
            .unwrap()
            .resource;
        resource["code"]["text"] = "modifié".into();
        record
            .put_profile_resource(ProfileKind::Condition, id, resource)
            .unwrap();
    };
    // `first`: deleted on the phone, then edited on the tablet → the later edit wins.
    phone.delete_profile_item(&first).unwrap();
    edit(&tablet, &first);
    // `second`: edited on the tablet, then deleted on the phone → the later deletion wins.
    edit(&tablet, &second);
    phone.delete_profile_item(&second).unwrap();
    let from_phone = phone.push(&client, &credential, &mut |_| {}).await.unwrap();
    let from_tablet = tablet
        .push(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        (from_phone.accepted, from_phone.superseded),
        (2, 0),
        "both deletions reach the server first"
    );
    assert_eq!(
        (from_tablet.accepted, from_tablet.superseded),
        (1, 1),
        "the later edit wins over the deletion, the earlier one loses"
    );
    for record in [&phone, &tablet] {
        record
            .pull(&client, &credential, &mut |_| {})
            .await
            .unwrap();
        let left: Vec<String> = record
            .profile(Some(ProfileKind::Condition))
            .unwrap()
            .into_iter()
            .map(|i| format!("{} {}", i.id == first, i.summary()))
            .collect();
        assert_eq!(left, ["true modifié"]);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_too_large_for_the_server_stays_queued_and_the_rest_goes_up() {
    use carnet_record::{NewProfileItem, ProfileKind};
    let server = TestServer::start_with(|config| config.max_body_bytes = 64 * 1024).await;
    let (client, vault, credential) = server.enrol_device().await.into_parts();
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &vault);
    let large = add_pdf(&record, "Scanner", 200_000);
    let small = add_pdf(&record, "Ordonnance", 2_000);
    record
        .add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: "Arachide".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let pushed = record
        .push(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        (pushed.documents, pushed.refused_documents, pushed.accepted),
        (1, 1, 1)
    );
    assert_eq!(record.unsynced_documents().unwrap(), [large.id]);
    let other_dir = tempfile::tempdir().unwrap();
    let tablet = create(other_dir.path(), &vault);
    tablet
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    let ids: Vec<String> = tablet
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, [small.id]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_cda_for_another_patient_is_kept_apart() {
    let server = TestServer::start().await;
    let (client, vault, credential) = server.enrol_device().await.into_parts();
    let cda = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/cda/BIO-CR-BIO_2024.01_TSH_1.xml"),
    )
    .unwrap();
    deposit_document(&server, credential.user_id(), "cr-tsh", "TSH", &cda).await;
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &vault);
    record
        .set_patient(&carnet_record::Patient {
            given: "Camille".into(),
            family: "Martin".into(),
            birth_date: "1953-07-14".into(),
            gender: carnet_record::Gender::Female,
            ins: Some("253072B07300470".into()),
        })
        .unwrap();
    let report = record
        .pull(&client, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.documents, 1, "received, and kept");
    assert!(record.documents().unwrap().is_empty(), "but not as theirs");
    let apart = record.documents_apart().unwrap();
    assert_eq!(apart.len(), 1);
    // The CDA's header says whom it is about, and what it is.
    assert_eq!(apart[0].ins.as_deref(), Some("279035121518989"));
    assert_eq!(
        apart[0].patient.as_ref().unwrap().name,
        "DOMINIQUE PAT-TROIS"
    );
    assert_eq!(
        apart[0].set_id.as_deref(),
        Some("1.2.250.1.213.1.1.1.55.2024.9")
    );
    server.stop().await;
}
