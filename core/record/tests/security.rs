//! What the store promises an attacker with the files: nothing in clear, no undetected
//! change, no silent rollback; and what it promises the owner: a wrong passphrase changes
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use carnet_platform::KeyVault;
use carnet_record::{
    DocumentSource, Gender, IncomingAttachment, KdfParams, NewMessage, NewProfileItem, Patient,
    ProfileKind, Record, RecordError, StoreOptions, Unlock,
};
use common::*;
use rusqlite::Connection;

const NAME: &str = "Zéphyrine Quenouille";
const ALLERGY: &str = "Arachide-Xylophone-7731";
const BODY: &str = "CORPS-DU-DOCUMENT-SECRET-4242";
const MESSAGE: &str = "Message-confidentiel-du-Dr-9090";
const PASSPHRASE: &str = "cheval agrafe pile correcte";

fn secrets(record: &Record) {
    // The card's credential as the issuer sent it carries the name in clear.
    record
        .replace_card(&[carnet_record::NewCardCredential {
            rank: 1,
            credential: format!("card of {NAME}").into_bytes(),
            ins_matricule: None,
        }])
        .unwrap();
    record
        .set_patient(&Patient {
            given: "Zéphyrine".into(),
            family: "Quenouille".into(),
            birth_date: "1980-02-03".into(),
            gender: Gender::Female,
            ins: None,
        })
        .unwrap();
    let mut title = lab_report(NAME);
    title.description = Some(NAME.into());
    record
        .add_document(&title, DocumentSource::User, &mut cda(BODY).as_slice())
        .unwrap();
    record
        .add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: ALLERGY.into(),
                ..Default::default()
            },
        )
        .unwrap();
    let attachment = cda(BODY);
    record
        .deliver_message(
            &NewMessage {
                sender: doctor(),
                subject: NAME.into(),
                body: MESSAGE.into(),
                reply_allowed: true,
            },
            vec![IncomingAttachment {
                name: "cr.xml".into(),
                content: &mut attachment.as_slice(),
            }],
        )
        .unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path))
        } else {
            files.push(path)
        }
    }
    files.sort();
    files
}

fn assert_no_plaintext(dir: &Path) {
    let needles: Vec<&[u8]> = vec![
        NAME.as_bytes(),
        "Quenouille".as_bytes(),
        ALLERGY.as_bytes(),
        BODY.as_bytes(),
        MESSAGE.as_bytes(),
        b"ClinicalDocument",
        b"AllergyIntolerance",
        b"Dr Marie Curie",
        b"10003456789",
    ];
    let files = files_under(dir);
    assert!(files.len() >= 3);
    for file in files {
        let bytes = fs::read(&file).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == *needle),
                "{} holds {:?} in clear",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn nothing_is_in_clear_in_the_database_its_wal_or_any_other_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let record = Record::create(
        &store,
        Unlock::Passphrase(PASSPHRASE),
        memory_vault(),
        TestClock::new(),
        StoreOptions::default(),
    )
    .unwrap();
    secrets(&record);
    // While open: the WAL holds the recent pages.
    let names: Vec<String> = files_under(&store)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"record.sqlite-wal".to_owned()), "{names:?}");
    assert_eq!(
        names,
        [
            "keys.json",
            "record.sqlite",
            "record.sqlite-shm",
            "record.sqlite-wal",
            "store.lock"
        ]
    );
    assert_no_plaintext(dir.path());
    drop(record);
    assert_no_plaintext(dir.path());
}

/// Flips bytes of one column of one row through a second connection, checks that reading
/// through the record fails with a typed error, and puts the byte back.
fn flip_each_byte(
    db: &Path,
    table: &str,
    column: &str,
    rowid: i64,
    stride: usize,
    read: &dyn Fn() -> Result<(), RecordError>,
) {
    let connection = Connection::open(db).unwrap();
    let original: Vec<u8> = connection
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE rowid = ?1"),
            [rowid],
            |r| r.get(0),
        )
        .unwrap();
    let positions: Vec<usize> = (0..original.len())
        .step_by(stride)
        .chain([original.len() - 1])
        .collect();
    for position in positions {
        let mut altered = original.clone();
        altered[position] ^= 0x20;
        connection
            .execute(
                &format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"),
                rusqlite::params![altered, rowid],
            )
            .unwrap();
        let result = read();
        assert!(
            matches!(
                result,
                Err(RecordError::Tampered(_) | RecordError::Corrupt(_))
            ),
            "{table}.{column} byte {position}: {result:?}"
        );
    }
    connection
        .execute(
            &format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"),
            rusqlite::params![original, rowid],
        )
        .unwrap();
    read().unwrap();
}

