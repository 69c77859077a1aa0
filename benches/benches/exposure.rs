//! Exposure matching against the floor of its own primitives, in one run:
//! - the matcher on signed key files (open the zip, verify the signature, walk the keys, derive
//!   each key's 144 identifiers, look them up among a phone's 14 days of sightings, build the
//!   windows of what matched) on one thread, against the primitives alone on pre-decoded keys:
//!   one HKDF (RPIK), 144 single AES blocks, 144 lookups in a std `HashMap` of the same
//!   sightings (target ≥ 0.7×);
//! - the matcher on two threads against one (target ≥ 1.7×);
//! - 1.5 million keys in 15 files streamed from disk by a child process of this bench run
//!   under `/usr/bin/time -v`, its peak RSS printed (target ≤ 64 MiB).

use std::collections::HashMap;
use std::io::{BufReader, Cursor};
use std::path::Path;
use std::process::Command;

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use carnet_bench::paired;
use carnet_exposure::keyfile::{DiagnosisKey, ExportBatch, ExportSigner, KeyFile, VerificationKey};
use carnet_exposure::keys::{TemporaryExposureKey, metadata};
use carnet_exposure::matching::{MatchConfiguration, Matcher};
use carnet_exposure::radio::Sighting;
use ring::hkdf;

/// 2025-03-01 00:00 UTC.
const NOW: i64 = 1_740_787_200;
const DAY: i64 = 86_400;
/// Sightings a phone keeps for 14 days (about 250 identifiers heard a day, 14 scans each).
const SIGHTINGS: usize = 50_000;
/// Keys per file and files of the rate measurement.
const KEYS_PER_FILE: usize = 100_000;
const RATE_FILES: usize = 2;
/// Files of the memory measurement (1.5 million keys).
const MEMORY_FILES: usize = 15;
const MEMORY_CHILD: &str = "CARNET_EXPOSURE_MEMORY_DIR";

/// A deterministic key: its bytes from a counter, one of the last 14 days.
fn key(index: u64) -> DiagnosisKey {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&index.to_le_bytes());
    bytes[8..].copy_from_slice(&(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
    let day = (NOW / DAY - 1 - (index % 14) as i64) as u32;
    DiagnosisKey {
        key: TemporaryExposureKey::new(&bytes, day * 144, 144).unwrap(),
        report_type: 1,
        days_since_onset_of_symptoms: Some((index % 10) as i32 - 4),
        transmission_risk_level: None,
    }
}

/// The phone's sightings: most of strangers, a few of the keys numbered below 100.
fn sightings() -> Vec<Sighting> {
    let mut sightings = Vec::with_capacity(SIGHTINGS);
    for index in 0..SIGHTINGS as u64 {
        let (key, interval_offset) = if index < 1400 {
            (key(index / 14), (index % 14) as u32 * 3)
        } else {
            (key(u64::MAX - index), (index % 144) as u32)
        };
        let derived = key.key.derive();
        let interval = key.key.rolling_start + interval_offset;
        let rpi = derived.rpi(interval);
        sightings.push(Sighting {
            rpi,
            aem: derived.aem(&rpi, metadata(-24)),
            time: i64::from(interval) * 600 + 30,
            peak_rssi: -60,
            mean_rssi: -66,
            seconds_since_last_scan: 240,
        });
    }
    sightings
}

fn batch(number: usize, size: usize) -> ExportBatch {
    ExportBatch {
        start_timestamp: (NOW - DAY) as u64,
        end_timestamp: NOW as u64,
        region: "FR".into(),
        batch_num: number as i32,
        batch_size: size as i32,
    }
}

fn key_files(signer: &ExportSigner, files: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..files).map(move |file| {
        let keys: Vec<DiagnosisKey> = (0..KEYS_PER_FILE)
            .map(|index| key((file * KEYS_PER_FILE + index) as u64))
            .collect();
        signer.write(&batch(file + 1, files), &keys).unwrap()
    })
}

/// The floor: one HKDF, 144 single AES blocks and 144 lookups per key.
fn primitives(keys: &[DiagnosisKey], table: &HashMap<[u8; 16], u32>) -> usize {
    struct Len16;
    impl hkdf::KeyType for Len16 {
        fn len(&self) -> usize {
            16
        }
    }
    let mut found = 0;
    for key in keys {
        let mut rpik = [0u8; 16];
        hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(key.key.bytes())
            .expand(&[b"EN-RPIK"], Len16)
            .unwrap()
            .fill(&mut rpik)
            .unwrap();
        let cipher = Aes128::new(&rpik.into());
        for offset in 0..key.key.rolling_period {
            let mut block = [0u8; 16];
            block[..6].copy_from_slice(b"EN-RPI");
            block[12..].copy_from_slice(&(key.key.rolling_start + offset).to_le_bytes());
            let mut block = block.into();
            cipher.encrypt_block(&mut block);
            let rpi: [u8; 16] = block.into();
            found += usize::from(table.contains_key(&rpi));
        }
    }
    found
}

