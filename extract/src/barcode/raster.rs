//! Pixel work for the retry ladder: downscaling, cropping, rotating, sharpening.

use super::locate::Region;
use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{warp_into, Interpolation, Projection};

/// Unsharp-mask radius; 1–2 px suits modules of 2–4 px.
const SHARPEN_SIGMA: f32 = 1.5;

/// Area-averaging downscale of 8-bit grey, RGB or RGBA pixels (`channels` 1, 3, 4) to
/// grey, in one pass over the source: on a 12 MP photo ~28 ms of CPU where `to_luma8`
/// followed by `imageops::thumbnail` took ~120 ms. Source columns and rows map to whole
/// output pixels (boxes of one or two source pixels when shrinking by less than half),
/// which is plenty for barcode modules several pixels wide.
pub fn shrink_to_grey(src: &[u8], channels: usize, (w, h): (u32, u32), (nw, nh): (u32, u32)) -> GrayImage {
    let (w, h, nw, nh) = (w as usize, h as usize, nw as usize, nh as usize);
    if w == 0 || h == 0 || nw == 0 || nh == 0 || channels == 0 {
        return GrayImage::new(nw as u32, nh as u32);
    }
    // Output column of every source column, and how many source columns each one averages.
    let column: Vec<usize> = (0..w).map(|x| x * nw / w).collect();
    let mut widths = vec![0u32; nw];
    for &c in &column {
        widths[c] += 1;
    }
    let luma = |p: &[u8]| -> u32 {
        match p {
            [v] => u32::from(*v),
            // Rec. 709 weights, as `image`'s own conversion.
            [r, g, b, ..] => (54 * u32::from(*r) + 183 * u32::from(*g) + 19 * u32::from(*b) + 128) >> 8,
            _ => 0,
        }
    };
    let mut rows = src.chunks_exact(w * channels);
    let mut out = Vec::with_capacity(nw * nh);
    let mut sums = vec![0u32; nw];
    for oy in 0..nh {
        let band = (oy + 1) * h / nh - oy * h / nh;
        sums.fill(0);
        for row in rows.by_ref().take(band) {
            for (&c, pixel) in column.iter().zip(row.chunks_exact(channels)) {
                sums[c] += luma(pixel);
            }
        }
        out.extend(sums.iter().zip(&widths).map(|(&sum, &width)| {
            let area = (width * band as u32).max(1);
            ((sum + area / 2) / area).min(255) as u8
        }));
    }
    GrayImage::from_raw(nw as u32, nh as u32, out).unwrap_or_default()
}

/// Unsharp mask: restores the edges of thin modules that lens blur and JPEG smeared
/// (the commonest reason a straight, well-framed barcode still fails).
pub fn sharpen(img: &GrayImage) -> GrayImage {
    image::imageops::unsharpen(img, SHARPEN_SIGMA, 0)
}

/// The pixels of `region`.
pub fn crop(img: &GrayImage, r: Region) -> GrayImage {
    image::imageops::crop_imm(img, r.x, r.y, r.width, r.height).to_image()
}

/// Rotates clockwise by `degrees` and scales by `scale`, onto a canvas large enough for
/// the whole image (the barcode often sits near a corner, which a same-size rotation
/// would cut off); white outside the source.
pub fn rotate(img: &GrayImage, degrees: f32, scale: f32) -> GrayImage {
    let theta = degrees.to_radians();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (cos, sin) = (theta.cos().abs(), theta.sin().abs());
    let out_w = ((w * cos + h * sin) * scale).ceil().max(1.0);
    let out_h = ((w * sin + h * cos) * scale).ceil().max(1.0);
    // Pixel centres sit at half-integers; imageproc samples at integers, hence the ½ shifts.
    let projection = Projection::translate(out_w / 2.0 - 0.5, out_h / 2.0 - 0.5)
        * Projection::scale(scale, scale)
        * Projection::rotate(theta)
        * Projection::translate(0.5 - w / 2.0, 0.5 - h / 2.0);
    let mut out = GrayImage::new(out_w as u32, out_h as u32);
    warp_into(img, &projection, Interpolation::Bilinear, Luma([255]), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_areas_and_converts_to_grey() {
        // 10×4 RGB, left half red, right half white, shrunk to 5×2.
        let rgb: Vec<u8> = (0..4).flat_map(|_| (0..10).flat_map(|x| if x < 5 { [255, 0, 0] } else { [255, 255, 255] })).collect();
        let out = shrink_to_grey(&rgb, 3, (10, 4), (5, 2));
        assert_eq!((out.width(), out.height()), (5, 2));
        let red = ((54 * 255 + 128) >> 8) as u8;
        assert_eq!(out.as_raw(), &[red, red, 155, 255, 255, red, red, 155, 255, 255]);
        // Uneven ratios keep every output pixel covered; short input never panics.
        let grey = vec![200u8; 7 * 5];
        assert!(shrink_to_grey(&grey, 1, (7, 5), (3, 2)).as_raw().iter().all(|&v| v == 200));
        let cut = shrink_to_grey(&grey[..10], 1, (7, 5), (3, 2));
        assert_eq!((cut.width(), cut.height()), (3, 2));
    }

    #[test]
    fn rotation_moves_points_clockwise_about_the_centre() {
        // A bright 5×5 spot 60 px right of and 20 px below the centre of a 301×201 image.
        let img = GrayImage::from_fn(301, 201, |x, y| Luma([if x.abs_diff(210) <= 2 && y.abs_diff(120) <= 2 { 255 } else { 0 }]));
        for (degrees, scale) in [(0.0f32, 1.0f32), (12.5, 1.0), (-20.0, 1.0), (90.0, 1.0), (7.0, 1.5)] {
            let out = rotate(&img, degrees, scale);
            // Centroid of the spot (the fill outside the source is white too: skip it by
            // looking only near the expected position).
            let (sin, cos) = f64::from(degrees).to_radians().sin_cos();
            let (ex, ey) = (
                f64::from(out.width()) / 2.0 + f64::from(scale) * (60.0 * cos - 20.0 * sin),
                f64::from(out.height()) / 2.0 + f64::from(scale) * (60.0 * sin + 20.0 * cos),
            );
            let (mut sum, mut sx, mut sy) = (0.0, 0.0, 0.0);
            for (x, y, p) in out.enumerate_pixels() {
                let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                if (px - ex).abs() < 12.0 && (py - ey).abs() < 12.0 {
                    let v = f64::from(p[0]);
                    (sum, sx, sy) = (sum + v, sx + v * px, sy + v * py);
                }
            }
            assert!(sum > 0.0, "{degrees}°: spot lost");
            let (cx, cy) = (sx / sum, sy / sum);
            assert!((cx - ex).abs() < 0.75 && (cy - ey).abs() < 0.75, "{degrees}° ×{scale}: spot at ({cx:.2}, {cy:.2}), expected ({ex:.2}, {ey:.2})");
        }
    }

    #[test]
    fn rotation_keeps_the_whole_image() {
        let img = GrayImage::from_pixel(300, 100, Luma([0]));
        let out = rotate(&img, 30.0, 1.0);
        assert_eq!((out.width(), out.height()), (310, 237));
        // The corners of the source are still inside (dark), the canvas corners are fill.
        assert_eq!(out.get_pixel(155, 118)[0], 0);
        assert_eq!(out.get_pixel(0, 0)[0], 255);
    }
}
