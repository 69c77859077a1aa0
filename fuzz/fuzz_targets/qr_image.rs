//! QR decoding from arbitrary image file bytes (PNG, JPEG) and luma frames. Must never panic
//! and must stay within its size limits.
#![no_main]

use carnet_codec::qr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qr::scan_image_file(data);
    if data.len() >= 2 {
        let width = u32::from(data[0]).max(1);
        let frame = data[1..].to_vec();
        let height = (frame.len() as u32 / width).max(1);
        let _ = qr::scan_luma(frame, width, height);
    }
});
