//! Crash safety: a writer killed with SIGKILL at random moments loses no committed write and
//! leaves a store that opens (no false rollback alarm) and passes `PRAGMA integrity_check`.
//!
//! The test re-runs its own binary as the child (`crash_child`, ignored unless the parent
//! sets `CARNET_CRASH_DIR`), so that no extra program is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_platform::{FileKeyVault, KeyVault};
use carnet_record::{DocumentSource, NewProfileItem, ProfileKind, Record, StoreOptions, Unlock};
use common::*;

const KILLS: usize = 50;

fn vault(dir: &Path) -> Arc<dyn KeyVault> {
    Arc::new(FileKeyVault::open(dir.join("vault")).unwrap())
}

fn open_store(dir: &Path) -> carnet_record::Result<Record> {
    Record::open(
        &dir.join("store"),
        Unlock::DeviceKey,
        vault(dir),
        TestClock::new(),
        StoreOptions::default(),
    )
}

/// The child: writes documents (two chunks each) and profile entries until killed, and
/// appends each one's identifier to `committed.log` once its transaction is committed.
#[test]
#[ignore = "run by killed_writers_lose_nothing_committed as its child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("CARNET_CRASH_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let record = open_store(dir).unwrap();
    let mut log = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("committed.log"))
        .unwrap();
    let round: u64 = std::env::var("CARNET_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    for n in 0u64.. {
        let line = if n % 2 == 0 {
            let title = format!("doc-{round}-{n}");
            let document = record
                .add_document(
                    &lab_report(&title),
                    DocumentSource::User,
                    &mut pdf(100_000, n as u8).as_slice(),
                )
                .unwrap();
            format!("document {} {title}\n", document.id)
        } else {
            let text = format!("item-{round}-{n}");
            let item = record
                .add_profile_item(
                    ProfileKind::Condition,
                    &NewProfileItem {
                        text: text.clone(),
                        ..Default::default()
                    },
                )
                .unwrap();
            format!("profile {} {text}\n", item.id)
        };
        log.write_all(line.as_bytes()).unwrap();
    }
}

/// A small deterministic generator for the kill delays (xorshift).
struct Delays(u64);

impl Delays {
    fn next_millis(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        5 + self.0 % 120
    }
}

#[test]
fn killed_writers_lose_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    drop(
        Record::create(
            &dir.path().join("store"),
            Unlock::DeviceKey,
            vault(dir.path()),
            TestClock::new(),
            StoreOptions::default(),
        )
        .unwrap(),
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill delays seeded with {seed}");
    let mut delays = Delays(seed);
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut killed_mid_run = 0;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--test-threads=1"])
            .env("CARNET_CRASH_DIR", dir.path())
            .env("CARNET_CRASH_ROUND", round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Let the child start and write for a random while, then kill it.
        std::thread::sleep(Duration::from_millis(40 + delays.next_millis()));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let record = open_store(dir.path())
            .unwrap_or_else(|e| panic!("round {round}: the store does not open: {e}"));
        let connection =
            rusqlite::Connection::open(dir.path().join("store/record.sqlite")).unwrap();
        let check: String = connection
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(connection);
        let log = fs::read_to_string(dir.path().join("committed.log")).unwrap_or_default();
        // A line cut by the kill has no newline yet: its write may or may not have landed.
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        let documents: std::collections::HashMap<String, String> = record
            .documents()
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.title))
            .collect();
        let profile: std::collections::HashMap<String, String> = record
            .profile(None)
            .unwrap()
            .into_iter()
            .map(|i| (i.id.clone(), i.summary()))
            .collect();
        for line in complete.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            let found = match parts[0] {
                "document" => documents.get(parts[1]),
                _ => profile.get(parts[1]),
            };
            assert_eq!(
                found.map(String::as_str),
                Some(parts[2]),
                "round {round}: committed {line:?} is lost"
            );
        }
        if round == KILLS - 1 {
            // Every document reads back whole.
            for id in documents.keys() {
                record.read_document(id, &mut std::io::sink()).unwrap();
            }
            println!(
                "{KILLS} kills ({killed_mid_run} mid-run) in {:.1} s; {} committed writes checked",
                started.elapsed().as_secs_f64(),
                complete.lines().count()
            );
            assert!(complete.lines().count() > KILLS, "the child barely wrote");
            assert!(killed_mid_run == KILLS, "a child ended by itself");
        }
    }
}
