//! The facade opened with real and recording platform services.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};

use carnet::ManualClock;
use carnet::certs::wallet::Purpose;
use carnet::{
    Carnet, CarnetError, Clock, ClockStatus, ErrorKind, FileKeyVault, InsInput, InsKind, KeyVault,
    LogLevel, LogRecord, LogSink, MemoryKeyVault, PlatformError, RecordUnlock, Services,
    SystemClock,
};

#[derive(Default)]
struct RecordingSink(Mutex<Vec<LogRecord>>);
impl LogSink for RecordingSink {
    fn log(&self, record: LogRecord) {
        self.0.lock().unwrap().push(record);
    }
}

/// A vault whose platform refuses everything (a locked keystore).
struct LockedVault;
impl KeyVault for LockedVault {
    fn store(&self, _: &str, _: Vec<u8>) -> Result<(), PlatformError> {
        Err(PlatformError::Denied("keystore locked".into()))
    }
    fn load(&self, _: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        Err(PlatformError::Denied("keystore locked".into()))
    }
    fn delete(&self, _: &str) -> Result<(), PlatformError> {
        Err(PlatformError::Denied("keystore locked".into()))
    }
}

fn services(clock: Arc<dyn Clock>, vault: Arc<dyn KeyVault>, sink: Arc<RecordingSink>) -> Services {
    let data_dir = std::env::temp_dir().join(format!("carnet-facade-test-{}", std::process::id()));
    Services {
        clock,
        vault,
        log_sink: Some(sink),
        min_log_level: LogLevel::Debug,
        data_dir,
    }
}

fn ins_input() -> InsInput {
    InsInput {
        matricule: "253072B07300470".into(),
        oid: InsKind::Nir.oid().into(),
        birth_name: "DUPONT".into(),
        birth_given_names: "MARIE ANNE".into(),
        sex: "F".into(),
        birth_date: "1953-07-14".into(),
        birth_place: "2B073".into(),
    }
}

#[test]
fn nir_checks_are_typed_and_logs_never_hold_the_number() {
    let sink = Arc::new(RecordingSink::default());
    let carnet = Carnet::open(services(
        Arc::new(SystemClock),
        Arc::new(MemoryKeyVault::new()),
        sink.clone(),
    ))
    .unwrap();
    assert_eq!(carnet.check_clock().unwrap(), ClockStatus::Consistent);
    assert_eq!(
        carnet.check_nir("253072B07300470").unwrap().as_str(),
        "253072B07300470"
    );
    let error = carnet.check_nir("253072B07300471").unwrap_err();
    assert_eq!(error.code(), "nir.control_key");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("control key 71"), "{error}");
    let logs = sink.0.lock().unwrap();
    assert!(
        logs.iter()
            .any(|r| r.message.contains("NIR accepted") && r.message.contains("2*****…70"))
    );
    assert!(logs.iter().any(|r| r.message.contains("nir.control_key")));
    assert!(
        logs.iter().all(|r| !r.message.contains("07300")),
        "{logs:?}"
    );
}

#[test]
fn ins_check_goes_through_the_facade() {
    let sink = Arc::new(RecordingSink::default());
    let carnet = Carnet::open(services(
        Arc::new(SystemClock),
        Arc::new(MemoryKeyVault::new()),
        sink.clone(),
    ))
    .unwrap();
    let ins = carnet.check_ins(&ins_input()).unwrap();
    assert_eq!(ins.kind(), InsKind::Nir);
    let wrong_sex = InsInput {
        sex: "M".into(),
        ..ins_input()
    };
    assert_eq!(
        carnet.check_ins(&wrong_sex).unwrap_err().code(),
        "ins.mismatch"
    );
    let bad_date = InsInput {
        birth_date: "14/07/1953".into(),
        ..ins_input()
    };
    assert_eq!(carnet.check_ins(&bad_date).unwrap_err().code(), "ins.trait");
    let bad_oid = InsInput {
        oid: "1.2.3".into(),
        ..ins_input()
    };
    assert_eq!(carnet.check_ins(&bad_oid).unwrap_err().code(), "ins.oid");
    assert!(
        sink.0
            .lock()
            .unwrap()
            .iter()
            .all(|r| !r.message.contains("DUPONT"))
    );
}

#[test]
fn a_clock_set_back_is_noticed_across_restarts_with_a_file_vault() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1_800_000_000_000));
    let open = |clock: Arc<ManualClock>, sink| {
        let vault = Arc::new(FileKeyVault::open(dir.path()).unwrap());
        Carnet::open(services(clock, vault, sink)).unwrap()
    };
    let first = open(clock.clone(), Arc::new(RecordingSink::default()));
    assert_eq!(first.check_clock().unwrap(), ClockStatus::Consistent);
    drop(first);
    clock.set(1_800_000_000_000 - 3_600_000);
    let sink = Arc::new(RecordingSink::default());
    let second = open(clock.clone(), sink.clone());
    assert!(
        sink.0
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.level == LogLevel::Warn)
    );
    let behind = ClockStatus::MovedBackwards {
        behind_by_millis: 3_600_000,
    };
    assert_eq!(
        second.check_clock().unwrap(),
        behind,
        "reported again, the mark stays"
    );
    clock.set(1_800_000_000_001);
    assert_eq!(second.check_clock().unwrap(), ClockStatus::Consistent);
}

