//! CMRA compliance (SPEC §10, usps1583): the PS Form 1583 record of each mailbox
//! customer (JSON keyed by box number and a printable PDF), the evidence pack, photo IDs
//! that expire (a daily job, events and an e-mail digest), re-verification, and the
//! quarterly certification to the Postal Service. These wire types are the REST API's
//! bodies, the OpenAPI schemas and the dashboard's data, defined once.

#[cfg(feature = "ssr")]
pub mod evidence;
#[cfg(feature = "ssr")]
pub mod expiry;
#[cfg(feature = "ssr")]
pub mod form;
pub mod page;
#[cfg(feature = "ssr")]
pub mod pdf;
#[cfg(feature = "ssr")]
pub mod quarterly;
#[cfg(feature = "ssr")]
pub mod retention;
#[cfg(feature = "ssr")]
pub mod reverify;
#[cfg(feature = "ssr")]
pub mod service;

use crate::verifications::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The CMRA itself: box 2 of every PS Form 1583 of the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CmraProfile {
    pub name: String,
    pub address: Address,
}

/// How long a workspace keeps documents and the personal data read from them: this
/// many days after the box closes, or after a rejection or a cancellation; then they
/// are redacted (unless under legal hold). 365 until the workspace chooses: the legal
/// period is the operator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionPolicy {
    /// 1 to 36500.
    pub retention_days: i64,
    /// True while the workspace has not chosen (the default applies).
    #[serde(default)]
    pub default: bool,
}

/// A PS Form 1583 record keyed by box number (`"1a"`, `"8d"`…); a box with nothing to
/// put in it is `null`. Boxes 5–7 are present only for a business mailbox.
pub type Form1583 = BTreeMap<String, Option<String>>;

/// Every box of the form, in order, with its name (our layout, after the June 2024 form).
pub const BOXES: &[(&str, &str)] = &[
    ("1a", "Date CMRA service begins"),
    ("1b", "Date CMRA service ends"),
    ("2", "CMRA name and address (with the PMB)"),
    ("3", "Type of service (business or residential)"),
    ("4a", "Applicant last name"),
    ("4b", "Applicant first name"),
    ("4c", "Applicant middle name"),
    ("4d", "Applicant date of birth"),
    ("4e", "Applicant home address"),
    ("4f", "Applicant city"),
    ("4g", "Applicant state"),
    ("4h", "Applicant ZIP / postal code"),
    ("4i", "Applicant country"),
    ("4j", "Applicant telephone and e-mail"),
    ("4k", "Court-ordered protected individual"),
    ("5", "Business name"),
    ("6", "Business address"),
    ("7", "Business type and place of registration"),
    ("8a", "Name on the photo ID"),
    ("8b", "Photo ID number"),
    ("8c", "Photo ID issuing authority"),
    ("8d", "Photo ID expiration date"),
    ("8e", "Photo ID type"),
    ("9a", "Name on the address ID"),
    ("9b", "Address on the address ID"),
    ("9c", "Address ID city"),
    ("9d", "Address ID state"),
    ("9e", "Address ID ZIP / postal code"),
    ("9f", "Address ID issuing authority or country"),
    ("9g", "Address ID type"),
];

/// The boxes only a business mailbox has.
pub const BUSINESS_BOXES: [&str; 3] = ["5", "6", "7"];

/// The thresholds (days left) at which an expiring photo ID is announced, each once.
pub const EXPIRY_THRESHOLDS: [i64; 3] = [60, 30, 7];

/// An approved record whose photo ID expires soon or has expired, on an open box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExpiringId {
    pub verification_id: String,
    pub pmb: String,
    pub name: String,
    /// Box 8d, `YYYY-MM-DD`.
    pub expires_on: String,
    /// Negative once expired.
    pub days_left: i64,
    /// A re-verification in progress (`ver_…`), if one was started.
    pub reverification_id: Option<String>,
}

/// One mailbox in a list of the quarterly report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BoxRow {
    pub verification_id: String,
    pub pmb: String,
    pub name: String,
    /// The verification's status.
    pub status: String,
    pub opened_on: Option<String>,
    pub closed_on: Option<String>,
    /// Box 8d of the record, when known.
    pub id_expires_on: Option<String>,
}

/// Who certified a quarter, and when. Never changed or removed once made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Certification {
    /// `cert_…`
    pub id: String,
    pub quarter: String,
    /// `user:<id>` or `api_token:<id>`.
    pub by: String,
    /// RFC 3339 UTC.
    pub at: String,
}