#[test]
fn any_altered_byte_or_swapped_row_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let record = create(dir.path(), &vault);
    secrets(&record);
    let big = add_pdf(&record, "Deux morceaux", 100_000);
    let db = dir.path().join("record.sqlite");
    let connection = Connection::open(&db).unwrap();
    let rowids = |sql: &str| -> Vec<i64> {
        let mut statement = connection.prepare(sql).unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let read_all = || -> Result<(), RecordError> {
        record.patient()?;
        record.card()?;
        record.profile(None)?;
        record.pending_sync_count()?;
        record.unsynced_documents()?;
        // The queued profile changes (no public listing: the push reads them).
        record
            .store()
            .read(|r| r.list::<serde_json::Value>("outbox"))?;
        record.messages()?;
        for document in record.documents()? {
            record.read_document(&document.id, &mut std::io::sink())?;
        }
        for message in record.messages()? {
            for index in 0..message.attachments.len() {
                record.read_attachment(&message.id, index, &mut std::io::sink())?;
            }
        }
        Ok(())
    };
    read_all().unwrap();
    for rowid in rowids("SELECT rowid FROM item") {
        flip_each_byte(&db, "item", "body", rowid, 1, &read_all);
    }
    for rowid in rowids("SELECT rowid FROM blob") {
        flip_each_byte(&db, "blob", "header", rowid, 1, &read_all);
    }
    // Chunks are up to 64 KiB: every byte of the small ones, a stride through the large.
    for rowid in rowids("SELECT rowid FROM blob_chunk") {
        let len: i64 = connection
            .query_row(
                "SELECT length(data) FROM blob_chunk WHERE rowid = ?1",
                [rowid],
                |r| r.get(0),
            )
            .unwrap();
        flip_each_byte(
            &db,
            "blob_chunk",
            "data",
            rowid,
            if len > 4096 { 509 } else { 1 },
            &read_all,
        );
    }

    // Two documents' metadata swapped: each fails where it now lives.
    let second = add_pdf(&record, "Autre", 500);
    let swap = |table: &str, column: &str, key: &str, a: &str, b: &str| {
        let value = |id: &str| -> Vec<u8> {
            connection
                .query_row(
                    &format!("SELECT {column} FROM {table} WHERE {key} = ?1"),
                    [id],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let (va, vb) = (value(a), value(b));
        connection
            .execute(
                &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
                rusqlite::params![vb, a],
            )
            .unwrap();
        connection
            .execute(
                &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
                rusqlite::params![va, b],
            )
            .unwrap();
    };
    swap(
        "item",
        "body",
        "kind = 'document' AND id",
        &big.id,
        &second.id,
    );
    assert!(matches!(
        record.document(&big.id),
        Err(RecordError::Tampered(_))
    ));
    assert!(matches!(record.documents(), Err(RecordError::Tampered(_))));
    swap(
        "item",
        "body",
        "kind = 'document' AND id",
        &big.id,
        &second.id,
    );
    read_all().unwrap();
    // Chunks swapped within a blob, a chunk dropped from the end, a chunk moved to another blob.
    let blob_of_big: String = connection
        .query_row("SELECT blob_id FROM blob_chunk WHERE idx = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let chunk = |idx: i64| -> Vec<u8> {
        connection
            .query_row(
                "SELECT data FROM blob_chunk WHERE blob_id = ?1 AND idx = ?2",
                rusqlite::params![blob_of_big, idx],
                |r| r.get(0),
            )
            .unwrap()
    };
    let set_chunk = |idx: i64, data: &[u8]| {
        connection
            .execute(
                "UPDATE blob_chunk SET data = ?1 WHERE blob_id = ?2 AND idx = ?3",
                rusqlite::params![data, blob_of_big, idx],
            )
            .unwrap();
    };
    let (c0, c1) = (chunk(0), chunk(1));
    set_chunk(0, &c1);
    set_chunk(1, &c0);
    assert!(matches!(
        record.read_document(&big.id, &mut std::io::sink()),
        Err(RecordError::Tampered(_))
    ));
    set_chunk(0, &c0);
    set_chunk(1, &c1);
    record.read_document(&big.id, &mut std::io::sink()).unwrap();
    let other_blob: String = connection
        .query_row(
            "SELECT blob_id FROM blob_chunk WHERE blob_id != ?1 LIMIT 1",
            [&blob_of_big],
            |r| r.get(0),
        )
        .unwrap();
    let foreign: Vec<u8> = connection
        .query_row(
            "SELECT data FROM blob_chunk WHERE blob_id = ?1 AND idx = 0",
            [&other_blob],
            |r| r.get(0),
        )
        .unwrap();
    set_chunk(1, &foreign);
    assert!(matches!(
        record.read_document(&big.id, &mut std::io::sink()),
        Err(RecordError::Tampered(_))
    ));
    set_chunk(1, &c1);
    connection
        .execute(
            "DELETE FROM blob_chunk WHERE blob_id = ?1 AND idx = 1",
            [&blob_of_big],
        )
        .unwrap();
    assert!(matches!(
        record.read_document(&big.id, &mut std::io::sink()),
        Err(RecordError::Tampered(_))
    ));
    // The key vault's write counter and the metadata of the store stay untouched by reads.
    assert!(
        vault
            .load(&format!("record.{}.counter", store_id(dir.path())))
            .unwrap()
            .is_some()
    );
}

fn store_id(dir: &Path) -> String {
    let keys: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("keys.json")).unwrap()).unwrap();
    keys["store_id"].as_str().unwrap().to_owned()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn a_wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let open = |passphrase: &str| {
        Record::open(
            dir.path(),
            Unlock::Passphrase(passphrase),
            vault.clone(),
            TestClock::new(),
            StoreOptions::default(),
        )
    };
    let record = Record::create(
        dir.path(),
        Unlock::Passphrase(PASSPHRASE),
        vault.clone(),
        TestClock::new(),
        StoreOptions::default(),
    )
    .unwrap();
    secrets(&record);
    drop(record);
    let before = snapshot(dir.path());
    for wrong in ["cheval agrafe pile correctE", "", "123456"] {
        assert!(
            matches!(open(wrong), Err(RecordError::WrongPassphrase)),
            "{wrong:?}"
        );
    }
    assert!(matches!(
        Record::open(
            dir.path(),
            Unlock::DeviceKey,
            vault.clone(),
            TestClock::new(),
            StoreOptions::default()
        ),
        Err(RecordError::NoSuchKeySlot("device_key"))
    ));
    assert_eq!(snapshot(dir.path()), before);
    let record = open(PASSPHRASE).unwrap();
    assert_eq!(record.profile(None).unwrap()[0].summary(), ALLERGY);
    // A PIN is never accepted as the key.
    assert!(matches!(
        record.store().set_passphrase("123456"),
        Err(RecordError::WeakPassphrase(_))
    ));
    assert!(matches!(
        Record::create(
            &dir.path().join("pin"),
            Unlock::Passphrase("482913"),
            vault.clone(),
            TestClock::new(),
            StoreOptions::default()
        ),
        Err(RecordError::WeakPassphrase(_))
    ));
}

