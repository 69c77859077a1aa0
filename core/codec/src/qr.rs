//! QR codes. Decoding (feature `qr-scan`): from a camera frame's luma plane, or (feature
//! `qr-image-files`) from a PNG or JPEG file; `rxing` does it, reading blurred, rotated and
//! downscaled codes that lighter decoders miss. Rendering (feature `qr-render`): SVG, and PNG
//! with `qr-image-files`; error correction level Q, as health certificate issuers use.

#[cfg(feature = "qr-scan")]
use rxing::{BarcodeFormat, DecodeHints};

use crate::CodecError;

/// Longest text rendered: what a version-40 QR code holds in alphanumeric mode at level Q.
pub const MAX_RENDER_CHARS: usize = 2_420;

/// Largest frame or image side accepted, in pixels.
pub use crate::MAX_IMAGE_SIDE as MAX_SIDE;
/// Largest image file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Most pixels handed to the QR decoder: a larger frame is first reduced by an integer factor
/// (each output pixel the mean of a square of input pixels), which bounds the decoder's memory
/// and time; a code large enough to fill such a frame keeps modules of several pixels.
pub const MAX_SCAN_PIXELS: usize = 4096 * 4096;

/// Decodes the QR code in a luma plane (one byte per pixel, row by row).
///
/// # Errors
/// [`CodecError::ImageTooLarge`] for frames over [`MAX_SIDE`], [`CodecError::Image`] for a
/// buffer that does not match its size, [`CodecError::NoQrCode`] when no code is found.
#[cfg(feature = "qr-scan")]
pub fn scan_luma(luma: Vec<u8>, width: u32, height: u32) -> Result<String, CodecError> {
    if width == 0 || height == 0 {
        return Err(CodecError::Image(format!(
            "a frame of {width}×{height} pixels has no pixels"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(CodecError::ImageTooLarge {
            width,
            height,
            limit: "8192 pixels on each side",
        });
    }
    let expected = u64::from(width) * u64::from(height);
    if luma.len() as u64 != expected {
        return Err(CodecError::Image(format!(
            "{} bytes for a {width}×{height} frame",
            luma.len()
        )));
    }
    let (luma, width, height) = reduce_to_scan_budget(luma, width, height);
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

/// Reduces a frame of more than [`MAX_SCAN_PIXELS`] by the smallest integer factor that brings
/// it under, in place (each output pixel is written at or before the first input pixel it
/// averages, so nothing is read after being overwritten).
#[cfg(feature = "qr-scan")]
fn reduce_to_scan_budget(mut luma: Vec<u8>, width: u32, height: u32) -> (Vec<u8>, u32, u32) {
    let (w, h) = (width as usize, height as usize);
    let mut factor = 1usize;
    while (w / factor) * (h / factor) > MAX_SCAN_PIXELS {
        factor += 1;
    }
    if factor == 1 {
        return (luma, width, height);
    }
    let (out_w, out_h) = (w / factor, h / factor);
    let area = (factor * factor) as u32;
    for y in 0..out_h {
        for x in 0..out_w {
            let mut sum = 0u32;
            for row in 0..factor {
                let start = (y * factor + row) * w + x * factor;
                sum += luma
                    .get(start..start + factor)
                    .map_or(0, |run| run.iter().map(|&p| u32::from(p)).sum());
            }
            if let Some(out) = luma.get_mut(y * out_w + x) {
                *out = u8::try_from((sum + area / 2) / area).unwrap_or(u8::MAX);
            }
        }
    }
    luma.truncate(out_w * out_h);
    luma.shrink_to_fit();
    // Both sides were at most MAX_SIDE, and are smaller now.
    (luma, out_w as u32, out_h as u32)
}

/// Decodes the QR code in a PNG or JPEG file's bytes, decoded straight to luma
/// ([`crate::luma`]).
///
/// # Errors
/// [`CodecError::TooLarge`] for a file over [`MAX_FILE_BYTES`], [`CodecError::ImageTooLarge`]
/// for an image over [`MAX_SIDE`], [`CodecError::Image`] for an unreadable image,
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
    let image = crate::luma::decode(bytes)?;
    scan_luma(image.pixels, image.width, image.height)
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
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
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

    /// A frame larger than the scan budget is reduced before decoding, and its code still read.
    #[test]
    fn frames_over_the_budget_are_reduced_and_read() {
        let text = "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IDOEZPC%CO6OM4HI%/K*K9ET1L4LVL5";
        let code = crate::luma::decode(&render_png(text, 8).unwrap()).unwrap();
        let side = 4200u32;
        let scale = side as usize / code.width as usize;
        let mut frame = vec![255u8; side as usize * side as usize];
        for (y, row) in frame.chunks_exact_mut(side as usize).enumerate() {
            for (x, pixel) in row.iter_mut().enumerate() {
                let (cx, cy) = (x / scale, y / scale);
                if cx < code.width as usize && cy < code.height as usize {
                    *pixel = code.pixels[cy * code.width as usize + cx];
                }
            }
        }
        let (reduced, w, h) = reduce_to_scan_budget(frame.clone(), side, side);
        assert_eq!((w, h, reduced.len()), (2100, 2100, 2100 * 2100));
        assert_eq!(scan_luma(frame, side, side).unwrap(), text);
    }

    /// Every PNG colour type and depth, interlaced or not, and JPEG decode to the same code.
    #[test]
    fn every_png_layout_and_jpeg_decode_to_luma() {
        let text = "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N";
        let code = crate::luma::decode(&render_png(text, 6).unwrap()).unwrap();
        let (w, h) = (code.width, code.height);
        let encode = |color: png::ColorType, depth: png::BitDepth, interlaced: bool| {
            let samples = color.samples();
            let wide = depth == png::BitDepth::Sixteen;
            let mut data = Vec::new();
            for &grey in &code.pixels {
                for channel in 0..samples {
                    // Alpha (the last channel of GrayscaleAlpha and Rgba) fully opaque.
                    let alpha =
                        matches!(color, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba)
                            && channel == samples - 1;
                    let value = if alpha { 255 } else { grey };
                    data.push(value);
                    if wide {
                        data.push(value);
                    }
                }
            }
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, w, h);
            encoder.set_color(color);
            encoder.set_depth(depth);
            let mut writer = encoder.write_header().unwrap();
            if interlaced {
                let pixel_bytes = samples * if wide { 2 } else { 1 };
                let idat = adam7_idat(&data, w as usize, h as usize, pixel_bytes);
                writer.write_chunk(png::chunk::IDAT, &idat).unwrap();
            } else {
                writer.write_image_data(&data).unwrap();
            }
            drop(writer);
            if interlaced {
                // IHDR's interlace method (byte 12 of its data), and the chunk's CRC again.
                out[8 + 8 + 12] = 1;
                let crc = crc32(&out[12..29]);
                out[29..33].copy_from_slice(&crc.to_be_bytes());
            }
            out
        };
        for color in [
            png::ColorType::Grayscale,
            png::ColorType::GrayscaleAlpha,
            png::ColorType::Rgb,
            png::ColorType::Rgba,
        ] {
            for depth in [png::BitDepth::Eight, png::BitDepth::Sixteen] {
                for interlaced in [false, true] {
                    let file = encode(color, depth, interlaced);
                    let decoded = crate::luma::decode(&file).unwrap();
                    assert_eq!(
                        decoded.pixels, code.pixels,
                        "{color:?} {depth:?} {interlaced}"
                    );
                    assert_eq!(scan_image_file(&file).unwrap(), text);
                }
            }
        }
        let mut jpeg = Vec::new();
        image::GrayImage::from_raw(w, h, code.pixels.clone())
            .unwrap()
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        assert_eq!(scan_image_file(&jpeg).unwrap(), text);
    }

    /// The IDAT data of an Adam7-interlaced image (filter 0 on every line, stored deflate
    /// blocks): the `png` encoder does not write interlaced images.
    fn adam7_idat(pixels: &[u8], width: usize, height: usize, pixel_bytes: usize) -> Vec<u8> {
        const PASSES: [(usize, usize, usize, usize); 7] = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if x0 >= width || y0 >= height {
                continue;
            }
            for y in (y0..height).step_by(dy) {
                raw.push(0);
                for x in (x0..width).step_by(dx) {
                    let at = (y * width + x) * pixel_bytes;
                    raw.extend_from_slice(&pixels[at..at + pixel_bytes]);
                }
            }
        }
        let mut zlib = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
        for (i, block) in blocks.iter().enumerate() {
            zlib.push(u8::from(i + 1 == blocks.len()));
            let len = block.len() as u16;
            zlib.extend_from_slice(&len.to_le_bytes());
            zlib.extend_from_slice(&(!len).to_le_bytes());
            zlib.extend_from_slice(block);
        }
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in &raw {
            a = (a + u32::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
        zlib
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
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
            scan_luma(Vec::new(), MAX_SIDE + 1, 1),
            Err(CodecError::ImageTooLarge { .. })
        ));
        assert!(matches!(
            scan_luma(vec![255; 64 * 64], 64, 64),
            Err(CodecError::NoQrCode)
        ));
        // A PNG header claiming 100000×100000 pixels is refused before any allocation.
        let mut huge = Vec::new();
        let mut encoder = png::Encoder::new(&mut huge, 100_000, 100_000);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_color(png::ColorType::Rgba);
        drop(encoder.write_header().unwrap());
        assert_eq!(
            scan_image_file(&huge),
            Err(CodecError::ImageTooLarge {
                width: 100_000,
                height: 100_000,
                limit: "8192 pixels on each side"
            })
        );
    }
}
