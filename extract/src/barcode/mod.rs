//! The AAMVA PDF417 barcode on the back of US and Canadian driver's licences and ID cards.
//!
//! [`extract`] finds and decodes the barcode ([`read_pdf417`] / [`scan`]) and parses its
//! AAMVA record ([`aamva::parse`], our own, lenient parser: see that module for why) into
//! [`Extracted`] fields.
//!
//! # Why a retry ladder
//!
//! `rxing` (a port of ZXing) decodes an upright PDF417 in a few milliseconds, but its
//! detector follows the start and stop patterns row by row and loses them once the symbol
//! is tilted by 3–4°; phone photos of a card are rarely that straight. Thin modules
//! smeared by lens blur and JPEG defeat its binarizer too. So we transform the image and
//! try again — and since every failed attempt costs a full detection pass (rxing also
//! tries the 90°/180°/270° orientations), the order of the rungs decides the speed:
//!
//! 1. [`locate::analyze`] measures, on a ~640 px copy, the dominant edge direction (the
//!    tilt, typically within half a degree) and the patch of densest bar edges (the
//!    barcode), in a few ms.
//! 2. Upright pictures: the image as is — clean scans end here — then sharpened, then
//!    the barcode patch enlarged and sharpened, then blurred (for noise).
//! 3. Tilted pictures: the barcode patch rotated straight — the common case, and cheap,
//!    since the patch is a fraction of the photo — then sharpened, then enlarged and
//!    sharpened; then the whole image straightened (the patch may be wrong), sharpened,
//!    as is if the tilt is slight; then ±2.5° around the estimate.
//! 4. Other strong edge directions of the picture (a striped table can outweigh the card),
//!    and, only when the picture has no clear direction at all, a blind sweep over
//!    ±6…22°.
//!
//! Sharpening rather than the usual light blur: on a deliberately blurred photo set
//! (modules 1.7–2.4 px) an unsharp mask lifted exact reads from 48 % to 78 %, while blur
//! never turned a miss into a read; it remains only as the last upright rung, for noise.
//!
//! The first decode ends the ladder. PDF417 carries Reed–Solomon error correction, so a
//! decode is what the symbol says: if it is not an AAMVA record, other rotations would
//! only read the same bytes again, and the answer is [`Failure::BarcodeInvalid`]. Nothing
//! decoded at all is [`Failure::BarcodeNotFound`].
//!
//! On the synthetic photo sets of `tests/fixtures/pdf417` (tilt ±20°, blur, noise, JPEG
//! 60–85) this reads every photo, with a median of ~20 ms of CPU (p90 ~30 ms) in a
//! release build. A first version that rotated the whole photo by the estimated tilt was
//! about five times slower, and a tilt taken from raw Sobel gradients was off by up to 3°
//! (see `locate`).
//!
//! Rotation, blur and sharpening come from `image` / `imageproc`; the gradient analysis
//! and the one-pass grey downscale are ours (`raster::shrink_to_grey` is four times
//! faster than `to_luma8` + `thumbnail`, which on a 12 MP photo had cost more than all
//! the decoding). Note for test timings: those crates' pixel code, like rxing's binarizer,
//! is generic, so dev builds compile it unoptimised into this crate.

pub mod aamva;
mod jurisdictions;
pub mod locate;
mod raster;

pub use aamva::{AamvaRecord, SubfileKind, Truncation};

use crate::{Extracted, Failure};
use image::{DynamicImage, GrayImage};
use imageproc::filter::gaussian_blur_f32;
use raster::{crop, rotate, sharpen};
use rxing::common::HybridBinarizer;
use rxing::pdf417::PDF417Reader;
use rxing::{BinaryBitmap, DecodeHints, Luma8Source, Reader};
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Longest side we decode at. A module of a card-filling barcode in a 12 MP photo is
/// ~8 px; at this bound still ~4 px, which rxing reads comfortably, from a third of the
/// pixels.
const MAX_SIDE: u32 = 2400;
/// Below this tilt the plain attempt already had its chance.
const MIN_ROTATION: f32 = 1.5;
/// Tilt rxing still reads unrotated (it fails from about 4°).
const PLAIN_TOLERANCE: f32 = 3.5;
/// Retries around the estimated tilt, in degrees.
const NEAR: [f32; 2] = [2.5, -2.5];
/// Edge-direction histogram peak (over its mean) above which the picture has a clear
/// direction; below it the blind sweep runs.
const CLEAR_DIRECTION: f32 = 3.0;
/// Blind sweep, for pictures without a clear edge direction.
const SWEEP: [f32; 10] = [6.0, -6.0, 10.0, -10.0, 14.0, -14.0, 18.0, -18.0, 22.0, -22.0];
/// Gaussian blur for the "noisy photo" attempts.
const BLUR_SIGMA: f32 = 1.0;
/// Enlargement for barcodes whose modules are too thin after rotation.
const UPSCALE: f32 = 1.5;

