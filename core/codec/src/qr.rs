//! QR decoding: from a camera frame's luma plane, or (feature `qr-image-files`) from a PNG or
//! JPEG file. `rxing` does the decoding: it reads blurred, rotated and downscaled codes that
//! lighter decoders miss.

use rxing::{BarcodeFormat, DecodeHints};

use crate::CodecError;

/// Largest frame side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// Largest image file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Decodes the QR code in a luma plane (one byte per pixel, row by row).
///
/// # Errors
/// [`CodecError::TooLarge`] for oversized frames, [`CodecError::Image`] for a buffer that does
/// not match its size, [`CodecError::NoQrCode`] when no code is found.
pub fn scan_luma(luma: Vec<u8>, width: u32, height: u32) -> Result<String, CodecError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(CodecError::Image(format!(
            "frame of {width}×{height} pixels is outside 1–{MAX_SIDE}"
        )));
    }
    let expected = u64::from(width) * u64::from(height);
    if luma.len() as u64 != expected {
        return Err(CodecError::Image(format!(
            "{} bytes for a {width}×{height} frame",
            luma.len()
        )));
    }
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some([BarcodeFormat::QR_CODE].into_iter().collect()),
        ..DecodeHints::default()
    };
    rxing::helpers::detect_in_luma_with_hints(
        luma,
        width,
        height,
        Some(BarcodeFormat::QR_CODE),
        &mut hints,
    )
    .map(|result| result.getText().to_owned())
    .map_err(|_| CodecError::NoQrCode)
}

/// Decodes the QR code in a PNG or JPEG file's bytes.
///
/// # Errors
/// [`CodecError::TooLarge`], [`CodecError::Image`] for an unreadable image,
/// [`CodecError::NoQrCode`] when no code is found.
#[cfg(feature = "qr-image-files")]
pub fn scan_image_file(bytes: &[u8]) -> Result<String, CodecError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(CodecError::TooLarge {
            what: "image file",
            size: bytes.len(),
            limit: MAX_FILE_BYTES,
        });
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| CodecError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let luma = reader
        .decode()
        .map_err(|e| CodecError::Image(e.to_string()))?
        .into_luma8();
    let (width, height) = luma.dimensions();
    scan_luma(luma.into_raw(), width, height)
}
