//! Which of dlib's detections are faces worth embedding.
//!
//! dlib's HOG detector reports false faces on textured backgrounds, badges, fabric and
//! card guilloches (on the NASA astronaut portrait it finds the round mission patch).
//! Its score is not exposed through the Rust bindings, so a detection is judged by what
//! can be checked:
//! - its size in the original image (below ~40 px the 150 px alignment chip is mostly
//!   interpolation);
//! - the geometry of the five landmarks the shape predictor puts in it (two eyes side
//!   by side at a sensible distance, the nose below them);
//! - stability: the region is cropped and detected again at several face sizes
//!   ([`CONFIRM_SIDES`]), as is and mirrored. A real face is found in (nearly) every
//!   view; a false face is an accident of one scale's HOG grid and of an asymmetric
//!   texture, and vanishes in most (on the test photos: real faces 8/8 in every
//!   variant, false faces at most 5/8).
//!
//! Of the detections that pass, the largest wins: in a selfie that is the person
//! holding the phone, on an ID card the main portrait rather than the small "ghost".

/// Smallest face side, in pixels of the original image, that is embedded.
pub const MIN_FACE_SIDE: f64 = 40.0;

/// Face sizes (px) at which a candidate is detected again to confirm it (small, so the
/// eight extra detections cost ~30 ms in all).
pub const CONFIRM_SIDES: [f64; 4] = [80.0, 95.0, 110.0, 130.0];
/// How many of the 8 views (each size, as is and mirrored) must find the face again.
pub const CONFIRM_MIN_HITS: usize = 7;
/// Context kept around a candidate for the re-detections, as a fraction of its size.
pub const CONFIRM_MARGIN: f64 = 0.3;
/// Overlap (intersection over union) for a re-detection to count as the same face.
pub const CONFIRM_MIN_IOU: f64 = 0.5;

/// A box in pixel coordinates (left, top, right, bottom), as floats for scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

impl FaceBox {
    pub fn width(&self) -> f64 {
        self.right - self.left
    }

    pub fn height(&self) -> f64 {
        self.bottom - self.top
    }

    pub fn area(&self) -> f64 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// The same box in an image `factor` times larger.
    pub fn scaled(&self, factor: f64) -> FaceBox {
        FaceBox { left: self.left * factor, top: self.top * factor, right: self.right * factor, bottom: self.bottom * factor }
    }

    /// The box grown by `fraction` of its size on every side.
    pub fn grown(&self, fraction: f64) -> FaceBox {
        let (dx, dy) = (self.width() * fraction, self.height() * fraction);
        FaceBox { left: self.left - dx, top: self.top - dy, right: self.right + dx, bottom: self.bottom + dy }
    }

    /// The same box with its origin moved to (`x`, `y`).
    pub fn relative_to(&self, x: f64, y: f64) -> FaceBox {
        FaceBox { left: self.left - x, top: self.top - y, right: self.right - x, bottom: self.bottom - y }
    }

    /// The same box in the image mirrored left–right, `image_width` wide.
    pub fn mirrored(&self, image_width: f64) -> FaceBox {
        FaceBox { left: image_width - self.right, right: image_width - self.left, ..*self }
    }

    /// Intersection over union with `other` (0 when disjoint or degenerate).
    pub fn iou(&self, other: &FaceBox) -> f64 {
        let w = self.right.min(other.right) - self.left.max(other.left);
        let h = self.bottom.min(other.bottom) - self.top.max(other.top);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.left && x <= self.right && y >= self.top && y <= self.bottom
    }
}

/// Whether five landmarks from dlib's 5-point model (two corners of one eye, two of the
/// other, the base of the nose) are arranged like a face inside `face`.
pub fn landmarks_look_like_a_face(face: &FaceBox, points: &[(f64, f64)]) -> bool {
    let [a0, a1, b0, b1, nose] = match points {
        [a0, a1, b0, b1, nose] => [*a0, *a1, *b0, *b1, *nose],
        _ => return false,
    };
    let side = face.width().min(face.height());
    if side <= 0.0 || !points.iter().all(|p| face.grown(0.2).contains(*p)) {
        return false;
    }
    let eye_a = midpoint(a0, a1);
    let eye_b = midpoint(b0, b1);
    let (ex, ey) = (eye_b.0 - eye_a.0, eye_b.1 - eye_a.1);
    let eye_distance = ex.hypot(ey);
    // Eye centres of a frontal face sit roughly 0.3–0.5 of dlib's box apart.
    if !(0.2..=0.8).contains(&(eye_distance / side)) {
        return false;
    }
    // The HOG detector only finds roughly upright faces: eyes within ~35° of level.
    if ey.abs() > ex.abs() * 0.7 {
        return false;
    }
    // The nose sits below the line of the eyes (towards the box's bottom), about
    // 0.4–1.0 eye distances away, and between them.
    let mid = midpoint(eye_a, eye_b);
    let (nx, ny) = (nose.0 - mid.0, nose.1 - mid.1);
    let (ux, uy) = (ex / eye_distance, ey / eye_distance);
    let along = nx * ux + ny * uy;
    let mut across = ux * ny - uy * nx;
    if ex < 0.0 {
        // Eyes listed right-to-left in the image: flip so "across" points down.
        across = -across;
    }
    let down_ratio = across / eye_distance;
    (0.2..=1.3).contains(&down_ratio) && along.abs() <= eye_distance * 0.6
}

fn midpoint(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(side: f64) -> FaceBox {
        FaceBox { left: 0.0, top: 0.0, right: side, bottom: side }
    }

    /// Landmarks of an upright face in a 100 px box.
    fn upright() -> Vec<(f64, f64)> {
        vec![(70.0, 40.0), (58.0, 40.0), (30.0, 40.0), (42.0, 40.0), (50.0, 65.0)]
    }

    #[test]
    fn an_upright_face_passes() {
        assert!(landmarks_look_like_a_face(&square(100.0), &upright()));
    }

    #[test]
    fn a_nose_above_the_eyes_fails() {
        let mut points = upright();
        points[4] = (50.0, 20.0);
        assert!(!landmarks_look_like_a_face(&square(100.0), &points));
    }

    #[test]
    fn collapsed_eyes_fail() {
        let points = vec![(51.0, 40.0), (50.0, 40.0), (49.0, 40.0), (50.0, 40.0), (50.0, 65.0)];
        assert!(!landmarks_look_like_a_face(&square(100.0), &points));
    }

    #[test]
    fn iou_of_boxes() {
        let a = square(100.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&a.relative_to(200.0, 0.0)), 0.0);
        let half = a.relative_to(50.0, 0.0);
        assert!((a.iou(&half) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(square(0.0).iou(&square(0.0)), 0.0);
    }

    #[test]
    fn wrong_point_count_fails() {
        assert!(!landmarks_look_like_a_face(&square(100.0), &upright()[..4]));
        assert!(!landmarks_look_like_a_face(&square(0.0), &upright()));
    }
}
