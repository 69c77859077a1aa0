//! A bounded load test through the real server on loopback: simulated citizens, each on its
//! own device credential, write profile items concurrently (device-signed `PUT`s, retried on
//! `429`/`5xx` as the app does), while the care team deposits a document for each; then each
//! citizen reads its change feed back. Nothing may be lost or doubled, and no one may see
//! another's items. Latencies of the writes are reported (p50, p99, max).
//!
//! Size: `CARNET_LOAD_CITIZENS` × `CARNET_LOAD_ITEMS` (default 40 × 50, a few seconds under
//! `cargo test`); the figures of `docs/BENCHMARKS.md` come from
//! `CARNET_LOAD_CITIZENS=200 CARNET_LOAD_ITEMS=500 cargo test --release -p carnet-server --test load -- --nocapture`.
//! The whole run is bounded by a deadline and stops by itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use carnet_net::{Client, NetConfig, RetryPolicy};
use carnet_platform::MemoryKeyVault;
use carnet_server::{ProfessionalClient, RunningServer, ServerConfig};
use reqwest::Method;
use serde_json::{Value, json};

fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value at `fraction` of sorted `values`.
fn percentile(values: &[Duration], fraction: f64) -> Duration {
    let index = ((values.len() as f64 - 1.0) * fraction).round() as usize;
    values[index.min(values.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_citizens_write_concurrently_and_nothing_is_lost_or_doubled() {
    let citizens = size("CARNET_LOAD_CITIZENS", 40);
    let items = size("CARNET_LOAD_ITEMS", 50);
    let deadline = Duration::from_secs(size("CARNET_LOAD_DEADLINE_SECS", 600) as u64);
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(ServerConfig {
        data_dir: dir.path().to_path_buf(),
        // One machine plays every citizen and the hospital: the per-client quota is for
        // real clients, not for this one.
        requests_per_minute: 1_000_000,
        ..ServerConfig::with_test_enrolment()
    })
    .await
    .unwrap();
    let url = format!("http://{}", server.address());
    let mut config = NetConfig::new(&url);
    config.retry = RetryPolicy {
        attempts: 8,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(1),
    };
    let client = Client::new(config).unwrap();
    let hospital = ProfessionalClient::new(&url, server.professional_key());

    let started = Instant::now();
    let run = async {
        let mut tasks = Vec::with_capacity(citizens);
        for citizen in 0..citizens {
            let (client, hospital) = (client.clone(), hospital.clone());
            tasks.push(tokio::spawn(async move {
                let vault = MemoryKeyVault::new();
                let credential = client
                    .enrol(&vault, carnet_server::TEST_ENROLMENT_CODE)
                    .await
                    .unwrap();
                hospital
                    .deposit_document(
                        credential.user_id(),
                        &format!("cr-{citizen}"),
                        carnet_wire::health_space::DocumentDescription {
                            title: format!("Compte rendu {citizen}"),
                            ..Default::default()
                        },
                        format!("%PDF-1.4\n{citizen}\n%%EOF\n").as_bytes(),
                    )
                    .await
                    .unwrap();
                let mut latencies = Vec::with_capacity(items);
                for item in 0..items {
                    let body = serde_json::to_vec(&json!({
                        "resource": { "resourceType": "AllergyIntolerance",
                                      "code": { "text": format!("allergie {citizen}-{item}") } },
                        "base_version": null,
                        "updated_millis": 1_800_000_000_000i64 + item as i64,
                    }))
                    .unwrap();
                    let sent = Instant::now();
                    let response = client
                        .signed(
                            &credential,
                            Method::PUT,
                            &format!("/v1/me/profile/c{citizen}-i{item}"),
                            body,
                        )
                        .await
                        .unwrap();
                    latencies.push(sent.elapsed());
                    assert_eq!(response.status, 200);
                }
                // Read everything back through the change feed, page by page.
                let mut seen = Vec::new();
                let mut since = 0;
                loop {
                    let page = client
                        .signed(
                            &credential,
                            Method::GET,
                            &format!("/v1/me/changes?since={since}&limit=200"),
                            Vec::new(),
                        )
                        .await
                        .unwrap();
                    let page: Value = serde_json::from_slice(&page.body).unwrap();
                    for change in page["changes"].as_array().unwrap() {
                        seen.push((
                            change["kind"].as_str().unwrap().to_owned(),
                            change["id"].as_str().unwrap().to_owned(),
                            change["version"].as_i64().unwrap(),
                        ));
                    }
                    since = page["last_seq"].as_i64().unwrap();
                    if !page["more"].as_bool().unwrap() {
                        break;
                    }
                }
                (citizen, seen, latencies)
            }));
        }
        let mut all = Vec::with_capacity(citizens);
        for task in tasks {
            all.push(task.await.unwrap());
        }
        all
    };
    let results = tokio::time::timeout(deadline, run)
        .await
        .expect("the load test ran past its deadline");
    let elapsed = started.elapsed();

    let mut latencies = Vec::with_capacity(citizens * items);
    for (citizen, seen, mut own) in results {
        let expected: BTreeSet<(String, String, i64)> = (0..items)
            .map(|item| ("profile".to_owned(), format!("c{citizen}-i{item}"), 1))
            .chain([("document".to_owned(), format!("cr-{citizen}"), 1)])
            .collect();
        assert_eq!(
            seen.len(),
            items + 1,
            "citizen {citizen}: an item doubled or lost"
        );
        assert_eq!(
            seen.into_iter().collect::<BTreeSet<_>>(),
            expected,
            "citizen {citizen} sees exactly its own items, each once"
        );
        latencies.append(&mut own);
    }
    latencies.sort();
    let writes = latencies.len();
    eprintln!(
        "load: {citizens} citizens × {items} items = {writes} signed writes + {citizens} deposits \
         in {:.1} s ({:.0} writes/s); write latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    server.stop().await.unwrap();
}
