//! Extraction providers (SPEC §5.2): one trait, and the built-in provider that runs the
//! local extractors of `attest-extract`. Another provider (a vendor's API, a GPU
//! service) implements the same trait.

use crate::flows::{DocumentRole, Reader};
use attest_extract::{
    address::{self, Ocr},
    barcode,
    face::{Embedding, FaceMatcher},
    image, intake,
    mrz::MrzReader,
    Extracted, Failure,
};
use std::path::{Path, PathBuf};

/// A face embedding, comparable with [`Provider::similarity`].
pub type FaceEmbedding = Vec<f32>;

/// One document to read: its declared type and the bytes of each side.
pub struct DocumentInput<'a> {
    pub role: DocumentRole,
    pub document_type: &'a str,
    pub country: &'a str,
    pub front: &'a [u8],
    pub back: Option<&'a [u8]>,
}

/// Reads documents and faces. Implementations are called from blocking threads and
/// must be safe to share between them.
pub trait Provider: Send + Sync {
    /// Reads a photo ID or a proof of address.
    fn read(&self, doc: &DocumentInput<'_>) -> Result<Extracted, Failure>;
    /// The embedding of the most prominent face in an image (a selfie, or the portrait
    /// on the front of a photo ID).
    fn face(&self, image: &[u8]) -> Result<FaceEmbedding, Failure>;
    /// Similarity of two embeddings, 0 (different people) to 1 (identical).
    fn similarity(&self, a: &FaceEmbedding, b: &FaceEmbedding) -> f64;
    /// The models this provider could not load (shown by `/readyz` and the overview).
    fn missing_models(&self) -> Vec<&'static str> {
        Vec::new()
    }
}

/// Which extractor reads a document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The AAMVA PDF417 barcode (US/Canadian licences and state IDs).
    Barcode,
    /// The ICAO 9303 machine-readable zone.
    Mrz,
    /// Text of a proof-of-address document.
    AddressText,
    /// No built-in extractor reads this type: a person checks it.
    None,
}

/// The extractor for a document (the table is [`crate::flows::reader_for`], shared with
/// the document-types listing; selfies are read by the face matcher, not here).
pub fn method_for(role: DocumentRole, document_type: &str) -> Method {
    match crate::flows::reader_for(role, document_type) {
        Some(Reader::Barcode) => Method::Barcode,
        Some(Reader::Mrz) => Method::Mrz,
        Some(Reader::AddressText) => Method::AddressText,
        Some(Reader::Face) | None => Method::None,
    }
}

/// The built-in provider: everything runs on this machine from files installed by
/// `scripts/models` (the MRZ model trained from Debian's OCR-B font, dlib's CC0 face
/// models from PyPI) and Debian's Tesseract `eng` data.
pub struct LocalProvider {
    mrz: Result<MrzReader, Failure>,
    address: Result<Ocr, Failure>,
    faces: Result<FaceMatcher, Failure>,
}

impl LocalProvider {
    /// Loads the models from `models_dir`. A missing model does not stop the server:
    /// documents that need it fail with `provider_error` (and are retried), and the
    /// start-up log says what is missing.
    pub fn load(models_dir: &Path) -> LocalProvider {
        let provider = LocalProvider {
            mrz: MrzReader::new(models_dir),
            address: Ocr::english(&PathBuf::from(address::DEBIAN_TESSDATA)),
            faces: FaceMatcher::load(models_dir),
        };
        for (what, missing) in [
            ("MRZ model (ocrb.traineddata)", provider.mrz.as_ref().err()),
            ("Tesseract eng data", provider.address.as_ref().err()),
            ("face models", provider.faces.as_ref().err()),
        ] {
            if let Some(e) = missing {
                tracing::warn!(models_dir = %models_dir.display(), error = ?e, "{what} not available; run scripts/models");
            }
        }
        provider
    }
}

fn unavailable<T>(r: &Result<T, Failure>) -> Result<&T, Failure> {
    r.as_ref().map_err(|e| Failure::ProviderError(format!("extractor unavailable: {e:?}")))
}

fn image(bytes: &[u8]) -> Result<image::DynamicImage, Failure> {
    match intake::load(bytes)? {
        intake::Loaded::Image(img) => Ok(img),
        // A PDF where a photo is expected: its first page, rasterized.
        intake::Loaded::Pdf(pdf) => {
            intake::rasterize_pdf(&pdf, 300, 1)?.into_iter().next().map(image::DynamicImage::ImageLuma8).ok_or(Failure::UnsupportedFormat)
        }
    }
}

impl Provider for LocalProvider {
    fn missing_models(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.mrz.is_err() {
            missing.push("mrz");
        }
        if self.address.is_err() {
            missing.push("tesseract_eng");
        }
        if self.faces.is_err() {
            missing.push("face");
        }
        missing
    }

    fn read(&self, doc: &DocumentInput<'_>) -> Result<Extracted, Failure> {
        match method_for(doc.role, doc.document_type) {
            Method::Barcode => {
                // The barcode is on the back; some uploads put it on the front.
                let sides = doc.back.into_iter().chain(std::iter::once(doc.front));
                let mut last = Failure::BarcodeNotFound;
                for side in sides {
                    match image(side).and_then(|img| barcode::extract(&img)) {
                        Ok(e) => return Ok(e),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Method::Mrz => {
                let reader = unavailable(&self.mrz)?;
                // Passports carry the MRZ on the data page (front); ID cards on the back.
                let mut last = Failure::MrzUnreadable;
                for side in std::iter::once(doc.front).chain(doc.back) {
                    match image(side).and_then(|img| reader.extract(&img)) {
                        Ok(e) => return Ok(e),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Method::AddressText => {
                // Timed here, where it is known whether the text came from the PDF's text
                // layer (`poa_text`, milliseconds) or from OCR (`poa_ocr`, seconds).
                let started = std::time::Instant::now();
                let ocr = unavailable(&self.address)?;
                let read = intake::load(doc.front).and_then(|loaded| address::read(&loaded, ocr));
                let extractor = match &read {
                    Ok(r) if r.source == address::TextSource::TextLayer => "poa_text",
                    _ => "poa_ocr",
                };
                let outcome = read.as_ref().err().map(|f| f.code()).unwrap_or("ok");
                metrics::histogram!("attest_pipeline_extractor_seconds", "extractor" => extractor, "outcome" => outcome)
                    .record(started.elapsed().as_secs_f64());
                read.map(|r| r.extracted)
            }
            Method::None => Err(Failure::UnsupportedDocumentType),
        }
    }

    fn face(&self, bytes: &[u8]) -> Result<FaceEmbedding, Failure> {
        let matcher = unavailable(&self.faces)?;
        let img = image(bytes)?;
        matcher.embed(&img).map(Vec::from)
    }

    fn similarity(&self, a: &FaceEmbedding, b: &FaceEmbedding) -> f64 {
        match (Embedding::try_from(a.clone()), Embedding::try_from(b.clone())) {
            (Ok(a), Ok(b)) => attest_extract::face::score(&a, &b),
            _ => 0.0,
        }
    }
}
