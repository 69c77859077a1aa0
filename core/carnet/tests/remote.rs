//! The remote presentation through the facade, over real HTTP on loopback: a pharmacy's
//! reader, certified for `127.0.0.1` by the professionals' PKI of the reference server,
//! serves its endpoint; the phone posts its engagement, checks the request, answers and
//! believes only the verdict the reader signed over the session. Then what goes wrong: a
//! certificate for another host, a lying endpoint, a declined request, hostile replies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet::{CardCheck, CardReader, RemoteOutcome, RemoteReader};
use carnet_server::ProfessionalClient;
use carnet_wire::readers::ReaderCertificateRequest;
use common::{EnrolledPhone, enrolled_phone, open_carnet, start_server};

const BILLING: [&str; 5] = [
    "family_name",
    "given_names",
    "nir",
    "amo_valid_from",
    "amo_valid_until",
];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

/// A pharmacy reader certified for `hosts`, its issuer root and status list current.
async fn certified_reader(
    server: &carnet_testing::server::TestServer,
    hosts: &[&str],
) -> CardReader {
    let pharmacy = open_carnet(tempfile::tempdir().unwrap().path());
    let services = pharmacy.national_services(&server.url(), &[]).unwrap();
    let root = services.issuer_root().await.unwrap();
    let pki = ProfessionalClient::new(&server.url(), server.professional_key());
    let certified = pki
        .certify_reader(&ReaderCertificateRequest {
            name: "Jeanne Martin".into(),
            organisation: "Pharmacie en ligne du Port".into(),
            identifier: "RPPS:10003456789".into(),
            profession: "21".into(),
            hosts: names(hosts),
            public_key: STANDARD.encode(pharmacy.reader_public_key().unwrap()),
        })
        .await
        .unwrap();
    let certificate = STANDARD.decode(&certified.certificate).unwrap();
    let mut reader = pharmacy.card_reader(&root, Some(certificate)).unwrap();
    assert!(
        reader
            .update_status(&services.issuer_status().await.unwrap())
            .unwrap()
    );
    reader
}

/// Serves `router` on a fresh loopback port; returns its address and the task.
async fn serve(router: axum::Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (address, task)
}

/// `reader` serving remote presentations on loopback: its endpoint, the checks it made.
async fn serve_reader(
    reader: &CardReader,
    items: &[&str],
) -> (String, Arc<RemoteReader>, Arc<Mutex<Vec<CardCheck>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/carnet/mdoc", listener.local_addr().unwrap());
    let remote = Arc::new(
        reader
            .serve_remote(&endpoint, &names(items), Some("2027-01-15"))
            .unwrap(),
    );
    let checks = Arc::new(Mutex::new(Vec::new()));
    let seen = checks.clone();
    let router = carnet::remote_reader_router(
        remote.clone(),
        Arc::new(move |check: &CardCheck| seen.lock().unwrap().push(check.clone())),
    );
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (endpoint, remote, checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_reader_reads_the_card_and_only_its_signed_verdict_is_believed() {
    let server = start_server().await;
    let EnrolledPhone {
        data: _data,
        carnet: phone,
        services,
        record,
    } = enrolled_phone(&server).await;
    let key = phone.software_device_key().unwrap();

    // A pharmacy certified for 127.0.0.1: verified, asked, answered, its verdict signed.
    let reader = certified_reader(&server, &["127.0.0.1"]).await;
    let (endpoint, remote, checks) = serve_reader(&reader, &BILLING).await;
    let presentation = record.start_remote_presentation(&endpoint).await.unwrap();
    let request = presentation.request();
    assert!(request.reader.verified, "{:?}", request.reader);
    assert_eq!(request.reader.organisation, "Pharmacie en ligne du Port");
    assert!(request.elements.iter().all(|e| e.allowed));
    assert_eq!(remote.open_sessions(), 1);
    let outcome = presentation
        .respond(1, &names(&BILLING), &key)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RemoteOutcome::Confirmed {
            accepted: true,
            code: "accepted".into(),
            elements: names(&BILLING),
        }
    );
    assert_eq!(remote.open_sessions(), 0, "an answered session is closed");
    {
        let checks = checks.lock().unwrap();
        let CardCheck::Accepted { elements } = &checks[0] else {
            panic!("{checks:?}");
        };
        assert!(
            elements
                .iter()
                .any(|e| e.name == "nir" && e.value == "253072B07300470")
        );
    }

    // The person declines: the reader is told, sees nothing, and the phone says so.
    let presentation = record.start_remote_presentation(&endpoint).await.unwrap();
    assert_eq!(
        presentation.decline().await.unwrap(),
        RemoteOutcome::Declined
    );
    assert!(matches!(
        &checks.lock().unwrap()[1],
        CardCheck::Refused { code } if code == "not_shown"
    ));

    // A reader whose certificate names another host: refused before anything is shown, and
    // whatever it says afterwards is not a verdict.
    let elsewhere = certified_reader(&server, &["pharmacie.example"]).await;
    let (endpoint_elsewhere, _, _) = serve_reader(&elsewhere, &BILLING).await;
    let presentation = record
        .start_remote_presentation(&endpoint_elsewhere)
        .await
        .unwrap();
    let request = presentation.request();
    assert!(!request.reader.verified);
    assert_eq!(request.reader.refusal.as_deref(), Some("reader_origin"));
    assert!(request.elements.iter().all(|e| !e.allowed));
    let outcome = presentation
        .respond(1, &names(&BILLING), &key)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RemoteOutcome::Unconfirmed { reason } if reason.contains("did not authenticate")),
        "{outcome:?}"
    );

    // A relay at another origin that forwards the phone's messages to the real reader: the
    // two sides bind different origins, so nothing decrypts.
    let (relay, _) = serve(forging(remote.clone())).await;
    let relayed = record
        .start_remote_presentation(&format!("http://{relay}/carnet/mdoc"))
        .await
        .unwrap_err();
    assert_eq!(relayed.code(), "mdoc.decryption", "{relayed}");

    // The reader's own endpoint, lying about the verdict: the request verifies (it is the
    // reader's), the forged "accepted" is not believed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = format!("http://{}/carnet/mdoc", listener.local_addr().unwrap());
    let lying = Arc::new(reader.serve_remote(&own, &names(&BILLING), None).unwrap());
    tokio::spawn(async move {
        axum::serve(listener, forging(lying)).await.unwrap();
    });
    let presentation = record.start_remote_presentation(&own).await.unwrap();
    assert!(presentation.request().reader.verified);
    let outcome = presentation
        .respond(1, &names(&["family_name"]), &key)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RemoteOutcome::Unconfirmed { reason } if reason.contains("not signed by this reader")),
        "{outcome:?}"
    );

    // An anonymous reader cannot serve remote presentations at all.
    let pharmacy = open_carnet(tempfile::tempdir().unwrap().path());
    let anonymous = pharmacy
        .card_reader(&services.issuer_root().await.unwrap(), None)
        .unwrap();
    let refused = anonymous
        .serve_remote("http://127.0.0.1:9/mdoc", &names(&BILLING), None)
        .unwrap_err();
    assert_eq!(refused.code(), "mdoc.unsupported", "{refused}");
    server.stop().await;
}

