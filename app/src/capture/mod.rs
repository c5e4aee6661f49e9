//! Applicant capture links (issue 18): a link the integrator or a reviewer hands the
//! applicant, who then photographs their own documents at `/c/{token}`, with each image
//! checked at once by the pipeline's extractors before it is kept.
//!
//! The wire types here are shared by the REST API, the OpenAPI document, the dashboard and
//! the applicant's page; the rules live in [`service`], the immediate checks in [`checks`].

pub mod camera;
#[cfg(feature = "ssr")]
pub mod checks;
pub mod dashboard;
pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

use crate::{error::AppError, flows::Flow};
use serde::{Deserialize, Serialize};

/// Default lifetime of a link, in minutes (one day).
pub const DEFAULT_EXPIRES_IN_MINUTES: i64 = 1440;
/// Shortest and longest lifetime a link may be given, in minutes (5 minutes to 7 days).
pub const EXPIRES_IN_MINUTES_RANGE: std::ops::RangeInclusive<i64> = 5..=10_080;
/// Longest `redirect_url` accepted.
pub const MAX_REDIRECT_URL: usize = 2_000;

/// The answer to creating a link: the only time its URL (and secret) is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedCaptureLink {
    /// `cap_…`
    pub id: String,
    /// The applicant's page, `…/c/{token}`. Shown once; only a hash of the token is kept.
    pub url: String,
    pub expires_at: String,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptureLinkState {
    /// Usable.
    Active,
    /// The applicant submitted through it.
    Completed,
    Revoked,
    Expired,
    /// The verification is no longer `started` (submitted or canceled another way).
    Closed,
}

impl CaptureLinkState {
    pub fn code(self) -> &'static str {
        match self {
            CaptureLinkState::Active => "active",
            CaptureLinkState::Completed => "completed",
            CaptureLinkState::Revoked => "revoked",
            CaptureLinkState::Expired => "expired",
            CaptureLinkState::Closed => "closed",
        }
    }
}

/// A link as listed (never with its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CaptureLink {
    /// `cap_…`
    pub id: String,
    pub state: CaptureLinkState,
    pub redirect_url: Option<String>,
    pub expires_at: String,
    pub opened_at: Option<String>,
    pub completed_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

/// `POST …/capture-links` body (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateCaptureLink {
    /// Minutes until the link expires: 5–10080, default 1440.
    pub expires_in_minutes: Option<i64>,
    /// Where the applicant is sent after submitting: an absolute `http(s)` URL.
    pub redirect_url: Option<String>,
}

impl CreateCaptureLink {
    /// Reads a JSON body, every field error collected (422).
    pub fn from_json(body: &serde_json::Value) -> Result<CreateCaptureLink, AppError> {
        let mut errors = crate::error::FieldErrors::new();
        let expires_in_minutes = match body.get("expires_in_minutes") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => match value.as_i64() {
                Some(n) => Some(n),
                None => {
                    errors.insert("expires_in_minutes".into(), vec!["The expires_in_minutes must be an integer.".into()]);
                    None
                }
            },
        };
        let redirect_url = match body.get("redirect_url") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.insert("redirect_url".into(), vec!["The redirect_url must be a string.".into()]);
                None
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(CreateCaptureLink { expires_in_minutes, redirect_url })
    }
}

/// The steps of the applicant's page, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Consent,
    IdFront,
    IdBack,
    ProofOfAddress,
    Selfie,
    Review,
    Done,
}

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::Consent => "consent",
            Step::IdFront => "id_front",
            Step::IdBack => "id_back",
            Step::ProofOfAddress => "proof_of_address",
            Step::Selfie => "selfie",
            Step::Review => "review",
            Step::Done => "done",
        }
    }

    pub fn parse(code: &str) -> Option<Step> {
        [Step::Consent, Step::IdFront, Step::IdBack, Step::ProofOfAddress, Step::Selfie, Step::Review, Step::Done].into_iter().find(|s| s.code() == code)
    }

    /// The heading of the step.
    pub fn title(self) -> &'static str {
        match self {
            Step::Consent => "Before you start",
            Step::IdFront => "Photo ID: front",
            Step::IdBack => "Photo ID: back",
            Step::ProofOfAddress => "Proof of address",
            Step::Selfie => "Selfie",
            Step::Review => "Review and submit",
            Step::Done => "All done",
        }
    }

    /// Photographed with the rear camera (documents) or the front one (selfie).
    pub fn uses_front_camera(self) -> bool {
        self == Step::Selfie
    }
}

/// Whether a photo ID of this type is photographed on both sides: every card; a
/// passport or a naturalization certificate is one page.
pub fn needs_back(document_type: &str) -> bool {
    !matches!(document_type, "passport" | "certificate_of_naturalization")
}

