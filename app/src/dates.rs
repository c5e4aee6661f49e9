//! Dates and times: the one place they are parsed from input and formatted for people.
//! Stored times are Unix milliseconds (UTC); the wire format is RFC 3339.

#[cfg(feature = "ssr")]
use crate::error::AppError;

/// Formats stored milliseconds as RFC 3339 UTC (`2026-11-25T14:05:00.000Z`).
pub fn rfc3339(ms: i64) -> String {
    #[cfg(feature = "ssr")]
    {
        chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        ms.to_string()
    }
}

/// `2026-11-25T14:05:09.000Z` → `2026-11-25 14:05`.
pub fn to_minute(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").chars().take(16).collect()
}

/// `2026-11-25T14:05:09.000Z` → `2026-11-25 14:05:09`.
pub fn to_second(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").chars().take(19).collect()
}

/// Which end of a day a date stands for in a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The day's first millisecond (`from`, inclusive).
    Start,
    /// The next day's first millisecond (`to`, exclusive): a date range includes its last day.
    End,
}

/// A `YYYY-MM-DD` date (blank: none) as milliseconds at `bound`; a 422 naming `field` otherwise.
#[cfg(feature = "ssr")]
pub fn day(field: &str, text: Option<&str>, bound: Bound) -> Result<Option<i64>, AppError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    let date =
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| AppError::invalid(field, format!("The {field} must be a date (YYYY-MM-DD).")))?;
    Ok(Some(day_millis(date, bound)))
}

/// A date (`YYYY-MM-DD`, at `bound`) or an RFC 3339 time, as milliseconds.
#[cfg(feature = "ssr")]
pub fn instant(field: &str, text: &str, bound: Bound) -> Result<i64, AppError> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day_millis(date, bound));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| AppError::invalid(field, format!("The {field} must be a date (YYYY-MM-DD) or an RFC 3339 time.")))
}

#[cfg(feature = "ssr")]
fn day_millis(date: chrono::NaiveDate, bound: Bound) -> i64 {
    let date = match bound {
        Bound::Start => date,
        Bound::End => date.succ_opt().unwrap_or(date),
    };
    date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or_default()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_date_range_includes_its_last_day() {
        let start = day("from", Some("2026-11-25"), Bound::Start).unwrap().unwrap();
        let end = day("to", Some(" 2026-11-25 "), Bound::End).unwrap().unwrap();
        assert_eq!(end - start, 86_400_000);
        assert_eq!(rfc3339(start), "2026-11-25T00:00:00.000Z");
        assert_eq!(day("from", Some(""), Bound::Start).unwrap(), None);
    }

    #[test]
    fn bad_input_names_its_field() {
        for (result, field) in
            [(day("from", Some("25/11/2026"), Bound::Start).err(), "from"), (instant("created_to", "yesterday", Bound::End).err(), "created_to")]
        {
            match result {
                Some(AppError::Validation(errors)) => assert!(errors.contains_key(field), "{errors:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(instant("t", "2026-11-25T14:05:00Z", Bound::End).unwrap(), 1_795_615_500_000);
    }

    #[test]
    fn short_forms_cut_the_wire_format() {
        assert_eq!(to_minute("2026-11-25T14:05:09.000Z"), "2026-11-25 14:05");
        assert_eq!(to_second("2026-11-25T14:05:09.000Z"), "2026-11-25 14:05:09");
    }
}
