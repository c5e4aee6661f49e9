//! Glyph geometry: telling OCR-B letters from digits by height.
//!
//! In OCR-B (ISO 1073-2, as in Debian's font) every digit stands about 7 % taller than
//! the capital letters: digits rise to 0.77 em, capitals to 0.70–0.73 em, on the same
//! baseline. That difference is what separates `0` from `O`, `8` from `S`, `6` from `G`,
//! `1` from `L`…, the pairs the shape classifier confuses most, and several of them are
//! invisible to check digits (`S`=28 and `8` differ by 20, `G`=16 and `6` by 10: a
//! multiple of ten leaves every 7-3-1 check digit unchanged). Heights are measured on the
//! line image with sub-pixel edges and compared with the letters and digits whose type the
//! format fixes (names, dates), so each MRZ calibrates itself.
//!
//! Height alone is noisy on small, blurred photos (a pointed `4` measures short, a round
//! `G` tall), so it only arbitrates `O` against `0`, whose confusion every check digit
//! catches anyway. For the pairs check digits cannot see, topology decides: an `8` has
//! two holes and an `S` none, a `6` or `0` one and a `G` or `U` none.

use super::parse::OcrLine;
use image::GrayImage;

/// Measures the ink height of every glyph that has a box, in original-image pixels
/// (`zoom` = line-image pixels per original pixel), into `line.heights`.
pub fn measure(crop: &GrayImage, line: &mut OcrLine, zoom: f32) {
    let threshold = ink_levels(crop).map(|(ink, paper)| (ink + paper) / 2.0);
    line.heights = line.boxes.iter().map(|b| b.zip(threshold).and_then(|(b, t)| ink_height(crop, b, t)).map(|h| h / zoom)).collect();
    line.holes = line.boxes.iter().map(|b| b.zip(threshold).and_then(|(b, t)| holes(crop, b, t))).collect();
}

/// Holes each OCR-B glyph has, for the letter/digit pairs whose check-digit values differ
/// by a multiple of ten (so no check digit can tell them apart) and that look alike:
/// `S`/`8`, `G`/`6`, `U`/`0`.
pub fn expected_holes(c: char) -> Option<u8> {
    match c {
        '8' => Some(2),
        '6' | '0' => Some(1),
        'S' | 'G' | 'U' => Some(0),
        _ => None,
    }
}

/// Counts enclosed background regions (holes) of the glyph in box `b`, binarized at
/// `threshold`; holes smaller than 2 % of the box are noise. `None` if the box is unusable.
fn holes(img: &GrayImage, b: [u32; 4], threshold: f32) -> Option<u8> {
    let (w, h) = img.dimensions();
    let [x0, y0, x1, y1] = b;
    if x1 >= w || y1 >= h || x1 < x0 + 2 || y1 < y0 + 2 {
        return None;
    }
    // One pixel of padding so the outside background surrounds the glyph.
    let (bw, bh) = ((x1 - x0 + 3) as usize, (y1 - y0 + 3) as usize);
    let ink = |x: usize, y: usize| -> bool {
        if x == 0 || y == 0 || x == bw - 1 || y == bh - 1 {
            return false;
        }
        f32::from(img.get_pixel(x0 + x as u32 - 1, y0 + y as u32 - 1)[0]) < threshold
    };
    let mut seen = vec![false; bw * bh];
    let min_area = ((bw * bh) as f32 * 0.02).max(2.0) as usize;
    let mut count = 0u8;
    for start in 0..bw * bh {
        if seen[start] || ink(start % bw, start / bw) {
            continue;
        }
        // Flood fill one background region (4-connected).
        let (mut stack, mut area, mut touches_border) = (vec![start], 0usize, false);
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            area += 1;
            touches_border |= x == 0 || y == 0 || x == bw - 1 || y == bh - 1;
            let mut visit = |nx: usize, ny: usize| {
                let j = ny * bw + nx;
                if !seen[j] && !ink(nx, ny) {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(x - 1, y);
            }
            if x + 1 < bw {
                visit(x + 1, y);
            }
            if y > 0 {
                visit(x, y - 1);
            }
            if y + 1 < bh {
                visit(x, y + 1);
            }
        }
        if !touches_border && area >= min_area {
            count = count.saturating_add(1);
        }
    }
    Some(count)
}

/// Ink and paper levels of a line image (5th and 90th percentiles).
fn ink_levels(img: &GrayImage) -> Option<(f32, f32)> {
    let mut hist = [0usize; 256];
    for p in img.as_raw() {
        hist[usize::from(*p)] += 1;
    }
    let n = img.as_raw().len();
    let at = |frac: f64| {
        let target = (n as f64 * frac) as usize;
        let mut acc = 0;
        hist.iter().position(|c| {
            acc += c;
            acc > target
        })
    };
    let (ink, paper) = (at(0.05)? as f32, at(0.90)? as f32);
    (paper - ink >= 40.0).then_some((ink, paper))
}

