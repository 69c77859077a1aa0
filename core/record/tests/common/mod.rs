//! Helpers shared by the record's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use carnet_platform::{Clock, KeyVault, MemoryKeyVault};
use carnet_record::{
    Coding, Confidentiality, DocumentSource, NewDocument, Professional, Record, StoreOptions,
    Unlock,
};

/// 2026-11-29T10:00:00Z.
pub const NOW: i64 = 1_795_946_400_000;

/// A clock tests move by hand.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(TestClock(AtomicI64::new(NOW)))
    }
}

impl Clock for TestClock {
    fn now_unix_millis(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::Relaxed)
    }
}

pub fn memory_vault() -> Arc<dyn KeyVault> {
    Arc::new(MemoryKeyVault::new())
}

/// A new record unlocked by a device key from `vault`.
pub fn create(dir: &Path, vault: &Arc<dyn KeyVault>) -> Record {
    Record::create(
        dir,
        Unlock::DeviceKey,
        vault.clone(),
        TestClock::new(),
        StoreOptions::default(),
    )
    .unwrap()
}

/// Opens the record in `dir` with a device key from `vault`.
pub fn open(dir: &Path, vault: &Arc<dyn KeyVault>) -> carnet_record::Result<Record> {
    Record::open(
        dir,
        Unlock::DeviceKey,
        vault.clone(),
        TestClock::new(),
        StoreOptions::default(),
    )
}

pub fn doctor() -> Professional {
    Professional {
        name: "Dr Marie Curie".into(),
        rpps: Some("10003456789".into()),
    }
}

/// A small CDA document whose body carries `marker`.
pub fn cda(marker: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\
         <title>Compte rendu</title><component><section><text>{marker}</text></section>\
         </component></ClinicalDocument>\n"
    )
    .into_bytes()
}

/// A PDF-looking file of `size` bytes (the header is what the record checks).
pub fn pdf(size: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes
        .extend((0..size.saturating_sub(9)).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

pub fn lab_report(title: &str) -> NewDocument {
    NewDocument {
        title: title.into(),
        type_code: Some(Coding {
            system: "http://loinc.org".into(),
            code: "11502-2".into(),
            display: Some("Compte rendu d'examens de biologie".into()),
        }),
        class_code: Some(Coding {
            system: "urn:oid:1.2.250.1.213.1.1.4.1".into(),
            code: "10".into(),
            display: Some("Compte rendu".into()),
        }),
        author: Some(doctor()),
        date_millis: Some(NOW - 86_400_000),
        ins: Some("253072B07300470".into()),
        confidentiality: Confidentiality::Normal,
        description: Some("Bilan sanguin annuel".into()),
        ..NewDocument::default()
    }
}

pub fn add_pdf(record: &Record, title: &str, size: usize) -> carnet_record::Document {
    record
        .add_document(
            &lab_report(title),
            DocumentSource::User,
            &mut pdf(size, 7).as_slice(),
        )
        .unwrap()
}

/// The care team's software, depositing into `server`.
pub fn professional(server: &carnet_server::RunningServer) -> carnet_server::ProfessionalClient {
    carnet_server::ProfessionalClient::new(
        &format!("http://{}", server.address()),
        server.professional_key(),
    )
}

/// Deposits document `id` for `user`, as an operating report by Dr Curie.
pub async fn deposit_document(
    server: &carnet_server::RunningServer,
    user: &str,
    id: &str,
    title: &str,
    content: &[u8],
) {
    let metadata = serde_json::json!({
        "title": title,
        "type": { "system": "http://loinc.org", "code": "34874-8", "display": "Compte rendu opératoire" },
        "author": { "name": "Dr Marie Curie", "rpps": "10003456789" },
        "date": "2026-11-20T09:30:00Z",
        "confidentiality": "R"
    });
    professional(server)
        .deposit_document(user, id, serde_json::from_value(metadata).unwrap(), content)
        .await
        .unwrap();
}

/// The letter a professional sends, from the message's fields and its `id` in one JSON
/// object.
pub fn letter(mut fields: serde_json::Value) -> carnet_wire::health_space::Letter {
    let id = fields
        .as_object_mut()
        .and_then(|fields| fields.remove("id"))
        .and_then(|id| id.as_str().map(str::to_owned))
        .unwrap();
    carnet_wire::health_space::Letter {
        id,
        message: serde_json::from_value(fields).unwrap(),
    }
}

/// Deposits a message for `user`.
pub async fn deposit_message(
    server: &carnet_server::RunningServer,
    user: &str,
    message: serde_json::Value,
) {
    professional(server)
        .deposit_message(user, &letter(message))
        .await
        .unwrap();
}
