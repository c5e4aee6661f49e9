//! The immediate check of an applicant's photo, before it is kept: the pipeline's own
//! intake and extractors (through [`Provider`]) run on it at once, so a photo the
//! pipeline would fail on hours later is refused now, with what to fix.
//!
//! - every image: decodes, not too small or too large, not too dark;
//! - photo ID front: a face (the portrait the selfie is compared with); a passport's MRZ;
//! - photo ID back: the AAMVA barcode (licences, state IDs), the MRZ (other cards);
//! - selfie: a face.
//!
//! Proof of address is only decoded here: its OCR takes seconds and a hard-to-read lease
//! still goes to a reviewer. A failure that is ours (a model not installed) never blocks
//! the applicant: the pipeline records it on the document as usual.

use super::{Problem, Step};
use crate::{
    flows::DocumentRole,
    pipeline::provider::{method_for, DocumentInput, Method, Provider},
};
use attest_extract::{intake, Failure};
use std::sync::Arc;

/// Checks `bytes` for `step` of a document of `document_type`.
pub async fn check(provider: Arc<dyn Provider>, step: Step, document_type: String, bytes: Arc<Vec<u8>>) -> Result<(), Problem> {
    let started = std::time::Instant::now();
    let run =
        tokio::task::spawn_blocking(move || std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_now(&*provider, step, &document_type, &bytes))));
    let outcome = match run.await {
        Ok(Ok(outcome)) => outcome,
        // A panic in a native decoder is ours to fix, not the applicant's.
        _ => Ok(()),
    };
    let label = outcome.err().map(Problem::code).unwrap_or("ok");
    metrics::histogram!("attest_capture_check_seconds", "step" => step.code(), "outcome" => label).record(started.elapsed().as_secs_f64());
    outcome
}

/// [`check`], on the calling (blocking) thread.
pub fn check_now(provider: &dyn Provider, step: Step, document_type: &str, bytes: &[u8]) -> Result<(), Problem> {
    let image = match intake::load(bytes) {
        Ok(intake::Loaded::Image(image)) => Some(image),
        Ok(intake::Loaded::Pdf(_)) => None,
        Err(Failure::ImageTooSmall) => return Err(Problem::ImageTooSmall),
        Err(Failure::ImageTooLarge) => return Err(Problem::ImageTooLarge),
        Err(_) => return Err(Problem::NotAnImage),
    };
    let exposure = image.as_ref().map(intake::exposure);
    if exposure.is_some_and(|e| e.is_dark()) {
        return Err(Problem::TooDark);
    }
    // An extractor failed: a blurred photo is the likelier cause, and says what to do.
    let unreadable = |problem: Problem| if exposure.is_some_and(|e| e.is_blurred()) { Problem::Blurred } else { problem };
    let read = |role: DocumentRole| provider.read(&DocumentInput { role, document_type, country: "", front: bytes, back: None });
    match step {
        Step::IdFront => {
            if !super::needs_back(document_type) && method_for(DocumentRole::PhotoId, document_type) == Method::Mrz {
                match read(DocumentRole::PhotoId) {
                    Err(Failure::MrzUnreadable) => return Err(unreadable(Problem::MrzUnreadable)),
                    Err(Failure::ImageTooSmall) => return Err(Problem::ImageTooSmall),
                    _ => {}
                }
            }
            face(provider, bytes).map_err(unreadable)
        }
        Step::IdBack => match (method_for(DocumentRole::PhotoId, document_type), read(DocumentRole::PhotoId)) {
            (Method::Barcode, Err(Failure::BarcodeNotFound | Failure::BarcodeInvalid)) => Err(unreadable(Problem::BarcodeNotFound)),
            (Method::Mrz, Err(Failure::MrzUnreadable)) => Err(unreadable(Problem::MrzUnreadable)),
            (_, Err(Failure::ImageTooSmall)) => Err(Problem::ImageTooSmall),
            _ => Ok(()),
        },
        Step::Selfie => face(provider, bytes).map_err(unreadable),
        Step::ProofOfAddress | Step::Consent | Step::Review | Step::Done => Ok(()),
    }
}

/// Refuses only when the face finder ran and found none.
fn face(provider: &dyn Provider, bytes: &[u8]) -> Result<(), Problem> {
    match provider.face(bytes) {
        Err(Failure::NoFaceFound) => Err(Problem::NoFace),
        _ => Ok(()),
    }
}
