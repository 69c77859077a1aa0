//! The facade's link to the national services, against the reference server on loopback:
//! enrolment (with the card), a record synced both ways with progress by stage, and the DCC lists kept up to
//! date (downloaded once, then `304`s; offline, the lists held; an older list refused).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{enrol_family_card, open_carnet, start_server, start_server_in};

use carnet::net::NetError;
use carnet::record::{DocumentSource, NewDocument};
use carnet::{CarnetError, ErrorKind, RecordUnlock, SyncStage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_syncs_both_ways_with_progress_by_stage() {
    let server = start_server().await;
    let data = tempfile::tempdir().unwrap();
    let carnet = open_carnet(data.path());
    let services = carnet
        .national_services(&format!("http://{}", server.address()), &[])
        .unwrap();
    let record = carnet
        .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();

    let not_enrolled = services.sync_record(&record, &mut |_, _| {}).await;
    assert!(matches!(
        not_enrolled,
        Err(CarnetError::Network(NetError::NotEnrolled))
    ));
    assert_eq!(not_enrolled.unwrap_err().kind(), ErrorKind::Refused);
    let user = enrol_family_card(&server, &carnet, &services, &record).await;

    carnet_server::ProfessionalClient::new(
        &format!("http://{}", server.address()),
        server.professional_key(),
    )
    .deposit_document(
        &user,
        "cr-1",
        carnet::wire::health_space::DocumentDescription {
            title: "Compte rendu".into(),
            ..Default::default()
        },
        b"%PDF-1.4\n%%EOF\n",
    )
    .await
    .unwrap();
    record
        .with_content(|r| {
            r.add_document(
                &NewDocument {
                    title: "Ordonnance".into(),
                    ..NewDocument::default()
                },
                DocumentSource::User,
                &mut &b"%PDF-1.4\nordonnance\n%%EOF\n"[..],
            )
        })
        .unwrap();

    let mut stages = Vec::new();
    let report = services
        .sync_record(&record, &mut |stage, progress| {
            stages.push((stage, progress.done, progress.total));
        })
        .await
        .unwrap();
    assert_eq!(
        (
            report.pull.documents,
            report.push.documents,
            report.still_pending
        ),
        (1, 1, 0)
    );
    assert_eq!(
        stages,
        [(SyncStage::Pull, 1, 1), (SyncStage::Push, 1, 1)],
        "one feed page, one queued upload"
    );
    assert_eq!(record.with_content(|r| r.documents()).unwrap().len(), 2);

    server.stop().await;
    let offline = services.sync_record(&record, &mut |_, _| {}).await;
    let error = offline.unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Offline, "net.offline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_come_down_once_then_304_then_offline_from_the_cache_and_never_go_back() {
    let old_server = start_server().await;
    let old_address = old_server.address();
    let data = tempfile::tempdir().unwrap();
    let carnet = open_carnet(data.path());
    // Made before any other HTTP client: it installs the process's crypto provider (ring).
    let older = carnet
        .national_services(&format!("http://{old_address}"), &[])
        .unwrap();
    let anchor = reqwest::get(format!("http://{old_address}/v1/lists/anchor"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    // A second server with the same anchor key publishes later, so a newer version.
    let new_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(new_dir.path().join("lists")).unwrap();
    std::fs::copy(
        old_server.data_dir().join("lists/anchor.pk8"),
        new_dir.path().join("lists/anchor.pk8"),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let new_server = start_server_in(new_dir).await;
    let services = carnet
        .national_services(&format!("http://{}", new_server.address()), &[])
        .unwrap();
    let first = services.update_lists(&anchor).await.unwrap();
    assert!(first.trust_changed && first.revocation_changed && first.reached);
    let version = first.lists.trust.header().version;
    let second = services.update_lists(&anchor).await.unwrap();
    assert!(!second.trust_changed && !second.revocation_changed && second.reached);
    assert_eq!(second.lists.trust.header().version, version);

    new_server.stop().await;
    let offline = services.update_lists(&anchor).await.unwrap();
    assert!(!offline.reached);
    assert_eq!(offline.lists.trust.header().version, version);

    // The older server: its list is refused, the newer one stays.
    let refused = older.update_lists(&anchor).await.unwrap_err();
    assert_eq!(refused.code(), "dcc.list", "{refused}");
    let kept = services.update_lists(&anchor).await.unwrap();
    assert_eq!(kept.lists.trust.header().version, version);

    // Another anchor: nothing verifies.
    let wrong_anchor = {
        let mut other = anchor.clone();
        other[40] ^= 1;
        other
    };
    assert!(older.update_lists(&wrong_anchor).await.is_err());
    old_server.stop().await;
}
