//! Finding the machine-readable zone in a document image.
//!
//! An MRZ is two or three long lines of same-sized glyphs, one under the other, left-
//! and right-aligned, at the bottom of the document. So: binarize with a local threshold
//! (uneven lighting, tinted backgrounds), take the connected components that are
//! glyph-sized, estimate the skew from how sharply their centres stack into rows, group
//! them into text lines in the deskewed frame, keep the lines long enough to be MRZ lines,
//! and pair up lines that stack like an MRZ. Candidates come out bottom-first; the caller
//! OCRs each and the check digits decide which (if any) was an MRZ.
//!
//! Each line is then cut out of the full-resolution image along its own angle and resampled
//! to a fixed glyph height, which is what the recognizer was trained on: that makes the
//! reader independent of the photo's scale.

use image::{DynamicImage, GrayImage, Luma};
use imageproc::region_labelling::{connected_components, Connectivity};

/// Longest side of the working copy used to find lines: MRZ glyphs stay 8+ px tall on a
/// document filling a third of the photo's width.
const WORK_SIDE: u32 = 1100;
/// Glyph (capital) height the OCR crops are resampled to, in pixels.
pub const TARGET_CAP_HEIGHT: f32 = 34.0;
/// Skews tried, in degrees: ±4° by quarter degrees.
const MAX_SKEW_DEG: f32 = 4.0;
const SKEW_STEP_DEG: f32 = 0.25;

/// A text line in the working copy's deskewed frame.
#[derive(Debug, Clone)]
pub struct Line {
    /// Left and right ends along the text direction.
    pub x0: f32,
    pub x1: f32,
    /// Centre across the text direction.
    pub yc: f32,
    /// Capital height (upper percentile of glyph heights).
    pub height: f32,
    pub glyphs: usize,
}

impl Line {
    fn span(&self) -> f32 {
        self.x1 - self.x0
    }
}

/// Where the candidate MRZs are, and how to cut them out of the original image.
pub struct Located {
    /// Skew of the text, radians (positive: text runs downhill to the right).
    pub angle: f32,
    /// Working copy pixels per original pixel.
    pub scale: f32,
    /// Candidate MRZs, most likely first: each is 2 or 3 lines, top to bottom.
    pub candidates: Vec<Vec<Line>>,
}

#[derive(Debug, Clone, Copy)]
struct Glyph {
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
}

/// Finds MRZ candidates in `img`.
pub fn locate(img: &DynamicImage) -> Located {
    let (work, scale) = working_grey(img);
    let binary = binarize(&work);
    let glyphs = glyphs(&binary);
    let angle = estimate_skew(&glyphs);
    let lines = text_lines(&glyphs, angle);
    let candidates = mrz_candidates(&lines);
    Located { angle, scale, candidates }
}

/// A greyscale copy no larger than [`WORK_SIDE`], by box-averaging straight from the
/// decoded pixels (converting the whole photo to grey first would cost more than finding
/// the lines).
fn working_grey(img: &DynamicImage) -> (GrayImage, f32) {
    let (w, h) = (img.width(), img.height());
    let factor = w.max(h).div_ceil(WORK_SIDE).max(1);
    if factor == 1 {
        return (img.to_luma8(), 1.0);
    }
    let (ow, oh) = (w / factor, h / factor);
    let luma = |r: u32, g: u32, b: u32| (r * 299 + g * 587 + b * 114) / 1000;
    let mut out = GrayImage::new(ow.max(1), oh.max(1));
    let sample: Box<dyn Fn(u32, u32) -> u32> = match img {
        DynamicImage::ImageLuma8(g) => Box::new(move |x, y| u32::from(g.get_pixel(x, y)[0])),
        DynamicImage::ImageRgb8(rgb) => Box::new(move |x, y| {
            let p = rgb.get_pixel(x, y);
            luma(u32::from(p[0]), u32::from(p[1]), u32::from(p[2]))
        }),
        DynamicImage::ImageRgba8(rgba) => Box::new(move |x, y| {
            let p = rgba.get_pixel(x, y);
            luma(u32::from(p[0]), u32::from(p[1]), u32::from(p[2]))
        }),
        other => {
            let grey = other.to_luma8();
            Box::new(move |x, y| u32::from(grey.get_pixel(x, y)[0]))
        }
    };
    let n = factor * factor;
    for oy in 0..oh {
        for ox in 0..ow {
            let mut sum = 0;
            for dy in 0..factor {
                for dx in 0..factor {
                    sum += sample(ox * factor + dx, oy * factor + dy);
                }
            }
            out.put_pixel(ox, oy, Luma([(sum / n) as u8]));
        }
    }
    (out, 1.0 / factor as f32)
}

