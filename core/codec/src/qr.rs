//! QR codes. Decoding (feature `qr-scan`): from a camera frame's luma plane, or (feature
//! `qr-image-files`) from a PNG or JPEG file; `rxing` does it, reading blurred, rotated and
//! downscaled codes that lighter decoders miss. Rendering (feature `qr-render`): SVG, and PNG
//! with `qr-image-files`; error correction level Q, as health certificate issuers use.

#[cfg(feature = "qr-scan")]
use std::time::{Duration, Instant};

#[cfg(feature = "qr-scan")]
use rxing::common::HybridBinarizer;
#[cfg(feature = "qr-scan")]
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader, Reader,
};

#[cfg(feature = "qr-scan")]
pub use crate::enhance::Plane;

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

/// Time a scan may spend on further passes once the first has failed (the first pass always
/// runs to its end): a phone hands over the next camera frame about as often.
#[cfg(feature = "qr-scan")]
pub const SCAN_BUDGET: Duration = Duration::from_millis(300);

/// Most pixels of an image made for a further pass (an enlarged region or frame).
#[cfg(feature = "qr-scan")]
const MAX_PASS_PIXELS: usize = 4_000_000;

/// Side of the squares in which [`Plane::busiest_area`] measures detail, in pixels.
#[cfg(feature = "qr-scan")]
const DETAIL_BLOCK: usize = 16;

/// The passes of a scan, in the order made; the first that reads a code ends the scan.
///
/// The further passes work on the regions where the code should be: around each set of
/// three finder patterns the first pass found without reading a code (at most two), and the
/// area of the frame with the most fine detail ([`Plane::busiest_area`]), for a code whose
/// finder patterns are too small or too soft to be found as they are. Each region is cropped,
/// its contrast stretched, sharpened, enlarged and sharpened again at the enlarged scale:
/// for modules of one and a half to three pixels under blur, what lets the binarizer and the
/// grid sampler see them (measured on the camera frames of `benches/benches/qr.rs`).
#[cfg(feature = "qr-scan")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanPass {
    /// The frame as the camera gave it.
    AsIs,
    /// Each region enlarged twice.
    Region,
    /// Each region enlarged three times, sharpened harder.
    RegionFiner,
    /// The whole frame enlarged twice, when no region was found; only for frames of up to a
    /// quarter of [`MAX_PASS_PIXELS`] (a 1280×720 camera frame is).
    Enlarged,
}

#[cfg(feature = "qr-scan")]
impl ScanPass {
    /// Every pass, in the order a scan makes them.
    pub const ALL: [ScanPass; 4] = [
        ScanPass::AsIs,
        ScanPass::Region,
        ScanPass::RegionFiner,
        ScanPass::Enlarged,
    ];
}

/// A code read from a frame, and the pass that read it.
#[cfg(feature = "qr-scan")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// The code's text.
    pub text: String,
    /// The pass that read it.
    pub pass: ScanPass,
}

/// Decodes the QR code in a luma plane (one byte per pixel, row by row), making further
/// passes within [`SCAN_BUDGET`] when the frame as it is cannot be read.
///
/// # Errors
/// [`CodecError::ImageTooLarge`] for frames over [`MAX_SIDE`], [`CodecError::Image`] for a
/// buffer that does not match its size, [`CodecError::NoQrCode`] when no code is found.
#[cfg(feature = "qr-scan")]
pub fn scan_luma(luma: Vec<u8>, width: u32, height: u32) -> Result<String, CodecError> {
    scan_luma_within(luma, width, height, SCAN_BUDGET).map(|scanned| scanned.text)
}

/// Decodes the QR code in a luma plane as [`scan_luma`] does, with `budget` for the further
/// passes, and says which pass read it.
///
/// # Errors
/// As [`scan_luma`].
#[cfg(feature = "qr-scan")]
pub fn scan_luma_within(
    luma: Vec<u8>,
    width: u32,
    height: u32,
    budget: Duration,
) -> Result<Scanned, CodecError> {
    let frame = scan_plane(luma, width, height)?;
    let start = Instant::now();
    let regions = match decode_plane(&frame, true) {
        Ok(text) => {
            return Ok(Scanned {
                text,
                pass: ScanPass::AsIs,
            });
        }
        Err(finders) => with_busiest_area(finders, &frame),
    };
    for (pass, plane) in further_planes(&frame, &regions) {
        if start.elapsed() >= budget {
            return Err(CodecError::NoQrCode);
        }
        if let Ok(text) = decode_plane(&plane, false) {
            return Ok(Scanned { text, pass });
        }
    }
    Err(CodecError::NoQrCode)
}

