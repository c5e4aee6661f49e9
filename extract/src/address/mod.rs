//! Proof of address (SPEC §5.2): the holder's name and address from a lease, utility
//! bill, insurance declaration, bank statement…
//!
//! Text comes from the cheapest source that has it:
//! 1. a PDF's text layer (poppler's `pdftotext` in a child process under limits,
//!    ~10–20 ms), for the first [`TEXT_LAYER_PAGES`] pages — most bills and statements
//!    are generated PDFs;
//! 2. otherwise, or when the text layer holds no address (a scan with a token text
//!    layer), the first [`OCR_PAGES`] pages rasterized at [`OCR_DPI`] with poppler and
//!    read by Tesseract (`eng`, seconds per page);
//! 3. images (phone photos, scans) are read by Tesseract directly.
//!
//! The text becomes positioned cells ([`layout`]), in which [`parse`] finds the
//! addresses and picks the holder's. The result carries every text line too, so the
//! name rule can look for the applicant's name anywhere on the document.
//!
//! Outcomes: an address → [`PoaReading`]; no legible text → [`Failure::TextNotFound`];
//! text without any address → [`Failure::AddressNotFound`] (a proof of address without
//! one proves nothing, and the applicant is told to upload another document rather than
//! a sharper picture); a failing tool → [`Failure::ProviderError`]. A PDF whose text layer cannot be read
//! (malformed, or a bomb stopped by the limits) counts as having none.

pub mod layout;
mod lines;
pub mod name;
mod ocr;
pub mod parse;

pub use ocr::{Ocr, DEBIAN_TESSDATA};

use crate::intake::{self, Loaded};
use crate::{Extracted, Failure};
use image::{imageops::FilterType, DynamicImage, GrayImage};
use layout::Cell;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;

/// Pages of a PDF text layer searched for the address.
pub const TEXT_LAYER_PAGES: u32 = 3;
/// Pages of a scanned PDF that are OCR'd (the addressee is on the first page of nearly
/// every bill, statement and lease; the second covers a cover sheet).
pub const OCR_PAGES: u32 = 2;
/// Rasterization resolution for OCR: 10–12 pt text comes out ~25 px high, which
/// Tesseract reads well. On the scanned-bill fixture 300 dpi took ~1.6× as long as
/// 200 dpi (≈ 2.9 s vs 1.7 s on a busy 2-core machine) for the same result.
pub const OCR_DPI: u32 = 250;
/// Longer side images are reduced to before OCR (a letter page at ~300 dpi).
pub const OCR_MAX_SIDE: u32 = 3300;
/// Longer side smaller images are enlarged to before OCR (a letter page at ~200 dpi).
pub const OCR_MIN_SIDE: u32 = 2200;
/// Tesseract words below this confidence (0–100) are dropped as noise.
const MIN_WORD_CONFIDENCE: f32 = 30.0;
/// Fewer letters and digits than this is "no text" (a stray mark, a page number).
const MIN_TEXT_CHARS: usize = 20;

/// What a proof of address says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoaReading {
    /// The holder's name (best guess: the addressee or a labelled name) and address.
    pub extracted: Extracted,
    /// Every text line (column cells separately), in reading order, for name matching.
    pub lines: Vec<String>,
    /// Where the text came from.
    pub source: TextSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    /// The PDF's own text.
    TextLayer,
    /// Tesseract OCR of a picture or a rendered page.
    Ocr,
}

/// Reads the name and address on a proof-of-address upload.
pub fn read(loaded: &Loaded, ocr: &Ocr) -> Result<PoaReading, Failure> {
    match loaded {
        Loaded::Pdf(bytes) => read_pdf(bytes, ocr),
        Loaded::Image(img) => read_image(img, ocr),
    }
}

/// The text layer first; then OCR, as a scan may carry a token text layer ("Scanned
/// with …") or an invisible one without the address. The failure is the best of what
/// the sources said: text anywhere without an address is `address_not_found`.
fn read_pdf(pdf: &[u8], ocr: &Ocr) -> Result<PoaReading, Failure> {
    let mut failure = Failure::TextNotFound;
    if let Some(text) = pdf_text_layer(pdf, TEXT_LAYER_PAGES) {
        match reading_from(layout::from_plain_text(&text), TextSource::TextLayer) {
            Ok(reading) => return Ok(reading),
            Err(f) => failure = f,
        }
    }
    let mut lines = Vec::new();
    for page in intake::rasterize_pdf(pdf, OCR_DPI, OCR_PAGES)? {
        let cells = ocr_cells(ocr, &page, OCR_DPI)?;
        lines.extend(cells.iter().map(|c| c.text.clone()));
        match reading_from(cells, TextSource::Ocr) {
            Ok(mut reading) => {
                reading.lines = lines;
                return Ok(reading);
            }
            Err(Failure::AddressNotFound) => failure = Failure::AddressNotFound,
            Err(_) => {}
        }
    }
    Err(failure)
}