/// Dark pixels (255) against a local mean over a window proportional to the image, which
/// copes with gradients and tinted security backgrounds.
fn binarize(img: &GrayImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let radius = (w.max(h) / 60).max(6) as usize;
    // Integral image with a zero row and column.
    let mut integral = vec![0u64; (wu + 1) * (hu + 1)];
    for y in 0..hu {
        let mut row = 0u64;
        for x in 0..wu {
            row += u64::from(img.as_raw()[y * wu + x]);
            integral[(y + 1) * (wu + 1) + x + 1] = integral[y * (wu + 1) + x + 1] + row;
        }
    }
    let mut out = GrayImage::new(w, h);
    for y in 0..hu {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(hu));
        for x in 0..wu {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(wu));
            let sum = integral[y1 * (wu + 1) + x1] + integral[y0 * (wu + 1) + x0] - integral[y0 * (wu + 1) + x1] - integral[y1 * (wu + 1) + x0];
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            let mean = sum as f32 / n;
            let p = f32::from(img.as_raw()[y * wu + x]);
            if p < mean * 0.88 && p < mean - 12.0 {
                out.as_mut()[y * wu + x] = 255;
            }
        }
    }
    out
}

/// Connected components of plausible glyph size and shape.
fn glyphs(binary: &GrayImage) -> Vec<Glyph> {
    let (w, h) = binary.dimensions();
    let labels = connected_components(binary, Connectivity::Eight, Luma([0u8]));
    let count = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    // min x, min y, max x, max y, pixels
    let mut boxes = vec![(u32::MAX, u32::MAX, 0u32, 0u32, 0u32); count + 1];
    for (x, y, l) in labels.enumerate_pixels() {
        let l = l[0] as usize;
        if l == 0 {
            continue;
        }
        let b = &mut boxes[l];
        b.0 = b.0.min(x);
        b.1 = b.1.min(y);
        b.2 = b.2.max(x);
        b.3 = b.3.max(y);
        b.4 += 1;
    }
    // Two or three MRZ lines must fit in the image.
    let max_h = (h / 4).max(8);
    boxes
        .into_iter()
        .skip(1)
        .filter(|b| b.4 > 0)
        .filter_map(|(x0, y0, x1, y1, n)| {
            let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
            let fill = n as f32 / (bw * bh);
            let plausible = bh >= 5.0 && bh <= max_h as f32 && bw <= 3.0 * bh && bw < w as f32 / 8.0 && fill > 0.08 && fill < 0.95;
            plausible.then(|| Glyph { cx: (x0 + x1) as f32 / 2.0, cy: (y0 + y1) as f32 / 2.0, w: bw, h: bh })
        })
        .collect()
}

/// The skew that makes glyph centres stack most sharply into rows.
fn estimate_skew(glyphs: &[Glyph]) -> f32 {
    if glyphs.len() < 10 {
        return 0.0;
    }
    let bin = (median(glyphs.iter().map(|g| g.h)) / 3.0).max(1.0);
    let steps = (MAX_SKEW_DEG / SKEW_STEP_DEG).round() as i32;
    let mut best = (f64::MIN, 0.0f32);
    for step in -steps..=steps {
        let angle = (step as f32 * SKEW_STEP_DEG).to_radians();
        let (s, c) = angle.sin_cos();
        let mut hist = std::collections::HashMap::<i64, f64>::new();
        for g in glyphs {
            let y = g.cy * c - g.cx * s;
            *hist.entry((y / bin).floor() as i64).or_default() += 1.0;
        }
        let score: f64 = hist.values().map(|v| v * v).sum();
        // Prefer the smaller angle on ties.
        if score > best.0 + 1e-9 {
            best = (score, angle);
        }
    }
    best.1
}

