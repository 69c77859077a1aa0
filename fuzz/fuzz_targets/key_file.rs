//! Exposure notification's parsers of outside data on arbitrary bytes: a key file (zip)
//! checked against the published sample's key; the same bytes as an `export.bin` body signed
//! by a key of the target's own (a fuzzer cannot forge a signature, so this is how the header
//! and the key walk behind the signature check get fed), its keys read one by one; and the
//! bytes as exposure windows and a risk configuration in CWA's JSON shape. Must never panic.
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use carnet_exposure::keyfile::{EXPORT_HEADER, ExportBatch, ExportSigner, KeyFile};
use carnet_exposure::risk::{ExposureWindows, RiskConfiguration};
use libfuzzer_sys::fuzz_target;

fn signer() -> &'static ExportSigner {
    static SIGNER: OnceLock<ExportSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let pkcs8 = ExportSigner::generate_pkcs8().expect("a key");
        ExportSigner::from_pkcs8("fuzz", "v1", &pkcs8).expect("its signer")
    })
}

fuzz_target!(|data: &[u8]| {
    let trusted = [signer().verification_key()];
    if let Ok(file) = KeyFile::open(Cursor::new(data), &trusted) {
        for key in file.keys() {
            let _ = key;
        }
    }
    let mut export = EXPORT_HEADER.to_vec();
    export.extend_from_slice(data);
    let batch = ExportBatch::single(0, 0, "");
    let signatures = signer().sign(&export, &batch).expect("a signature");
    if let Ok(file) = KeyFile::verify(export, &signatures, &trusted) {
        for key in file.keys().chain(file.revised_keys()) {
            let _ = key;
        }
    }
    let _ = KeyFile::verify(data.to_vec(), data, &trusted);
    if let Ok(windows) = ExposureWindows::from_json(data) {
        let _ = RiskConfiguration::default().summarize(&windows.exposure_windows);
    }
    if let Ok(configuration) = RiskConfiguration::from_json(data) {
        let _ = configuration.summarize(&[]);
    }
});