fn read_image(img: &DynamicImage, ocr: &Ocr) -> Result<PoaReading, Failure> {
    let long_side = img.width().max(img.height());
    let grey = if long_side == 0 {
        return Err(Failure::TextNotFound);
    } else if long_side < OCR_MIN_SIDE {
        // Small text reads better enlarged: Tesseract wants ~20 px letters.
        let factor = f64::from(OCR_MIN_SIDE) / f64::from(long_side);
        let (w, h) = ((f64::from(img.width()) * factor) as u32, (f64::from(img.height()) * factor) as u32);
        img.resize_exact(w.max(1), h.max(1), FilterType::CatmullRom).to_luma8()
    } else {
        intake::downscale(img, OCR_MAX_SIDE).to_luma8()
    };
    // A photo has no resolution of its own: assume the page (11 in tall) fills it.
    let dpi = (grey.width().max(grey.height()) / 11).clamp(70, 600);
    reading_from(ocr_cells(ocr, &grey, dpi)?, TextSource::Ocr)
}

fn ocr_cells(ocr: &Ocr, page: &GrayImage, dpi: u32) -> Result<Vec<Cell>, Failure> {
    Ok(layout::from_tesseract_tsv(&ocr.tsv(page, dpi)?, MIN_WORD_CONFIDENCE))
}

/// The reading of `cells`: `text_not_found` when they hold (next to) no legible text,
/// `address_not_found` when the text has no address in it.
fn reading_from(cells: Vec<Cell>, source: TextSource) -> Result<PoaReading, Failure> {
    let chars: usize = cells.iter().map(|c| c.text.chars().filter(|c| c.is_alphanumeric()).count()).sum();
    if chars < MIN_TEXT_CHARS {
        return Err(Failure::TextNotFound);
    }
    let found = parse::find_address(&cells).ok_or(Failure::AddressNotFound)?;
    let (first_name, middle_name, last_name) = match found.name {
        Some(n) => (Some(n.first), n.middle, Some(n.last)),
        None => (None, None, None),
    };
    let extracted = Extracted { first_name, middle_name, last_name, address: Some(found.address), ..Extracted::default() };
    Ok(PoaReading { extracted, lines: cells.into_iter().map(|c| c.text).collect(), source })
}

/// The text of the first `max_pages` pages of a PDF's text layer, or `None` when it
/// cannot be read (malformed, encrypted with a password, over the limits).
///
/// poppler's `pdftotext -layout` reads it in a child process under
/// [`crate::tools::Limits::DOCUMENT`], so a PDF bomb (a content stream that inflates to
/// gigabytes, endless nesting) costs a bounded child, never the server. `-layout` keeps
/// columns apart by runs of spaces, which is what [`layout::from_plain_text`] expects.
pub fn pdf_text_layer(pdf: &[u8], max_pages: u32) -> Option<String> {
    let dir = intake::Scratch::new().ok()?;
    let input = dir.write("in.pdf", pdf).ok()?;
    let output = dir.path().join("out.txt");
    let last = max_pages.to_string();
    let args = [
        OsStr::new("-layout"),
        OsStr::new("-enc"),
        OsStr::new("UTF-8"),
        OsStr::new("-f"),
        OsStr::new("1"),
        OsStr::new("-l"),
        OsStr::new(&last),
        input.as_os_str(),
        output.as_os_str(),
    ];
    if let Err(e) = crate::tools::run("pdftotext", &args, None, &crate::tools::Limits::DOCUMENT) {
        if matches!(e, crate::tools::ToolError::Missing(_)) {
            tracing::warn!("pdftotext (poppler-utils) is not installed: PDF text layers are not read");
        }
        return None;
    }
    let bytes = std::fs::read(&output).ok()?;
    // Pages are separated by form feeds.
    Some(String::from_utf8_lossy(&bytes).replace('\u{c}', "\n"))
}
