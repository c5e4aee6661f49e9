//! ICAO 9303 machine-readable zones (passports, ID cards, passport cards): exact or
//! refused, never wrong.
//!
//! Pipeline: [`locate`] finds the 2–3 MRZ lines at the bottom of the document (glyph-sized
//! components of a locally thresholded copy, skew from how sharply they stack into rows,
//! long aligned lines stacked like an MRZ) and cuts each one out upright at a fixed glyph
//! height; [`ocr`] reads each line with Tesseract's legacy engine, a model trained on the
//! OCR-B font, the MRZ alphabet as whitelist and single-line segmentation; [`glyph`]
//! measures each glyph; [`parse`] identifies the format (TD1 3×30, TD2 2×36, TD3 2×44),
//! corrects characters by field type only, and requires every check digit to hold.
//! Candidates are tried bottom-first and the first one that passes everything wins.
//!
//! Why a trained model: MRZs are printed in OCR-B from a 37-character alphabet. Debian's
//! general `eng` model (LSTM, trained on prose) misreads about one MRZ character in five;
//! a legacy-engine model trained in a minute or two from the `fonts-ocr-b` font by
//! `scripts/models/mrz.sh` reads them well and fast on a CPU, from files the project
//! builds itself (nothing downloaded).
//!
//! Why field-type correction only: the remaining confusions are between shapes like
//! `O`/`0`, `B`/`8`, `S`/`5`. Where the format says a position is a digit (dates, check
//! digits) or a letter (names, country codes), the right reading is certain. Where it may
//! be either (document numbers, optional data), it is not, and trying alternatives until
//! a check digit agrees would accept a wrong number about one time in ten, so the MRZ is
//! refused instead. Worse, some look-alikes are invisible to check digits (`S`=28 vs `8`,
//! `G`=16 vs `6`: values ten apart leave every 7-3-1 check digit unchanged); on the
//! synthetic set the recognizer read a clean `S` as `8` in a document number and every
//! check digit passed. So in alphanumeric fields the glyph itself is checked: OCR-B
//! digits stand taller than capitals (which settles `O` against `0`), and `8`/`6`/`0`
//! must show their holes where `S`/`G`/`U` have none. Fields no check digit covers
//! (names, codes, sex) are held to their structure, to the table of ICAO codes and to a
//! recognizer confidence floor.

mod country;
mod glyph;
mod locate;
mod ocr;
mod parse;

pub use parse::{check_digit, parse, Mrz, MrzFormat, OcrLine};

use crate::{Extracted, Failure};
use chrono::NaiveDate;
use image::DynamicImage;
use std::path::Path;

/// Candidate line groups tried per image: enough for a document with other long text
/// lines, few enough that a bad photo fails fast.
const MAX_CANDIDATES: usize = 4;

/// Reads MRZs. Cheap to share: `Send + Sync`, with a small pool of Tesseract instances
/// inside, so blocking threads can call [`MrzReader::read`] concurrently.
pub struct MrzReader {
    engines: ocr::EnginePool,
}

impl MrzReader {
    /// Loads `ocrb.traineddata` from `tessdata_dir` (built by `scripts/models/mrz.sh`).
    /// A missing or broken model is a `provider_error`.
    pub fn new(tessdata_dir: &Path) -> Result<MrzReader, Failure> {
        Ok(MrzReader { engines: ocr::EnginePool::new(tessdata_dir)? })
    }

    /// Finds and reads the MRZ of a document image.
    pub fn read(&self, img: &DynamicImage) -> Result<Mrz, Failure> {
        self.read_as_of(img, chrono::Utc::now().date_naive())
    }

