//! Diagnosis key files: the two published signed samples verify with their keys, any changed
//! byte or another key fails, files written here read back, and hostile archives, signatures
//! and protobufs get typed errors within bounded memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Cursor, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_exposure::ExposureError;
use carnet_exposure::keyfile::{
    DiagnosisKey, EXPORT_HEADER, ExportBatch, ExportSigner, KeyFile, MAX_EXPORT_BYTES,
    VerificationKey,
};
use carnet_exposure::keys::TemporaryExposureKey;
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../fixtures/exposure/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn samples() -> Value {
    serde_json::from_slice(&fixture("gaen_export_samples.json")).unwrap()
}

fn google_key() -> VerificationKey {
    let spki = samples()["samples"][0]["public_key_spki_b64"]
        .as_str()
        .unwrap()
        .to_owned();
    VerificationKey::from_spki_der("310", "v1", &STANDARD.decode(spki).unwrap()).unwrap()
}

fn server_key() -> VerificationKey {
    let pem = String::from_utf8(fixture("export/public.pem")).unwrap();
    VerificationKey::from_pem("some_id", "1", &pem).unwrap()
}

fn entries(zip: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut archive = ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut read = |name: &str| {
        let mut bytes = Vec::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    (read("export.bin"), read("export.sig"))
}

fn zip_of(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn googles_sample_verifies_and_reads_its_140_keys() {
    let sample = &samples()["samples"][0];
    let file = KeyFile::open(
        Cursor::new(fixture("export/sample_diagnosis_key_file.zip")),
        &[server_key(), google_key()],
    )
    .unwrap();
    assert_eq!(file.signed_by(), "310");
    let batch = file.batch();
    assert_eq!(batch.region, sample["region"]);
    assert_eq!(
        batch.start_timestamp,
        sample["start_timestamp"].as_u64().unwrap()
    );
    assert_eq!(
        batch.end_timestamp,
        sample["end_timestamp"].as_u64().unwrap()
    );
    let keys: Vec<DiagnosisKey> = file.keys().collect::<Result<_, _>>().unwrap();
    assert_eq!(keys.len() as u64, sample["n_keys"].as_u64().unwrap());
}

#[test]
fn the_servers_sample_verifies_and_its_keys_are_those_listed() {
    let file = KeyFile::open(
        Cursor::new(fixture("export/testExport-2-records-1-of-1.zip")),
        &[server_key()],
    )
    .unwrap();
    assert_eq!(file.signed_by(), "some_id");
    let listed: Value = serde_json::from_slice(&fixture("export/keys.json")).unwrap();
    let listed = listed["temporaryExposureKeys"].as_array().unwrap();
    let keys: Vec<DiagnosisKey> = file.keys().collect::<Result<_, _>>().unwrap();
    assert_eq!(keys.len(), listed.len());
    for (key, expected) in keys.iter().zip(listed) {
        let data = STANDARD.decode(expected["key"].as_str().unwrap()).unwrap();
        assert_eq!(key.key.bytes().as_slice(), data.as_slice());
        assert_eq!(
            u64::from(key.key.rolling_start),
            expected["rollingStartNumber"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(key.key.rolling_period),
            expected["rollingPeriod"].as_u64().unwrap()
        );
        assert_eq!(
            key.transmission_risk_level.map(i64::from),
            expected["transmissionRisk"].as_i64()
        );
    }
}

#[test]
fn every_flipped_byte_of_the_signed_export_fails_and_so_does_another_key() {
    let (export, signatures) = entries(&fixture("export/testExport-2-records-1-of-1.zip"));
    assert!(KeyFile::verify(export.clone(), &signatures, &[server_key()]).is_ok());
    for index in 0..export.len() {
        let mut changed = export.clone();
        changed[index] ^= 0x01;
        assert!(
            matches!(
                KeyFile::verify(changed, &signatures, &[server_key()]),
                Err(ExposureError::Signature(_))
            ),
            "byte {index}"
        );
    }
    let (google_export, google_signatures) =
        entries(&fixture("export/sample_diagnosis_key_file.zip"));
    let other = samples()["samples"][0]["other_key_in_same_list_not_matching"]
        .as_str()
        .unwrap()
        .split_once(": ")
        .unwrap()
        .1
        .to_owned();
    // The other key dressed in the signer's name: the name does not make the signature.
    let impostor =
        VerificationKey::from_spki_der("310", "v1", &STANDARD.decode(other).unwrap()).unwrap();
    assert!(matches!(
        KeyFile::verify(google_export.clone(), &google_signatures, &[impostor]),
        Err(ExposureError::Signature(_))
    ));
    // A signature's bytes changed.
    let mut changed = google_signatures.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x01;
    assert!(KeyFile::verify(google_export, &changed, &[google_key()]).is_err());
}

#[test]
fn files_written_here_read_back_with_their_keys() {
    let signer =
        ExportSigner::from_pkcs8("carnet", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let keys: Vec<DiagnosisKey> = (0..1000u32)
        .map(|index| DiagnosisKey {
            key: TemporaryExposureKey::new(
                &(index as u128 * 7919).to_le_bytes(),
                2_900_000 + 144 * (index % 14),
                144 - index % 3,
            )
            .unwrap(),
            report_type: 1 + (index % 4) as i32,
            days_since_onset_of_symptoms: (index % 5 != 0).then_some(index as i32 % 29 - 14),
            transmission_risk_level: None,
        })
        .collect();
    let batch = ExportBatch::single(1_740_000_000, 1_740_086_400, "FR");
    let zip = signer.write(&batch, &keys).unwrap();
    let file = KeyFile::open(Cursor::new(zip), &[signer.verification_key()]).unwrap();
    assert_eq!(file.batch(), &batch);
    let read: Vec<DiagnosisKey> = file.keys().collect::<Result<_, _>>().unwrap();
    assert_eq!(read, keys);
}

/// An `export.bin` of raw protobuf `body`, signed, zipped.
fn signed_zip(signer: &ExportSigner, body: &[u8]) -> Vec<u8> {
    let mut export = EXPORT_HEADER.to_vec();
    export.extend_from_slice(body);
    let batch = ExportBatch::single(0, 0, "");
    let signatures = signer.sign(&export, &batch).unwrap();
    zip_of(
        &[("export.bin", &export), ("export.sig", &signatures)],
        CompressionMethod::Deflated,
    )
}

/// Field 7 (a key) holding `key`.
fn key_field(key: &[u8]) -> Vec<u8> {
    let mut field = vec![0x3a, key.len() as u8];
    field.extend_from_slice(key);
    field
}

/// A key message: data, start, period, report type (each a field when given).
fn key_message(
    data: &[u8],
    start: Option<u64>,
    period: Option<u64>,
    report: Option<u64>,
) -> Vec<u8> {
    let mut message = vec![0x0a, data.len() as u8];
    message.extend_from_slice(data);
    for (tag, value) in [(0x18u8, start), (0x20, period), (0x28, report)] {
        if let Some(mut value) = value {
            message.push(tag);
            loop {
                let byte = (value & 0x7f) as u8;
                value >>= 7;
                if value == 0 {
                    message.push(byte);
                    break;
                }
                message.push(byte | 0x80);
            }
        }
    }
    message
}

#[test]
fn malformed_keys_are_typed_errors_and_the_walk_goes_on() {
    let signer =
        ExportSigner::from_pkcs8("carnet", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let good = key_message(&[7; 16], Some(2_900_000), None, Some(1));
    let mut body = Vec::new();
    for message in [
        key_message(&[7; 15], Some(2_900_000), Some(144), Some(1)),
        key_message(&[7; 17], Some(2_900_000), Some(144), Some(1)),
        key_message(&[7; 16], None, Some(144), Some(1)),
        key_message(&[7; 16], Some(2_900_000), Some(0), Some(1)),
        key_message(&[7; 16], Some(2_900_000), Some(145), Some(1)),
        key_message(&[7; 16], Some(u64::from(u32::MAX)), Some(144), Some(1)),
        key_message(&[7; 16], Some(2_900_000), Some(144), Some(9)),
        vec![0xff, 0xff],
        good.clone(),
    ] {
        body.extend(key_field(&message));
    }
    let file = KeyFile::open(
        Cursor::new(signed_zip(&signer, &body)),
        &[signer.verification_key()],
    )
    .unwrap();
    let results: Vec<_> = file.keys().collect();
    assert_eq!(results.len(), 9);
    assert!(matches!(
        results[0],
        Err(ExposureError::Length { found: 15, .. })
    ));
    assert!(matches!(
        results[1],
        Err(ExposureError::Length { found: 17, .. })
    ));
    for result in &results[2..6] {
        assert!(
            matches!(result, Err(ExposureError::Period(_))),
            "{result:?}"
        );
    }
    assert!(matches!(results[6], Err(ExposureError::KeyFile(_))));
    assert!(matches!(results[7], Err(ExposureError::KeyFile(_))));
    let last = results[8].as_ref().unwrap();
    assert_eq!(last.key.rolling_period, 144, "the default period");
    // A truncated top-level field: the file is refused when opened (its header is read
    // across the whole message), before any key.
    let mut truncated = key_field(&good);
    truncated.truncate(10);
    assert!(matches!(
        KeyFile::open(
            Cursor::new(signed_zip(&signer, &truncated)),
            &[signer.verification_key()],
        ),
        Err(ExposureError::KeyFile(_))
    ));
}

#[test]
fn hostile_archives_and_signatures_are_refused() {
    let signer =
        ExportSigner::from_pkcs8("carnet", "v1", &ExportSigner::generate_pkcs8().unwrap()).unwrap();
    let trusted = [signer.verification_key()];
    let open = |zip: Vec<u8>| KeyFile::open(Cursor::new(zip), &trusted);
    // Not a zip, an empty zip, a zip without the signature.
    assert!(matches!(
        open(b"PK\x03\x04garbage".to_vec()),
        Err(ExposureError::KeyFile(_))
    ));
    assert!(matches!(
        open(zip_of(&[], CompressionMethod::Stored)),
        Err(ExposureError::KeyFile(_))
    ));
    let (export, _) = entries(&signed_zip(&signer, &[]));
    assert!(matches!(
        open(zip_of(
            &[("export.bin", &export)],
            CompressionMethod::Stored
        )),
        Err(ExposureError::KeyFile(_))
    ));
    // Too many entries.
    let names: Vec<String> = (0..9).map(|index| format!("file{index}")).collect();
    let many: Vec<(&str, &[u8])> = names.iter().map(|name| (name.as_str(), &b""[..])).collect();
    assert!(matches!(
        open(zip_of(&many, CompressionMethod::Stored)),
        Err(ExposureError::KeyFile(_))
    ));
    // A deflate bomb: 33 MiB of zeros compress to a few KiB; the read stops at the limit.
    let bomb = vec![0u8; (MAX_EXPORT_BYTES + (1 << 20)) as usize];
    let zip = zip_of(
        &[("export.bin", &bomb), ("export.sig", b"")],
        CompressionMethod::Deflated,
    );
    assert!(zip.len() < 200_000);
    assert!(matches!(open(zip), Err(ExposureError::TooLarge { .. })));
    // Garbage, empty and unsigned signature lists.
    let (export, signatures) = entries(&signed_zip(&signer, &[]));
    for garbage in [
        &b"\xff\xff\xff"[..],
        b"",
        &signatures[..signatures.len() - 5],
    ] {
        assert!(KeyFile::verify(export.clone(), garbage, &trusted).is_err());
    }
    // A signed export without its header, and with a body that is not protobuf.
    let batch = ExportBatch::single(0, 0, "");
    let headless = b"\x0a\x02US".to_vec();
    let signature = signer.sign(&headless, &batch).unwrap();
    assert!(matches!(
        KeyFile::verify(headless, &signature, &trusted),
        Err(ExposureError::KeyFile(_))
    ));
    assert!(matches!(
        open(signed_zip(&signer, b"\x1a\xff\xff\xff\xff\x0f")),
        Err(ExposureError::KeyFile(_))
    ));
    // An inconsistent batch (file 3 of 2).
    assert!(matches!(
        open(signed_zip(&signer, b"\x20\x03\x28\x02")),
        Err(ExposureError::KeyFile(_))
    ));
    // Verification keys that are not P-256 points.
    assert!(VerificationKey::from_point("a", "1", &[4; 64]).is_err());
    assert!(VerificationKey::from_spki_der("a", "1", b"\x30\x03\x02\x01\x01").is_err());
    assert!(
        VerificationKey::from_pem(
            "a",
            "1",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err()
    );
}
