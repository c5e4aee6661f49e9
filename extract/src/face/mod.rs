//! Selfie match (SPEC §5.4): find the face in a selfie and the portrait on a photo ID,
//! turn each into a dlib embedding, and score how alike they are.
//!
//! Everything runs locally with dlib (Debian `libdlib-dev`) through
//! `dlib-face-recognition`, using two CC0 models that `scripts/models/face.sh` installs
//! under `<models_dir>/face/`: the 5-point landmark predictor (aligns the face) and the
//! ResNet embedding network. The 68-point predictor is deliberately not used: its
//! training data forbids commercial use.
//!
//! Detection uses dlib's HOG detector (≈ 40–80 ms at 800 px, CPU only): the image is first
//! scaled so its longer side is at most [`DETECTION_MAX_SIDE`]; when nothing is found a
//! second pass runs at twice that scale, which catches small faces (an ID card
//! photographed from afar, a small portrait). Detections are filtered by size, landmark
//! geometry and stability across scales (see [`plausible`]: dlib's false faces are
//! common) and the largest remaining face is embedded from the *original* pixels
//! around it, so downscaling for speed does not cost embedding quality.
//!
//! The dlib detector and network are not thread-safe; each sits behind its own mutex,
//! so [`FaceMatcher`] is `Send + Sync` and one instance serves every worker thread
//! (detection of one request overlaps embedding of another).

mod embedding;
pub mod plausible;
mod resample;

pub use embedding::{
    distance_for_score, score, score_for_distance, Embedding, InvalidEmbedding, DEFAULT_THRESHOLD, EMBEDDING_LEN, SAME_PERSON_DISTANCE, ZERO_SCORE_DISTANCE,
};

use crate::Failure;
use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait, Rectangle,
};
use image::DynamicImage;
use plausible::{landmarks_look_like_a_face, FaceBox, CONFIRM_MARGIN, CONFIRM_MIN_HITS, CONFIRM_MIN_IOU, CONFIRM_SIDES, MIN_FACE_SIDE};
use resample::{resize_long_side, scale_image};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// File name of the 5-point landmark model inside `<models_dir>/face/`.
pub const LANDMARKS_MODEL: &str = "shape_predictor_5_face_landmarks.dat";
/// File name of the embedding network inside `<models_dir>/face/`.
pub const NETWORK_MODEL: &str = "dlib_face_recognition_resnet_model_v1.dat";

/// Longer side of the image the first detection pass sees.
pub const DETECTION_MAX_SIDE: u32 = 800;

/// A face is embedded from a crop scaled so the face is about this wide: dlib's chip is
/// 150 px, so more detail than this is thrown away anyway.
const EMBED_FACE_SIDE: f64 = 300.0;

/// Detection, alignment and embedding with dlib, loaded once and shared.
pub struct FaceMatcher {
    detector: Mutex<FaceDetector>,
    landmarks: LandmarkPredictor,
    network: Mutex<FaceEncoderNetwork>,
}

impl FaceMatcher {
    /// Loads the models from `<models_dir>/face/`. A missing or corrupt model is a
    /// `provider_error` (the installation is broken, not the upload).
    pub fn load(models_dir: &Path) -> Result<FaceMatcher, Failure> {
        let dir = models_dir.join("face");
        let landmarks_path = model_path(&dir, LANDMARKS_MODEL)?;
        let network_path = model_path(&dir, NETWORK_MODEL)?;
        let landmarks = LandmarkPredictor::open(&landmarks_path).map_err(|e| Failure::ProviderError(format!("face landmarks model: {e}")))?;
        let network = FaceEncoderNetwork::open(&network_path).map_err(|e| Failure::ProviderError(format!("face network model: {e}")))?;
        Ok(FaceMatcher { detector: Mutex::new(FaceDetector::new()), landmarks, network: Mutex::new(network) })
    }

    /// The embedding of the largest plausible face in `img` (a selfie, or a photo of an
    /// ID whose portrait is the largest face on it). No plausible face is
    /// [`Failure::NoFaceFound`].
    pub fn embed(&self, img: &DynamicImage) -> Result<Embedding, Failure> {
        let face = self.find_face(img)?.ok_or(Failure::NoFaceFound)?;
        self.embed_face(img, &face)
    }

    /// The largest plausible face, in original-image coordinates, or `None`.
    pub fn find_face(&self, img: &DynamicImage) -> Result<Option<FaceBox>, Failure> {
        let long_side = img.width().max(img.height());
        if img.width().min(img.height()) == 0 {
            return Ok(None);
        }
        let first_pass = long_side.min(DETECTION_MAX_SIDE);
        for pass_side in [first_pass, first_pass.saturating_mul(2)] {
            let working = resize_long_side(img, pass_side);
            let to_original = f64::from(long_side) / f64::from(working.width().max(working.height()).max(1));
            let matrix = to_matrix(&working)?;
            let mut candidates: Vec<FaceBox> = self
                .detect(&matrix)
                .iter()
                .filter(|r| {
                    let b = to_box(r);
                    b.width().min(b.height()) * to_original >= MIN_FACE_SIDE && landmarks_look_like_a_face(&b, &self.landmark_points(&matrix, r))
                })
                .map(|r| to_box(r).scaled(to_original))
                .collect();
            candidates.sort_by(|a, b| b.area().total_cmp(&a.area()));
            for candidate in candidates {
                if self.is_stable(img, &candidate)? {
                    return Ok(Some(candidate));
                }
            }
        }
        Ok(None)
    }