/// The images of every further pass a scan of this frame would make, in order and without
/// the time budget: for giving another decoder the same passes.
///
/// # Errors
/// As [`scan_luma`], but for [`CodecError::NoQrCode`].
#[cfg(feature = "qr-scan")]
pub fn further_pass_images(
    luma: Vec<u8>,
    width: u32,
    height: u32,
) -> Result<Vec<(ScanPass, Plane)>, CodecError> {
    let frame = scan_plane(luma, width, height)?;
    let finders = binarized(&frame)
        .map(|bitmap| finder_regions(&bitmap))
        .unwrap_or_default();
    let regions = with_busiest_area(finders, &frame);
    Ok(further_planes(&frame, &regions).collect())
}

/// The further passes' images, each made only when the scan gets to it.
#[cfg(feature = "qr-scan")]
fn further_planes<'a>(
    frame: &'a Plane,
    regions: &'a [Region],
) -> impl Iterator<Item = (ScanPass, Plane)> + 'a {
    ScanPass::ALL.into_iter().skip(1).flat_map(move |pass| {
        pass_planes(pass, frame, regions)
            .into_iter()
            .map(move |plane| (pass, plane))
    })
}

/// Checks a frame's size against its buffer and the limits, and reduces it to the scan's
/// pixel budget.
#[cfg(feature = "qr-scan")]
fn scan_plane(luma: Vec<u8>, width: u32, height: u32) -> Result<Plane, CodecError> {
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
    let (pixels, width, height) = reduce_to_scan_budget(luma, width, height);
    Ok(Plane {
        pixels,
        width: width as usize,
        height: height as usize,
    })
}

/// A rectangle of a frame where a code should be.
#[cfg(feature = "qr-scan")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    left: usize,
    top: usize,
    width: usize,
    height: usize,
}

#[cfg(feature = "qr-scan")]
impl Region {
    /// The share of the smaller of two regions that lies inside the other.
    fn overlap(&self, other: &Region) -> f32 {
        let width = (self.left + self.width)
            .min(other.left + other.width)
            .saturating_sub(self.left.max(other.left));
        let height = (self.top + self.height)
            .min(other.top + other.height)
            .saturating_sub(self.top.max(other.top));
        let smaller = (self.width * self.height)
            .min(other.width * other.height)
            .max(1);
        (width * height) as f32 / smaller as f32
    }
}

/// The finder regions, and the frame's busiest area unless it is mostly one of them already.
#[cfg(feature = "qr-scan")]
fn with_busiest_area(mut regions: Vec<Region>, frame: &Plane) -> Vec<Region> {
    if let Some((left, top, width, height)) = frame.busiest_area(DETAIL_BLOCK) {
        let busiest = Region {
            left,
            top,
            width,
            height,
        };
        if regions.iter().all(|region| region.overlap(&busiest) < 0.8) {
            regions.push(busiest);
        }
    }
    regions
}

#[cfg(feature = "qr-scan")]
fn binarized(plane: &Plane) -> Option<BinaryBitmap<HybridBinarizer<Luma8Source<'_>>>> {
    let source = Luma8Source::new_with_slice(
        &plane.pixels,
        u32::try_from(plane.width).ok()?,
        u32::try_from(plane.height).ok()?,
    )
    .ok()?;
    Some(BinaryBitmap::new(HybridBinarizer::new(source)))
}

/// Reads the code in a plane; on failure, the finder regions its binarized image shows (when
/// `want_regions`).
#[cfg(feature = "qr-scan")]
fn decode_plane(plane: &Plane, want_regions: bool) -> Result<String, Vec<Region>> {
    let Some(mut bitmap) = binarized(plane) else {
        return Err(Vec::new());
    };
    if let Some(text) = read_bitmap(&mut bitmap) {
        return Ok(text);
    }
    Err(if want_regions {
        finder_regions(&bitmap)
    } else {
        Vec::new()
    })
}