/// How a barcode was read: which rung of the ladder succeeded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub name: &'static str,
    /// Rotation applied, degrees clockwise.
    pub degrees: f32,
    /// How many decode attempts it took (1 = the first one).
    pub attempts: u32,
}

/// A decoded AAMVA barcode.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The bytes the symbol carries.
    pub payload: Vec<u8>,
    pub record: AamvaRecord,
    pub step: Step,
}

/// Reads the AAMVA barcode on a card image into the fields the flow uses.
pub fn extract(img: &DynamicImage) -> Result<Extracted, Failure> {
    scan(img).map(|s| s.record.to_extracted())
}

/// The payload of the first PDF417 symbol in `img` that holds an AAMVA record.
pub fn read_pdf417(img: &DynamicImage) -> Result<Vec<u8>, Failure> {
    scan(img).map(|s| s.payload)
}

/// Finds, decodes and parses the AAMVA barcode, reporting how it was read.
pub fn scan(img: &DynamicImage) -> Result<Scan, Failure> {
    let grey = working_copy(img);
    match Ladder::default().run(&grey) {
        ControlFlow::Break(outcome) => outcome,
        ControlFlow::Continue(()) => Err(Failure::BarcodeNotFound),
    }
}

/// `Break` ends the ladder: with the record, or with `BarcodeInvalid` for a symbol that
/// decoded but is not AAMVA (error correction makes a decode definitive: retrying other
/// rotations would only read the same bytes again).
type Rung = ControlFlow<Result<Scan, Failure>>;

#[derive(Default)]
struct Ladder {
    attempts: u32,
    /// Rotations already tried, on the full image or the crop.
    tried: Vec<f32>,
}