    /// Whether `face` is found again when its surroundings are cropped, scaled so the
    /// face measures each of [`CONFIRM_SIDES`], and mirrored (see [`plausible`]).
    fn is_stable(&self, img: &DynamicImage, face: &FaceBox) -> Result<bool, Failure> {
        let largest = CONFIRM_SIDES.iter().copied().fold(0.0, f64::max);
        let Some((crop, face_in_crop)) = crop_around(img, face, CONFIRM_MARGIN, largest) else {
            return Ok(false);
        };
        let mirrored = crop.fliph();
        let face_in_mirrored = face_in_crop.mirrored(f64::from(crop.width()));
        let trials = CONFIRM_SIDES.len() * 2;
        let (mut hits, mut misses) = (0, 0);
        for (view, expected) in [(&crop, face_in_crop), (&mirrored, face_in_mirrored)] {
            for side in CONFIRM_SIDES {
                let factor = side / expected.width().min(expected.height());
                if !(factor.is_finite() && factor > 0.0) {
                    return Ok(false);
                }
                let matrix = to_matrix(&scale_image(view, factor))?;
                let expected = expected.scaled(factor);
                if self.detect(&matrix).iter().any(|r| to_box(r).iou(&expected) >= CONFIRM_MIN_IOU) {
                    hits += 1;
                } else {
                    misses += 1;
                }
                if hits >= CONFIRM_MIN_HITS {
                    return Ok(true);
                }
                if trials - misses < CONFIRM_MIN_HITS {
                    return Ok(false);
                }
            }
        }
        Ok(false)
    }

    /// Embeds the face in `face` (original-image coordinates) from the original pixels.
    fn embed_face(&self, img: &DynamicImage, face: &FaceBox) -> Result<Embedding, Failure> {
        // dlib's alignment chip reaches ~25 % beyond the face; keep a wider margin.
        let (crop, face_in_crop) = crop_around(img, face, 0.6, EMBED_FACE_SIDE).ok_or(Failure::NoFaceFound)?;
        let matrix = to_matrix(&crop)?;
        let shape = self.landmarks.face_landmarks(&matrix, &to_rectangle(&face_in_crop));
        let encodings = lock(&self.network).get_face_encodings(&matrix, std::slice::from_ref(&shape), 0);
        let values: Vec<f32> =
            encodings.first().ok_or_else(|| Failure::ProviderError("dlib returned no face encoding".into()))?.as_ref().iter().map(|v| *v as f32).collect();
        Embedding::try_from(values).map_err(|e| Failure::ProviderError(e.to_string()))
    }

    fn detect(&self, matrix: &ImageMatrix) -> Vec<Rectangle> {
        lock(&self.detector).face_locations(matrix).to_vec()
    }

    fn landmark_points(&self, matrix: &ImageMatrix, rect: &Rectangle) -> Vec<(f64, f64)> {
        self.landmarks.face_landmarks(matrix, rect).iter().map(|p| (p.x() as f64, p.y() as f64)).collect()
    }
}

/// The region around `face` grown by `margin` of its size on each side (clipped to the
/// image), shrunk if needed so the face is at most `max_face_side` px, with the face's
/// box in the crop's coordinates. `None` if nothing of the region is inside the image.
fn crop_around(img: &DynamicImage, face: &FaceBox, margin: f64, max_face_side: f64) -> Option<(DynamicImage, FaceBox)> {
    let region = face.grown(margin);
    let left = clamp_to(region.left, img.width());
    let top = clamp_to(region.top, img.height());
    let right = clamp_to(region.right, img.width());
    let bottom = clamp_to(region.bottom, img.height());
    if right <= left || bottom <= top {
        return None;
    }
    let crop = img.crop_imm(left, top, right - left, bottom - top);
    let face_in_crop = face.relative_to(f64::from(left), f64::from(top));
    let side = face.width().min(face.height());
    if side > max_face_side {
        let factor = max_face_side / side;
        Some((scale_image(&crop, factor), face_in_crop.scaled(factor)))
    } else {
        Some((crop, face_in_crop))
    }
}

/// The full path of a model file, refused early when dlib could not open it (dlib's
/// binding panics on a path that is not UTF-8).
fn model_path(dir: &Path, name: &str) -> Result<std::path::PathBuf, Failure> {
    let path = dir.join(name);
    if path.to_str().is_none_or(|p| p.contains('\0')) {
        return Err(Failure::ProviderError(format!("face model path is not valid UTF-8: {}", path.display())));
    }
    if !path.is_file() {
        return Err(Failure::ProviderError(format!("face model missing: {} (run scripts/models/face.sh)", path.display())));
    }
    Ok(path)
}

/// Locks a dlib object; a panic elsewhere while it was held leaves it usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn clamp_to(v: f64, max: u32) -> u32 {
    v.round().clamp(0.0, f64::from(max)) as u32
}

/// Copies pixels into dlib's matrix type (the binding speaks `image` 0.24).
fn to_matrix(img: &DynamicImage) -> Result<ImageMatrix, Failure> {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let buffer = image024::RgbImage::from_raw(w, h, rgb.into_raw()).ok_or_else(|| Failure::ProviderError("image buffer size mismatch".into()))?;
    Ok(ImageMatrix::from_image(&buffer))
}

fn to_box(r: &Rectangle) -> FaceBox {
    FaceBox { left: r.left as f64, top: r.top as f64, right: r.right as f64, bottom: r.bottom as f64 }
}

fn to_rectangle(b: &FaceBox) -> Rectangle {
    Rectangle { left: b.left.round() as _, top: b.top.round() as _, right: b.right.round() as _, bottom: b.bottom.round() as _ }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn matcher_is_shareable_across_threads() {
        assert_send_sync::<FaceMatcher>();
    }

    #[test]
    fn missing_models_are_a_provider_error() {
        let err = FaceMatcher::load(Path::new("/nonexistent/attest-models")).err();
        assert!(matches!(err, Some(Failure::ProviderError(_))));
    }
}
