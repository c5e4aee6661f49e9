//! Where the barcode probably is and how far it is tilted, measured cheaply on a small
//! copy, so the decoder's first retry rotates only the barcode, by the right angle.
//!
//! - **Tilt.** A PDF417 symbol is a dense grid of vertical bar edges and horizontal row
//!   edges, and everything else printed on a card (text, the card border) shares its
//!   orientation. The gradient direction of every strong edge, folded modulo 90° (so bars
//!   and rows agree), piles up in one histogram peak at the tilt; backgrounds and sensor
//!   noise spread evenly over the histogram.
//! - **Region.** Across the bars, a PDF417 has an edge every module or two — far denser
//!   than text or a card border. Gradient energy across the bar direction, averaged over a
//!   window a twentieth of the picture wide, peaks on the symbol; the connected area above
//!   40 % of that peak, padded, is the region to crop. (A smaller window or a higher
//!   threshold finds only the start or stop pattern of a sharp symbol.)
//!
//! On a ~640 px copy both take a few milliseconds. Either may be wrong (a striped
//! background, a guilloche pattern); the ladder in `mod.rs` falls back to the full image.

use super::raster::shrink_to_grey;
use image::GrayImage;

/// Side of the copy the analysis runs on.
pub const ANALYSIS_SIDE: u32 = 640;
/// Histogram resolution: bins per degree.
const BINS_PER_DEGREE: usize = 2;
const BINS: usize = 90 * BINS_PER_DEGREE;
/// Scharr magnitudes below this (of ~4080) are noise or soft shading, not printed edges.
const MIN_MAGNITUDE: f32 = 320.0;
/// Directions reported: the peak and this many minus one alternatives.
const MAX_PEAKS: usize = 3;
/// Alternatives must differ from stronger peaks by this much (degrees)...
const MIN_PEAK_SEPARATION: usize = 3;
/// ...and reach this fraction of the strongest peak.
const MIN_SECONDARY: f32 = 0.3;
/// Cross-bar gradient below this is noise for the density map.
const ENERGY_FLOOR: f32 = 160.0;

/// The dominant edge orientation of an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skew {
    /// Clockwise tilt of the content in degrees, in [-45, 45).
    pub degrees: f32,
    /// Peak height over the histogram mean: ~1 with no dominant direction, far above 1
    /// for a barcode or a printed card.
    pub strength: f32,
}

/// An axis-aligned rectangle in the analysed image's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The strongest edge direction: the card's tilt, unless the background dominates.
    pub skew: Skew,
    /// Weaker, clearly different directions (a striped background can outweigh the card).
    pub alternatives: Vec<Skew>,
    /// Where the barcode probably is, if one area stands out.
    pub region: Option<Region>,
}

/// Measures tilt and barcode region of `img` on a copy at most [`ANALYSIS_SIDE`] wide;
/// the region is returned in `img`'s coordinates.
pub fn analyze(img: &GrayImage) -> Option<Analysis> {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if long == 0 {
        return None;
    }
    let small;
    let view = if long > ANALYSIS_SIDE {
        let scale = ANALYSIS_SIDE as f32 / long as f32;
        let size = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
        small = shrink_to_grey(img.as_raw(), 1, (w, h), size);
        &small
    } else {
        img
    };
    let (sw, sh) = view.dimensions();
    if sw < 8 || sh < 8 {
        return None;
    }
    let (gx, gy) = scharr(&smooth(view));
    let mut peaks = estimate_skew(&gx, &gy).into_iter();
    let skew = peaks.next()?;
    let alternatives = peaks.collect();
    let region = dense_region(&gx, &gy, sw, sh, skew.degrees).map(|r| {
        let (fx, fy) = (w as f32 / sw as f32, h as f32 / sh as f32);
        let x = (r.x as f32 * fx) as u32;
        let y = (r.y as f32 * fy) as u32;
        Region {
            x: x.min(w - 1),
            y: y.min(h - 1),
            width: ((r.width as f32 * fx).ceil() as u32).clamp(1, w - x.min(w - 1)),
            height: ((r.height as f32 * fy).ceil() as u32).clamp(1, h - y.min(h - 1)),
        }
    });
    Some(Analysis { skew, alternatives, region })
}

/// Estimates the tilt of the dominant edges in `img` (best on a small copy).
pub fn estimate(img: &GrayImage) -> Option<Skew> {
    if img.width() < 8 || img.height() < 8 {
        return None;
    }
    let (gx, gy) = scharr(&smooth(img));
    estimate_skew(&gx, &gy).into_iter().next()
}

