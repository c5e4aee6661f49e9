//! End-to-end MRZ reading on synthetic documents rendered in OCR-B.
//!
//! Trains the model if needed (`scripts/models/mrz.sh`, into `ATTEST_MODELS_DIR`, default
//! `~/.cache/attest/models`), generates the fixtures with
//! `tests/fixtures/mrz/generate.py` (Python from `ATTEST_TEST_PYTHON`, default
//! `~/.cache/attest/test-venv/bin/python`; cached in cargo's target scratch directory
//! until the generator changes), and reads every fixture. The contract under
//! test: each result is exactly the expected fields or `mrz_unreadable`, never a wrong
//! value; a corrupted check digit is always refused; and enough valid MRZs are read for
//! the reader to be useful.

use attest_extract::mrz::{self, MrzReader};
use attest_extract::{intake, Extracted, Failure};
use chrono::NaiveDate;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Trains the model if missing (the script is idempotent and returns at once when the
/// model is current).
fn models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("ATTEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/attest/models"));
        let status = Command::new("bash").arg(repo_root().join("scripts/models/mrz.sh")).arg(&dir).status().expect("run scripts/models/mrz.sh");
        assert!(status.success(), "scripts/models/mrz.sh failed");
        dir
    })
    .clone()
}

struct Fixtures {
    dir: PathBuf,
    today: NaiveDate,
    items: Vec<Value>,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let python = std::env::var_os("ATTEST_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/attest/test-venv/bin/python"));
        // Cached under cargo's per-target scratch dir, regenerated when the generator changes.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mrz-fixtures");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mrz/generate.py");
        let source = std::fs::read(&script).expect("read generate.py");
        let stamp = dir.join("generate.py.used");
        let current = dir.join("manifest.json").is_file() && std::fs::read(&stamp).is_ok_and(|s| s == source);
        if !current {
            let _ = std::fs::remove_dir_all(&dir);
            let status = Command::new(&python).arg(&script).arg(&dir).status().unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
            assert!(status.success(), "generate.py failed");
            std::fs::write(&stamp, &source).expect("write generator stamp");
        }
        let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("manifest json");
        let today = NaiveDate::parse_from_str(manifest["today"].as_str().expect("today"), "%Y-%m-%d").expect("today date");
        let items = manifest["fixtures"].as_array().expect("fixtures").clone();
        Fixtures { dir, today, items }
    })
}

/// The manifest's expected reading (the generator writes every field of `Extracted`).
fn expected(v: &Value) -> Extracted {
    serde_json::from_value(v.clone()).expect("a manifest's expected reading")
}

#[derive(Default, Debug)]
struct Tally {
    exact: usize,
    refused: usize,
    wrong: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.exact + self.refused + self.wrong
    }
}

#[test]
fn synthetic_mrzs_are_exact_or_refused() {
    let reader = MrzReader::new(&models_dir()).expect("load the ocrb model");
    let fx = fixtures();
    let mut tallies: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut failures = Vec::new();
    for item in &fx.items {
        let file = item["file"].as_str().expect("file");
        let valid = item["valid"].as_bool().expect("valid");
        let key = format!("{} {}", item["variant"].as_str().unwrap_or("?"), if valid { "valid" } else { "corrupted" });
        let tally = tallies.entry(key).or_default();
        let bytes = std::fs::read(fx.dir.join(file)).expect("fixture");
        let img = match intake::load(&bytes).expect("decodable fixture") {
            intake::Loaded::Image(img) => img,
            intake::Loaded::Pdf(_) => panic!("fixture is an image"),
        };
        let got = reader.read_as_of(&img, fx.today).map(|m| mrz::to_extracted(&m));
        match (&got, valid) {
            (Err(Failure::MrzUnreadable), _) => tally.refused += 1,
            (Ok(e), true) if *e == expected(&item["expected"]) => tally.exact += 1,
            (Err(other), _) => panic!("{file}: unexpected failure {other:?}"),
            (Ok(e), _) => {
                tally.wrong += 1;
                failures.push(format!("{file}: read {e:?}, lines {}", item["lines"]));
            }
        }
    }
    println!("MRZ fixtures (exact / refused / wrong of total):");
    for (k, t) in &tallies {
        println!("  {k:<18} {:>3} / {:>3} / {:>3} of {:>3}", t.exact, t.refused, t.wrong, t.total());
    }
    assert!(failures.is_empty(), "wrong values (must be exact or refused):\n{}", failures.join("\n"));
    for (k, t) in &tallies {
        if k.ends_with("corrupted") {
            assert_eq!(t.refused, t.total(), "{k}: corrupted check digits must be refused");
        }
    }
    let rate = |k: &str| tallies.get(k).map_or(0.0, |t| t.exact as f64 / t.total().max(1) as f64);
    assert!(tallies.get("clean valid").is_some_and(|t| t.total() >= 30), "too few clean fixtures");
    assert!(tallies.get("photo valid").is_some_and(|t| t.total() >= 30), "too few photo fixtures");
    assert!(rate("clean valid") >= 0.95, "clean valid exact rate {:.3} < 0.95", rate("clean valid"));
    assert!(rate("photo valid") >= 0.80, "photo valid exact rate {:.3} < 0.80", rate("photo valid"));
}

#[test]
fn reader_is_shared_across_threads() {
    let reader = MrzReader::new(&models_dir()).expect("load the ocrb model");
    let fx = fixtures();
    let clean: Vec<&Value> = fx.items.iter().filter(|i| i["variant"] == "clean" && i["valid"] == true).take(6).collect();
    let imgs: Vec<(image::DynamicImage, &Value)> =
        clean.iter().map(|i| (image::open(fx.dir.join(i["file"].as_str().expect("file"))).expect("image"), *i)).collect();
    let sequential: Vec<_> = imgs.iter().map(|(img, _)| reader.read_as_of(img, fx.today)).collect();
    let parallel: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = imgs.iter().map(|(img, _)| s.spawn(|| reader.read_as_of(img, fx.today))).collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).collect()
    });
    assert_eq!(sequential, parallel, "results must not depend on which pooled engine read them");
}

#[test]
fn junk_images_are_refused_not_panicked_on() {
    let reader = MrzReader::new(&models_dir()).expect("load the ocrb model");
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
    let blank = image::DynamicImage::new_luma8(800, 600);
    assert_eq!(reader.read_as_of(&blank, today), Err(Failure::MrzUnreadable));
    let tiny = image::DynamicImage::new_rgb8(3, 1);
    assert_eq!(reader.read_as_of(&tiny, today), Err(Failure::MrzUnreadable));
    let mut stripes = image::GrayImage::new(1200, 400);
    for (x, y, p) in stripes.enumerate_pixels_mut() {
        *p = image::Luma([if (x / 7 + y / 13) % 2 == 0 { 0 } else { 255 }]);
    }
    assert_eq!(reader.read_as_of(&image::DynamicImage::ImageLuma8(stripes), today), Err(Failure::MrzUnreadable));
}