/// Groups glyphs into text lines in the frame rotated by `angle`, splitting lines at
/// gaps wider than a few glyphs (columns of other text).
fn text_lines(glyphs: &[Glyph], angle: f32) -> Vec<Line> {
    let (s, c) = angle.sin_cos();
    let mut rotated: Vec<Glyph> = glyphs.iter().map(|g| Glyph { cx: g.cx * c + g.cy * s, cy: g.cy * c - g.cx * s, ..*g }).collect();
    rotated.sort_by(|a, b| a.cy.total_cmp(&b.cy));

    // Rows: consecutive (in y) glyphs whose centres lie within a fraction of their height.
    let mut rows: Vec<Vec<Glyph>> = Vec::new();
    for g in rotated {
        let joined = rows.iter_mut().rev().take(4).find(|row| {
            let cy = row.iter().map(|r| r.cy).sum::<f32>() / row.len() as f32;
            let rh = median(row.iter().map(|r| r.h));
            (g.cy - cy).abs() < 0.35 * rh.max(g.h) && g.h < 2.0 * rh && rh < 2.0 * g.h
        });
        match joined {
            Some(row) => row.push(g),
            None => rows.push(vec![g]),
        }
    }

    let mut lines = Vec::new();
    for mut row in rows {
        row.sort_by(|a, b| a.cx.total_cmp(&b.cx));
        let cap = percentile(row.iter().map(|g| g.h), 0.8);
        let mut start = 0;
        for i in 1..=row.len() {
            let split = i == row.len() || {
                let prev_end = row[i - 1].cx + row[i - 1].w / 2.0;
                let next_start = row[i].cx - row[i].w / 2.0;
                next_start - prev_end > 2.5 * cap
            };
            if split {
                let seg = &row[start..i];
                if seg.len() >= 8 {
                    let x0 = seg.iter().map(|g| g.cx - g.w / 2.0).fold(f32::MAX, f32::min);
                    let x1 = seg.iter().map(|g| g.cx + g.w / 2.0).fold(f32::MIN, f32::max);
                    let tall: Vec<&Glyph> = seg.iter().filter(|g| g.h > 0.8 * cap).collect();
                    let yc = if tall.is_empty() { seg[0].cy } else { tall.iter().map(|g| g.cy).sum::<f32>() / tall.len() as f32 };
                    lines.push(Line { x0, x1, yc, height: percentile(seg.iter().map(|g| g.h), 0.8), glyphs: seg.len() });
                }
                start = i;
            }
        }
    }
    lines
}

