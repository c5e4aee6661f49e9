//! Selfie match on real photographs.
//!
//! The faces are public-domain / CC0 photos shipped in PyPI wheels (fetched and
//! hash-checked by `tests/fixtures/face/fetch.sh` into a cache): astronaut Eileen
//! Collins (NASA, from scikit-image) for same-person pairs, against copies transformed
//! the way selfies and ID photos differ (scale, tilt, light, JPEG, mirroring, a
//! portrait printed on a card); Grace Hopper (US Navy, from matplotlib) as a different
//! person; scikit-image's cameraman (in profile), cat and coffee cup as no usable face.
//! The dlib models are installed by `scripts/models/face.sh` into
//! `$ATTEST_MODELS_DIR` (default `~/.cache/attest/models`) when missing.

use attest_extract::face::{self, Embedding, FaceMatcher, DEFAULT_THRESHOLD};
use attest_extract::Failure;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};
use imageproc::geometric_transformations::{rotate_about_center, Interpolation};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn cache_dir() -> PathBuf {
    let base =
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    base.join("attest")
}

fn run_script(script: &Path, out_dir: &Path) {
    let status = Command::new("bash").arg(script).arg(out_dir).status().expect("bash runs");
    assert!(status.success(), "{} {} failed", script.display(), out_dir.display());
}

fn models_dir() -> PathBuf {
    let dir = std::env::var_os("ATTEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| cache_dir().join("models"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/models/face.sh");
    run_script(&script, &dir); // idempotent: a hash check when the models are there
    dir
}

fn fixture(name: &str) -> DynamicImage {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = cache_dir().join("fixtures/face");
        run_script(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/face/fetch.sh"), &dir);
        dir
    });
    image::open(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn matcher() -> &'static FaceMatcher {
    static MATCHER: OnceLock<FaceMatcher> = OnceLock::new();
    MATCHER.get_or_init(|| FaceMatcher::load(&models_dir()).expect("face models load"))
}

fn embed(img: &DynamicImage) -> Embedding {
    matcher().embed(img).expect("a face is found")
}

fn astronaut() -> DynamicImage {
    fixture("astronaut.png")
}

fn jpeg(img: &DynamicImage, quality: u8) -> DynamicImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(&img.to_rgb8()).expect("jpeg encodes");
    image::load_from_memory(&bytes).expect("jpeg decodes")
}

fn rotated(img: &DynamicImage, degrees: f32) -> DynamicImage {
    DynamicImage::ImageRgb8(rotate_about_center(&img.to_rgb8(), degrees.to_radians(), Interpolation::Bilinear, Rgb([128, 128, 128])))
}

/// The astronaut's head and shoulders printed as the portrait of an ID card (860×540,
/// text lines beside the portrait).
fn id_card() -> RgbImage {
    let portrait = astronaut().crop_imm(130, 10, 200, 250).resize_exact(170, 212, FilterType::Triangle);
    let mut card = RgbImage::from_pixel(860, 540, Rgb([214, 228, 240]));
    for (i, y) in (80..420).step_by(48).enumerate() {
        let width = 280 + (i as u32 * 37) % 180;
        for x in 300..300 + width {
            for dy in 0..14 {
                card.put_pixel(x, y + dy, Rgb([40, 50, 70]));
            }
        }
    }
    image::imageops::overlay(&mut card, &portrait.to_rgb8(), 50, 150);
    card
}

/// A licence front laid out as the end-to-end tests' generator does (1012×638: a header
/// band, the head-and-shoulders portrait at the left, text lines beside it), scanned at
/// `width`×`height` (a flatbed scan: the card fills the image).
fn licence_scan(width: u32, height: u32) -> DynamicImage {
    let mut card = RgbImage::from_pixel(1012, 638, Rgb([226, 232, 240]));
    for y in 0..90 {
        for x in 0..1012 {
            card.put_pixel(x, y, Rgb([40, 70, 120]));
        }
    }
    for i in 0..7u32 {
        for y in 150 + i * 40..162 + i * 40 {
            for x in 380..380 + 160 + (i * 53) % 200 {
                card.put_pixel(x, y, Rgb([20, 20, 20]));
            }
        }
    }
    let portrait = astronaut().crop_imm(110, 0, 290, 330);
    image::imageops::overlay(&mut card, &portrait.to_rgb8(), 40, 140);
    jpeg(&DynamicImage::ImageRgb8(card).resize_exact(width, height, FilterType::Triangle), 90)
}

/// The card photographed on a desk: the face is a small part of a larger picture.
fn id_card_photo() -> DynamicImage {
    let card = id_card();
    let mut desk = RgbImage::from_pixel(1600, 1200, Rgb([92, 70, 52]));
    image::imageops::overlay(&mut desk, &card, 370, 330);
    jpeg(&DynamicImage::ImageRgb8(desk), 85)
}

fn assert_same_person(name: &str, other: &DynamicImage) {
    let reference = embed(&astronaut());
    let score = face::score(&reference, &embed(other));
    eprintln!("{name}: score {score:.3} (distance {:.3})", face::distance_for_score(score));
    assert!(score >= DEFAULT_THRESHOLD, "{name}: same person scored {score:.3} < {DEFAULT_THRESHOLD}");
}

#[test]
fn identical_photo_scores_one() {
    let a = embed(&astronaut());
    assert!((face::score(&a, &a) - 1.0).abs() < 1e-9);
}

