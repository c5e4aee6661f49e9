//! Offline document extraction (SPEC §5.2): everything here runs on this machine, with
//! no network and no cloud service.
//!
//! - [`intake`]: sniff, decode, orient and bound an uploaded image (or rasterize a PDF).
//! - [`barcode`]: the AAMVA PDF417 barcode on the back of US/Canadian licences and IDs.
//! - [`mrz`]: the ICAO 9303 machine-readable zone of passports and ID cards.
//! - [`address`]: name and address lines of a proof-of-address document.
//! - [`face`]: face detection and embeddings for the selfie match.
//! - [`tools`]: the external tools (poppler, libheif) run under time and memory limits.
//!
//! Every extractor returns either [`Extracted`] fields or a [`Failure`] with a stable
//! reason code; none of them panics on bad input (the pipeline also runs them under
//! `catch_unwind`, so a bug in a native library becomes `provider_error`).

pub mod address;
pub mod barcode;
pub mod face;
pub mod intake;
pub mod mrz;
pub mod normalize;
pub mod tools;

use serde::{Deserialize, Serialize};

/// The image crate, re-exported so callers use the same version as the extractors.
pub use image;

/// What a document says about its holder. Dates are `YYYY-MM-DD`; countries ISO 3166-1
/// alpha-2 where known. The API shows it as `app::documents::Extracted`, the same fields:
/// that wire type is also compiled into the browser bundle, which this crate (native
/// libraries) cannot be, so the pipeline converts between the two through serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub document_number: Option<String>,
    pub expiry_date: Option<String>,
    pub issuing_country: Option<String>,
    pub issuing_jurisdiction: Option<String>,
    pub address: Option<Address>,
    /// The kind of document the data says it is, in the flow's vocabulary
    /// (`drivers_license`, `state_id`, `passport`, `passport_card`, `national_id`…).
    pub document_kind: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// Why extraction produced nothing. The codes are part of the API (`failure_reason`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("unsupported_format")]
    UnsupportedFormat,
    #[error("image_too_small")]
    ImageTooSmall,
    /// Dimensions beyond what we decode (a decompression bomb, a PDF page that would
    /// render past the pixel cap, or simply too big), or a file whose decoding ran out
    /// of the tools' time, CPU or output budget. Permanent: the same file exhausts the
    /// same budget again, so it is not retried.
    #[error("image_too_large")]
    ImageTooLarge,
    #[error("barcode_not_found")]
    BarcodeNotFound,
    /// A barcode was read but is not an AAMVA record we can use.
    #[error("barcode_invalid")]
    BarcodeInvalid,
    #[error("mrz_unreadable")]
    MrzUnreadable,
    /// No legible text at all (a blank page, a picture of nothing, a scan too poor to read).
    #[error("text_not_found")]
    TextNotFound,
    /// Text was read, but no postal address in it (a letter, a notice, a page of terms).
    #[error("address_not_found")]
    AddressNotFound,
    #[error("no_face_found")]
    NoFaceFound,
    /// No built-in extractor reads this document type; a person checks it.
    #[error("unsupported_document_type")]
    UnsupportedDocumentType,
    #[error("provider_error")]
    ProviderError(String),
}

impl Failure {
    /// The stable reason code stored on the document.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::UnsupportedFormat => "unsupported_format",
            Failure::ImageTooSmall => "image_too_small",
            Failure::ImageTooLarge => "image_too_large",
            Failure::BarcodeNotFound => "barcode_not_found",
            Failure::BarcodeInvalid => "barcode_invalid",
            Failure::MrzUnreadable => "mrz_unreadable",
            Failure::TextNotFound => "text_not_found",
            Failure::AddressNotFound => "address_not_found",
            Failure::NoFaceFound => "no_face_found",
            Failure::UnsupportedDocumentType => "unsupported_document_type",
            Failure::ProviderError(_) => "provider_error",
        }
    }

    /// Whether trying again later could help (a provider error might be transient;
    /// an unreadable image stays unreadable).
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::ProviderError(_))
    }
}
