//! The image operations behind the QR decoder's further passes (feature `qr-scan`): a crop,
//! an upscale, a contrast stretch and an unsharp mask, on an 8-bit luma plane.
//!
//! A camera sees a health certificate's code with modules of one and a half to three pixels,
//! blurred and with little contrast: the binarizer then merges modules and the grid sampler
//! reads whole pixels where it should read module centres. Enlarging the code's region with
//! an interpolating filter (Catmull-Rom, which keeps edges steep) gives the sampler
//! sub-pixel positions; stretching the contrast and sharpening give the binarizer back the
//! edges the blur took.
//!
//! Written by hand rather than with an image-processing crate: the phone build has none
//! (`image` is for desktop files only), and these four operations on one plane of bytes are
//! a few dozen lines, where `image` or `fast_image_resize` would add their own pixel types and
//! a conversion each way for every pass.

/// A luma plane being worked on: one byte per pixel, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane {
    /// The pixels, `width × height` bytes.
    pub pixels: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Plane {
    /// The pixel at (`x`, `y`), the nearest edge pixel outside the plane.
    fn at(&self, x: isize, y: isize) -> u8 {
        if self.width == 0 || self.height == 0 {
            return 0;
        }
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.pixels.get(y * self.width + x).copied().unwrap_or(0)
    }

    /// The rectangle from (`left`, `top`) of `width × height` pixels, clipped to the plane.
    #[must_use]
    pub fn crop(&self, left: usize, top: usize, width: usize, height: usize) -> Plane {
        let left = left.min(self.width);
        let top = top.min(self.height);
        let width = width.min(self.width - left);
        let height = height.min(self.height - top);
        let mut pixels = Vec::with_capacity(width * height);
        for row in top..top + height {
            let start = row * self.width + left;
            pixels.extend_from_slice(self.pixels.get(start..start + width).unwrap_or_default());
        }
        Plane {
            pixels,
            width,
            height,
        }
    }

    /// The plane enlarged `factor` times on each side with the Catmull-Rom cubic (separable:
    /// rows, then columns), each output pixel centred on its own source position.
    #[must_use]
    pub fn upscale(&self, factor: usize) -> Plane {
        let factor = factor.max(1);
        // The four tap weights for each of the `factor` output phases within a source pixel.
        let phases: Vec<(isize, [f32; 4])> = (0..factor)
            .map(|phase| {
                let source = (phase as f32 + 0.5) / factor as f32 - 0.5;
                let base = source.floor();
                (base as isize, catmull_rom(source - base))
            })
            .collect();
        let (out_w, out_h) = (self.width * factor, self.height * factor);
        let mut rows = vec![0f32; out_w * self.height];
        for y in 0..self.height {
            for x in 0..self.width {
                for (phase, (offset, weights)) in phases.iter().enumerate() {
                    let sx = x as isize + offset;
                    let value: f32 = weights
                        .iter()
                        .enumerate()
                        .map(|(tap, w)| w * f32::from(self.at(sx + tap as isize - 1, y as isize)))
                        .sum();
                    if let Some(out) = rows.get_mut(y * out_w + x * factor + phase) {
                        *out = value;
                    }
                }
            }
        }
        let row_at = |x: usize, y: isize| {
            let y = y.clamp(0, self.height as isize - 1) as usize;
            rows.get(y * out_w + x).copied().unwrap_or(0.0)
        };
        let mut pixels = vec![0u8; out_w * out_h];
        for y in 0..self.height {
            for (phase, (offset, weights)) in phases.iter().enumerate() {
                let sy = y as isize + offset;
                let out_row = (y * factor + phase) * out_w;
                for x in 0..out_w {
                    let value: f32 = weights
                        .iter()
                        .enumerate()
                        .map(|(tap, w)| w * row_at(x, sy + tap as isize - 1))
                        .sum();
                    if let Some(out) = pixels.get_mut(out_row + x) {
                        *out = to_byte(value);
                    }
                }
            }
        }
        Plane {
            pixels,
            width: out_w,
            height: out_h,
        }
    }

    /// Maps the darkest percent of the pixels to black and the lightest percent to white,
    /// linearly in between (a no-op on a flat plane).
    pub fn stretch_contrast(&mut self) {
        let mut histogram = [0usize; 256];
        for &pixel in &self.pixels {
            if let Some(count) = histogram.get_mut(usize::from(pixel)) {
                *count += 1;
            }
        }
        let tail = self.pixels.len() / 100;
        let level_at = |mut rank: usize, levels: &mut dyn Iterator<Item = usize>| {
            for level in levels {
                let count = histogram.get(level).copied().unwrap_or(0);
                if rank < count {
                    return level;
                }
                rank -= count;
            }
            0
        };
        let low = level_at(tail, &mut (0..256));
        let high = level_at(tail, &mut (0..256).rev());
        if high <= low + 8 {
            return;
        }
        let span = (high - low) as f32;
        let table: Vec<u8> = (0..256)
            .map(|level| to_byte((level as f32 - low as f32) * 255.0 / span))
            .collect();
        for pixel in &mut self.pixels {
            *pixel = table.get(usize::from(*pixel)).copied().unwrap_or(*pixel);
        }
    }

    /// Unsharp mask: each pixel moved away from its Gaussian-blurred value (standard deviation
    /// `sigma` pixels) by `amount` times its difference from it.
    pub fn sharpen(&mut self, sigma: f32, amount: f32) {
        let blurred = self.gaussian_blur(sigma);
        for (pixel, mean) in self.pixels.iter_mut().zip(blurred) {
            let value = f32::from(*pixel);
            *pixel = to_byte(value + amount * (value - mean));
        }
    }

    /// The plane blurred by a Gaussian of standard deviation `sigma` (kernel cut at 3σ, edges
    /// clamped), separably: rows, then columns.
    fn gaussian_blur(&self, sigma: f32) -> Vec<f32> {
        let sigma = sigma.max(0.1);
        let radius = (3.0 * sigma).ceil() as isize;
        let weights: Vec<f32> = (-radius..=radius)
            .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f32 = weights.iter().sum();
        let kernel: Vec<(isize, f32)> = (-radius..=radius)
            .zip(weights.iter().map(|w| w / total))
            .collect();
        let mut rows = vec![0f32; self.pixels.len()];
        for y in 0..self.height {
            for x in 0..self.width {
                let value: f32 = kernel
                    .iter()
                    .map(|&(dx, w)| w * f32::from(self.at(x as isize + dx, y as isize)))
                    .sum();
                if let Some(out) = rows.get_mut(y * self.width + x) {
                    *out = value;
                }
            }
        }
        let row_at = |x: usize, y: isize| {
            let y = y.clamp(0, self.height as isize - 1) as usize;
            rows.get(y * self.width + x).copied().unwrap_or(0.0)
        };
        let mut out = vec![0f32; self.pixels.len()];
        for y in 0..self.height {
            for x in 0..self.width {
                if let Some(cell) = out.get_mut(y * self.width + x) {
                    *cell = kernel
                        .iter()
                        .map(|&(dy, w)| w * row_at(x, y as isize + dy))
                        .sum();
                }
            }
        }
        out
    }

    /// The bounding box (left, top, width, height) of the largest connected group of
    /// `block`-pixel squares whose darkest and lightest pixels differ by at least 40 % of the
    /// largest such difference in the plane (and by 24 levels): where the plane has the most
    /// fine detail, a code's modules in a camera frame. `None` for a plane without detail, or
    /// whose detail spreads over most of it (a crop would not help).
    #[must_use]
    pub fn busiest_area(&self, block: usize) -> Option<(usize, usize, usize, usize)> {
        let block = block.max(2);
        let (cols, rows) = (self.width / block, self.height / block);
        let mut ranges = vec![0u8; cols * rows];
        for (index, range) in ranges.iter_mut().enumerate() {
            let (bx, by) = (index % cols, index / cols);
            let (mut low, mut high) = (u8::MAX, u8::MIN);
            for y in by * block..(by + 1) * block {
                let start = y * self.width + bx * block;
                for &p in self.pixels.get(start..start + block).unwrap_or_default() {
                    low = low.min(p);
                    high = high.max(p);
                }
            }
            *range = high.saturating_sub(low);
        }
        let widest = ranges.iter().copied().max()?;
        let threshold = (u16::from(widest) * 2 / 5).max(24);
        let mut busy: Vec<bool> = ranges.iter().map(|&r| u16::from(r) >= threshold).collect();
        // The largest 4-connected group of busy blocks, by flood fill.
        let mut best: Option<(usize, [usize; 4])> = None;
        for seed in 0..busy.len() {
            if !busy.get(seed).copied().unwrap_or(false) {
                continue;
            }
            let (mut count, mut bounds) = (0usize, [cols, rows, 0, 0]);
            let mut pending = vec![seed];
            if let Some(cell) = busy.get_mut(seed) {
                *cell = false;
            }
            while let Some(index) = pending.pop() {
                let (bx, by) = (index % cols, index / cols);
                count += 1;
                bounds = [
                    bounds[0].min(bx),
                    bounds[1].min(by),
                    bounds[2].max(bx),
                    bounds[3].max(by),
                ];
                let neighbours = [
                    (bx > 0).then(|| index - 1),
                    (bx + 1 < cols).then(|| index + 1),
                    (by > 0).then(|| index - cols),
                    (by + 1 < rows).then(|| index + cols),
                ];
                for next in neighbours.into_iter().flatten() {
                    if let Some(cell) = busy.get_mut(next).filter(|cell| **cell) {
                        *cell = false;
                        pending.push(next);
                    }
                }
            }
            if best.is_none_or(|(most, _)| count > most) {
                best = Some((count, bounds));
            }
        }
        let (_, [left, top, right, bottom]) = best?;
        let (left, top) = (left.saturating_sub(1), top.saturating_sub(1));
        let (right, bottom) = ((right + 2).min(cols), (bottom + 2).min(rows));
        let (width, height) = ((right - left) * block, (bottom - top) * block);
        (width * height * 2 <= self.width * self.height).then_some((
            left * block,
            top * block,
            width,
            height,
        ))
    }
}

