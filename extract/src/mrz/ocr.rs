//! Tesseract with the trained `ocrb` model, one line at a time.
//!
//! A Tesseract instance is not thread-safe but can move between threads, and creating
//! one costs a few milliseconds, so [`EnginePool`] keeps idle instances behind a mutex:
//! a caller takes one (or makes one if none is idle), reads, and puts it back.

use super::parse::OcrLine;
use crate::Failure;
use image::GrayImage;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tesseract::{OcrEngineMode, PageSegMode, Tesseract};

/// The model `scripts/models/mrz.sh` trains.
pub const MODEL: &str = "ocrb";
/// The MRZ alphabet: nothing else may come out of the recognizer.
pub const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
/// Idle instances kept; more are created under load and dropped afterwards.
const MAX_IDLE: usize = 4;

pub struct EnginePool {
    datapath: String,
    idle: Mutex<Vec<Tesseract>>,
}

impl EnginePool {
    /// Loads the model once to fail early (and keeps that instance).
    pub fn new(tessdata_dir: &Path) -> Result<EnginePool, Failure> {
        let model = tessdata_dir.join(format!("{MODEL}.traineddata"));
        if !model.is_file() {
            return Err(Failure::ProviderError(format!("MRZ model missing: {} (run scripts/models/mrz.sh)", model.display())));
        }
        let datapath = path_str(tessdata_dir)?;
        let pool = EnginePool { datapath, idle: Mutex::new(Vec::new()) };
        let first = pool.create()?;
        pool.release(first);
        Ok(pool)
    }

    fn create(&self) -> Result<Tesseract, Failure> {
        let err = |what: &str| Failure::ProviderError(format!("tesseract {what}"));
        let tess = Tesseract::new_with_oem(Some(&self.datapath), Some(MODEL), OcrEngineMode::TesseractOnly).map_err(|_| err("init"))?;
        let mut tess = tess
            .set_variable("tessedit_char_whitelist", ALPHABET)
            .and_then(|t| t.set_variable("hocr_char_boxes", "1"))
            // Adaptive learning would make a result depend on what the instance read
            // before; every read must stand alone.
            .and_then(|t| t.set_variable("classify_enable_learning", "0"))
            .and_then(|t| t.set_variable("debug_file", "/dev/null"))
            .map_err(|_| err("configuration"))?;
        tess.set_page_seg_mode(PageSegMode::PsmSingleLine);
        Ok(tess)
    }

    fn take(&self) -> Result<Tesseract, Failure> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(t) => Ok(t),
            None => self.create(),
        }
    }

    fn release(&self, tess: Tesseract) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(tess);
            }
        }
    }

    /// Reads one text line (dark on light). Spaces are dropped: an MRZ has none.
    pub fn read_line(&self, line: &GrayImage) -> Result<OcrLine, Failure> {
        let (w, h) = (line.width(), line.height());
        let (wi, hi) = (i32::try_from(w), i32::try_from(h));
        let (Ok(wi), Ok(hi)) = (wi, hi) else {
            return Err(Failure::MrzUnreadable);
        };
        let tess = self.take()?;
        let err = |what: &str| Failure::ProviderError(format!("tesseract {what}"));
        // The builder API consumes the instance; on an error it is simply not returned
        // to the pool.
        let mut tess =
            tess.set_frame(line.as_raw(), wi, hi, 1, wi).map_err(|_| err("image"))?.set_source_resolution(300).recognize().map_err(|_| err("recognize"))?;
        let hocr = tess.get_hocr_text(0).map_err(|_| err("text"));
        self.release(tess);
        Ok(parse_hocr_chars(&hocr?))
    }
}

fn path_str(p: &Path) -> Result<String, Failure> {
    let p: PathBuf = p.to_path_buf();
    p.to_str().map(str::to_string).ok_or_else(|| Failure::ProviderError("tessdata path is not UTF-8".into()))
}

/// Characters and confidences from Tesseract's hOCR with `hocr_char_boxes`:
/// `<span class='ocrx_cinfo' title='x_bboxes … ; x_conf 97.1'>A</span>`.
pub(crate) fn parse_hocr_chars(hocr: &str) -> OcrLine {
    const MARK: &str = "class='ocrx_cinfo'";
    let mut chars = Vec::new();
    let mut confidence = Vec::new();
    let mut boxes = Vec::new();
    let mut rest = hocr;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let Some(tag_end) = rest.find('>') else { break };
        let title = &rest[..tag_end];
        let field = |name: &str| {
            title.split(';').find_map(|part| {
                let part = part.trim().trim_start_matches("title='").trim_end_matches('\'');
                part.strip_prefix(name).map(str::trim)
            })
        };
        let conf = field("x_conf ").and_then(|v| v.parse::<f32>().ok()).unwrap_or(0.0);
        let bbox = field("x_bboxes ").and_then(|v| {
            let n: Vec<u32> = v.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            (n.len() == 4 && n[0] <= n[2] && n[1] <= n[3]).then(|| [n[0], n[1], n[2], n[3]])
        });
        rest = &rest[tag_end + 1..];
        let Some(close) = rest.find("</span>") else { break };
        let text = unescape(&rest[..close]);
        rest = &rest[close..];
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            chars.push(c);
            confidence.push(conf);
            boxes.push(bbox);
        }
    }
    OcrLine { chars, confidence, boxes, heights: Vec::new(), holes: Vec::new() }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hocr_character_boxes() {
        let hocr = "<span class='ocrx_word' id='word_1_1' title='bbox 1 2 3 4; x_wconf 90'>\
            <span class='ocrx_cinfo' title='x_bboxes 29 28 54 62; x_conf 90.5'>W</span>\
            <span class='ocrx_cinfo' title='x_bboxes 64 26 88 63; x_conf 81.25'>&lt;</span>\
            <span class='ocrx_cinfo' title='x_bboxes 64 26 88 63; x_conf nonsense'>3</span></span>";
        let line = parse_hocr_chars(hocr);
        assert_eq!(line.chars, vec!['W', '<', '3']);
        assert_eq!(line.confidence, vec![90.5, 81.25, 0.0]);
        assert_eq!(line.boxes[0], Some([29, 28, 54, 62]));
        assert!(parse_hocr_chars("garbage <span class='ocrx_cinfo' title='").chars.is_empty());
    }
}
