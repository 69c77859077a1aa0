//! Hostile archives: each is refused with a typed error and leaves the store empty.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Cursor, Write};

use carnet_record::{Record, RecordError};
use common::*;
use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(
            *name,
            SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn bundle(resources: serde_json::Value) -> Vec<u8> {
    let entries: Vec<_> = resources
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({ "resource": r }))
        .collect();
    serde_json::to_vec(&json!({ "resourceType": "Bundle", "type": "collection", "entry": entries }))
        .unwrap()
}

fn document_reference(url: &str) -> serde_json::Value {
    json!({
        "resourceType": "DocumentReference", "id": "d1", "status": "current", "date": "2026-01-02T03:04:05Z",
        "content": [{ "attachment": { "contentType": "application/pdf", "url": url, "title": "Compte rendu" } }]
    })
}

fn assert_refused(record: &Record, bytes: Vec<u8>, label: &str) {
    let before = record.store().write_counter();
    let result = record.import(Cursor::new(bytes), &mut |_| {});
    assert!(
        matches!(
            result,
            Err(RecordError::Import(_)
                | RecordError::InvalidInput(_)
                | RecordError::UnsupportedDocument(_))
        ),
        "{label}: {result:?}"
    );
    assert_eq!(
        record.store().write_counter(),
        before,
        "{label}: something was written"
    );
    assert!(
        record.documents().unwrap().is_empty() && record.profile(None).unwrap().is_empty(),
        "{label}"
    );
}

#[test]
fn hostile_archives_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let good_pdf = pdf(2000, 1);
    let one_document = bundle(json!([document_reference("documents/d1.pdf")]));

    // The control: this archive imports (into another store).
    let control = create(&dir.path().join("control"), &memory_vault());
    control
        .import(
            Cursor::new(archive(&[
                ("bundle.json", &one_document),
                ("documents/d1.pdf", &good_pdf),
            ])),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(control.documents().unwrap()[0].title, "Compte rendu");

    assert_refused(&record, b"not a zip at all".to_vec(), "not a zip");
    for name in [
        "../evil.pdf",
        "/etc/passwd",
        "documents/../../evil.pdf",
        "documents\\..\\evil.pdf",
        "documents/.hidden/../x",
        "C:/x.pdf",
        "documents/a b.pdf",
    ] {
        assert_refused(
            &record,
            archive(&[
                ("bundle.json", &one_document),
                ("documents/d1.pdf", &good_pdf),
                (name, b"%PDF-"),
            ]),
            name,
        );
    }
    assert_refused(
        &record,
        archive(&[("documents/d1.pdf", &good_pdf)]),
        "no bundle",
    );
    assert_refused(
        &record,
        archive(&[
            ("bundle.json", b"{not json"),
            ("documents/d1.pdf", &good_pdf),
        ]),
        "not JSON",
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_refused(
        &record,
        archive(&[("bundle.json", deep.as_bytes())]),
        "deep nesting",
    );
    assert_refused(
        &record,
        archive(&[("bundle.json", br#"{"resourceType":"Patient"}"#)]),
        "not a Bundle",
    );
    assert_refused(
        &record,
        archive(&[("bundle.json", &one_document)]),
        "missing file",
    );
    let twice = bundle(
        json!([document_reference("documents/d1.pdf"), { "resourceType": "DocumentReference", "id": "d2", "date": "2026-01-02T03:04:05Z", "content": [{ "attachment": { "url": "documents/d1.pdf", "title": "x" } }] }]),
    );
    assert_refused(
        &record,
        archive(&[("bundle.json", &twice), ("documents/d1.pdf", &good_pdf)]),
        "file used twice",
    );
    assert_refused(
        &record,
        archive(&[
            ("bundle.json", &one_document),
            ("documents/d1.pdf", b"MZ\x90\0"),
        ]),
        "executable",
    );
    let unknown = bundle(json!([{ "resourceType": "Medication", "id": "m" }]));
    assert_refused(
        &record,
        archive(&[("bundle.json", &unknown)]),
        "unknown resource type",
    );
    let bad_patient = bundle(
        json!([{ "resourceType": "Patient", "id": "self", "name": [{ "family": "X", "given": ["Y"] }], "birthDate": "1980-13-45" }]),
    );
    assert_refused(
        &record,
        archive(&[("bundle.json", &bad_patient)]),
        "bad birth date",
    );
    let bad_id = bundle(
        json!([{ "resourceType": "Condition", "id": "../../x", "subject": {}, "meta": { "lastUpdated": "2026-01-01T00:00:00Z" } }]),
    );
    assert_refused(&record, archive(&[("bundle.json", &bad_id)]), "bad FHIR id");
    // A valid entry followed by a bad one: the first must not stay.
    let half = bundle(
        json!([document_reference("documents/d1.pdf"), { "resourceType": "Condition", "id": "c1" }]),
    );
    assert_refused(
        &record,
        archive(&[("bundle.json", &half), ("documents/d1.pdf", &good_pdf)]),
        "half good",
    );
}

#[test]
fn zip_bombs_are_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let one_document = bundle(json!([document_reference("documents/d1.pdf")]));
    // 64 MiB of zeros behind a PDF header compresses about 1000 times.
    let mut zeros = b"%PDF-1.7\n".to_vec();
    zeros.resize(64 * 1024 * 1024, 0);
    let bomb = archive(&[("bundle.json", &one_document), ("documents/d1.pdf", &zeros)]);
    assert!(bomb.len() < 200 * 1024);
    assert_refused(&record, bomb.clone(), "ratio bomb");

    // The same entry with its sizes rewritten to claim 1000 bytes: the reader stops at 1000.
    let mut lying = bomb;
    let name = b"documents/d1.pdf";
    for (signature, size_offset, name_offset) in [(b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)]
    {
        let mut at = 0;
        while let Some(found) = lying[at..].windows(4).position(|w| w == signature) {
            let start = at + found;
            if lying[start + name_offset..].starts_with(name) {
                lying[start + size_offset..start + size_offset + 4]
                    .copy_from_slice(&1000u32.to_le_bytes());
            }
            at = start + 4;
        }
    }
    assert_refused(&record, lying, "lying sizes");
}
