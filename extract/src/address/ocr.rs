//! A reusable Tesseract engine, shareable between worker threads.
//!
//! Initialising Tesseract (loading `eng.traineddata`) takes ~0.1–0.2 s, so one engine
//! is kept and reused. The engine is `Send` but not `Sync`, so it sits behind a mutex:
//! OCR requests are served one at a time, which on a small machine is what the CPU
//! allows anyway. The binding's builder methods consume the engine; if one fails the
//! engine is gone, and the next request initialises a fresh one.

use crate::Failure;
use image::GrayImage;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tesseract::Tesseract;

/// Where Debian's `tesseract-ocr-eng` installs its models.
pub const DEBIAN_TESSDATA: &str = "/usr/share/tesseract-ocr/5/tessdata";

/// Tesseract with one language model, loaded once.
pub struct Ocr {
    tessdata: PathBuf,
    language: String,
    engine: Mutex<Option<Tesseract>>,
}

impl Ocr {
    /// Loads `<tessdata>/<language>.traineddata`. A missing model is a `provider_error`
    /// (the installation is broken, not the upload).
    pub fn new(tessdata: &Path, language: &str) -> Result<Ocr, Failure> {
        let engine = init(tessdata, language)?;
        Ok(Ocr { tessdata: tessdata.to_path_buf(), language: language.to_string(), engine: Mutex::new(Some(engine)) })
    }

    /// English, the model proof-of-address documents from the US and Canada need.
    pub fn english(tessdata: &Path) -> Result<Ocr, Failure> {
        Ocr::new(tessdata, "eng")
    }

    /// Recognises `img` (scanned at about `dpi`) and returns Tesseract's TSV: one row
    /// per page, block, paragraph, line and word, with boxes and confidences.
    pub fn tsv(&self, img: &GrayImage, dpi: u32) -> Result<String, Failure> {
        let (width, height) = (to_i32(img.width())?, to_i32(img.height())?);
        let mut slot = lock(&self.engine);
        let engine = match slot.take() {
            Some(engine) => engine,
            None => init(&self.tessdata, &self.language)?,
        };
        let dpi = i32::try_from(dpi).unwrap_or(300);
        let mut engine = engine
            .set_frame(img.as_raw(), width, height, 1, width)
            .map_err(|e| Failure::ProviderError(format!("tesseract image: {e}")))?
            .set_source_resolution(dpi)
            .recognize()
            .map_err(|e| Failure::ProviderError(format!("tesseract: {e}")))?;
        let tsv = engine.get_tsv_text(0).map_err(|e| Failure::ProviderError(format!("tesseract text: {e}")))?;
        *slot = Some(engine);
        Ok(tsv)
    }
}

fn init(tessdata: &Path, language: &str) -> Result<Tesseract, Failure> {
    let model = tessdata.join(format!("{language}.traineddata"));
    if !model.is_file() {
        return Err(Failure::ProviderError(format!("tesseract model missing: {}", model.display())));
    }
    let dir = tessdata.to_str().ok_or_else(|| Failure::ProviderError("tessdata path is not UTF-8".into()))?;
    Tesseract::new(Some(dir), Some(language)).map_err(|e| Failure::ProviderError(format!("tesseract init: {e}")))
}

fn to_i32(v: u32) -> Result<i32, Failure> {
    i32::try_from(v).map_err(|_| Failure::ImageTooLarge)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn ocr_is_shareable_and_a_missing_model_is_a_provider_error() {
        assert_send_sync::<Ocr>();
        assert!(matches!(Ocr::english(Path::new("/nonexistent")), Err(Failure::ProviderError(_))));
    }
}
