//! The reference server under slow and greedy clients, on 127.0.0.1, bounded (at most 41
//! connections at once, under 30 s): stalled connections are closed within the header-read
//! timeout while normal requests are answered; idle keep-alive connections are closed; past
//! the connection cap a new connection is closed at once; declared bodies over a route's
//! limit are refused (413) before being read, so oversized uploads leave memory where it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use carnet_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_READ_SECS: u64 = 2;
const IDLE_SECS: u64 = 3;
const MAX_CONNECTIONS: usize = 40;

async fn start(dir: &std::path::Path) -> RunningServer {
    RunningServer::start(ServerConfig {
        header_read_timeout_secs: HEADER_READ_SECS,
        idle_timeout_secs: IDLE_SECS,
        max_connections: MAX_CONNECTIONS,
        ..ServerConfig::at(dir)
    })
    .await
    .unwrap()
}

/// Waits for the server to close `stream`; returns how long that took, or `None` if it was
/// still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buffer),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// One whole request on a fresh connection; the status line's code.
async fn status_of(address: SocketAddr, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

const HEALTH: &[u8] = b"GET /v1/health HTTP/1.1\r\nHost: carnet\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_normal_requests_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let address = server.address();

    // 30 clients send half a request head and stall.
    let mut stalled = Vec::new();
    for _ in 0..30 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /v1/keys/upload HTTP/1.1\r\nHost: carnet\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // Meanwhile, others are served.
    for _ in 0..5 {
        assert_eq!(status_of(address, HEALTH).await, 200);
    }
    let limit = Duration::from_secs(HEADER_READ_SECS + 3);
    let mut longest = Duration::ZERO;
    for stream in &mut stalled {
        let open = closed_within(stream, limit)
            .await
            .expect("a stalled connection is closed within the header-read timeout");
        longest = longest.max(open);
    }
    println!("longest stalled connection: {longest:?} (header-read timeout {HEADER_READ_SECS} s)");
    drop(stalled);

    // A kept-alive connection left idle is closed after the idle timeout.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: carnet\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 512];
    assert!(idle.read(&mut first).await.unwrap() > 0);
    let open = closed_within(&mut idle, Duration::from_secs(IDLE_SECS + 3))
        .await
        .expect("an idle connection is closed");
    assert!(open >= Duration::from_secs(1), "closed too early: {open:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_a_new_connection_is_closed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let address = server.address();
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /v1/hea").await.unwrap();
        held.push(stream);
    }
    // Let the server accept them all before the one too many.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(address).await.unwrap();
    let closed = closed_within(&mut extra, Duration::from_secs(1)).await;
    assert!(
        closed.is_some(),
        "the connection past the cap was kept open"
    );
    drop(held);
    // Once they are gone, the server takes connections again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(address, HEALTH).await, 200);
    server.stop().await.unwrap();
}

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let address = server.address();
    // A declared length no route takes: 413 at once, though no byte of the body comes.
    let started = Instant::now();
    let huge = b"POST /v1/keys/upload HTTP/1.1\r\nHost: carnet\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n";
    assert_eq!(status_of(address, huge).await, 413);
    assert!(started.elapsed() < Duration::from_secs(2));
    // A chunked key upload (no declared length) is cut at the route's limit as it streams.
    let mut chunked = TcpStream::connect(address).await.unwrap();
    chunked
        .write_all(b"POST /v1/keys/upload HTTP/1.1\r\nHost: carnet\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b' '; 8192];
    for _ in 0..8 {
        let _ = chunked.write_all(b"2000\r\n").await;
        let _ = chunked.write_all(&chunk).await;
        let _ = chunked.write_all(b"\r\n").await;
    }
    let _ = chunked.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), chunked.read_to_end(&mut response)).await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&response)
    );

    // Ten concurrent unauthenticated uploads declaring 47 MiB each, pushing body bytes.
    let baseline = resident_bytes();
    let uploads: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(address).await.unwrap();
                let head = format!(
                    "POST /v1/keys/upload HTTP/1.1\r\nHost: carnet\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    47 << 20
                );
                stream.write_all(head.as_bytes()).await.unwrap();
                let block = vec![b'k'; 1 << 20];
                for _ in 0..8 {
                    if stream.write_all(&block).await.is_err() {
                        break;
                    }
                }
                let mut response = Vec::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    stream.read_to_end(&mut response),
                )
                .await;
                String::from_utf8_lossy(&response).into_owned()
            })
        })
        .collect();
    for upload in uploads {
        let response = upload.await.unwrap();
        assert!(
            response.is_empty() || response.starts_with("HTTP/1.1 413"),
            "{response}"
        );
    }
    if let (Some(before), Some(after)) = (baseline, resident_bytes()) {
        let grown = after.saturating_sub(before);
        println!("resident memory: {before} bytes before ten 47 MiB uploads, {after} after");
        assert!(grown < 32 << 20, "memory grew by {grown} bytes");
    }
    server.stop().await.unwrap();
}