/// The Catmull-Rom weights of the four taps around a position `t` ∈ [0, 1) past the second.
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

fn to_byte(value: f32) -> u8 {
    // Clamped to the byte range first: the cast cannot truncate.
    value.round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    fn plane(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Plane {
        Plane {
            pixels: (0..width * height)
                .map(|i| f(i % width, i / width))
                .collect(),
            width,
            height,
        }
    }

    #[test]
    fn upscaling_keeps_flat_areas_and_places_edges_between_pixels() {
        let flat = plane(5, 4, |_, _| 90);
        let up = flat.upscale(3);
        assert_eq!((up.width, up.height), (15, 12));
        assert!(up.pixels.iter().all(|&p| p == 90));
        // A vertical edge between source columns 1 and 2: dark left, light right.
        let edge = plane(4, 2, |x, _| if x < 2 { 0 } else { 200 });
        let up = edge.upscale(2);
        let row: Vec<u8> = up.pixels[..8].to_vec();
        assert!(row[..3].iter().all(|&p| p < 20), "{row:?}");
        assert!(row[5..].iter().all(|&p| p > 180), "{row:?}");
        assert!(row[3] < 100 && row[4] > 100, "{row:?}");
    }

    #[test]
    fn contrast_is_stretched_to_the_full_range() {
        let mut dull = plane(100, 10, |x, _| 100 + (x % 50) as u8);
        dull.stretch_contrast();
        assert!(*dull.pixels.iter().min().unwrap() == 0);
        assert!(*dull.pixels.iter().max().unwrap() == 255);
        let mut flat = plane(10, 10, |_, _| 128);
        flat.stretch_contrast();
        assert!(flat.pixels.iter().all(|&p| p == 128));
    }

    #[test]
    fn sharpening_steepens_an_edge_and_keeps_flat_areas() {
        let ramp = |x: usize| match x {
            0..=3 => 60,
            4 => 90,
            5 => 150,
            _ => 180,
        };
        let mut soft = plane(10, 3, |x, _| ramp(x));
        soft.sharpen(0.8, 1.0);
        let row = &soft.pixels[10..20];
        assert_eq!(row[0], 60);
        assert_eq!(row[9], 180);
        assert!(row[4] < 90 && row[5] > 150, "{row:?}");
    }

    #[test]
    fn the_busiest_area_is_the_detailed_patch() {
        // A checkered 40×30 patch at (100, 60) of a flat 320×240 plane, a lone speck elsewhere.
        let image = plane(320, 240, |x, y| {
            if (100..140).contains(&x) && (60..90).contains(&y) {
                if (x / 2 + y / 2) % 2 == 0 { 30 } else { 220 }
            } else if (x, y) == (300, 200) {
                0
            } else {
                128
            }
        });
        let (left, top, width, height) = image.busiest_area(16).unwrap();
        assert!(left <= 100 && top <= 60, "{left} {top}");
        assert!(
            left + width >= 140 && top + height >= 90,
            "{width} {height}"
        );
        assert!(width <= 96 && height <= 96, "{width} {height}");
        assert_eq!(plane(64, 64, |_, _| 128).busiest_area(16), None);
        let noisy = plane(64, 64, |x, y| ((x * 7 + y * 13) % 200) as u8);
        assert_eq!(noisy.busiest_area(16), None);
    }

    #[test]
    fn crops_are_clipped_to_the_plane() {
        let image = plane(6, 4, |x, y| (y * 6 + x) as u8);
        let crop = image.crop(4, 2, 10, 10);
        assert_eq!((crop.width, crop.height), (2, 2));
        assert_eq!(crop.pixels, vec![16, 17, 22, 23]);
        let empty = image.crop(9, 9, 3, 3);
        assert_eq!((empty.width, empty.height, empty.pixels.len()), (0, 0, 0));
    }
}
