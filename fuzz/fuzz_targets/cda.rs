//! The CDA reader (header and body, then the coded entries) on arbitrary bytes, with limits small enough to be met: it must never
//! panic nor write more of an embedded file than its limit, and whatever it refuses is a
//! typed error.
#![no_main]

use carnet_cda::{Limits, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_event_bytes: 4096,
        max_document_bytes: 1 << 20,
        max_embedded_bytes: 8192,
        max_depth: 64,
        max_events: 10_000,
        ..Limits::default()
    };
    let mut embedded = Vec::new();
    let _ = carnet_cda::looks_like_cda(data);
    let result = read(data, &mut embedded, &limits);
    assert!(embedded.len() as u64 <= limits.max_embedded_bytes);
    if let Err(error) = result {
        assert!(!error.code().is_empty());
    }
    // The coded entries, read by their own pass over the same events.
    if let Err(error) = carnet_cda::findings(data, &limits) {
        assert!(!error.code().is_empty());
    }
});
