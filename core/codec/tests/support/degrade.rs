//! Camera-like degradations of QR images, shared by the decode-rate test and the
//! comparison against zbarimg (`benches/qr_vs_zbar.rs`). Deterministic: the same seed gives the
//! same images. Hand-written image transforms, because they are test fixtures: a few lines
//! each, no image-processing dependency for the build.

use image::{GrayImage, ImageEncoder, Luma, imageops};

/// Every test file of the EU test data (`fixtures/dcc/testdata/**/*.json`), sorted.
pub fn fixture_files() -> Vec<std::path::PathBuf> {
    // The repository's fixtures, found upwards from the crate using this file.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("fixtures/dcc/testdata"))
        .find(|dir| dir.is_dir())
        .expect("fixtures/dcc/testdata above the crate");
    let mut files = Vec::new();
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The EU test data's QR images (base64 PNG in each file's `2DCODE`), every `step`-th file.
pub fn fixture_images(step: usize) -> Vec<(String, GrayImage)> {
    use base64::Engine;
    fixture_files()
        .iter()
        .filter_map(|path| {
            let case: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
            let png = case
                .get("2DCODE")
                .or_else(|| case.get("_2DCODE"))?
                .as_str()?;
            let prefix = case.get("PREFIX")?.as_str()?.to_owned();
            let expected_readable =
                case["EXPECTEDRESULTS"].get("EXPECTEDPICTUREDECODE") != Some(&false.into());
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(png.trim())
                .ok()?;
            let image = image::load_from_memory(&bytes).ok()?.into_luma8();
            expected_readable.then_some((prefix, image))
        })
        .step_by(step)
        .collect()
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32) / (1u64 << 24) as f32
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }
    /// Roughly normal, mean 0, standard deviation 1 (sum of uniforms).
    pub fn normal(&mut self) -> f32 {
        (0..6).map(|_| self.next_f32()).sum::<f32>() - 3.0
    }
}

fn sample(image: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = image.dimensions();
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return 255.0;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |x, y| f32::from(image.get_pixel(x, y)[0]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Rotates by `degrees` about the centre onto a larger white canvas.
pub fn rotate(image: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let side = ((w.max(h) as f32) * 1.5) as u32;
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let offset = side as f32 / 2.0;
    GrayImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f32 - offset, y as f32 - offset);
        Luma([sample(image, cos * dx + sin * dy + cx, -sin * dx + cos * dy + cy) as u8])
    })
}

/// A keystone (the code seen from slightly below or above): rows shrink linearly from one
/// edge to the other by `strength` (0.15 = the far edge 15 % narrower).
pub fn keystone(image: &GrayImage, strength: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let cx = w as f32 / 2.0;
    GrayImage::from_fn(w, h, |x, y| {
        let scale = 1.0 - strength * (y as f32 / h as f32);
        Luma([sample(image, cx + (x as f32 - cx) / scale, y as f32) as u8])
    })
}

/// Gaussian blur.
pub fn blur(image: &GrayImage, sigma: f32) -> GrayImage {
    imageops::blur(image, sigma)
}

/// Sensor noise of standard deviation `sigma` grey levels.
pub fn noise(image: &GrayImage, sigma: f32, rng: &mut Rng) -> GrayImage {
    let mut out = image.clone();
    for pixel in out.pixels_mut() {
        pixel[0] = (f32::from(pixel[0]) + sigma * rng.normal()).clamp(0.0, 255.0) as u8;
    }
    out
}

/// Shrinks to `factor` of the size (few pixels per module).
pub fn downscale(image: &GrayImage, factor: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    imageops::resize(
        image,
        (w as f32 * factor) as u32,
        (h as f32 * factor) as u32,
        imageops::FilterType::Triangle,
    )
}

/// Dark grey on light grey.
pub fn low_contrast(image: &GrayImage, low: u8, high: u8) -> GrayImage {
    let mut out = image.clone();
    let span = f32::from(high - low) / 255.0;
    for pixel in out.pixels_mut() {
        pixel[0] = (f32::from(low) + f32::from(pixel[0]) * span) as u8;
    }
    out
}

/// Encodes as JPEG at `quality`.
pub fn jpeg(image: &GrayImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    bytes
}

/// Encodes as PNG.
pub fn png(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    bytes
}

