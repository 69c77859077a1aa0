//! Image file bytes decoded to luma (PNG of every colour type, bit depth and interlacing;
//! baseline and progressive JPEG). Must never panic, and what it returns must hold its
//! promises: a plane of exactly width × height bytes, within the sides it allows.
#![no_main]

use carnet_codec::luma;
use carnet_codec::qr::MAX_SIDE;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = luma::decode(data) {
        assert!(image.width >= 1 && image.width <= MAX_SIDE);
        assert!(image.height >= 1 && image.height <= MAX_SIDE);
        assert_eq!(
            image.pixels.len(),
            image.width as usize * image.height as usize
        );
    }
});
