//! Recognisers for the lines of a US or Canadian postal address: the last line
//! ("City, ST 12345-6789", "City, QC H2J 2L3"), street lines ("1234 N Maple Ave",
//! "PO Box 6000", "RR 2 Box 10") and secondary unit lines ("Apt 5B", "Suite 300").
//! Each works on one line of text, tolerating what OCR does to it (a stray period
//! after the house number, O for 0 in a ZIP code). Hand-written rather than with a
//! regex crate: the grammar is a few token rules, and the state and province codes
//! are fixed tables anyway.

use super::name::split_label;

/// USPS state, district, territory and military codes.
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
    "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS",
    "GU", "MP", "PR", "VI", "UM", "FM", "MH", "PW", "AA", "AE", "AP",
];
/// Canada Post province and territory codes.
const CA_PROVINCES: &[&str] = &["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"];

/// Secondary unit designators (USPS Publication 28 C2, plus French `app.`/`bureau`).
#[rustfmt::skip]
const UNIT_WORDS: &[&str] = &[
    "apt", "apartment", "unit", "ste", "suite", "fl", "floor", "rm", "room", "bldg", "building", "dept", "lot",
    "spc", "space", "trlr", "trailer", "ph", "penthouse", "bsmt", "basement", "frnt", "rear", "lowr", "uppr", "ofc",
    "pier", "slip", "hngr", "app", "appt", "bureau", "#",
];

/// The last line of an address: city, state or province, postal code.
#[derive(Debug, Clone, PartialEq)]
pub struct CityLine {
    /// Text before the city on the same line (an inline street, a label).
    pub before: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: &'static str,
}

/// Parses "… City, ST 12345-6789" or "… City, QC H2J 2L3" at the end of `text`.
pub fn city_line(text: &str) -> Option<CityLine> {
    let text = text.trim().trim_end_matches(['.', ',', ';']);
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = words.len();
    let (state_at, postal_code, country) = if n >= 3 && is_ca_postal(&format!("{}{}", words[n - 2], words[n - 1])) {
        let code = format!("{} {}", words[n - 2].to_uppercase(), words[n - 1].to_uppercase());
        (n - 3, code, "CA")
    } else if n >= 2 && is_ca_postal(words[n - 1]) {
        let w = words[n - 1].to_uppercase();
        (n - 2, format!("{} {}", &w[..3], &w[3..]), "CA")
    } else if n >= 2 {
        (n - 2, us_zip(words[n - 1])?, "US")
    } else {
        return None;
    };
    let state = words.get(state_at)?.trim_matches(|c: char| c == ',' || c == '.').to_uppercase();
    let known = if country == "CA" { CA_PROVINCES } else { US_STATES };
    if !known.contains(&state.as_str()) {
        return None;
    }
    // Before the state: "[street, [unit,]] City" — the city is the last comma-part.
    let head = words[..state_at].join(" ");
    let head = head.trim_end_matches(',');
    let (before, city) = match head.rsplit_once(',') {
        Some((before, city)) => (before.trim().to_string(), city.trim().to_string()),
        None => (String::new(), head.trim().to_string()),
    };
    let city = split_label(&city).map(|(_, v)| v.to_string()).unwrap_or(city);
    let city_words = city.split_whitespace().count();
    if city_words == 0 || city_words > 5 || !city.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '\'' | '-' | '’')) {
        return None;
    }
    Some(CityLine { before, city, state, postal_code, country })
}

/// A US ZIP or ZIP+4, repairing the letters OCR mistakes for digits.
fn us_zip(word: &str) -> Option<String> {
    let fixed: String = word
        .chars()
        .map(|c| match c {
            'O' | 'o' | 'D' => '0',
            'I' | 'l' | '|' => '1',
            'S' => '5',
            'B' => '8',
            other => other,
        })
        .collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let real_digits = word.chars().filter(char::is_ascii_digit).count();
    match fixed.split_once('-') {
        Some((zip, plus4)) if digits(zip, 5) && digits(plus4, 4) && real_digits >= 7 => Some(fixed),
        None if digits(&fixed, 5) && real_digits >= 4 => Some(fixed),
        _ => None,
    }
}

fn is_ca_postal(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() == 6 && b.iter().enumerate().all(|(i, c)| if i % 2 == 0 { c.is_ascii_alphabetic() } else { c.is_ascii_digit() })
}