/// Binomial blur (1 4 6 4 1, σ = 1 px) before the gradients: a sharp, freshly rotated
/// edge is a staircase that a 3×3 kernel misreads by up to a fifth of the angle; slightly
/// blurred, it reads true to a tenth of a degree. Borders are clamped.
fn smooth(img: &GrayImage) -> GrayImage {
    const TAPS: [u32; 5] = [1, 4, 6, 4, 1];
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return img.clone();
    }
    let src = img.as_raw();
    let clamp = |i: usize, d: usize, n: usize| (i + d).saturating_sub(2).min(n - 1);
    // Horizontal pass (sums up to 255 × 16), then vertical (up to 255 × 256).
    let mut across = vec![0u32; w * h];
    for (row, out) in src.chunks_exact(w).zip(across.chunks_exact_mut(w)) {
        for (x, o) in out.iter_mut().enumerate() {
            *o = TAPS.iter().enumerate().map(|(d, t)| t * u32::from(row[clamp(x, d, w)])).sum();
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let sum: u32 = TAPS.iter().enumerate().map(|(d, t)| t * across[clamp(y, d, h) * w + x]).sum();
            out[y * w + x] = ((sum + 128) >> 8) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_default()
}

/// Horizontal and vertical Scharr gradients (zero on the border). Scharr rather than
/// Sobel: its direction is far less biased towards the axes, which on a small copy,
/// where a barcode module is about a pixel, made the Sobel tilt 1–3° short.
fn scharr(img: &GrayImage) -> (Vec<i16>, Vec<i16>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let p = img.as_raw();
    let mut gx = vec![0i16; w * h];
    let mut gy = vec![0i16; w * h];
    for y in 1..h.saturating_sub(1) {
        let (up, mid, down) = (&p[(y - 1) * w..y * w], &p[y * w..(y + 1) * w], &p[(y + 1) * w..(y + 2) * w]);
        for x in 1..w.saturating_sub(1) {
            let v = |row: &[u8], dx: usize| i16::from(row[x + dx - 1]);
            gx[y * w + x] = 3 * (v(up, 2) - v(up, 0)) + 10 * (v(mid, 2) - v(mid, 0)) + 3 * (v(down, 2) - v(down, 0));
            gy[y * w + x] = 3 * (v(down, 0) - v(up, 0)) + 10 * (v(down, 1) - v(up, 1)) + 3 * (v(down, 2) - v(up, 2));
        }
    }
    (gx, gy)
}

/// Histogram peaks of edge direction, strongest first (at most [`MAX_PEAKS`]).
fn estimate_skew(gx: &[i16], gy: &[i16]) -> Vec<Skew> {
    let mut hist = [0f32; BINS];
    let mut total = 0f32;
    for (&x, &y) in gx.iter().zip(gy) {
        let (x, y) = (f32::from(x), f32::from(y));
        let magnitude = x.hypot(y);
        if magnitude < MIN_MAGNITUDE {
            continue;
        }
        // y grows downwards, so a positive angle is a clockwise tilt.
        let folded = y.atan2(x).to_degrees().rem_euclid(90.0);
        // Bins centred on multiples of the resolution, so an upright image reads 0.
        let bin = ((folded * BINS_PER_DEGREE as f32).round() as usize) % BINS;
        hist[bin] += magnitude;
        total += magnitude;
    }
    if total <= 0.0 {
        return Vec::new();
    }
    // Smooth circularly with a triangle kernel (±1.5°) so one noisy bin cannot win.
    const HALF: usize = 3;
    let mut smooth = [0f32; BINS];
    for (i, s) in smooth.iter_mut().enumerate() {
        for k in 0..=2 * HALF {
            let weight = (HALF + 1 - k.abs_diff(HALF)) as f32;
            *s += weight * hist[(i + BINS + k - HALF) % BINS];
        }
    }
    let mean = smooth.iter().sum::<f32>() / BINS as f32;
    if mean <= 0.0 {
        return Vec::new();
    }
    // Local maxima, strongest first; keep those well apart and not negligible.
    let at = |i: isize| smooth[i.rem_euclid(BINS as isize) as usize];
    let mut maxima: Vec<usize> = (0..BINS).filter(|&i| at(i as isize) > at(i as isize - 1) && at(i as isize) >= at(i as isize + 1)).collect();
    maxima.sort_by(|&a, &b| smooth[b].total_cmp(&smooth[a]));
    let top = maxima.first().map_or(0.0, |&i| smooth[i]);
    let mut peaks: Vec<usize> = Vec::new();
    for i in maxima {
        let apart = peaks.iter().all(|&p| {
            let d = i.abs_diff(p);
            d.min(BINS - d) >= MIN_PEAK_SEPARATION * BINS_PER_DEGREE
        });
        if peaks.len() < MAX_PEAKS && apart && smooth[i] >= MIN_SECONDARY * top {
            peaks.push(i);
        }
    }
    peaks
        .into_iter()
        .map(|peak| {
            let (left, centre, right) = (at(peak as isize - 1), smooth[peak], at(peak as isize + 1));
            // Parabolic interpolation between the neighbouring bins.
            let denom = left - 2.0 * centre + right;
            let offset = if denom.abs() > f32::EPSILON { (0.5 * (left - right) / denom).clamp(-0.5, 0.5) } else { 0.0 };
            let mut degrees = (peak as f32 + offset) / BINS_PER_DEGREE as f32;
            if degrees >= 45.0 {
                degrees -= 90.0;
            }
            Skew { degrees, strength: centre / mean }
        })
        .collect()
}

/// The padded bounding box of the densest patch of cross-bar edges.
fn dense_region(gx: &[i16], gy: &[i16], w: u32, h: u32, degrees: f32) -> Option<Region> {
    let (w, h) = (w as usize, h as usize);
    let (sin, cos) = degrees.to_radians().sin_cos();
    // Integral image of cross-bar gradient energy.
    let mut integral = vec![0f32; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0f32;
        for x in 0..w {
            let i = y * w + x;
            let across = (f32::from(gx[i]) * cos + f32::from(gy[i]) * sin).abs();
            row += (across - ENERGY_FLOOR).max(0.0);
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    // Mean energy in a window around each cell of a coarse grid.
    let half = (w.max(h) / 40).max(3);
    let step = (half / 2).max(1);
    let (gw, gh) = (w.div_ceil(step), h.div_ceil(step));
    let mut density = vec![0f32; gw * gh];
    for gyi in 0..gh {
        for gxi in 0..gw {
            let (cx, cy) = (gxi * step, gyi * step);
            let (x0, x1) = (cx.saturating_sub(half), (cx + half + 1).min(w));
            let (y0, y1) = (cy.saturating_sub(half), (cy + half + 1).min(h));
            let sum = integral[y1 * (w + 1) + x1] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0] + integral[y0 * (w + 1) + x0];
            density[gyi * gw + gxi] = sum / ((x1 - x0) * (y1 - y0)) as f32;
        }
    }
    let (seed, &top) = density.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if top <= 0.0 {
        return None;
    }
    // Flood fill the connected cells above half the peak.
    let threshold = 0.4 * top;
    let mut seen = vec![false; density.len()];
    let mut stack = vec![seed];
    seen[seed] = true;
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (gw, gh, 0, 0);
    let mut cells = 0usize;
    while let Some(i) = stack.pop() {
        let (x, y) = (i % gw, i / gw);
        cells += 1;
        (min_x, min_y, max_x, max_y) = (min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y));
        let neighbours = [(x > 0).then(|| i - 1), (x + 1 < gw).then(|| i + 1), (y > 0).then(|| i - gw), (y + 1 < gh).then(|| i + gw)];
        for n in neighbours.into_iter().flatten() {
            if !seen[n] && density[n] >= threshold {
                seen[n] = true;
                stack.push(n);
            }
        }
    }
    // A barcode covers many cells; a lone bright speck is not one.
    if cells < 12 {
        return None;
    }
    // Cell centres to pixels, padded by the window and a tenth of the box for quiet zone.
    let pad_x = half + (max_x - min_x) * step / 10 + 2;
    let pad_y = half + (max_y - min_y) * step / 10 + 2;
    let x0 = (min_x * step).saturating_sub(pad_x);
    let y0 = (min_y * step).saturating_sub(pad_y);
    let x1 = (max_x * step + pad_x).min(w);
    let y1 = (max_y * step + pad_y).min(h);
    (x1 > x0 && y1 > y0).then(|| Region { x: x0 as u32, y: y0 as u32, width: (x1 - x0) as u32, height: (y1 - y0) as u32 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;
    use imageproc::geometric_transformations::{rotate_about_center, Interpolation};

    /// Vertical bars of varying width (2–6 px), like a barcode with 2 px modules.
    fn bars(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, _| if (x / 6 + x / 14) % 2 == 0 { Luma([20]) } else { Luma([235]) })
    }

    #[test]
    fn finds_the_tilt_of_bars() {
        for angle in [-25.0f32, -20.0, -7.5, 0.0, 4.0, 13.0, 19.0, 25.0] {
            let img = rotate_about_center(&bars(400, 300), angle.to_radians(), Interpolation::Bilinear, Luma([235]));
            let skew = estimate(&img).expect("edges");
            assert!((skew.degrees - angle).abs() < 0.3, "{angle}: {skew:?}");
            assert!(skew.strength > 3.0, "{angle}: {skew:?}");
        }
    }

    #[test]
    fn finds_the_barcode_patch() {
        let mut img = GrayImage::from_pixel(1200, 900, Luma([200]));
        image::imageops::replace(&mut img, &bars(500, 120), 600, 650);
        let found = analyze(&img).and_then(|a| a.region).expect("region");
        assert!(found.x <= 600 && found.y <= 650, "{found:?}");
        assert!(found.x + found.width >= 1100 && found.y + found.height >= 770, "{found:?}");
        assert!(found.width < 800 && found.height < 400, "{found:?}");
    }

    #[test]
    fn flat_images_have_no_skew() {
        assert_eq!(estimate(&GrayImage::new(100, 100)), None);
        assert_eq!(estimate(&GrayImage::new(3, 3)), None);
        assert_eq!(analyze(&GrayImage::new(2000, 10)), None);
    }
}