impl Ladder {
    /// Every rung, cheapest and likeliest first.
    fn run(&mut self, grey: &GrayImage) -> Rung {
        let analysis = locate::analyze(grey);
        tracing::trace!(?analysis, "pdf417 analysis");
        let Some(analysis) = analysis else {
            // Not one strong edge (blank, or a few pixels): no transform can make a
            // barcode appear; one plain attempt for form's sake.
            return self.attempt(grey, "plain", 0.0);
        };
        let tilt = Some(analysis.skew.degrees).filter(|t| t.abs() >= MIN_ROTATION);
        let crop = analysis.region.map(|r| crop(grey, r));
        match tilt {
            // Upright: the plain image; if blur or thin modules defeat it, sharpened, then
            // the barcode region enlarged and sharpened; if noise does, blurred.
            None => {
                self.attempt(grey, "plain", 0.0)?;
                self.attempt(&sharpen(grey), "plain+sharpen", 0.0)?;
                if let Some(crop) = &crop {
                    self.attempt(&sharpen(&rotate(crop, 0.0, UPSCALE)), "crop+upscale+sharpen", 0.0)?;
                }
                self.attempt(&gaussian_blur_f32(grey, BLUR_SIGMA), "plain+blur", 0.0)?;
            }
            // Tilted: the barcode region straightened (small, so fast), sharpened,
            // enlarged; then the whole image, in case the region was wrong; then
            // neighbouring angles, in case the estimate was off.
            Some(tilt) => {
                let angle = -tilt;
                if let Some(crop) = &crop {
                    let straight = rotate(crop, angle, 1.0);
                    self.attempt(&straight, "crop+deskew", angle)?;
                    self.attempt(&sharpen(&straight), "crop+deskew+sharpen", angle)?;
                    self.attempt(&sharpen(&rotate(crop, angle, UPSCALE)), "crop+deskew+upscale+sharpen", angle)?;
                }
                let straight = rotate(grey, angle, 1.0);
                self.attempt(&straight, "deskew", angle)?;
                self.attempt(&sharpen(&straight), "deskew+sharpen", angle)?;
                if tilt.abs() < PLAIN_TOLERANCE {
                    self.attempt(grey, "plain", 0.0)?;
                }
                let source = crop.as_ref().unwrap_or(grey);
                for delta in NEAR {
                    self.attempt(&sharpen(&rotate(source, angle + delta, 1.0)), "near+sharpen", angle + delta)?;
                }
            }
        }
        // Other strong edge directions: a striped background can outweigh the card.
        for alternative in &analysis.alternatives {
            let angle = -alternative.degrees;
            if self.already_tried(angle) {
                continue;
            }
            if angle.abs() < MIN_ROTATION {
                self.attempt(grey, "alternative", 0.0)?;
            } else {
                self.attempt(&rotate(grey, angle, 1.0), "alternative", angle)?;
            }
        }
        // Without a clear direction in the picture, sweep blindly.
        if analysis.skew.strength < CLEAR_DIRECTION {
            for angle in SWEEP {
                if !self.already_tried(angle) {
                    self.attempt(&rotate(grey, angle, 1.0), "sweep", angle)?;
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn already_tried(&self, angle: f32) -> bool {
        self.tried.iter().any(|t| (t - angle).abs() < 2.0)
    }

    fn attempt(&mut self, img: &GrayImage, name: &'static str, degrees: f32) -> Rung {
        self.attempts += 1;
        self.tried.push(degrees);
        let started = std::time::Instant::now();
        let payload = decode(img);
        tracing::trace!(
            rung = name,
            degrees,
            width = img.width(),
            height = img.height(),
            elapsed = ?started.elapsed(),
            decoded = payload.is_some(),
            "pdf417 attempt"
        );
        match payload {
            None => ControlFlow::Continue(()),
            Some(payload) => {
                ControlFlow::Break(aamva::parse(&payload).map(|record| Scan { payload, record, step: Step { name, degrees, attempts: self.attempts } }))
            }
        }
    }
}

/// One rxing pass over a greyscale image: the payload bytes of a PDF417, if any.
fn decode(img: &GrayImage) -> Option<Vec<u8>> {
    let (w, h) = img.dimensions();
    let source = Luma8Source::new_with_slice(img.as_raw(), w, h).ok()?;
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = DecodeHints::default();
    // rxing is a large port; a panic inside it on some odd image must not take the
    // request down with it.
    let result = catch_unwind(AssertUnwindSafe(|| PDF417Reader.decode_with_hints(&mut bitmap, &hints))).ok()?.ok()?;
    Some(text_to_payload(result.getText()))
}

/// rxing hands PDF417 byte data over as ISO-8859-1 text (one char per byte) unless the
/// symbol declares another encoding with an ECI; undo that to get the bytes back.
fn text_to_payload(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>().unwrap_or_else(|| text.as_bytes().to_vec())
}

/// Greyscale, scaled down so the longer side is at most [`MAX_SIDE`].
fn working_copy(img: &DynamicImage) -> GrayImage {
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    if long <= MAX_SIDE {
        return img.to_luma8();
    }
    let scale = f64::from(MAX_SIDE) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, w);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, h);
    match img {
        DynamicImage::ImageRgb8(rgb) => raster::shrink_to_grey(rgb.as_raw(), 3, (w, h), (nw, nh)),
        DynamicImage::ImageRgba8(rgba) => raster::shrink_to_grey(rgba.as_raw(), 4, (w, h), (nw, nh)),
        DynamicImage::ImageLuma8(grey) => raster::shrink_to_grey(grey.as_raw(), 1, (w, h), (nw, nh)),
        other => raster::shrink_to_grey(other.to_luma8().as_raw(), 1, (w, h), (nw, nh)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn payload_bytes_survive_rxing_text() {
        assert_eq!(text_to_payload("@\n\u{1e}\rANSI M\u{dc}LLER"), b"@\n\x1e\rANSI M\xdcLLER".to_vec());
        // An ECI-declared UTF-8 symbol comes back as real text: keep it as UTF-8.
        assert_eq!(text_to_payload("Zo\u{eb} \u{20ac}"), "Zo\u{eb} \u{20ac}".as_bytes().to_vec());
    }

    #[test]
    fn blank_and_tiny_images_have_no_barcode() {
        let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(640, 400, Luma([230])));
        assert_eq!(extract(&blank), Err(Failure::BarcodeNotFound));
        let tiny = DynamicImage::ImageLuma8(GrayImage::new(1, 1));
        assert_eq!(extract(&tiny), Err(Failure::BarcodeNotFound));
    }
}