#[test]
fn rotation_rewraps_the_key_and_kdf_parameters_upgrade_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let record = Record::create(
        dir.path(),
        Unlock::Passphrase(PASSPHRASE),
        vault.clone(),
        TestClock::new(),
        StoreOptions::default(),
    )
    .unwrap();
    secrets(&record);
    let db_before = fs::read(dir.path().join("record.sqlite")).unwrap();
    record
        .store()
        .set_passphrase("nouvelle phrase de passe")
        .unwrap();
    record.store().rotate_device_key().unwrap();
    assert_eq!(
        fs::read(dir.path().join("record.sqlite")).unwrap(),
        db_before,
        "rotation rewrites no content"
    );
    drop(record);
    let open = |unlock, kdf| {
        Record::open(
            dir.path(),
            unlock,
            vault.clone(),
            TestClock::new(),
            StoreOptions { kdf },
        )
    };
    assert!(matches!(
        open(Unlock::Passphrase(PASSPHRASE), KdfParams::MINIMUM),
        Err(RecordError::WrongPassphrase)
    ));
    drop(open(Unlock::DeviceKey, KdfParams::MINIMUM).unwrap());
    let stronger = KdfParams {
        memory_kib: 32 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    drop(open(Unlock::Passphrase("nouvelle phrase de passe"), stronger).unwrap());
    let keys: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("keys.json")).unwrap()).unwrap();
    let slot = keys["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "passphrase")
        .unwrap();
    assert_eq!(
        (
            slot["kdf"]["memory_kib"].as_u64(),
            slot["kdf"]["iterations"].as_u64()
        ),
        (Some(32 * 1024), Some(3))
    );
    let record = open(
        Unlock::Passphrase("nouvelle phrase de passe"),
        KdfParams::MINIMUM,
    )
    .unwrap();
    assert_eq!(record.patient().unwrap().unwrap().family, "Quenouille");
}