/// What the applicant must fix about an image, or why a step could not be done. Travels
/// as a code in the page's address, so a link can only make the page say one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    NoFile,
    FileTooLarge,
    NotAnImage,
    ImageTooSmall,
    ImageTooLarge,
    TooDark,
    Blurred,
    BarcodeNotFound,
    MrzUnreadable,
    NoFace,
    TypeNotAccepted,
    Refused,
    Incomplete,
}

impl Problem {
    pub const ALL: [Problem; 13] = [
        Problem::NoFile,
        Problem::FileTooLarge,
        Problem::NotAnImage,
        Problem::ImageTooSmall,
        Problem::ImageTooLarge,
        Problem::TooDark,
        Problem::Blurred,
        Problem::BarcodeNotFound,
        Problem::MrzUnreadable,
        Problem::NoFace,
        Problem::TypeNotAccepted,
        Problem::Refused,
        Problem::Incomplete,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Problem::NoFile => "no_file",
            Problem::FileTooLarge => "file_too_large",
            Problem::NotAnImage => "not_an_image",
            Problem::ImageTooSmall => "image_too_small",
            Problem::ImageTooLarge => "image_too_large",
            Problem::TooDark => "too_dark",
            Problem::Blurred => "blurred",
            Problem::BarcodeNotFound => "barcode_not_found",
            Problem::MrzUnreadable => "mrz_unreadable",
            Problem::NoFace => "no_face",
            Problem::TypeNotAccepted => "type_not_accepted",
            Problem::Refused => "refused",
            Problem::Incomplete => "incomplete",
        }
    }

    pub fn parse(code: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.code() == code)
    }

    /// What the applicant reads: what went wrong and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Problem::NoFile => "Choose a photo or file first.",
            Problem::FileTooLarge => "This file is larger than 10 MB. Take the photo again, or choose a smaller file.",
            Problem::NotAnImage => "This file is not a photo we can read. Use a JPEG, PNG, WebP or HEIC photo, or a PDF.",
            Problem::ImageTooSmall => "This photo is too small to read. Move closer so the document fills the frame, and take it again.",
            Problem::ImageTooLarge => "This file is too large to read. Take the photo again with your camera.",
            Problem::TooDark => "This photo is too dark. Find more light and take it again.",
            Problem::Blurred => "This photo is blurred. Hold the card flat and still, let the camera focus, and take it again.",
            Problem::BarcodeNotFound => {
                "Hold the card flat; the barcode at the back could not be read. Make sure the whole barcode is in the photo, without glare."
            }
            Problem::MrzUnreadable => {
                "The two lines of letters at the bottom of the page could not be read. Lay the document flat, include those lines whole, and avoid glare."
            }
            Problem::NoFace => "No face could be found. For a selfie, face the camera in good light; for an ID, make sure its photo is visible.",
            Problem::TypeNotAccepted => "This document type is not accepted here. Choose one from the list.",
            Problem::Refused => "This document could not be added. Reload the page to see what is still needed.",
            Problem::Incomplete => "Some documents are still missing. Complete every step before submitting.",
        }
    }
}

/// One step as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub step: Step,
    pub done: bool,
}

/// Everything the applicant's page shows. Nothing of the applicant but the first name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureView {
    /// Expired, revoked, used, or the verification moved on: "this link is no longer valid".
    Invalid,
    /// The applicant submitted through this link: a thank-you, nothing else.
    Completed {
        workspace_name: String,
    },
    Live(Box<LiveCapture>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCapture {
    pub workspace_name: String,
    pub first_name: String,
    pub flow: Flow,
    pub steps: Vec<StepView>,
    pub current: Step,
    /// The photo ID type the verification declared, and every type the flow accepts.
    pub photo_id_type: String,
    pub photo_id_types: Vec<String>,
    /// The type whose front is in and whose back is awaited.
    pub pending_type: Option<String>,
    pub proof_of_address_type: Option<String>,
    pub proof_of_address_types: Vec<String>,
    /// This page's own address, for the "continue on your phone" QR code.
    pub url: String,
    /// The QR code of `url`, as SVG.
    pub qr_svg: String,
}

/// A document type code as a person reads it: `drivers_license` → "Driver's license",
/// `tribal_id` → "Tribal ID".
pub fn type_label(code: &str) -> String {
    match code {
        "drivers_license" => "Driver's license".into(),
        "state_id" => "State ID card".into(),
        "us_access_card" => "U.S. access card".into(),
        "nexus_card" => "NEXUS card".into(),
        other => {
            let spaced = other.replace('_', " ");
            let spaced = spaced.strip_suffix(" id").map(|s| format!("{s} ID")).unwrap_or(spaced);
            let mut chars = spaced.chars();
            chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        }
    }
}
