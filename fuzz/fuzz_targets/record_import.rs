//! Record import from arbitrary bytes as a zip archive: every input ends in a typed error or
//! a complete import, never a panic; a failed import leaves the store empty.
#![no_main]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use carnet_platform::{MemoryKeyVault, SystemClock};
use carnet_record::{Record, StoreOptions, Unlock};
use libfuzzer_sys::fuzz_target;

/// One store for the whole run, replaced only after an import succeeds (so that the next
/// input again meets an empty store).
static STORE: Mutex<Option<(tempfile::TempDir, Record)>> = Mutex::new(None);

fn fresh() -> (tempfile::TempDir, Record) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("store");
    let record = Record::create(
        &path,
        Unlock::DeviceKey,
        Arc::new(MemoryKeyVault::new()),
        Arc::new(SystemClock),
        StoreOptions::default(),
    )
    .unwrap();
    (dir, record)
}

fuzz_target!(|data: &[u8]| {
    let mut slot = STORE.lock().unwrap();
    let (_, record) = slot.get_or_insert_with(fresh);
    match record.import(Cursor::new(data), &mut |_| {}) {
        Ok(()) => *slot = Some(fresh()),
        Err(_) => assert!(
            record.documents().unwrap().is_empty() && record.profile(None).unwrap().is_empty()
        ),
    }
});
