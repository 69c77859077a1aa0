//! QR codes. Decoding (feature `qr-scan`): from a camera frame's luma plane, or (feature
//! `qr-image-files`) from a PNG or JPEG file; `rxing` does it, reading blurred, rotated and
//! downscaled codes that lighter decoders miss. Rendering (feature `qr-render`): SVG, and PNG
//! with `qr-image-files`; error correction level Q, as health certificate issuers use.

#[cfg(feature = "qr-scan")]
use rxing::{BarcodeFormat, DecodeHints};

use crate::CodecError;

/// Longest text rendered: what a version-40 QR code holds in alphanumeric mode at level Q.
pub const MAX_RENDER_CHARS: usize = 2_420;

/// Largest frame side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// Largest image file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Decodes the QR code in a luma plane (one byte per pixel, row by row).
#[cfg(feature = "qr-scan")]
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

#[cfg(feature = "qr-render")]
fn encode(text: &str) -> Result<qrcode::QrCode, CodecError> {
    if text.len() > MAX_RENDER_CHARS {
        return Err(CodecError::TooLarge {
            what: "QR text",
            size: text.len(),
            limit: MAX_RENDER_CHARS,
        });
    }
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q)
        .map_err(|e| CodecError::Image(format!("cannot encode as QR: {e}")))
}

/// Renders `text` as an SVG document (a 4-module quiet zone included).
///
/// # Errors
/// [`CodecError::TooLarge`] for text beyond one QR code.
#[cfg(feature = "qr-render")]
pub fn render_svg(text: &str) -> Result<String, CodecError> {
    Ok(encode(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build())
}

/// Renders `text` for a terminal with light text on a dark background: two modules per
/// character cell (Unicode half blocks), light modules drawn as blocks, a 4-module quiet zone;
/// returns the lines and their width in columns.
///
/// # Errors
/// [`CodecError::TooLarge`] for text beyond one QR code.
#[cfg(feature = "qr-render")]
pub fn render_terminal(text: &str) -> Result<(String, usize), CodecError> {
    let code = encode(text)?;
    let width = code.width() + 8;
    let lines = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build();
    Ok((lines, width))
}

/// Renders `text` as a PNG image, `module_pixels` per module (a 4-module quiet zone included).
///
/// # Errors
/// [`CodecError::TooLarge`] for text beyond one QR code, [`CodecError::Image`] if encoding fails.
#[cfg(feature = "qr-image-files")]
pub fn render_png(text: &str, module_pixels: u32) -> Result<Vec<u8>, CodecError> {
    let image = encode(text)?
        .render::<image::Luma<u8>>()
        .module_dimensions(module_pixels.clamp(1, 32), module_pixels.clamp(1, 32))
        .build();
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| CodecError::Image(e.to_string()))?;
    Ok(png)
}

#[cfg(all(test, feature = "qr-image-files"))]
mod tests {
    use super::*;

    #[test]
    fn rendered_codes_scan_back() {
        let text = "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IDOEZPC%CO6OM4HI%/K*K9ET1L4LVL5";
        let png = render_png(text, 4).unwrap();
        assert_eq!(scan_image_file(&png).unwrap(), text);
        let (lines, width) = render_terminal(text).unwrap();
        assert_eq!(lines.lines().count(), width.div_ceil(2));
        assert!(lines.lines().all(|line| line.chars().count() == width));
        let svg = render_svg(text).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        assert!(matches!(
            render_svg(&"A".repeat(MAX_RENDER_CHARS + 1)),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn hostile_images_and_frames_are_typed_errors() {
        assert!(matches!(
            scan_image_file(b"not an image"),
            Err(CodecError::Image(_))
        ));
        let mut truncated = render_png("HC1:ABC", 4).unwrap();
        truncated.truncate(truncated.len() / 2);
        assert!(scan_image_file(&truncated).is_err());
        assert!(matches!(
            scan_luma(vec![0; 10], 4, 4),
            Err(CodecError::Image(_))
        ));
        assert!(matches!(
            scan_luma(Vec::new(), 0, 0),
            Err(CodecError::Image(_))
        ));
        assert!(matches!(
            scan_luma(vec![255; 64 * 64], 64, 64),
            Err(CodecError::NoQrCode)
        ));
        // A PNG header claiming 100000×100000 pixels is refused before any allocation.
        let mut huge = render_png("x", 1).unwrap();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(scan_image_file(&huge).is_err());
    }
}
