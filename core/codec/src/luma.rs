//! PNG and JPEG files decoded straight to an 8-bit luma plane, in bounded memory.
//!
//! A QR decoder needs only luma, so no full-colour image is ever made: PNG is decoded row by
//! row (`png`, 16-bit samples stripped, palettes expanded, transparency laid over white) into
//! one byte per pixel; JPEG is decoded by `zune-jpeg` with luma as its output colour space.
//! Dimensions come from the header and are checked before any pixel buffer exists, so a small
//! file declaring a huge image (a "decompression bomb") is refused with
//! [`CodecError::ImageTooLarge`], and the largest accepted image costs its side² bytes.
//!
//! Written against the decoders' row interfaces rather than through `image`, whose decoders
//! produce the image in its own colour type first (an 8192² RGBA16 PNG is 512 MiB there).

use std::io::Cursor;

use crate::CodecError;
use crate::MAX_IMAGE_SIDE as MAX_SIDE;

/// A decoded luma plane: one byte per pixel, row by row.
#[derive(Debug)]
pub struct LumaImage {
    /// The pixels, `width × height` bytes.
    pub pixels: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The bound on every image's sides, in words.
const SIDE_LIMIT: &str = "8192 pixels on each side";
/// Most bytes a progressive JPEG may need while decoding: its DCT coefficients (2 bytes a
/// sample of each component, held for the whole image until the last scan) and the luma.
const PROGRESSIVE_JPEG_BYTES: usize = 96 * 1024 * 1024;

/// Most bytes the PNG decoder may allocate beside the luma plane (its row buffers, the
/// decompressor's window, text chunks).
const PNG_DECODER_BYTES: usize = 8 * 1024 * 1024;

/// Decodes a PNG or JPEG file's bytes to luma.
///
/// # Errors
/// [`CodecError::ImageTooLarge`] for an image wider or taller than [`MAX_SIDE`],
/// [`CodecError::Image`] for anything that is not a readable PNG or JPEG.
pub fn decode(bytes: &[u8]) -> Result<LumaImage, CodecError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else {
        Err(CodecError::Image("not a PNG or JPEG image".into()))
    }
}

/// Refuses dimensions that a QR scan will not take, before anything is allocated for them.
fn check_dimensions(width: u32, height: u32) -> Result<usize, CodecError> {
    if width == 0 || height == 0 {
        return Err(CodecError::Image("the image has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(CodecError::ImageTooLarge {
            width,
            height,
            limit: SIDE_LIMIT,
        });
    }
    // Both sides are at most 8192: the product fits any usize of 32 bits or more.
    Ok(width as usize * height as usize)
}

fn decode_png(bytes: &[u8]) -> Result<LumaImage, CodecError> {
    let image_error = |e: png::DecodingError| CodecError::Image(format!("PNG: {e}"));
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: PNG_DECODER_BYTES,
        },
    );
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let header = decoder.read_header_info().map_err(image_error)?;
    let (width, height) = (header.width, header.height);
    let pixels = check_dimensions(width, height)?;
    let mut reader = decoder.read_info().map_err(image_error)?;
    let (color, _) = reader.output_color_type();
    let channels = color.samples();
    let interlaced = reader.info().interlaced;
    let mut luma = vec![0u8; pixels];
    let mut row_luma = Vec::with_capacity(width as usize);
    let mut line = 0usize;
    while let Some(row) = reader.next_interlaced_row().map_err(image_error)? {
        row_luma.clear();
        row_luma.extend(row.data().chunks_exact(channels).map(pixel_luma));
        match row.interlace() {
            png::InterlaceInfo::Adam7(pass) if interlaced => {
                png::expand_interlaced_row(&mut luma, width as usize, &row_luma, pass, 8);
            }
            _ => {
                let start = line * width as usize;
                let target = luma
                    .get_mut(start..start + row_luma.len())
                    .ok_or_else(|| CodecError::Image("PNG: more rows than its height".into()))?;
                target.copy_from_slice(&row_luma);
                line += 1;
            }
        }
    }
    Ok(LumaImage {
        pixels: luma,
        width,
        height,
    })
}

/// The luma of one 8-bit pixel of 1 to 4 samples (grey, grey + alpha, RGB, RGBA), Rec. 709
/// weights, transparency laid over white (a code on a transparent background stays readable).
fn pixel_luma(samples: &[u8]) -> u8 {
    let (grey, alpha) = match *samples {
        [g] => (u32::from(g), 255),
        [g, a] => (u32::from(g), u32::from(a)),
        [r, g, b] => (rgb_luma(r, g, b), 255),
        [r, g, b, a, ..] => (rgb_luma(r, g, b), u32::from(a)),
        _ => (255, 255),
    };
    let over_white = (grey * alpha + 255 * (255 - alpha) + 127) / 255;
    u8::try_from(over_white).unwrap_or(u8::MAX)
}

fn rgb_luma(r: u8, g: u8, b: u8) -> u32 {
    (2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b) + 5000) / 10_000
}

fn decode_jpeg(bytes: &[u8]) -> Result<LumaImage, CodecError> {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let image_error = |e: zune_jpeg::errors::DecodeErrors| CodecError::Image(format!("JPEG: {e}"));
    // The decoder's own dimension limits are lifted: ours are checked once the header is read,
    // so that an oversized image is a size error like any other.
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    decoder.decode_headers().map_err(image_error)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| CodecError::Image("JPEG: no dimensions".into()))?;
    let (width, height) = (
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    );
    let pixels = check_dimensions(width, height)?;
    let info = decoder
        .info()
        .ok_or_else(|| CodecError::Image("JPEG: no header".into()))?;
    let coefficient_bytes = pixels
        .saturating_mul(2 * usize::from(info.components))
        .saturating_add(pixels);
    if info.sof.is_progressive() && coefficient_bytes > PROGRESSIVE_JPEG_BYTES {
        return Err(CodecError::ImageTooLarge {
            width,
            height,
            limit: "about 13 megapixels for a progressive colour JPEG",
        });
    }
    let luma = decoder.decode().map_err(image_error)?;
    if luma.len() != pixels {
        return Err(CodecError::Image(format!(
            "JPEG: {} bytes of luma for {width}×{height} pixels",
            luma.len()
        )));
    }
    Ok(LumaImage {
        pixels: luma,
        width,
        height,
    })
}
