//! Camera-like images: the fixture QR codes degraded as a phone camera would see them must
//! still decode (≥ 90 % of variants), and more of them than zbarimg (Debian zbar-tools) decodes.
//! The zbarimg comparison runs when zbarimg is installed; `scripts/test` installs it and sets
//! `CARNET_REQUIRE_ZBAR=1` so that it cannot be skipped there.

#![cfg(feature = "qr-image-files")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/degrade.rs"]
#[allow(dead_code)]
mod degrade;

use carnet_codec::qr;

#[test]
fn degraded_fixture_codes_decode_like_a_phone_would() {
    let images = degrade::fixture_images(16);
    assert!(images.len() >= 20, "{} images", images.len());
    let mut rng = degrade::Rng::new(2026);
    let (mut decoded, mut total) = (0usize, 0usize);
    let mut misses = Vec::new();
    let scratch = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for (index, (expected, image)) in images.iter().enumerate() {
        for variant in degrade::variants(image, &mut rng) {
            total += 1;
            let path = scratch
                .path()
                .join(format!("{index}-{}.{}", variant.name, variant.extension));
            std::fs::write(&path, &variant.bytes).unwrap();
            written.push((path, expected.clone()));
            match qr::scan_image_file(&variant.bytes) {
                Ok(text) => {
                    assert_eq!(&text, expected, "a variant decoded to other text");
                    decoded += 1;
                }
                Err(_) => misses.push(format!("{index}:{}", variant.name)),
            }
        }
    }
    let rate = decoded as f64 / total as f64;
    println!(
        "decoded {decoded} of {total} variants ({:.1} %); missed: {misses:?}",
        rate * 100.0
    );
    assert!(rate >= 0.90, "decoded {decoded}/{total}; missed {misses:?}");

    let zbar_available = std::process::Command::new("zbarimg")
        .arg("--version")
        .output()
        .is_ok();
    if !zbar_available {
        assert!(
            std::env::var_os("CARNET_REQUIRE_ZBAR").is_none(),
            "zbarimg is required here but missing"
        );
        println!("zbarimg not installed: comparison skipped");
        return;
    }
    let zbar_decoded = written
        .iter()
        .filter(|(path, expected)| {
            let output = std::process::Command::new("zbarimg")
                .args(["-q", "--raw"])
                .arg(path)
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).trim() == expected
        })
        .count();
    println!("zbarimg decoded {zbar_decoded} of {total} of the same files");
    assert!(
        decoded > zbar_decoded,
        "Carnet {decoded}, zbarimg {zbar_decoded} of {total}"
    );
}
