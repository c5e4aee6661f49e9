//! Who issued a card: AAMVA Issuer Identification Numbers and jurisdiction codes.
//!
//! Only the fallbacks come from here: the barcode's own `DCG` (country) and `DAJ`
//! (jurisdiction) elements win when present. The table lists US states, territories and
//! Canadian provinces whose IIN we are sure of; an IIN missing here just falls through.

/// (IIN, jurisdiction code, ISO 3166-1 alpha-2 country).
const IINS: &[(&str, &str, &str)] = &[
    ("636000", "VA", "US"),
    ("636001", "NY", "US"),
    ("636002", "MA", "US"),
    ("636003", "MD", "US"),
    ("636004", "NC", "US"),
    ("636005", "SC", "US"),
    ("636006", "CT", "US"),
    ("636007", "LA", "US"),
    ("636008", "MT", "US"),
    ("636009", "NM", "US"),
    ("636010", "FL", "US"),
    ("636011", "DE", "US"),
    ("636012", "ON", "CA"),
    ("636013", "NS", "CA"),
    ("636014", "CA", "US"),
    ("636015", "TX", "US"),
    ("636016", "NL", "CA"),
    ("636017", "NB", "CA"),
    ("636018", "IA", "US"),
    ("636019", "GU", "US"),
    ("636020", "CO", "US"),
    ("636021", "AR", "US"),
    ("636022", "KS", "US"),
    ("636023", "OH", "US"),
    ("636024", "VT", "US"),
    ("636025", "PA", "US"),
    ("636026", "AZ", "US"),
    ("636028", "BC", "CA"),
    ("636029", "OR", "US"),
    ("636030", "MO", "US"),
    ("636031", "WI", "US"),
    ("636032", "MI", "US"),
    ("636033", "AL", "US"),
    ("636034", "ND", "US"),
    ("636035", "IL", "US"),
    ("636036", "NJ", "US"),
    ("636037", "IN", "US"),
    ("636038", "MN", "US"),
    ("636039", "NH", "US"),
    ("636040", "UT", "US"),
    ("636041", "ME", "US"),
    ("636042", "SD", "US"),
    ("636043", "DC", "US"),
    ("636044", "SK", "CA"),
    ("636045", "WA", "US"),
    ("636046", "KY", "US"),
    ("636047", "HI", "US"),
    ("636048", "MB", "CA"),
    ("636049", "NV", "US"),
    ("636050", "ID", "US"),
    ("636051", "MS", "US"),
    ("636052", "RI", "US"),
    ("636053", "TN", "US"),
    ("636054", "NE", "US"),
    ("636055", "GA", "US"),
    ("636058", "OK", "US"),
    ("636059", "AK", "US"),
    ("636060", "WY", "US"),
    ("636061", "WV", "US"),
    ("636062", "VI", "US"),
    ("604426", "PE", "CA"),
    ("604427", "AS", "US"),
    ("604428", "QC", "CA"),
    ("604429", "YT", "CA"),
    ("604430", "MP", "US"),
    ("604431", "PR", "US"),
    ("604432", "AB", "CA"),
];

const CANADIAN: &[&str] = &["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"];

const AMERICAN: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
    "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS",
    "GU", "MP", "PR", "VI",
];

/// The jurisdiction and country an IIN belongs to, if we know it.
pub fn by_iin(iin: &str) -> Option<(&'static str, &'static str)> {
    IINS.iter().find(|(i, _, _)| *i == iin).map(|&(_, j, c)| (j, c))
}

/// The country of a two-letter US/Canadian jurisdiction code.
pub fn country_of(jurisdiction: &str) -> Option<&'static str> {
    if CANADIAN.contains(&jurisdiction) {
        Some("CA")
    } else if AMERICAN.contains(&jurisdiction) {
        Some("US")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, (iin, j, c)) in IINS.iter().enumerate() {
            assert!(iin.len() == 6 && iin.bytes().all(|b| b.is_ascii_digit()), "{iin}");
            assert_eq!(country_of(j), Some(*c), "{iin} {j}");
            assert!(IINS[i + 1..].iter().all(|(other, _, _)| other != iin), "duplicate {iin}");
        }
        assert_eq!(by_iin("636014"), Some(("CA", "US")));
        assert_eq!(by_iin("604428"), Some(("QC", "CA")));
        assert_eq!(by_iin("999999"), None);
    }
}