/// Height between the top and bottom ink edges within the box's columns, where the row
/// profile (darkest smoothed pixel per row) crosses `threshold`, interpolated.
fn ink_height(img: &GrayImage, b: [u32; 4], threshold: f32) -> Option<f32> {
    let (w, h) = img.dimensions();
    let [x0, y0, x1, y1] = b;
    if x1 >= w || y1 >= h || x1 < x0 + 3 {
        return None;
    }
    // Stay off the neighbours' columns.
    let (cx0, cx1) = (x0 + 1, x1 - 1);
    let ry0 = y0.saturating_sub(4);
    let ry1 = (y1 + 4).min(h - 1);
    let profile: Vec<f32> = (ry0..=ry1)
        .map(|y| {
            (cx0..=cx1)
                .map(|x| {
                    let p = |x: u32| f32::from(img.get_pixel(x.clamp(cx0, cx1), y)[0]);
                    (p(x.saturating_sub(1)) + p(x) + p(x + 1)) / 3.0
                })
                .fold(f32::MAX, f32::min)
        })
        .collect();
    let first = profile.iter().position(|v| *v < threshold)?;
    let last = profile.iter().rposition(|v| *v < threshold)?;
    if first == 0 || last + 1 >= profile.len() {
        return None; // ink runs off the search window: not an isolated glyph
    }
    let cross = |a: f32, b: f32| (a - threshold) / (a - b); // fraction from a towards b
    let top = (first - 1) as f32 + cross(profile[first - 1], profile[first]);
    let bottom = last as f32 + cross(profile[last], profile[last + 1]);
    Some(bottom - top)
}

/// What a glyph's height says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Letter,
    Digit,
    Unsure,
}

/// Letter and digit reference heights, from positions whose type the format fixes.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    letter: f32,
    digit: f32,
}

impl Reference {
    /// Needs a few of each and a clear gap; `None` means the geometry cannot be trusted.
    pub fn new(letters: &[f32], digits: &[f32]) -> Option<Reference> {
        if letters.len() < 3 || digits.len() < 3 {
            return None;
        }
        let (letter, digit) = (median(letters), median(digits));
        // Nominally 7 %; a much smaller gap means blur or a different font.
        (digit - letter > 0.035 * letter).then_some(Reference { letter, digit })
    }

    /// Position between the letter (0) and digit (1) medians. Round glyphs overshoot
    /// the flat ones, so on synthetic photos letters measure up to about 0.7 and digits
    /// from about 0.9; the band between is refused.
    pub fn classify(&self, height: f32) -> Class {
        let t = (height - self.letter) / (self.digit - self.letter);
        if t <= 0.75 {
            Class::Letter
        } else if t >= 0.85 {
            Class::Digit
        } else {
            Class::Unsure
        }
    }
}

fn median(v: &[f32]) -> f32 {
    let mut v = v.to_vec();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn measures_heights_with_subpixel_edges() {
        // A 10-px bar from row 10 to row 29, with half-grey rows above and below.
        let mut img = GrayImage::from_pixel(40, 40, Luma([250]));
        for x in 10..20 {
            for y in 10..30 {
                img.put_pixel(x, y, Luma([10]));
            }
            img.put_pixel(x, 9, Luma([130]));
            img.put_pixel(x, 30, Luma([130]));
        }
        let h = ink_height(&img, [10, 9, 19, 30], 130.0).unwrap();
        assert!((h - 21.0).abs() < 0.6, "{h}");
        assert!(ink_height(&img, [10, 9, 11, 30], 130.0).is_none());
        assert!(ink_height(&img, [10, 9, 45, 30], 130.0).is_none());
    }

    #[test]
    fn counts_holes() {
        // A ring (one hole), then a figure eight (two).
        let mut img = GrayImage::from_pixel(60, 40, Luma([250]));
        for x in 5..20 {
            for y in 5..35 {
                let border = !(8..17).contains(&x) || !(8..32).contains(&y);
                let waist = (19..22).contains(&y);
                if border || (waist && x >= 25) {
                    img.put_pixel(x, y, Luma([0]));
                }
            }
        }
        assert_eq!(holes(&img, [5, 5, 19, 34], 128.0), Some(1));
        for x in 5..20 {
            for y in 19..22 {
                img.put_pixel(x, y, Luma([0]));
            }
        }
        assert_eq!(holes(&img, [5, 5, 19, 34], 128.0), Some(2));
        assert_eq!(holes(&img, [40, 5, 55, 34], 128.0), Some(0));
        assert_eq!(holes(&img, [40, 5, 75, 34], 128.0), None);
    }

    #[test]
    fn classifies_against_references() {
        let r = Reference::new(&[70.0, 71.0, 72.0], &[77.0, 78.0, 77.5]).unwrap();
        assert_eq!(r.classify(72.5), Class::Letter);
        assert_eq!(r.classify(76.8), Class::Digit);
        assert_eq!(r.classify(76.0), Class::Unsure);
        assert!(Reference::new(&[70.0, 71.0, 72.0], &[71.0, 71.5, 72.0]).is_none());
        assert!(Reference::new(&[70.0], &[77.0, 78.0, 77.5]).is_none());
    }
}