    /// [`MrzReader::read`] with the date that two-digit years are resolved against.
    pub fn read_as_of(&self, img: &DynamicImage, today: NaiveDate) -> Result<Mrz, Failure> {
        if img.width() < 50 || img.height() < 20 {
            return Err(Failure::MrzUnreadable);
        }
        let located = locate::locate(img);
        for candidate in located.candidates.iter().take(MAX_CANDIDATES) {
            match self.read_candidate(img, &located, candidate, today) {
                Ok(mrz) => return Ok(mrz),
                Err(Failure::MrzUnreadable) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Failure::MrzUnreadable)
    }

    fn read_candidate(&self, img: &DynamicImage, located: &locate::Located, lines: &[locate::Line], today: NaiveDate) -> Result<Mrz, Failure> {
        let mut ocr_lines = Vec::with_capacity(lines.len());
        for line in lines {
            let (crop, zoom) = locate::crop_line(img, located, line).ok_or(Failure::MrzUnreadable)?;
            let mut ocr = self.engines.read_line(&crop)?;
            glyph::measure(&crop, &mut ocr, zoom);
            ocr_lines.push(ocr);
        }
        let result = parse::parse(&ocr_lines, today);
        if tracing::enabled!(tracing::Level::DEBUG) {
            let text: Vec<String> = ocr_lines.iter().map(|l| l.chars.iter().collect()).collect();
            tracing::debug!(ocr = ?text, accepted = result.is_ok(), "mrz candidate");
        }
        result
    }

    /// Reads the MRZ and maps it to the fields the flow uses.
    pub fn extract(&self, img: &DynamicImage) -> Result<Extracted, Failure> {
        self.read(img).map(|mrz| to_extracted(&mrz))
    }
}

/// The flow's view of an MRZ.
pub fn to_extracted(mrz: &Mrz) -> Extracted {
    let mut given = mrz.given_names.iter();
    let first_name = given.next().cloned();
    let middle: Vec<&str> = given.map(String::as_str).collect();
    Extracted {
        first_name,
        middle_name: (!middle.is_empty()).then(|| middle.join(" ")),
        last_name: Some(mrz.surname.clone()),
        date_of_birth: Some(mrz.birth_date.format("%Y-%m-%d").to_string()),
        document_number: Some(mrz.document_number.clone()),
        expiry_date: Some(mrz.expiry_date.format("%Y-%m-%d").to_string()),
        issuing_country: Some(country::issuing_country(&mrz.issuing_state)),
        issuing_jurisdiction: None,
        address: None,
        document_kind: Some(document_kind(mrz).to_string()),
    }
}

/// The flow's document kind: TD3 `P…` is a passport; the US passport card is a TD1 with
/// code `IP` issued by `USA`; other TD1/TD2 cards are national IDs (a TD2 with code `P`
/// is a passport).
fn document_kind(mrz: &Mrz) -> &'static str {
    let code = mrz.document_code.as_str();
    match mrz.format {
        MrzFormat::Td3 => "passport",
        MrzFormat::Td1 if code == "IP" && mrz.issuing_state == "USA" => "passport_card",
        MrzFormat::Td2 if code.starts_with('P') => "passport",
        MrzFormat::Td1 | MrzFormat::Td2 => "national_id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn reader_is_shareable_across_threads() {
        assert_send_sync::<MrzReader>();
    }

    #[test]
    fn maps_to_extracted() {
        let lines = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
        let ocr: Vec<OcrLine> = lines.iter().map(|l| OcrLine::exact(l)).collect();
        let mrz = parse(&ocr, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()).unwrap();
        let e = to_extracted(&mrz);
        assert_eq!(e.first_name.as_deref(), Some("ANNA"));
        assert_eq!(e.middle_name.as_deref(), Some("MARIA"));
        assert_eq!(e.last_name.as_deref(), Some("ERIKSSON"));
        assert_eq!(e.date_of_birth.as_deref(), Some("1974-08-12"));
        assert_eq!(e.expiry_date.as_deref(), Some("2012-04-15"));
        assert_eq!(e.document_number.as_deref(), Some("L898902C3"));
        assert_eq!(e.issuing_country.as_deref(), Some("UTO"));
        assert_eq!(e.document_kind.as_deref(), Some("passport"));
    }

    #[test]
    fn missing_model_is_a_provider_error() {
        let err = MrzReader::new(Path::new("/nonexistent/tessdata")).err();
        assert!(matches!(err, Some(Failure::ProviderError(_))));
    }
}
