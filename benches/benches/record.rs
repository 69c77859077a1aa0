//! The encrypted record against plain rusqlite (same schema, same pragmas, same JSON) and
//! against raw `ring` AES-256-GCM, in one run. Prints times and ratios.
//!
//! - insert: 10,000 document metadata items in one write transaction, sealed by the store,
//!   against the same JSON inserted in clear into a table of the same schema;
//! - open + list: opening the store (device key; a passphrase adds its Argon2id cost once)
//!   and listing 10,000 decrypted documents, against opening a plain database and reading
//!   and parsing the same rows;
//! - blobs: 16 MiB through the store's chunked format (64 KiB chunks, each sealed with its
//!   own nonce and associated data), against one `ring` seal / open of the same bytes.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use carnet_bench::paired;
use carnet_platform::{KeyVault, MemoryKeyVault, SystemClock};
use carnet_record::crypto::{CHUNK_BYTES, SecretKey, open_chunk, seal_stream};
use carnet_record::{
    Coding, Confidentiality, Document, DocumentSource, Professional, Record, StoreOptions, Unlock,
};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use rusqlite::{Connection, params};

const DOCUMENTS: usize = 10_000;
const BLOB_BYTES: usize = 16 * 1024 * 1024;
/// The item kind the record keeps documents under (`core/record/src/document.rs`).
const DOCUMENT_KIND: &str = "document";

fn document(n: usize) -> Document {
    Document {
        id: format!("{n:032x}"),
        title: format!("Compte rendu de consultation n° {n}"),
        media_type: "application/pdf".into(),
        type_code: Some(Coding {
            system: "http://loinc.org".into(),
            code: "11488-4".into(),
            display: Some("Consult note".into()),
        }),
        class_code: Some(Coding {
            system: "urn:oid:1.2.250.1.213.1.1.4.1".into(),
            code: "10".into(),
            display: None,
        }),
        author: Some(Professional {
            name: "Dr Marie Curie".into(),
            rpps: Some("10003456789".into()),
        }),
        date_millis: Some(1_700_000_000_000 + n as i64 * 86_400_000),
        added_millis: 1_795_000_000_000 + n as i64,
        ins: Some("253072B07300470".into()),
        confidentiality: Confidentiality::Normal,
        description: Some("Bilan annuel, résultats dans les normes".into()),
        source: DocumentSource::Professional,
        size: 123_456,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        hidden: false,
    }
}

/// A plain database with the store's schema and pragmas.
fn plain_database(path: &Path) -> Connection {
    let connection = Connection::open(path).unwrap();
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS item (kind TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,
                                              PRIMARY KEY (kind, id));",
        )
        .unwrap();
    connection
}

/// Creates (`create`) or opens the record in `dir`.
fn record_at(dir: &Path, unlock: Unlock<'_>, vault: &Arc<dyn KeyVault>, create: bool) -> Record {
    let start = if create { Record::create } else { Record::open };
    start(
        dir,
        unlock,
        vault.clone(),
        Arc::new(SystemClock),
        StoreOptions::default(),
    )
    .unwrap()
}