/// The quarterly certification report: each list of the quarter, and whether it can be
/// certified (both blocking lists empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuarterlyReport {
    /// e.g. `2026-Q4`.
    pub quarter: String,
    /// First day, `YYYY-MM-DD`.
    pub starts_on: String,
    /// Last day, `YYYY-MM-DD`.
    pub ends_on: String,
    /// Box 1a within the quarter.
    pub boxes_opened: Vec<BoxRow>,
    /// Box 1b within the quarter.
    pub boxes_closed: Vec<BoxRow>,
    /// Records changed within the quarter (a closing date, a renewed photo ID…).
    pub records_changed: Vec<BoxRow>,
    /// Photo IDs of open boxes that expire during the next quarter.
    pub ids_expiring_next_quarter: Vec<BoxRow>,
    /// Blocking: photo IDs already expired (at the quarter's end, or today if earlier) on open boxes.
    pub ids_expired_on_open_boxes: Vec<BoxRow>,
    /// Blocking: boxes opened and not closed whose PMB has no approved record.
    pub open_boxes_without_approved_record: Vec<BoxRow>,
    pub ready_to_certify: bool,
    pub certification: Option<Certification>,
}

impl QuarterlyReport {
    /// Each list with its name (`boxes_opened`…) and title, in report order.
    pub fn lists(&self) -> [(&'static str, &'static str, &Vec<BoxRow>); 6] {
        [
            ("boxes_opened", "Boxes opened", &self.boxes_opened),
            ("boxes_closed", "Boxes closed", &self.boxes_closed),
            ("records_changed", "Records changed", &self.records_changed),
            ("ids_expiring_next_quarter", "IDs expiring next quarter", &self.ids_expiring_next_quarter),
            ("ids_expired_on_open_boxes", "IDs expired on open boxes (blocking)", &self.ids_expired_on_open_boxes),
            ("open_boxes_without_approved_record", "Open boxes without an approved record (blocking)", &self.open_boxes_without_approved_record),
        ]
    }
}

/// A calendar quarter, parsed from `YYYY-Qn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter {
    pub year: i32,
    /// 1–4.
    pub number: u32,
}

/// The 422 message of a quarter that is not `YYYY-Qn`.
pub const BAD_QUARTER: &str = "The quarter must look like 2026-Q4 (a year, -Q, and 1 to 4).";

impl Quarter {
    /// `2026-Q4` → year 2026, quarter 4; anything else is `None`.
    pub fn parse(text: &str) -> Option<Quarter> {
        let (year, number) = text.trim().split_once("-Q")?;
        let year: i32 = year.parse().ok().filter(|y| (2000..=2999).contains(y))?;
        let number: u32 = number.parse().ok().filter(|n| (1..=4).contains(n))?;
        (year.to_string().len() == 4 && number.to_string() == text.trim().rsplit("-Q").next()?).then_some(Quarter { year, number })
    }

    pub fn code(self) -> String {
        format!("{}-Q{}", self.year, self.number)
    }

    /// The quarter after this one.
    pub fn next(self) -> Quarter {
        if self.number == 4 {
            Quarter { year: self.year + 1, number: 1 }
        } else {
            Quarter { year: self.year, number: self.number + 1 }
        }
    }

    /// `(first day, last day)` as `YYYY-MM-DD`.
    pub fn bounds(self) -> (String, String) {
        let first_month = (self.number - 1) * 3 + 1;
        let last_day = match self.number {
            1 => "03-31",
            2 => "06-30",
            3 => "09-30",
            _ => "12-31",
        };
        (format!("{:04}-{:02}-01", self.year, first_month), format!("{:04}-{last_day}", self.year))
    }

    /// The quarter a `YYYY-MM-DD` day falls in.
    pub fn of_day(day: &str) -> Option<Quarter> {
        let year: i32 = day.get(0..4)?.parse().ok()?;
        let month: u32 = day.get(5..7)?.parse().ok()?;
        (1..=12).contains(&month).then_some(Quarter { year, number: (month - 1) / 3 + 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_parse_strictly_and_know_their_days() {
        let q4 = Quarter::parse("2026-Q4").unwrap();
        assert_eq!(q4.bounds(), ("2026-10-01".to_string(), "2026-12-31".to_string()));
        assert_eq!(q4.next().code(), "2027-Q1");
        assert_eq!(Quarter::parse("2027-Q1").unwrap().bounds().1, "2027-03-31");
        for bad in ["2026-Q5", "2026-Q0", "2026Q4", "26-Q4", "2026-q4", "2026-Q04", "", "2026-Q4x"] {
            assert_eq!(Quarter::parse(bad), None, "{bad}");
        }
        assert_eq!(Quarter::of_day("2026-11-30"), Some(q4));
    }
}
