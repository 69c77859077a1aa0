//! Sync of 10,000 profile items from the health space into an empty record, through the real
//! reference server on loopback (device-signed requests, pages of the change feed, each page
//! applied with its cursor in one transaction), against inserting the same items locally into
//! an empty record in one write transaction (same store, same encryption): the ratio is the
//! network and protocol overhead. Prints times, the ratio, and the process's peak resident
//! memory during one sync (server included, as both run in this process).

use std::sync::Arc;
use std::time::Duration;

use carnet_bench::paired;
use carnet_platform::{KeyVault, MemoryKeyVault, SystemClock};
use carnet_record::net::{Client, Credential, NetConfig};
use carnet_record::{ProfileItem, ProfileKind, Record, StoreOptions, Unlock};
use carnet_server::{BackgroundServer, ServerConfig};
use serde_json::{Value, json};

const ITEMS: usize = 10_000;
/// Writes in flight while seeding the server.
const SEEDING_CONCURRENCY: usize = 32;

fn resource(n: usize) -> (String, Value) {
    let id = format!("allergie-{n:05}");
    let resource = json!({
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" }] },
        "code": { "text": format!("Allergie n° {n}") },
        "patient": { "reference": "Patient/me" },
        "recordedDate": "2026-11-29",
    });
    (id, resource)
}

fn new_record(dir: &std::path::Path, vault: &Arc<dyn KeyVault>) -> Record {
    Record::create(
        dir,
        Unlock::DeviceKey,
        vault.clone(),
        Arc::new(SystemClock),
        StoreOptions::default(),
    )
    .expect("record")
}

/// Peak resident memory since the last reset, KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = BackgroundServer::spawn(ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        requests_per_minute: 1_000_000,
        ..ServerConfig::with_test_enrolment()
    })
    .expect("server");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client =
        Client::new(NetConfig::new(format!("http://{}", server.address()))).expect("client");
    let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
    let credential: Arc<Credential> = Arc::new(
        runtime
            .block_on(client.enrol(vault.as_ref(), carnet_server::TEST_ENROLMENT_CODE))
            .expect("enrol"),
    );

    let seeding = std::time::Instant::now();
    runtime.block_on(async {
        let mut next = 0;
        let mut running = tokio::task::JoinSet::new();
        while next < ITEMS || !running.is_empty() {
            while next < ITEMS && running.len() < SEEDING_CONCURRENCY {
                let (id, resource) = resource(next);
                let (client, credential) = (client.clone(), credential.clone());
                running.spawn(async move {
                    let body = serde_json::to_vec(&json!({
                        "resource": resource, "base_version": null, "updated_millis": 1_800_000_000_000i64,
                    }))
                    .expect("json");
                    client
                        .signed(&credential, reqwest::Method::PUT, &format!("/v1/me/profile/{id}"), body)
                        .await
                        .expect("seed");
                });
                next += 1;
            }
            if let Some(done) = running.join_next().await {
                done.expect("seeding task");
            }
        }
    });
    println!(
        "seeded {ITEMS} profile items in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let items: Vec<ProfileItem> = (0..ITEMS)
        .map(|n| {
            let (id, resource) = resource(n);
            ProfileItem {
                id,
                kind: ProfileKind::Allergy,
                resource,
                version: 1,
                updated_millis: 1_800_000_000_000,
                synced_version: Some(1),
            }
        })
        .collect();

    let sync_once = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = new_record(dir.path(), &vault);
        let report = runtime
            .block_on(record.pull(&client, &credential, &mut |_| {}))
            .expect("pull");
        assert_eq!(report.profile_items as usize, ITEMS);
    };
    let insert_locally = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = new_record(dir.path(), &vault);
        record
            .store()
            .write(|w| {
                for item in &items {
                    w.put("profile", &item.id, item)?;
                }
                Ok(())
            })
            .expect("insert");
        assert_eq!(record.profile(None).expect("list").len(), ITEMS);
    };

    reset_peak_rss();
    let before = peak_rss_kib();
    sync_once();
    let peak = peak_rss_kib();
    println!(
        "one sync: peak RSS {:.1} MiB (the process, server included; {:.1} MiB above where it started)",
        peak as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0
    );

    let (sync, local, ratio) = paired(5, sync_once, insert_locally);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "sync of {ITEMS} items into an empty record: {:.0} ms; local insert of the same items: {:.0} ms; \
         sync / local = {:.2}× (the network and protocol overhead)",
        ms(sync),
        ms(local),
        1.0 / ratio
    );
    server.stop().expect("stop");
}