/// One degraded variant: its name, its file bytes and extension.
pub struct Variant {
    pub name: String,
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Pixels per QR module at which the camera sees the code: a phone at arm's length filming
/// another phone's screen puts a health certificate's ~97-module code on 500–600 pixels.
pub const CAMERA_SCALE: u32 = 2;

/// Nine variants of one image, first enlarged to camera resolution ([`CAMERA_SCALE`] × the
/// fixture's ~2.8 pixels per module): each degradation alone, then two "phone at arm's length"
/// combinations (rotation up to 25°, mild perspective, blur, sensor noise, JPEG).
pub fn variants(image: &GrayImage, rng: &mut Rng) -> Vec<Variant> {
    let (w, h) = image.dimensions();
    let image = &imageops::resize(
        image,
        w * CAMERA_SCALE,
        h * CAMERA_SCALE,
        imageops::FilterType::Nearest,
    );
    let mut out = Vec::new();
    let mut push = |name: &str, bytes: Vec<u8>, extension| {
        out.push(Variant {
            name: name.into(),
            bytes,
            extension,
        })
    };
    let angle = rng.range(8.0, 25.0) * if rng.next_f32() < 0.5 { -1.0 } else { 1.0 };
    push("rotation", png(&rotate(image, angle)), "png");
    push(
        "perspective",
        png(&keystone(image, rng.range(0.08, 0.18))),
        "png",
    );
    push("blur", png(&blur(image, rng.range(1.0, 2.0))), "png");
    push(
        "noise",
        png(&noise(image, rng.range(15.0, 30.0), rng)),
        "png",
    );
    push(
        "downscale",
        png(&downscale(image, rng.range(0.4, 0.6))),
        "png",
    );
    push("jpeg", jpeg(image, rng.range(20.0, 40.0) as u8), "jpg");
    push("low-contrast", png(&low_contrast(image, 80, 170)), "png");
    for round in 0..2 {
        let angle = rng.range(-25.0, 25.0);
        let camera = noise(
            &blur(
                &keystone(&rotate(image, angle), rng.range(0.05, 0.12)),
                rng.range(0.8, 1.5),
            ),
            rng.range(8.0, 16.0),
            rng,
        );
        push(
            &format!("arms-length-{round}"),
            jpeg(&camera, rng.range(50.0, 75.0) as u8),
            "jpg",
        );
    }
    out
}

/// Width and height of the camera frames made by [`camera_frame`].
pub const FRAME_SIZE: (u32, u32) = (1280, 720);

/// Pixels per module of a QR image (a fixture's PNG): the dark extent of the code divided by
/// its module count, the count being the `17 + 4·version` nearest to what the top-left finder
/// pattern's first dark run (7 modules) suggests. `None` for an image with no dark pixel.
pub fn module_pixels(image: &GrayImage) -> Option<f32> {
    let (w, h) = image.dimensions();
    let dark = |x: u32, y: u32| image.get_pixel(x, y)[0] < 128;
    let (mut left, mut right, mut top) = (w, 0, None);
    for y in 0..h {
        for x in 0..w {
            if dark(x, y) {
                left = left.min(x);
                right = right.max(x);
                top.get_or_insert(y);
            }
        }
    }
    let top = top?;
    let first = (0..w).find(|&x| dark(x, top))?;
    let run = (first..w).take_while(|&x| dark(x, top)).count() as f32;
    let extent = (right - left + 1) as f32;
    let version = ((extent / (run / 7.0) - 17.0) / 4.0).round().max(1.0);
    Some(extent / (17.0 + 4.0 * version))
}

/// One camera-like frame: the luma plane as the decoder is given it (after the file round
/// trip for JPEG frames), the file as written, and what was done to it.
pub struct Frame {
    pub luma: GrayImage,
    pub file: Vec<u8>,
    pub extension: &'static str,
    pub description: String,
}

/// A QR image as a phone camera films it: scaled so that a module is 1.5–3 pixels, rotated
/// by up to ±25°, in perspective (one edge up to 4 % shorter than the opposite one, in a
/// random direction), pasted at a random place on a 1280×720 grey frame with uneven light,
/// blurred (Gaussian, σ 0.3–1.3 px), its contrast reduced to 55–100 %, with sensor noise,
/// and — one frame in three — saved as JPEG at quality 55–80 (PNG otherwise). Each frame
/// pixel is the mean of 4×4 samples of the code, so that shrinking does not alias.
pub fn camera_frame(code: &GrayImage, rng: &mut Rng) -> Frame {
    let (frame_w, frame_h) = FRAME_SIZE;
    let module = module_pixels(code).unwrap_or(3.0);
    let target_module = rng.range(1.5, 3.0);
    let scale = target_module / module;
    let angle = rng.range(-25.0, 25.0);
    let (sin, cos) = angle.to_radians().sin_cos();
    let (code_w, code_h) = code.dimensions();
    let half_extent = scale * (code_w.max(code_h) as f32) / 2.0;
    let keystone = rng.range(0.0, 0.04);
    let direction = rng.range(0.0, std::f32::consts::TAU);
    let (pa, pb) = (
        direction.cos() * keystone / (2.0 * half_extent),
        direction.sin() * keystone / (2.0 * half_extent),
    );
    // The code's rotated footprint (with room for the perspective) inside the frame.
    let footprint = half_extent * std::f32::consts::SQRT_2 * 1.05;
    let centre_x = rng.range(footprint, frame_w as f32 - footprint);
    let centre_y = rng.range(footprint, (frame_h as f32 - footprint).max(footprint + 1.0));
    let background = rng.range(100.0, 170.0);
    let light_x = rng.range(-0.08, 0.08);
    let light_y = rng.range(-0.08, 0.08);
    let (code_cx, code_cy) = (code_w as f32 / 2.0, code_h as f32 / 2.0);
    // Frame point → code point: undo the perspective, then the rotation and the scale.
    let to_code = |x: f32, y: f32| {
        let (dx, dy) = (x - centre_x, y - centre_y);
        let w = 1.0 / (1.0 - (pa * dx + pb * dy));
        let (rx, ry) = (dx * w, dy * w);
        (
            (cos * rx + sin * ry) / scale + code_cx,
            (-sin * rx + cos * ry) / scale + code_cy,
        )
    };
    const SUBSAMPLES: usize = 4;
    let mut frame = GrayImage::from_fn(frame_w, frame_h, |x, y| {
        let light = 1.0
            + light_x * (x as f32 / frame_w as f32 - 0.5) * 2.0
            + light_y * (y as f32 / frame_h as f32 - 0.5) * 2.0;
        let (dx, dy) = (x as f32 - centre_x, y as f32 - centre_y);
        let value = if dx.abs() > footprint + 2.0 || dy.abs() > footprint + 2.0 {
            background
        } else {
            let mut sum = 0.0;
            for sy in 0..SUBSAMPLES {
                for sx in 0..SUBSAMPLES {
                    let (u, v) = to_code(
                        x as f32 + (sx as f32 + 0.5) / SUBSAMPLES as f32 - 0.5,
                        y as f32 + (sy as f32 + 0.5) / SUBSAMPLES as f32 - 0.5,
                    );
                    let inside = u >= 0.0
                        && v >= 0.0
                        && u <= (code_w - 1) as f32
                        && v <= (code_h - 1) as f32;
                    sum += if inside {
                        sample(code, u, v)
                    } else {
                        background
                    };
                }
            }
            sum / (SUBSAMPLES * SUBSAMPLES) as f32
        };
        Luma([(value * light).clamp(0.0, 255.0) as u8])
    });
    let sigma = rng.range(0.3, 1.3);
    frame = blur(&frame, sigma);
    let contrast = rng.range(0.55, 1.0);
    let mid = rng.range(110.0, 150.0);
    let noise_sigma = rng.range(2.0, 8.0);
    for pixel in frame.pixels_mut() {
        let value = mid + (f32::from(pixel[0]) - mid) * contrast + noise_sigma * rng.normal();
        pixel[0] = value.round().clamp(0.0, 255.0) as u8;
    }
    let as_jpeg = rng.next_f32() < 1.0 / 3.0;
    let quality = rng.range(55.0, 80.0) as u8;
    let description = format!(
        "module {target_module:.2} px, {angle:+.1}°, perspective {:.1} %, blur σ {sigma:.2}, \
         contrast {:.0} %, noise σ {noise_sigma:.1}{}",
        keystone * 100.0,
        contrast * 100.0,
        if as_jpeg {
            format!(", JPEG q{quality}")
        } else {
            String::new()
        }
    );
    if as_jpeg {
        let file = jpeg(&frame, quality);
        let luma = image::load_from_memory(&file).unwrap().into_luma8();
        Frame {
            luma,
            file,
            extension: "jpg",
            description,
        }
    } else {
        Frame {
            file: png(&frame),
            luma: frame,
            extension: "png",
            description,
        }
    }
}