/// A street line, split from a trailing ", Apt 5B".
pub fn street_and_unit(text: &str) -> Option<(String, Option<String>)> {
    if let Some((street, unit)) = text.rsplit_once(',') {
        if is_unit(unit) && looks_like_street(street) {
            return Some((clean_street(street), Some(unit.trim().to_string())));
        }
    }
    looks_like_street(text).then(|| clean_street(text)).map(|street| (street, None))
}

/// The street with OCR's stray punctuation after the house number removed ("1234. N").
pub fn clean_street(text: &str) -> String {
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    let first = if first.starts_with(|c: char| c.is_ascii_digit()) { first.trim_end_matches(['.', ',']) } else { first };
    std::iter::once(first).chain(words).collect::<Vec<_>>().join(" ")
}

/// The street inside `text` and the lead-in before it ("Premises: 77 Elm Street",
/// "located at 77 Elm Street"): the street runs from the first house number or PO box.
pub fn street_start(text: &str) -> Option<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    (0..words.len()).find_map(|i| {
        let street = words[i..].join(" ");
        looks_like_street(&street).then(|| (words[..i].join(" "), street))
    })
}

/// "1234 N Maple Ave", "12B Elm St", "4521 rue Saint-Denis", "PO Box 6000", "RR 2 Box 10".
pub fn looks_like_street(text: &str) -> bool {
    if is_po_box(text) {
        return true;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(number) = words.first().map(|w| w.trim_end_matches(['.', ','])) else { return false };
    let house_number = number.chars().next().is_some_and(|c| c.is_ascii_digit())
        && number.chars().filter(|c| c.is_ascii_digit()).count() <= 6
        && number.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/');
    let named = words[1..].iter().any(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2);
    let rural = matches!(number.to_uppercase().as_str(), "RR" | "HC" | "RURAL") && words.len() >= 2;
    (house_number && named && words.len() <= 10) || rural
}

pub fn is_po_box(text: &str) -> bool {
    let folded: String = text.to_uppercase().chars().filter(|c| c.is_alphanumeric() || *c == ' ').collect();
    let folded = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    ["PO BOX ", "P O BOX ", "POST OFFICE BOX ", "CP ", "CASE POSTALE "].iter().any(|p| folded.starts_with(p))
}

/// "APT 5B", "Unit 12", "Suite 300", "# 4", "#4".
pub fn is_unit(text: &str) -> bool {
    let text = text.trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else { return false };
    let first = first.trim_end_matches('.').to_lowercase();
    if words.len() == 1 {
        return first.starts_with('#') && first.len() > 1;
    }
    (UNIT_WORDS.contains(&first.as_str()) || first.starts_with('#')) && words.len() <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn city_lines() {
        let c = city_line("SPRINGFIELD, IL 62704-1234").expect("us");
        assert_eq!((c.city.as_str(), c.state.as_str(), c.postal_code.as_str(), c.country), ("SPRINGFIELD", "IL", "62704-1234", "US"));
        let c = city_line("Montréal, QC H2J 2L3").expect("ca");
        assert_eq!((c.city.as_str(), c.state.as_str(), c.postal_code.as_str(), c.country), ("Montréal", "QC", "H2J 2L3", "CA"));
        let c = city_line("Premises: 77 Elm Street, Unit 12, Portland, OR 97205.").expect("inline");
        assert_eq!((c.before.as_str(), c.city.as_str()), ("Premises: 77 Elm Street, Unit 12", "Portland"));
        assert_eq!(city_line("Toronto ON M5V3L9").map(|c| c.postal_code), Some("M5V 3L9".into()));
        assert_eq!(city_line("Springfield, IL 627O4").map(|c| c.postal_code), Some("62704".into()));
        assert_eq!(city_line("Springfield, ZZ 62704"), None);
        assert_eq!(city_line("Meter 88120455"), None);
        assert_eq!(city_line("Amount due: $142.17"), None);
        assert_eq!(city_line("12345"), None);
    }

    #[test]
    fn streets_and_units() {
        assert!(looks_like_street("1234 N MAPLE AVE"));
        assert!(looks_like_street("PO Box 6000"));
        assert!(looks_like_street("4521 rue Saint-Denis"));
        assert!(!looks_like_street("Amount due: $142.17"));
        assert!(!looks_like_street("$142.17 due"));
        assert!(is_unit("APT 5B") && is_unit("Unit 12") && is_unit("#4") && is_unit("Ste. 300"));
        assert!(!is_unit("APT") && !is_unit("Apartment complexes are listed below in the annex"));
        assert_eq!(street_and_unit("1234 N Maple Ave, Apt 5B"), Some(("1234 N Maple Ave".into(), Some("Apt 5B".into()))));
    }
}
