//! QR decoding speed and decode count against zbarimg (Debian zbar-tools) on the same files:
//! the fixture PNGs and camera-like variants of a sample of them. Prints counts and the time
//! ratio (zbarimg time / Carnet time: ≥ 1 means Carnet is no slower).

#[path = "../../core/codec/tests/support/degrade.rs"]
#[allow(dead_code)]
mod degrade;

use std::collections::HashSet;
use std::time::Instant;

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let originals = degrade::fixture_images(1);
    let mut files = Vec::new();
    for (index, (_, image)) in originals.iter().enumerate() {
        let path = scratch.path().join(format!("original-{index}.png"));
        std::fs::write(&path, degrade::png(image)).unwrap();
        files.push(path);
    }
    let mut rng = degrade::Rng::new(7);
    for (index, (_, image)) in originals.iter().enumerate().step_by(8) {
        for variant in degrade::variants(image, &mut rng) {
            let path = scratch.path().join(format!(
                "variant-{index}-{}.{}",
                variant.name, variant.extension
            ));
            std::fs::write(&path, &variant.bytes).unwrap();
            files.push(path);
        }
    }
    let expected: HashSet<&str> = originals.iter().map(|(text, _)| text.as_str()).collect();

    let start = Instant::now();
    let carnet_decoded = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            carnet_codec::qr::scan_image_file(&bytes)
                .is_ok_and(|text| expected.contains(text.as_str()))
        })
        .count();
    let carnet_time = start.elapsed();

    let start = Instant::now();
    let output = std::process::Command::new("zbarimg")
        // QR codes only, as Carnet's decoder is set up: a fair comparison.
        .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .args(&files)
        .output()
        .expect("zbarimg (Debian zbar-tools) is needed for this benchmark");
    let zbar_time = start.elapsed();
    let zbar_decoded = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| expected.contains(line.trim()))
        .count();

    println!(
        "QR benchmark: {} files ({} fixture PNGs + camera-like variants), one pass each",
        files.len(),
        originals.len()
    );
    println!(
        "  Carnet (rxing)  decoded {carnet_decoded:>4}  in {:>8.1} ms",
        carnet_time.as_secs_f64() * 1e3
    );
    println!(
        "  zbarimg         decoded {zbar_decoded:>4}  in {:>8.1} ms",
        zbar_time.as_secs_f64() * 1e3
    );
    println!(
        "ratio zbarimg time / Carnet time: {:.2}  [>= 1: no slower]; decoded {carnet_decoded} vs {zbar_decoded}  [Carnet >= zbarimg]",
        zbar_time.as_secs_f64() / carnet_time.as_secs_f64()
    );
}