#[test]
fn a_refusing_vault_is_a_typed_error_at_open() {
    let sink = Arc::new(RecordingSink::default());
    let result = Carnet::open(services(Arc::new(SystemClock), Arc::new(LockedVault), sink));
    match result {
        Err(error @ CarnetError::Platform(PlatformError::Denied(_))) => {
            assert_eq!(error.kind(), ErrorKind::PlatformDenied);
            assert_eq!(error.code(), "platform.denied");
        }
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("a locked vault must not open"),
    }
}

/// CO3 of the EU common test data: `HC1:` text and its signer's DER certificate.
fn co3() -> (String, Vec<u8>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/dcc/testdata/common/2DCode/raw/CO3.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let field = |name: &str| {
        let start = text.find(&format!("\"{name}\": \"")).unwrap() + name.len() + 5;
        text[start..].split('"').next().unwrap().to_owned()
    };
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(field("CERTIFICATE"))
        .unwrap();
    (field("PREFIX"), der)
}

#[test]
fn wallet_lives_in_the_record_and_verifier_mode_follows_the_platform_clock() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(1_620_100_000_000)); // 2021-05-04, CO3 in force
    let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
    let services = Services {
        clock: clock.clone(),
        vault: vault.clone(),
        log_sink: None,
        min_log_level: LogLevel::Info,
        data_dir: data.path().to_path_buf(),
    };
    let carnet = Carnet::open(services).unwrap();
    let unlock = RecordUnlock::DeviceKey;
    let record = carnet.create_record(&carnet.record_dir(), &unlock).unwrap();
    let (text, der) = co3();
    let entry = record.wallet_add(&text).unwrap();
    let person = entry.summary.person_key();
    let best = record.wallet_best(&person, Purpose::AnyProof).unwrap();
    assert_eq!(best.map(|e| e.id), Some(entry.id.clone()));
    assert_eq!(
        record.wallet_add(&format!("  {text}\n")).unwrap().id,
        entry.id,
        "stored once"
    );
    assert_eq!(
        record.wallet_add("HC1:").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    drop(record);
    // Reopened: still there, in the encrypted record.
    let record = carnet.open_record(&carnet.record_dir(), &unlock).unwrap();
    assert_eq!(record.wallet_list().unwrap().len(), 1);
    assert_eq!(record.wallet_entry(&entry.id).unwrap().text, text);

    let lists = carnet::VerifierLists::trusting_certificate(&der, 1_620_100_000).unwrap();
    assert!(matches!(
        carnet.verify_pass(&text, &lists).unwrap(),
        carnet::certs::verifier::Verdict::Valid { .. }
    ));
    clock.set(1_620_000_000_000); // a day earlier: set back
    assert!(matches!(
        carnet.verify_pass(&text, &lists).unwrap(),
        carnet::certs::verifier::Verdict::CannotConfirm { reason, .. } if reason.contains("set back")
    ));
    record.wallet_remove(&entry.id).unwrap();
    let missing = record.wallet_remove(&entry.id).unwrap_err();
    assert_eq!(
        (missing.code(), missing.kind()),
        ("record.not_found", ErrorKind::InvalidInput)
    );
    assert!(record.wallet_list().unwrap().is_empty());
}

#[test]
fn the_old_clear_wallet_file_moves_into_the_record_and_goes() {
    let data = tempfile::tempdir().unwrap();
    let (text, _) = co3();
    let old = rusqlite::Connection::open(data.path().join("wallet.sqlite")).unwrap();
    old.execute_batch(
        "CREATE TABLE certificate (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, added_at INTEGER NOT NULL);",
    )
    .unwrap();
    old.execute(
        "INSERT INTO certificate (text, added_at) VALUES (?1, 1620000000)",
        [&text],
    )
    .unwrap();
    drop(old);
    let carnet = Carnet::open(Services {
        clock: Arc::new(ManualClock::at(1_620_100_000_000)),
        vault: Arc::new(MemoryKeyVault::new()),
        log_sink: None,
        min_log_level: LogLevel::Info,
        data_dir: data.path().to_path_buf(),
    })
    .unwrap();
    let record = carnet
        .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    assert_eq!(record.wallet_list().unwrap()[0].text, text);
    assert!(!data.path().join("wallet.sqlite").exists());
    let wrong = carnet.open_record(
        &data.path().join("none"),
        &RecordUnlock::Passphrase {
            passphrase: "x".into(),
        },
    );
    assert_eq!(wrong.unwrap_err().code(), "record.no_store");
}

/// The vault of a phone whose disk is full: what it holds can be read, nothing can be written.
struct FullDiskVault(Arc<MemoryKeyVault>);
impl KeyVault for FullDiskVault {
    fn store(&self, _: &str, _: Vec<u8>) -> Result<(), PlatformError> {
        Err(PlatformError::StorageFull("no space left on device".into()))
    }
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        self.0.load(name)
    }
    fn delete(&self, _: &str) -> Result<(), PlatformError> {
        Err(PlatformError::StorageFull("no space left on device".into()))
    }
}

