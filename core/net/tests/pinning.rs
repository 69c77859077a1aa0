//! Certificate pinning against a real TLS server on loopback (a certificate made by `rcgen`,
//! served by rustls): the pinned key is trusted; another key is refused at once, without
//! retries, as `Untrusted`; without pins, an unknown self-signed certificate is refused too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use carnet_net::{Client, NetConfig, NetError, RetryPolicy, certificate_pin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A TLS server answering every request with `200 ok`; counts its connections.
async fn tls_server(
    certificate: rcgen::CertifiedKey<rcgen::KeyPair>,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![certificate.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(certificate.signing_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (address, connections)
}

fn certificate() -> rcgen::CertifiedKey<rcgen::KeyPair> {
    rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap()
}

fn client(port: u16, pinned_keys: Vec<[u8; 32]>) -> Client {
    let mut config = NetConfig::new(format!("https://localhost:{port}"));
    config.pinned_keys = pinned_keys;
    config.retry = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
    };
    Client::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_server_holding_a_pinned_key_is_trusted() {
    let served = certificate();
    let pin = certificate_pin(served.cert.der()).unwrap();
    let (address, connections) = tls_server(served).await;

    let pinned = client(address.port(), vec![[0u8; 32], pin]);
    let answer = pinned.get_conditional("/v1/health", None).await.unwrap();
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));

    let before = connections.load(Ordering::SeqCst);
    let other_pin = certificate_pin(certificate().cert.der()).unwrap();
    let refused = client(address.port(), vec![other_pin])
        .get_conditional("/v1/health", None)
        .await;
    assert!(
        matches!(&refused, Err(NetError::Untrusted(reason)) if reason.contains("not pinned")),
        "{refused:?}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst) - before,
        1,
        "a refused certificate is not retried"
    );

    let unpinned = client(address.port(), Vec::new())
        .get_conditional("/v1/health", None)
        .await;
    assert!(
        matches!(unpinned, Err(NetError::Untrusted(_))),
        "{unpinned:?}"
    );
}

#[test]
fn a_certificate_that_does_not_parse_has_no_pin() {
    assert!(certificate_pin(b"not a certificate").is_err());
}