fn run_matcher(
    matcher: &Matcher,
    zips: &[Vec<u8>],
    trusted: &[VerificationKey],
    threads: usize,
) -> u64 {
    let files = zips
        .iter()
        .map(|zip| KeyFile::open(Cursor::new(zip.as_slice()), trusted));
    let report = matcher.run(files, threads, &mut |_| {}).unwrap();
    assert_eq!(report.keys_checked, (zips.len() * KEYS_PER_FILE) as u64);
    report.keys_matched
}

/// The child: streams the files of `dir` through the matcher on two threads.
fn memory_child(dir: &Path, trusted: &[VerificationKey]) {
    let matcher = Matcher::new(sightings(), MatchConfiguration::default(), NOW);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    let files = paths
        .iter()
        .map(|path| KeyFile::open(BufReader::new(std::fs::File::open(path).unwrap()), trusted));
    let report = matcher.run(files, 2, &mut |_| {}).unwrap();
    println!(
        "child: {} files, {} keys checked, {} matched, {} windows",
        report.files,
        report.keys_checked,
        report.keys_matched,
        report.windows.len()
    );
}

fn main() {
    let pkcs8 = match std::env::var_os("CARNET_EXPOSURE_SIGNING_KEY") {
        Some(path) => std::fs::read(path).unwrap(),
        None => ExportSigner::generate_pkcs8().unwrap(),
    };
    let signer = ExportSigner::from_pkcs8("FR", "v1", &pkcs8).unwrap();
    let trusted = [signer.verification_key()];
    if let Some(dir) = std::env::var_os(MEMORY_CHILD) {
        memory_child(Path::new(&dir), &trusted);
        return;
    }

    let sightings = sightings();
    let table: HashMap<[u8; 16], u32> = sightings
        .iter()
        .enumerate()
        .map(|(index, sighting)| (sighting.rpi, index as u32))
        .collect();
    let matcher = Matcher::new(sightings, MatchConfiguration::default(), NOW);
    let zips: Vec<Vec<u8>> = key_files(&signer, RATE_FILES).collect();
    let keys: Vec<DiagnosisKey> = (0..(RATE_FILES * KEYS_PER_FILE) as u64).map(key).collect();
    let total = keys.len() as f64;
    assert_eq!(run_matcher(&matcher, &zips, &trusted, 1), 100);
    assert_eq!(primitives(&keys, &table), 1400);

    let rounds = 5;
    let (matched, floor, ratio) = paired(
        rounds,
        || {
            std::hint::black_box(run_matcher(&matcher, &zips, &trusted, 1));
        },
        || {
            std::hint::black_box(primitives(&keys, &table));
        },
    );
    println!(
        "matching, 1 thread: {:.0} keys/s; its primitives alone (HKDF + 144 AES blocks + 144 \
         lookups per key): {:.0} keys/s; matching / floor = {ratio:.2}× (target ≥ 0.7×)",
        total / matched.as_secs_f64(),
        total / floor.as_secs_f64(),
    );

    let (two, one, speedup) = paired(
        rounds,
        || {
            std::hint::black_box(run_matcher(&matcher, &zips, &trusted, 2));
        },
        || {
            std::hint::black_box(run_matcher(&matcher, &zips, &trusted, 1));
        },
    );
    println!(
        "matching, 2 threads: {:.0} keys/s; 1 thread: {:.0} keys/s; speed-up {speedup:.2}× \
         (target ≥ 1.7×; {} cores here)",
        total / two.as_secs_f64(),
        total / one.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from),
    );

    // Memory: 1.5 million keys in files on disk, streamed by a child under /usr/bin/time -v.
    let dir = tempfile::tempdir().unwrap();
    for (index, zip) in key_files(&signer, MEMORY_FILES).enumerate() {
        std::fs::write(dir.path().join(format!("keys-{index:02}.zip")), zip).unwrap();
    }
    let key_path = dir.path().join("signing.pk8");
    std::fs::write(&key_path, &pkcs8).unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    for index in 0..MEMORY_FILES {
        let name = format!("keys-{index:02}.zip");
        std::fs::rename(dir.path().join(&name), files.join(&name)).unwrap();
    }
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(std::env::current_exe().unwrap())
        .env(MEMORY_CHILD, &files)
        .env("CARNET_EXPOSURE_SIGNING_KEY", &key_path)
        .output()
        .expect("/usr/bin/time (Debian package time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    let peak_kib: f64 = field("Maximum resident set size (kbytes):")
        .parse()
        .unwrap_or(f64::NAN);
    println!(
        "1.5 million keys in {MEMORY_FILES} files streamed from disk: peak RSS {:.1} MiB \
         (target ≤ 64 MiB), wall {}",
        peak_kib / 1024.0,
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
    );
}