/// rxing's QR readers on a binarized image, behind `catch_unwind`: a panic in the decoder on
/// some frame is that frame not read, never a crash of the app.
#[cfg(feature = "qr-scan")]
fn read_bitmap<B: Binarizer>(bitmap: &mut BinaryBitmap<B>) -> Option<String> {
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some([BarcodeFormat::QR_CODE].into_iter().collect()),
        ..DecodeHints::default()
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MultiFormatReader::default().decode_with_hints(bitmap, &hints)
    }))
    .ok()?
    .ok()
    .map(|result| result.getText().to_owned())
}

/// The regions of the (at most two) most plausible sets of three finder patterns in a
/// binarized frame: the box around the three centres and the fourth corner they imply, with
/// room for the quiet zone and the perspective.
#[cfg(feature = "qr-scan")]
fn finder_regions<B: Binarizer>(bitmap: &BinaryBitmap<B>) -> Vec<Region> {
    use rxing::qrcode::cpp_port::detector::{FindFinderPatterns, GenerateFinderPatternSets};
    let (frame_w, frame_h) = (bitmap.get_width() as f32, bitmap.get_height() as f32);
    let sets = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut patterns = FindFinderPatterns(bitmap.get_black_matrix(), true, 0);
        GenerateFinderPatternSets(&mut patterns)
    }))
    .unwrap_or_default();
    sets.iter()
        .take(2)
        .filter_map(|set| {
            let corners = [
                (set.tl.p.x, set.tl.p.y),
                (set.tr.p.x, set.tr.p.y),
                (set.bl.p.x, set.bl.p.y),
                (
                    set.tr.p.x + set.bl.p.x - set.tl.p.x,
                    set.tr.p.y + set.bl.p.y - set.tl.p.y,
                ),
            ];
            let module = (set.tl.size + set.tr.size + set.bl.size) as f32 / 21.0;
            let (mut left, mut top, mut right, mut bottom) = (frame_w, frame_h, 0f32, 0f32);
            for (x, y) in corners {
                left = left.min(x);
                right = right.max(x);
                top = top.min(y);
                bottom = bottom.max(y);
            }
            let pad = 8.0 * module + 0.08 * (right - left).max(bottom - top);
            let (left, top) = ((left - pad).max(0.0), (top - pad).max(0.0));
            let (right, bottom) = ((right + pad).min(frame_w), (bottom + pad).min(frame_h));
            (module > 0.0 && right > left && bottom > top).then_some(Region {
                // Within the frame, so non-negative and at most MAX_SIDE.
                left: left as usize,
                top: top as usize,
                width: (right - left) as usize,
                height: (bottom - top) as usize,
            })
        })
        .collect()
}

/// The images one further pass decodes (none for [`ScanPass::AsIs`], the frame itself, which
/// the scan reads before any region is known).
#[cfg(feature = "qr-scan")]
fn pass_planes(pass: ScanPass, frame: &Plane, regions: &[Region]) -> Vec<Plane> {
    let crops = || {
        regions
            .iter()
            .map(|region| frame.crop(region.left, region.top, region.width, region.height))
    };
    let fitting =
        |plane: &Plane, factor: usize| plane.pixels.len() * factor * factor <= MAX_PASS_PIXELS;
    match pass {
        ScanPass::AsIs => Vec::new(),
        ScanPass::Region => crops()
            .filter(|crop| fitting(crop, 2))
            .map(|crop| enhanced(&crop, 2, 5.0))
            .collect(),
        ScanPass::RegionFiner => crops()
            .filter(|crop| fitting(crop, 3))
            .map(|crop| enhanced(&crop, 3, 8.0))
            .collect(),
        ScanPass::Enlarged if regions.is_empty() && fitting(frame, 2) => {
            vec![enhanced(frame, 2, 5.0)]
        }
        ScanPass::Enlarged => Vec::new(),
    }
}

/// A plane with its contrast stretched, sharpened, enlarged `factor` times and sharpened
/// again by `amount` at the enlarged scale.
#[cfg(feature = "qr-scan")]
fn enhanced(plane: &Plane, factor: usize, amount: f32) -> Plane {
    let mut sharp = plane.clone();
    sharp.stretch_contrast();
    sharp.sharpen(1.0, 3.0);
    let mut out = sharp.upscale(factor);
    out.sharpen(1.5, amount);
    out
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