/// Lines that could belong to an MRZ, grouped 3 (TD1) or 2 (TD2/TD3) at a time, bottom
/// groups first.
fn mrz_candidates(lines: &[Line]) -> Vec<Vec<Line>> {
    // MRZ lines hold 30–44 characters at a pitch of about one capital height.
    let mut long: Vec<&Line> = lines.iter().filter(|l| l.glyphs >= 12 && l.span() >= 20.0 * l.height && l.span() <= 60.0 * l.height).collect();
    long.sort_by(|a, b| b.yc.total_cmp(&a.yc));

    let stacks = |upper: &Line, lower: &Line| {
        let h = upper.height.max(lower.height);
        let dy = lower.yc - upper.yc;
        let similar_height = upper.height < 1.4 * lower.height && lower.height < 1.4 * upper.height;
        let aligned = (upper.x0 - lower.x0).abs() < 2.0 * h && (upper.x1 - lower.x1).abs() < 2.0 * h;
        similar_height && aligned && dy > 1.2 * h && dy < 3.2 * h
    };

    let mut groups: Vec<(f32, Vec<Line>)> = Vec::new();
    for (i, bottom) in long.iter().enumerate() {
        let Some(middle) = long[i + 1..].iter().find(|l| stacks(l, bottom)) else { continue };
        if let Some(top) = long[i + 1..].iter().find(|l| stacks(l, middle)) {
            groups.push((bottom.yc, vec![(*top).clone(), (*middle).clone(), (*bottom).clone()]));
        }
        groups.push((bottom.yc, vec![(*middle).clone(), (*bottom).clone()]));
    }
    // Bottom-most first; at equal position the 3-line group (listed first) wins.
    groups.sort_by(|a, b| b.0.total_cmp(&a.0));
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Cuts `line` out of the original image, upright, resampled to [`TARGET_CAP_HEIGHT`],
/// with a margin, and with its contrast stretched. Also returns the zoom (line-image
/// pixels per original pixel).
pub fn crop_line(img: &DynamicImage, located: &Located, line: &Line) -> Option<(GrayImage, f32)> {
    let inv_scale = 1.0 / located.scale;
    // Line geometry in original pixels.
    let height = line.height * inv_scale;
    let zoom = TARGET_CAP_HEIGHT / height.max(1.0); // output px per original px
    let margin_x = 1.2 * height;
    let half_y = 1.0 * height;
    let (x0, x1) = (line.x0 * inv_scale - margin_x, line.x1 * inv_scale + margin_x);
    let (y0, y1) = (line.yc * inv_scale - half_y, line.yc * inv_scale + half_y);
    let out_w = ((x1 - x0) * zoom).round();
    let out_h = ((y1 - y0) * zoom).round();
    if !(out_w >= 8.0 && out_h >= 8.0 && out_w <= 8000.0 && out_h <= 400.0) {
        return None;
    }
    let (out_w, out_h) = (out_w as u32, out_h as u32);
    let (s, c) = located.angle.sin_cos();
    // Only the region the line covers is converted to grey.
    let to_original = |xr: f32, yr: f32| (xr * c - yr * s, xr * s + yr * c);
    let corners = [to_original(x0, y0), to_original(x1, y0), to_original(x0, y1), to_original(x1, y1)];
    let rx0 = corners.iter().map(|p| p.0).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let ry0 = corners.iter().map(|p| p.1).fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let rx1 = (corners.iter().map(|p| p.0).fold(f32::MIN, f32::max).ceil() as u32).saturating_add(2).min(img.width());
    let ry1 = (corners.iter().map(|p| p.1).fold(f32::MIN, f32::max).ceil() as u32).saturating_add(2).min(img.height());
    if rx1 <= rx0 + 1 || ry1 <= ry0 + 1 {
        return None;
    }
    let grey = img.crop_imm(rx0, ry0, rx1 - rx0, ry1 - ry0).to_luma8();
    let (gw, gh) = (grey.width() as f32, grey.height() as f32);
    let mut out = GrayImage::new(out_w, out_h);
    for v in 0..out_h {
        let yr = y0 + (v as f32 + 0.5) / zoom;
        for u in 0..out_w {
            let xr = x0 + (u as f32 + 0.5) / zoom;
            // Deskewed frame → original image.
            let (x, y) = to_original(xr, yr);
            let p = bilinear(&grey, x - 0.5 - rx0 as f32, y - 0.5 - ry0 as f32, gw, gh);
            out.put_pixel(u, v, Luma([p]));
        }
    }
    stretch(&mut out);
    Some((out, zoom))
}

fn bilinear(img: &GrayImage, x: f32, y: f32, w: f32, h: f32) -> u8 {
    let x = x.clamp(0.0, w - 1.0);
    let y = y.clamp(0.0, h - 1.0);
    let (xi, yi) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = (x - xi as f32, y - yi as f32);
    let x2 = (xi + 1).min(img.width() - 1);
    let y2 = (yi + 1).min(img.height() - 1);
    let p = |x: u32, y: u32| f32::from(img.get_pixel(x, y)[0]);
    let top = p(xi, yi) * (1.0 - fx) + p(x2, yi) * fx;
    let bottom = p(xi, y2) * (1.0 - fx) + p(x2, y2) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

/// Stretches the 2nd–98th percentile range to full scale.
fn stretch(img: &mut GrayImage) {
    let mut hist = [0usize; 256];
    for p in img.as_raw() {
        hist[*p as usize] += 1;
    }
    let n = img.as_raw().len();
    let at = |frac: f32| {
        let target = (n as f32 * frac) as usize;
        let mut acc = 0;
        for (v, c) in hist.iter().enumerate() {
            acc += c;
            if acc > target {
                return v as f32;
            }
        }
        255.0
    };
    let (lo, hi) = (at(0.02), at(0.98));
    if hi - lo < 10.0 {
        return;
    }
    for p in img.iter_mut() {
        *p = ((f32::from(*p) - lo) * 255.0 / (hi - lo)).round().clamp(0.0, 255.0) as u8;
    }
}

fn median(values: impl Iterator<Item = f32>) -> f32 {
    percentile(values, 0.5)
}

fn percentile(values: impl Iterator<Item = f32>, q: f32) -> f32 {
    let mut v: Vec<f32> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let i = ((v.len() - 1) as f32 * q).round() as usize;
    v[i.min(v.len() - 1)]
}