fn main() {
    let work = tempfile::tempdir().unwrap();
    let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
    let documents: Vec<Document> = (0..DOCUMENTS).map(document).collect();
    let rounds = 7;

    // Insert: every pass adds 10,000 new items to both databases (which grow alike).
    let store_dir = work.path().join("insert-store");
    drop(record_at(&store_dir, Unlock::DeviceKey, &vault, true));
    let record = record_at(&store_dir, Unlock::DeviceKey, &vault, false);
    let plain = plain_database(&work.path().join("insert-plain.sqlite"));
    let mut pass = 0usize;
    let mut plain_pass = 0usize;
    let (insert_store, insert_plain, insert_ratio) = paired(
        rounds,
        || {
            pass += 1;
            record
                .store()
                .write(|w| {
                    for d in &documents {
                        w.put(DOCUMENT_KIND, &format!("{pass}-{}", d.id), d)?;
                    }
                    Ok(())
                })
                .unwrap();
        },
        || {
            plain_pass += 1;
            let transaction = plain.unchecked_transaction().unwrap();
            {
                let mut insert = transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO item (kind, id, body) VALUES (?1, ?2, ?3)",
                    )
                    .unwrap();
                for d in &documents {
                    let body = serde_json::to_vec(d).unwrap();
                    insert
                        .execute(params![
                            DOCUMENT_KIND,
                            format!("{plain_pass}-{}", d.id),
                            body
                        ])
                        .unwrap();
                }
            }
            transaction.commit().unwrap();
        },
    );
    drop(record);

    // Open + list: the same 10,000 documents in an encrypted store and in a plain database.
    let list_dir = work.path().join("list-store");
    let record = record_at(&list_dir, Unlock::DeviceKey, &vault, true);
    record
        .store()
        .write(|w| {
            for d in &documents {
                w.put(DOCUMENT_KIND, &d.id, d)?;
            }
            Ok(())
        })
        .unwrap();
    drop(record);
    let plain_path = work.path().join("list-plain.sqlite");
    {
        let plain = plain_database(&plain_path);
        let transaction = plain.unchecked_transaction().unwrap();
        for d in &documents {
            transaction
                .execute(
                    "INSERT INTO item (kind, id, body) VALUES (?1, ?2, ?3)",
                    params![DOCUMENT_KIND, d.id, serde_json::to_vec(d).unwrap()],
                )
                .unwrap();
        }
        transaction.commit().unwrap();
    }
    let (list_store, list_plain, list_ratio) = paired(
        rounds,
        || {
            let record = record_at(&list_dir, Unlock::DeviceKey, &vault, false);
            let listed = record.documents().unwrap();
            assert_eq!(listed.len(), DOCUMENTS);
            black_box(listed);
        },
        || {
            let connection = plain_database(&plain_path);
            let mut statement = connection
                .prepare("SELECT id, body FROM item WHERE kind = ?1 ORDER BY id")
                .unwrap();
            let mut listed: Vec<Document> = statement
                .query_map(params![DOCUMENT_KIND], |row| row.get::<_, Vec<u8>>(1))
                .unwrap()
                .map(|body| serde_json::from_slice(&body.unwrap()).unwrap())
                .collect();
            listed.sort_by(|a, b| {
                b.date_millis
                    .cmp(&a.date_millis)
                    .then_with(|| a.id.cmp(&b.id))
            });
            assert_eq!(listed.len(), DOCUMENTS);
            black_box(listed);
        },
    );

    // Blobs: the chunked format against one raw seal / open of the same bytes.
    let content: Vec<u8> = (0..BLOB_BYTES).map(|i| (i % 251) as u8).collect();
    let key = SecretKey::generate().unwrap();
    let raw_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.expose_bytes()).unwrap());
    let mut sealed_chunks: Vec<Vec<u8>> = Vec::new();
    let mut buffer = content.clone();
    let mut copy_buffer = content.clone();
    let seal_chunked = |sink: &mut dyn FnMut(u32, &[u8]) -> carnet_record::Result<()>| {
        seal_stream(
            &key,
            "blob",
            &mut content.as_slice(),
            u64::MAX,
            &mut |_| {},
            sink,
        )
        .unwrap();
    };
    // The sink is where the store hands each chunk to SQLite; timed, it only looks.
    let look = |_: u32, chunk: &[u8]| -> carnet_record::Result<()> {
        black_box(chunk);
        Ok(())
    };
    let raw_seal = |buffer: &mut [u8]| {
        let tag = raw_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([7; 12]),
                Aad::from(b"blob"),
                buffer,
            )
            .unwrap();
        let _ = black_box(tag);
    };
    // AES-GCM runs at the same speed whatever the bytes: sealing the buffer again (the
    // previous round's ciphertext) costs what sealing the content does.
    let (seal_store, seal_raw, seal_ratio) = paired(
        rounds,
        || seal_chunked(&mut look.clone()),
        || raw_seal(&mut buffer),
    );
    // The same raw seal with the copy that keeps the source intact (ring seals in place).
    let (_, seal_raw_copying, seal_copy_ratio) = paired(
        rounds,
        || seal_chunked(&mut look.clone()),
        || {
            copy_buffer.copy_from_slice(&content);
            raw_seal(&mut copy_buffer);
        },
    );
    seal_chunked(&mut |_, chunk| {
        sealed_chunks.push(chunk.to_vec());
        Ok(())
    });
    let chunks = sealed_chunks.len() as u32;
    assert_eq!(chunks as usize, BLOB_BYTES.div_ceil(CHUNK_BYTES));
    let mut raw_sealed = content.clone();
    let tag = raw_key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([7; 12]),
            Aad::from(b"blob"),
            &mut raw_sealed,
        )
        .unwrap();
    raw_sealed.extend_from_slice(tag.as_ref());
    // One copy of the sealed bytes per pass, made beforehand, so that no copy is timed.
    let mut copies: Vec<Vec<u8>> = (0..=rounds).map(|_| raw_sealed.clone()).collect();
    let mut chunk_copies: Vec<Vec<Vec<u8>>> = (0..=rounds).map(|_| sealed_chunks.clone()).collect();
    let (open_store, open_raw, open_ratio) = paired(
        rounds,
        || {
            let mut sealed = chunk_copies.pop().unwrap();
            for (index, chunk) in sealed.iter_mut().enumerate() {
                black_box(open_chunk(&key, "blob", index as u32, chunks, chunk).unwrap());
            }
        },
        || {
            let mut sealed = copies.pop().unwrap();
            black_box(
                raw_key
                    .open_in_place(
                        Nonce::assume_unique_for_key([7; 12]),
                        Aad::from(b"blob"),
                        &mut sealed,
                    )
                    .unwrap(),
            );
        },
    );

    // What the store adds around the format: the content digest, and opening by passphrase.
    let (digest_time, _, _) = paired(
        rounds,
        || {
            black_box(ring::digest::digest(
                &ring::digest::SHA256,
                black_box(&content),
            ));
        },
        || {},
    );
    let passphrase_dir = work.path().join("passphrase-store");
    let passphrase = "benchmark passphrase, not a secret";
    drop(record_at(
        &passphrase_dir,
        Unlock::Passphrase(passphrase),
        &vault,
        true,
    ));
    let (by_passphrase, by_device_key, _) = paired(
        rounds,
        || {
            black_box(record_at(
                &passphrase_dir,
                Unlock::Passphrase(passphrase),
                &vault,
                false,
            ));
        },
        || {
            black_box(record_at(&list_dir, Unlock::DeviceKey, &vault, false));
        },
    );

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mb_per_s = |d: std::time::Duration| BLOB_BYTES as f64 / d.as_secs_f64() / 1e6;
    println!(
        "Record benchmark: {DOCUMENTS} document metadata items, {} MiB blob, median of {rounds} rounds",
        BLOB_BYTES >> 20
    );
    println!(
        "  insert 10k: store {:>8.1} ms   plain rusqlite {:>8.1} ms   store/plain {:.2} [<= 1.5]",
        ms(insert_store),
        ms(insert_plain),
        1.0 / insert_ratio
    );
    println!(
        "  open + list 10k: store {:>8.1} ms   plain rusqlite {:>8.1} ms   store/plain {:.2} [<= 2]",
        ms(list_store),
        ms(list_plain),
        1.0 / list_ratio
    );
    println!(
        "  blob seal: chunked {:>7.0} MB/s   raw ring {:>7.0} MB/s   chunked/raw {:.2} [>= 0.8]",
        mb_per_s(seal_store),
        mb_per_s(seal_raw),
        seal_ratio
    );
    println!(
        "  blob seal: chunked vs raw ring after copying the source ({:>7.0} MB/s): {:.2}",
        mb_per_s(seal_raw_copying),
        seal_copy_ratio
    );
    println!(
        "  blob open: chunked {:>7.0} MB/s   raw ring {:>7.0} MB/s   chunked/raw {:.2} [>= 0.8]",
        mb_per_s(open_store),
        mb_per_s(open_raw),
        open_ratio
    );
    println!(
        "  SHA-256 content digest (ring): {:>7.0} MB/s",
        mb_per_s(digest_time)
    );
    println!(
        "  open by passphrase (Argon2id 19 MiB, t=2) {:.1} ms, by device key {:.1} ms",
        ms(by_passphrase),
        ms(by_device_key)
    );
    println!("(ratios: medians over rounds, subject and reference timed alternately)");
}
