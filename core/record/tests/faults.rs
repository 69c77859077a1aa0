//! Sync through a bad network: a TCP proxy between the device and the reference server drops
//! connections, answers `503`, slows answers past the client's timeout and cuts responses
//! (headers or body) after a random number of bytes — so that some writes reach the server
//! while their answer is lost — and the server is restarted in the middle of the sync. The
//! device syncs again until a sync completes (what the app does on its next chance; the record
//! is closed and opened again between attempts, as after the app is killed) and then nothing is
//! lost and nothing is doubled, on the device or in the health space.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use carnet_platform::KeyVault;
use carnet_record::net::{Client, Credential, NetConfig, RetryPolicy};
use carnet_record::{DocumentSource, NewProfileItem, ProfileKind, Record, RecordError};
use carnet_testing::server::TestServer;
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Forwards faithfully.
    Pass,
    /// Closes the connection at once.
    Drop,
    /// Reads the request and answers `503`.
    Unavailable,
    /// Forwards, but holds each answer longer than the client waits.
    Slow,
    /// Forwards, and cuts the connection after this many bytes of answers.
    Cut(usize),
}

/// SplitMix64: a seeded sequence, so that a failing run can be replayed.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fault(&mut self) -> Fault {
        // No connection lives long: the client's pooled connection gets cut sooner or later,
        // so faults reach every part of the sync.
        match self.next() % 100 {
            0..=11 => Fault::Drop,
            12..=23 => Fault::Unavailable,
            24..=31 => Fault::Slow,
            32..=51 => Fault::Cut((self.next() % 6_000) as usize),
            _ => Fault::Cut((self.next() % 200_000) as usize),
        }
    }
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
struct ProxyStats {
    connections: AtomicU64,
    faults: AtomicU64,
    /// Set while faults are injected; cleared for the final checks.
    faulty: AtomicBool,
    /// Set when the server restart begins.
    restarting: AtomicBool,
}

async fn proxy(listener: TcpListener, upstream: SocketAddr, stats: Arc<ProxyStats>, seed: u64) {
    let mut sequence = Sequence(seed);
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let fault = if stats.faulty.load(Ordering::Relaxed) {
            sequence.fault()
        } else {
            Fault::Pass
        };
        if !matches!(fault, Fault::Pass) {
            stats.faults.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(relay(client, upstream, fault));
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::Drop => return,
        Fault::Unavailable => {
            let mut request = [0u8; 1024];
            let _ = client.read(&mut request).await;
            let _ = client
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            return;
        }
        _ => {}
    }
    // The server may be restarting: the device sees a dropped connection.
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut budget = match fault {
        Fault::Cut(bytes) => bytes,
        _ => usize::MAX,
    };
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = server_read.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        if matches!(fault, Fault::Slow) {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let sent = read.min(budget);
        if client_write.write_all(&buffer[..sent]).await.is_err() || sent < read {
            break;
        }
        budget -= sent;
    }
    up.abort();
}

/// Everything the health space holds for the user: `(kind, id) → (version, body)`.
async fn server_items(
    client: &Client,
    credential: &Credential,
) -> BTreeMap<(String, String), serde_json::Value> {
    let response = client
        .signed(
            credential,
            reqwest::Method::GET,
            "/v1/me/changes?since=0&limit=1000",
            Vec::new(),
        )
        .await
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(page["more"], false);
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["kind"].as_str().unwrap().to_owned(),
                    c["id"].as_str().unwrap().to_owned(),
                ),
                c.clone(),
            )
        })
        .collect()
}