/// An endpoint that passes the phone's messages to `remote` and replaces its verdict with
/// one signed by a key of its own.
fn forging(remote: Arc<RemoteReader>) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::{Path, State};
    // Any transcript will do: the signature is checked first, with the reader's key.
    let transcript = carnet_identity::session::SessionTranscript::from_bytes(&[
        0xd8, 0x18, 0x44, 0x83, 0xf6, 0xf6, 0xf6,
    ])
    .unwrap();
    let verdict = carnet_identity::remote::RemoteVerdict {
        accepted: true,
        code: "accepted".into(),
        elements: names(&BILLING),
    }
    .sign(&transcript, &carnet_testing::signers::ReaderKey::generate())
    .unwrap();
    let forged = carnet_identity::remote::RemoteReply {
        session: None,
        message: None,
        verdict: Some(verdict),
    }
    .to_bytes()
    .unwrap();
    axum::Router::new()
        .route(
            "/carnet/mdoc",
            axum::routing::post(
                |State(remote): State<Arc<RemoteReader>>, body: Bytes| async move {
                    remote.engage(&body).unwrap()
                },
            ),
        )
        .route(
            "/carnet/mdoc/{session}",
            axum::routing::post(
                move |State(remote): State<Arc<RemoteReader>>,
                      Path(session): Path<String>,
                      body: Bytes| async move {
                    let _ = remote.answer(&session, &body);
                    forged.clone()
                },
            ),
        )
        .with_state(remote)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_endpoints_and_replies_are_typed_errors() {
    let server = start_server().await;
    // The whole phone is kept: its data directory lives as long as it.
    let phone = enrolled_phone(&server).await;
    let record = phone.record.clone();
    server.stop().await;

    for address in [
        "http://pharmacie.example/mdoc",
        "https://user:secret@pharmacie.example/",
        "ftp://127.0.0.1/",
        "not an address",
    ] {
        let error = record.start_remote_presentation(address).await.unwrap_err();
        assert_eq!(error.code(), "apcv.structure", "{address}: {error}");
    }
    // Nobody listening.
    let error = record
        .start_remote_presentation("http://127.0.0.1:9/mdoc")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "net.offline", "{error}");

    // Endpoints that answer what is not a session: too large, not CBOR, no session, a
    // session id that would leave the path, an establishment that does not decrypt.
    let huge = vec![0u8; 10 << 20];
    let replies: Vec<Vec<u8>> = vec![
        huge,
        b"<html>hello</html>".to_vec(),
        carnet_identity::remote::RemoteReply::default()
            .to_bytes()
            .unwrap(),
        [
            &[0xa2, 0x67][..],
            b"session",
            &[0x64],
            b"../x",
            &[0x67],
            b"message",
            &[0x41, 0],
        ]
        .concat(),
        carnet_identity::remote::RemoteReply {
            session: Some("abc".into()),
            message: Some(vec![0xa0]),
            verdict: None,
        }
        .to_bytes()
        .unwrap(),
    ];
    for reply in replies {
        let answer = reply.clone();
        let (address, task) = serve(axum::Router::new().route(
            "/mdoc",
            axum::routing::post(move || async move { answer.clone() }),
        ))
        .await;
        let error = record
            .start_remote_presentation(&format!("http://{address}/mdoc"))
            .await
            .unwrap_err();
        assert!(
            !error.to_string().contains("Error {") && !error.to_string().contains("Value"),
            "no debug text: {error}"
        );
        assert!(
            ["apcv.", "mdoc.", "net."]
                .iter()
                .any(|prefix| error.code().starts_with(prefix)),
            "{}: {error}",
            error.code()
        );
        task.abort();
    }
}
