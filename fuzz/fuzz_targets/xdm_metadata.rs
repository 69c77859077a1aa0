//! An XDM subset's METADATA.XML from arbitrary bytes, with limits small enough to be met: it
//! must never panic, and whatever it refuses is a typed error; what it reads writes back and
//! reads again the same.
#![no_main]

use carnet_xdm::{Limits, read_metadata, write_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_documents: 16,
        max_values: 8,
        max_field_bytes: 512,
    };
    match read_metadata(data, &limits) {
        Ok(submission) => {
            let written = write_metadata(&submission);
            let again = read_metadata(written.as_slice(), &Limits::default());
            assert_eq!(again.as_ref().ok(), Some(&submission), "{again:?}");
        }
        Err(error) => assert!(!error.code().is_empty()),
    }
});