/// Pull then push until one round completes; returns the record and the rounds it took. After
/// each failed round the record is closed and opened again, as when the app is killed and
/// started again: what was done must survive, what was not must resume.
async fn sync_until_done(
    dir: &std::path::Path,
    vault: &Arc<dyn KeyVault>,
    client: &Client,
    credential: &Credential,
) -> (Record, u32) {
    for round in 1..=60 {
        let record = open(dir, vault).unwrap();
        let pulled = record.pull(client, credential, &mut |_| {}).await;
        let pushed = match pulled {
            Ok(_) => record.push(client, credential, &mut |_| {}).await.map(drop),
            Err(e) => Err(e),
        };
        match pushed {
            Ok(()) => return (record, round),
            Err(RecordError::Network(error)) => eprintln!("round {round}: {error}"),
            Err(other) => panic!("sync failed for another reason than the network: {other}"),
        }
    }
    panic!("no sync completed in 60 rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_through_drops_503s_timeouts_cuts_and_a_restart_loses_and_doubles_nothing() {
    let server = TestServer::start_with(|config| config.requests_per_minute = 100_000).await;
    let upstream = server.address();
    let (direct, vault, credential) = server.enrol_device().await.into_parts();
    let user = credential.user_id().to_owned();

    // What professionals deposited: 24 documents (some over one 64 KiB chunk), 8 messages.
    let mut deposited = BTreeMap::new();
    for i in 0..24u8 {
        let content = pdf(if i % 4 == 0 { 90_000 } else { 3_000 }, i);
        let id = format!("cr-{i:03}");
        deposit_document(&server, &user, &id, &format!("Compte rendu {i}"), &content).await;
        deposited.insert(id, content);
    }
    for i in 0..8 {
        deposit_message(&server, &user, json!({
            "id": format!("msg-{i}"), "sender": { "name": "Dr Marie Curie", "rpps": "10003456789" },
            "subject": format!("Résultats {i}"), "body": "Vos résultats sont joints.",
            "attachments": [{ "name": "resultats.pdf",
                "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf(5_000, i)) }]
        })).await;
    }

    // The device, offline, added documents and profile entries.
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &vault);
    let mut added = BTreeMap::new();
    for i in 0..10 {
        let size = if i % 3 == 0 { 70_000 } else { 2_500 };
        let document = add_pdf(&record, &format!("Ordonnance {i}"), size);
        added.insert(document.id.clone(), document.sha256.clone());
    }
    for i in 0..20 {
        record
            .add_profile_item(
                ProfileKind::Allergy,
                &NewProfileItem {
                    text: format!("Allergie {i}"),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    assert_eq!(record.pending_sync_count().unwrap(), 30);

    // Through the faulty proxy, with a client that gives up quickly.
    let stats = Arc::new(ProxyStats::default());
    stats.faulty.store(true, Ordering::Relaxed);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_address = listener.local_addr().unwrap();
    let proxy_task = tokio::spawn(proxy(listener, upstream, stats.clone(), 0x0C4A_E7E5));
    let mut net = NetConfig::new(format!("http://{proxy_address}"));
    net.timeout = Duration::from_millis(1000);
    net.connect_timeout = Duration::from_millis(500);
    net.retry = RetryPolicy {
        attempts: 4,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(80),
    };
    let faulty = Client::new(net).unwrap();

    // The server restarts once the sync is under way.
    let restarter = {
        let stats = stats.clone();
        tokio::spawn(async move {
            while stats.connections.load(Ordering::Relaxed) < 8 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            stats.restarting.store(true, Ordering::Relaxed);
            let stopped = server.stop().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopped.start().await
        })
    };
    drop(record);
    let (record, rounds) = sync_until_done(dir.path(), &vault, &faulty, &credential).await;
    assert!(
        stats.restarting.load(Ordering::Relaxed),
        "the sync ended before the restart"
    );
    let server = restarter.await.unwrap();
    stats.faulty.store(false, Ordering::Relaxed);
    let (connections, faults) = (
        stats.connections.load(Ordering::Relaxed),
        stats.faults.load(Ordering::Relaxed),
    );
    eprintln!("{rounds} rounds, {connections} connections, {faults} faulty");
    assert!(faults >= 20, "the proxy injected few faults: {faults}");
    assert!(rounds >= 2, "the faults never stopped a round");

    // The device: every deposit once, byte for byte; its own documents and entries kept.
    assert_eq!(record.pending_sync_count().unwrap(), 0);
    let documents = record.documents().unwrap();
    assert_eq!(documents.len(), deposited.len() + added.len());
    for (id, content) in &deposited {
        let mut bytes = Vec::new();
        let document = record.read_document(id, &mut bytes).unwrap();
        assert_eq!(
            (&bytes, document.source),
            (content, DocumentSource::Professional)
        );
    }
    assert_eq!(record.messages().unwrap().len(), 8);
    assert_eq!(record.profile(None).unwrap().len(), 20);

    // The health space: each upload once, under the device's ids, with the right files.
    let items = server_items(&direct, &credential).await;
    let count = |kind: &str| items.keys().filter(|(k, _)| k == kind).count();
    assert_eq!(
        (count("document"), count("message"), count("profile")),
        (34, 8, 20)
    );
    for (id, sha256) in &added {
        let item = &items[&("document".to_owned(), id.clone())];
        assert_eq!(item["body"]["blob"], sha256.as_str());
        assert_eq!(item["version"], 1, "an immutable document written once");
    }
    for ((kind, _), item) in &items {
        if kind == "profile" {
            assert_eq!(item["version"], 1, "a retried write is not a new version");
        }
    }

    // A second device pulls it all directly: the same, with no duplicate.
    let other_dir = tempfile::tempdir().unwrap();
    let tablet = create(other_dir.path(), &vault);
    let report = tablet
        .pull(&direct, &credential, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        (report.documents, report.messages, report.profile_items),
        (34, 8, 20)
    );
    for (id, sha256) in &added {
        assert_eq!(&tablet.document(id).unwrap().sha256, sha256);
    }
    proxy_task.abort();
    server.stop().await;
}