#[test]
fn same_person_scaled() {
    let img = astronaut();
    assert_same_person("scaled ×2", &img.resize(1024, 1024, FilterType::CatmullRom));
    // The face is ~80 px here: the first pass misses it, the upscaled pass finds it.
    assert_same_person("scaled ×0.7", &img.resize(358, 358, FilterType::Triangle));
}

#[test]
fn same_person_tilted() {
    assert_same_person("rotated 8°", &rotated(&astronaut(), 8.0));
    assert_same_person("rotated −12°", &rotated(&astronaut(), -12.0));
}

#[test]
fn same_person_other_light_and_compression() {
    let img = astronaut();
    assert_same_person("brighter", &img.brighten(45));
    assert_same_person("darker, low contrast", &img.brighten(-40).adjust_contrast(-30.0));
    assert_same_person("JPEG q35", &jpeg(&img, 35));
    assert_same_person("greyscale", &DynamicImage::ImageLuma8(img.to_luma8()));
}

#[test]
fn same_person_mirrored_selfie() {
    assert_same_person("mirrored", &astronaut().fliph());
}

#[test]
fn same_person_on_an_id_card() {
    let card = id_card_photo();
    let face = matcher().find_face(&card).expect("detection runs").expect("portrait found");
    // The portrait was pasted at (420, 480) on the desk photo, 170 × 212 px.
    assert!(face.left > 420.0 && face.right < 590.0 && face.top > 480.0 && face.bottom < 692.0, "{face:?}");
    assert_same_person("ID card portrait", &card);
}

/// A licence scanned small (640×400: the portrait's face is ~60 px) is found by the
/// upsampled pass, and matches as the same card scanned at 1280×800 does.
#[test]
fn same_person_on_a_small_licence_scan() {
    for (width, height) in [(1280, 800), (640, 400), (512, 320)] {
        let scan = licence_scan(width, height);
        let started = std::time::Instant::now();
        let found = matcher().embed(&scan);
        eprintln!("{width}×{height}: {:?} in {:?}", found.as_ref().map(|_| "face"), started.elapsed());
        assert_same_person(&format!("licence scanned at {width}×{height}"), &scan);
    }
}

#[test]
fn different_person_is_below_threshold() {
    let hopper = embed(&fixture("grace_hopper.jpg"));
    for (name, img) in [("astronaut", astronaut()), ("astronaut on an ID card", id_card_photo())] {
        let score = face::score(&embed(&img), &hopper);
        eprintln!("{name} vs Grace Hopper: score {score:.3} (distance {:.3})", face::distance_for_score(score));
        assert!(score < DEFAULT_THRESHOLD, "{name}: different people scored {score:.3}");
    }
}

#[test]
fn false_faces_are_not_picked() {
    // dlib's HOG detector also fires on the round mission patch, larger than the face;
    // the largest-face rule must not pick it.
    for img in [astronaut().resize(1024, 1024, FilterType::CatmullRom), DynamicImage::ImageLuma8(astronaut().to_luma8())] {
        let face = matcher().find_face(&img).expect("detection runs").expect("face found");
        let k = f64::from(img.width()) / 512.0;
        assert!(face.top < 200.0 * k && face.left > 150.0 * k && face.right < 300.0 * k, "{face:?}");
    }
}

#[test]
fn no_human_face_is_its_own_failure() {
    // A face in profile is not a usable selfie either: the frontal detector skips it.
    for name in ["chelsea.png", "coffee.png", "camera.png"] {
        assert_eq!(matcher().embed(&fixture(name)).err(), Some(Failure::NoFaceFound), "{name}");
    }
    assert_eq!(matcher().embed(&DynamicImage::new_rgb8(640, 480)).err(), Some(Failure::NoFaceFound));
    assert_eq!(Failure::NoFaceFound.code(), "no_face_found");
}

#[test]
fn degenerate_images_do_not_panic() {
    for (w, h) in [(0, 0), (1, 1), (1, 3000), (3000, 2)] {
        assert_eq!(matcher().embed(&DynamicImage::new_luma8(w, h)).err(), Some(Failure::NoFaceFound), "{w}×{h}");
    }
    let noise = RgbImage::from_fn(900, 700, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761).wrapping_add(y.wrapping_mul(40_503)) >> 7) as u8;
        Rgb([v, v.wrapping_mul(3), v.wrapping_add(90)])
    });
    assert_eq!(matcher().embed(&DynamicImage::ImageRgb8(noise)).err(), Some(Failure::NoFaceFound));
}

#[test]
fn embeddings_round_trip_through_json() {
    let a = embed(&astronaut());
    let json = serde_json::to_string(&a).expect("serializes");
    let back: Embedding = serde_json::from_str(&json).expect("deserializes");
    assert!(face::score(&a, &back) > 0.999_999);
}

#[test]
fn matcher_is_shared_between_threads() {
    let img = astronaut();
    let reference = embed(&img);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| matcher().embed(&img))).collect();
        for h in handles {
            let e = h.join().expect("thread").expect("face");
            assert!(face::score(&reference, &e) > 0.999);
        }
    });
}

#[test]
fn missing_models_are_a_provider_error() {
    let err = FaceMatcher::load(Path::new("/nonexistent")).err().expect("fails");
    assert_eq!(err.code(), "provider_error");
}