#[test]
fn a_vault_that_cannot_write_still_opens_reads_and_exports_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(MemoryKeyVault::new());
    let clock = Arc::new(ManualClock::at(1_800_000_000_000));
    let at = |vault: Arc<dyn KeyVault>, sink: Arc<RecordingSink>| Services {
        clock: clock.clone(),
        vault,
        log_sink: Some(sink),
        min_log_level: LogLevel::Debug,
        data_dir: dir.path().join("data"),
    };
    let appointment = carnet::record::NewAppointment {
        title: "Consultation cardiologie".into(),
        start_millis: 1_800_100_000_000,
        end_millis: None,
        location: None,
        professional: None,
        notes: None,
    };
    {
        let carnet = Carnet::open(at(vault.clone(), Arc::default())).unwrap();
        let record = carnet
            .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
            .unwrap();
        record
            .with_content(|r| r.add_appointment(&appointment))
            .unwrap();
    }
    // An hour later the disk is full: the clock's mark cannot be raised, the rest works.
    clock.advance(3_600_000);
    let sink = Arc::new(RecordingSink::default());
    let carnet = Carnet::open(at(Arc::new(FullDiskVault(vault.clone())), sink.clone())).unwrap();
    assert_eq!(carnet.check_clock().unwrap(), ClockStatus::MarkNotKept);
    assert!(
        sink.0
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.level == LogLevel::Warn
                && r.message.contains("high-water mark could not be kept"))
    );
    let record = carnet
        .open_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    let listed = record.with_content(|r| r.appointments()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].title, "Consultation cardiologie");
    assert_eq!(record.with_content(|r| r.documents()).unwrap().len(), 0);
    let export = dir.path().join("export.zip");
    record.export_to_path(&export, &mut |_| {}).unwrap();
    assert!(std::fs::metadata(&export).unwrap().len() > 0);
    // Adding still works: the write counter that cannot reach the vault is caught up later.
    record
        .with_content(|r| r.add_appointment(&appointment))
        .unwrap();
    drop(record);
    let again = carnet
        .open_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    assert_eq!(again.with_content(|r| r.appointments()).unwrap().len(), 2);
}

#[test]
fn documents_and_attachments_go_to_and_from_files_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let carnet = Carnet::open(Services {
        clock: Arc::new(ManualClock::at(1_800_000_000_000)),
        vault: Arc::new(MemoryKeyVault::new()),
        log_sink: None,
        min_log_level: LogLevel::Info,
        data_dir: dir.path().join("data"),
    })
    .unwrap();
    let record = carnet
        .create_record(&carnet.record_dir(), &RecordUnlock::DeviceKey)
        .unwrap();
    let new = carnet::record::NewDocument {
        title: "Ordonnance".into(),
        ..Default::default()
    };

    // A file that is not there is a read error in words, and adds nothing.
    let missing = record
        .add_document_from_path(&new, &dir.path().join("absent.pdf"))
        .unwrap_err();
    assert_eq!(missing.code(), "file.unreadable", "{missing}");
    assert!(missing.to_string().contains("no such file"), "{missing}");
    assert!(record.with_content(|r| r.documents()).unwrap().is_empty());

    // In from a file, out to another, byte for byte.
    let content = [&b"%PDF-1.7\n"[..], &[7u8; 200_000]].concat();
    let source = dir.path().join("ordonnance.pdf");
    std::fs::write(&source, &content).unwrap();
    let added = record.add_document_from_path(&new, &source).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let saved = record
        .save_document(&added.id, &out.join("copie.pdf"))
        .unwrap();
    assert_eq!(saved.id, added.id);
    assert_eq!(std::fs::read(out.join("copie.pdf")).unwrap(), content);

    // An unknown document writes nothing: no file, no temporary file left behind.
    let unknown = record
        .save_document("no-such-id", &out.join("rien.pdf"))
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::InvalidInput, "{unknown}");
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["copie.pdf"]);

    // An attachment lands under its own name in a directory made for it.
    record
        .with_content(|r| {
            r.receive_message(
                "msg-1",
                &carnet::record::NewMessage {
                    sender: carnet::record::Professional {
                        name: "Dr Marie Curie".into(),
                        rpps: Some("10003456789".into()),
                    },
                    subject: "Résultats".into(),
                    body: "Ci-joint.".into(),
                    reply_allowed: false,
                },
                vec![carnet::record::IncomingAttachment {
                    name: "resultats.pdf".into(),
                    content: &mut &content[..],
                }],
            )
        })
        .unwrap();
    let attachment = record
        .save_attachment("msg-1", 0, &out.join("pieces"))
        .unwrap();
    assert_eq!(attachment, out.join("pieces/resultats.pdf"));
    assert_eq!(std::fs::read(&attachment).unwrap(), content);
    let absent = record
        .save_attachment("msg-1", 1, &out.join("pieces"))
        .unwrap_err();
    assert_eq!(absent.code(), "record.not_found", "{absent}");
}