fn copy_files(files: &[(PathBuf, Vec<u8>)], skip_wal: bool) {
    for (path, bytes) in files {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.ends_with("-shm") || (skip_wal && name.ends_with("-wal")) {
            continue;
        }
        fs::write(path, bytes).unwrap();
    }
}

fn remove_database(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(dir.join(format!("record.sqlite{suffix}")));
    }
}

#[test]
fn an_older_copy_or_a_cut_wal_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let vault: Arc<dyn KeyVault> = memory_vault();
    let record = create(dir.path(), &vault);
    add_pdf(&record, "Premier", 1000);
    let old = snapshot(dir.path());
    add_pdf(&record, "Deuxième", 1000);
    add_pdf(&record, "Troisième", 1000);
    // A crash image of the current state, and the same with its WAL's last frames cut off.
    let current = snapshot(dir.path());
    drop(record);

    for (label, files, skip_wal) in [
        ("older copy with its WAL", &old, false),
        ("older copy without WAL", &old, true),
    ] {
        remove_database(dir.path());
        copy_files(files, skip_wal);
        let result = open(dir.path(), &vault);
        assert!(
            matches!(result, Err(RecordError::RolledBack { expected: 3, .. })),
            "{label}: {result:?}"
        );
    }
    for cut in [4096 + 24, 2 * (4096 + 24)] {
        remove_database(dir.path());
        copy_files(&current, false);
        let wal = dir.path().join("record.sqlite-wal");
        let len = fs::metadata(&wal).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&wal)
            .unwrap()
            .set_len(len - cut)
            .unwrap();
        let result = open(dir.path(), &vault);
        assert!(
            matches!(
                result,
                Err(RecordError::RolledBack {
                    expected: 3,
                    found: 2
                })
            ),
            "WAL cut by {cut}: {result:?}"
        );
    }
    // The untouched crash image opens, with all three documents.
    remove_database(dir.path());
    copy_files(&current, false);
    let record = open(dir.path(), &vault).unwrap();
    assert_eq!(record.documents().unwrap().len(), 3);
    let ok: String = Connection::open(dir.path().join("record.sqlite"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn closing_the_account_erases_keys_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let vault = memory_vault();
    let record = create(&store, &vault);
    secrets(&record);
    let id = store_id(&store);
    let backup = snapshot(&store);
    record.close_account().unwrap();
    assert!(!store.exists());
    for entry in ["key", "counter"] {
        assert_eq!(vault.load(&format!("record.{id}.{entry}")).unwrap(), None);
    }
    // A backup of the files taken before is useless without the device key.
    fs::create_dir(&store).unwrap();
    copy_files(&backup, false);
    assert!(matches!(
        open(&store, &vault),
        Err(RecordError::WrongDeviceKey)
    ));
}

#[test]
fn a_second_process_cannot_open_an_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let record = create(dir.path(), &vault);
    assert!(matches!(open(dir.path(), &vault), Err(RecordError::Busy)));
    drop(record);
    open(dir.path(), &vault).unwrap();
    assert!(matches!(
        open(&dir.path().join("nothing"), &vault),
        Err(RecordError::NoStore(_))
    ));
    assert!(matches!(
        Record::create(
            dir.path(),
            Unlock::DeviceKey,
            vault.clone(),
            TestClock::new(),
            StoreOptions::default()
        ),
        Err(RecordError::AlreadyExists(_))
    ));
}
