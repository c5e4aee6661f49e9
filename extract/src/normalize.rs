//! Normalization for comparisons: person names, and street addresses per USPS
//! Publication 28 (the Postal Service's addressing standard), so that
//! "123 North Main Street, Apartment 4" and "123 N MAIN ST APT 4" compare equal.
//!
//! Written here rather than taken from a crate: the crates that parse addresses
//! (libpostal bindings) need a 2 GB model downloaded from GitHub, and what the rules
//! need is the small, fixed table of Publication 28 abbreviations.

/// Folds a name to comparable tokens: Latin letters without diacritics, upper case,
/// punctuation dropped (`O'Brien-Smith` → `OBRIEN SMITH`).
pub fn name_tokens(name: &str) -> Vec<String> {
    let folded: String = name
        .chars()
        .flat_map(fold_char)
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_uppercase()
            } else if c == '\'' || c == '.' || c == '’' {
                '\u{0}'
            } else {
                ' '
            }
        })
        .filter(|c| *c != '\u{0}')
        .collect();
    folded.split_whitespace().map(str::to_string).collect()
}

/// Whether a declared name and a name read from a document are the same person's:
/// first and last names must match (after folding; multi-part surnames in any split),
/// middle names are optional on either side, and an initial matches a full middle name.
pub fn names_match(declared: (&str, Option<&str>, &str), found: (&str, Option<&str>, &str)) -> bool {
    let (df, dm, dl) = (name_tokens(declared.0), dm_tokens(declared.1), name_tokens(declared.2));
    let (ff, fm, fl) = (name_tokens(found.0), dm_tokens(found.1), name_tokens(found.2));
    if dl.is_empty() || fl.is_empty() || df.is_empty() || ff.is_empty() {
        return false;
    }
    // Documents split compound names differently (MRZ "GARCIA<LOPEZ", licences "GARCIA LOPEZ"):
    // compare the concatenated surname, and the first given name.
    if dl.concat() != fl.concat() {
        return false;
    }
    if df[0] != ff[0] {
        return false;
    }
    // Given names beyond the first on one side count as middle names.
    let dmid: Vec<String> = df[1..].iter().cloned().chain(dm).collect();
    let fmid: Vec<String> = ff[1..].iter().cloned().chain(fm).collect();
    dmid.iter().zip(fmid.iter()).all(|(a, b)| a == b || (a.len() == 1 && b.starts_with(a.as_str())) || (b.len() == 1 && a.starts_with(b.as_str())))
}

fn dm_tokens(middle: Option<&str>) -> Vec<String> {
    middle.map(name_tokens).unwrap_or_default()
}

/// Strips diacritics from the Latin letters that names use (é → e, ß → ss, Ø → O).
fn fold_char(c: char) -> Vec<char> {
    let plain = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => 'A',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'ď' | 'đ' => 'd',
        'Ď' | 'Đ' => 'D',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => 'E',
        'ğ' => 'g',
        'Ğ' => 'G',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => 'I',
        'ł' | 'ľ' | 'ĺ' => 'l',
        'Ł' | 'Ľ' | 'Ĺ' => 'L',
        'ñ' | 'ń' | 'ň' => 'n',
        'Ñ' | 'Ń' | 'Ň' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => 'O',
        'ř' | 'ŕ' => 'r',
        'Ř' | 'Ŕ' => 'R',
        'ś' | 'š' | 'ş' | 'ș' => 's',
        'Ś' | 'Š' | 'Ş' | 'Ș' => 'S',
        'ť' | 'ţ' | 'ț' => 't',
        'Ť' | 'Ţ' | 'Ț' => 'T',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' | 'Ų' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ž' | 'ź' | 'ż' => 'z',
        'Ž' | 'Ź' | 'Ż' => 'Z',
        'ß' => return vec!['s', 's'],
        'æ' => return vec!['a', 'e'],
        'Æ' => return vec!['A', 'E'],
        'œ' => return vec!['o', 'e'],
        'Œ' => return vec!['O', 'E'],
        other => other,
    };
    vec![plain]
}

/// Publication 28, appendix C1: street suffixes (the common ones and their variants).
const SUFFIXES: &[(&str, &str)] = &[
    ("ALLEY", "ALY"),
    ("AVENUE", "AVE"),
    ("AV", "AVE"),
    ("AVEN", "AVE"),
    ("AVENU", "AVE"),
    ("AVN", "AVE"),
    ("AVNUE", "AVE"),
    ("BOULEVARD", "BLVD"),
    ("BOUL", "BLVD"),
    ("BOULV", "BLVD"),
    ("BRIDGE", "BRG"),
    ("CIRCLE", "CIR"),
    ("CIRC", "CIR"),
    ("CIRCL", "CIR"),
    ("COURT", "CT"),
    ("CRT", "CT"),
    ("COVE", "CV"),
    ("CREEK", "CRK"),
    ("CRESCENT", "CRES"),
    ("CROSSING", "XING"),
    ("DRIVE", "DR"),
    ("DRIV", "DR"),
    ("DRV", "DR"),
    ("EXPRESSWAY", "EXPY"),
    ("FREEWAY", "FWY"),
    ("GARDENS", "GDNS"),
    ("HEIGHTS", "HTS"),
    ("HIGHWAY", "HWY"),
    ("HIGHWY", "HWY"),
    ("HILL", "HL"),
    ("HOLLOW", "HOLW"),
    ("JUNCTION", "JCT"),
    ("LAKE", "LK"),
    ("LANE", "LN"),
    ("LOOP", "LOOP"),
    ("MANOR", "MNR"),
    ("MEADOWS", "MDWS"),
    ("MOUNT", "MT"),
    ("MOUNTAIN", "MTN"),
    ("PARKWAY", "PKWY"),
    ("PARKWY", "PKWY"),
    ("PKWAY", "PKWY"),
    ("PLACE", "PL"),
    ("PLAZA", "PLZ"),
    ("POINT", "PT"),
    ("RIDGE", "RDG"),
    ("ROAD", "RD"),
    ("ROUTE", "RTE"),
    ("SQUARE", "SQ"),
    ("STREET", "ST"),
    ("STR", "ST"),
    ("STRT", "ST"),
    ("TERRACE", "TER"),
    ("TRAIL", "TRL"),
    ("TURNPIKE", "TPKE"),
    ("VALLEY", "VLY"),
    ("VIEW", "VW"),
    ("VILLAGE", "VLG"),
    ("WAY", "WAY"),
];

/// Publication 28, appendix C2: secondary unit designators.
const UNITS: &[(&str, &str)] = &[
    ("APARTMENT", "APT"),
    ("BUILDING", "BLDG"),
    ("DEPARTMENT", "DEPT"),
    ("FLOOR", "FL"),
    ("NUMBER", "#"),
    ("NO", "#"),
    ("ROOM", "RM"),
    ("SUITE", "STE"),
    ("UNIT", "UNIT"),
    ("SPACE", "SPC"),
    ("LOT", "LOT"),
    ("PMB", "PMB"),
    ("#", "#"),
];

/// Directionals (Publication 28, §233).
const DIRECTIONS: &[(&str, &str)] =
    &[("NORTH", "N"), ("SOUTH", "S"), ("EAST", "E"), ("WEST", "W"), ("NORTHEAST", "NE"), ("NORTHWEST", "NW"), ("SOUTHEAST", "SE"), ("SOUTHWEST", "SW")];

fn lookup(table: &[(&str, &'static str)], word: &str) -> Option<&'static str> {
    table.iter().find(|(long, short)| *long == word || *short == word).map(|(_, short)| *short)
}

/// Normalizes one delivery-address line per Publication 28: upper case, no
/// punctuation (except `#` and the `/` of fractions), standard abbreviations for
/// directionals, street suffixes and unit designators, and `PO BOX` spelled one way.
pub fn street_line(line: &str) -> String {
    let upper: String = line
        .chars()
        .flat_map(fold_char)
        .map(|c| {
            if c.is_alphanumeric() || c == '#' || c == '/' {
                c.to_ascii_uppercase()
            } else if c == '.' || c == '\'' {
                '\u{0}'
            } else {
                ' '
            }
        })
        .filter(|c| *c != '\u{0}')
        .collect::<String>()
        .replace('#', " # ");
    let words: Vec<&str> = upper.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        // "P O BOX", "POST OFFICE BOX", "POB", "BOX" after PO → "PO BOX".
        if let Some(skip) = po_box_at(&words[i..]) {
            out.push("PO BOX".into());
            i += skip;
            continue;
        }
        let is_last = i + 1 == words.len();
        let next_is_unit = words.get(i + 1).is_some_and(|n| lookup(UNITS, n).is_some());
        let normalized = if let Some(d) = lookup(DIRECTIONS, w) {
            d.to_string()
        } else if let Some(u) = lookup(UNITS, w).filter(|_| i > 0 && !is_last) {
            u.to_string()
        } else if let Some(s) = lookup(SUFFIXES, w).filter(|_| i > 1 && (is_last || next_is_unit || lookup(DIRECTIONS, words[i + 1]).is_some())) {
            s.to_string()
        } else {
            w.to_string()
        };
        out.push(normalized);
        i += 1;
    }
    out.join(" ").replace("# #", "#")
}

fn po_box_at(words: &[&str]) -> Option<usize> {
    match words {
        ["PO", "BOX", ..] | ["POB", ..] => Some(if words[0] == "POB" { 1 } else { 2 }),
        ["P", "O", "BOX", ..] => Some(3),
        ["POST", "OFFICE", "BOX", ..] => Some(3),
        ["POST", "BOX", ..] => Some(2),
        _ => None,
    }
}

/// Whether a normalized address line is a post-office box (never a residence).
pub fn is_po_box(normalized_line: &str) -> bool {
    normalized_line.starts_with("PO BOX") || normalized_line.contains(" PO BOX")
}

/// Whether a normalized word is a secondary unit designator (`APT`, `STE`, `PMB`, `#`…).
fn is_unit_designator(word: &str) -> bool {
    UNITS.iter().any(|(_, short)| *short == word)
}

/// The private-mailbox designator in a normalized street line, shown as written on
/// mail: `PMB 45` ("PMB 45", "PMB #45", "Private Mailbox" is rare enough to leave), or
/// `#45` when a bare `#` and a number follow the street ("123 MAIN ST # 45"), which
/// is how CMRAs write a box when no designator is given (Publication 28, §213.2).
/// A `#` after another designator ("APT # 4", "STE # 200") is that unit's number, and
/// the house number and the ZIP code are never read as one.
pub fn private_mailbox(normalized_line: &str) -> Option<String> {
    let words: Vec<&str> = normalized_line.split_whitespace().collect();
    let numbered = |w: Option<&&str>| w.filter(|w| w.chars().any(|c| c.is_ascii_digit())).map(|w| w.to_string());
    for (i, word) in words.iter().enumerate() {
        if *word == "PMB" {
            let number = if words.get(i + 1) == Some(&"#") { words.get(i + 2) } else { words.get(i + 1) };
            if let Some(n) = numbered(number) {
                return Some(format!("PMB {n}"));
            }
        }
        // "#" after the house number and at least one street word, not after a designator.
        let after_street = i >= 2 && !is_unit_designator(words[i - 1]);
        if *word == "#" && after_street {
            if let Some(n) = words.get(i + 1).filter(|w| w.chars().all(|c| c.is_ascii_digit())) {
                return Some(format!("#{n}"));
            }
        }
    }
    None
}

/// A comparable address ([`address`]) without its secondary units: the street line is
/// cut at its first designator ("12 MAIN ST STE 100 PMB 45" → "12 MAIN ST"), so every
/// box and suite of one building compares equal. Designators count from the third word
/// on, after a house number and a street name ("12 UNIT RD" keeps its street).
pub fn without_units(normalized_address: &str) -> String {
    let (street, rest) = normalized_address.split_once(", ").unwrap_or((normalized_address, ""));
    let words: Vec<&str> = street.split_whitespace().collect();
    let end = (2..words.len()).find(|&i| is_unit_designator(words[i])).unwrap_or(words.len());
    let street = words[..end].join(" ");
    if rest.is_empty() {
        street
    } else {
        format!("{street}, {rest}")
    }
}

/// A whole address as one comparable string:
/// `LINE1 [LINE2], CITY, ST, 12345` (ZIP+4 reduced to the 5-digit ZIP).
pub fn address(line1: &str, line2: Option<&str>, city: &str, state: &str, postal_code: &str) -> String {
    // One line, so "Apartment 4" on line 2 is read as a unit designator after a street.
    let street = match line2.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l2) => street_line(&format!("{line1} {l2}")),
        None => street_line(line1),
    };
    let zip: String = postal_code.trim().chars().take_while(|c| *c != '-').filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    let zip = if zip.len() == 9 && zip.chars().all(|c| c.is_ascii_digit()) { zip[..5].to_string() } else { zip };
    format!("{}, {}, {}, {}", street, street_line(city), state.trim().to_uppercase(), zip)
}

/// Parses a free-text blacklist entry (`"1 Main Street Suite 5, Springfield, IL 62701"`)
/// into the comparable form of [`address`]. Entries that do not look like a full address
/// are normalized as one street line, which still matches by street.
pub fn address_text(text: &str) -> String {
    let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [street, city, state_zip] => {
            let mut sz = state_zip.split_whitespace();
            let state = sz.next().unwrap_or_default();
            let zip = sz.collect::<Vec<_>>().join("");
            address(street, None, city, state, &zip)
        }
        [street, city, state, zip, ..] => address(street, None, city, state, zip),
        _ => street_line(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_diacritics_and_punctuation() {
        assert_eq!(name_tokens("Zoë O'Brien-Smith"), vec!["ZOE", "OBRIEN", "SMITH"]);
        assert!(names_match(("José", None, "Núñez"), ("JOSE", Some("LUIS"), "NUNEZ")));
        assert!(names_match(("Ada", Some("King"), "Lovelace"), ("ADA", Some("K"), "LOVELACE")));
        assert!(names_match(("Ada", Some("King"), "Lovelace"), ("ADA KING", None, "LOVELACE")));
        assert!(names_match(("Maria", None, "Garcia Lopez"), ("MARIA", None, "GARCIA-LOPEZ")));
        assert!(!names_match(("Ada", Some("King"), "Lovelace"), ("ADA", Some("MARY"), "LOVELACE")));
        assert!(!names_match(("Ada", None, "Lovelace"), ("GRACE", None, "LOVELACE")));
        assert!(!names_match(("Ada", None, "Lovelace"), ("ADA", None, "HOPPER")));
    }

    #[test]
    fn street_lines_follow_publication_28() {
        assert_eq!(street_line("123 North Main Street, Apartment 4"), "123 N MAIN ST APT 4");
        assert_eq!(street_line("123 N. Main St. Apt. 4"), "123 N MAIN ST APT 4");
        assert_eq!(street_line("500 Avenue of the Americas"), "500 AVENUE OF THE AMERICAS");
        assert_eq!(street_line("77 Sunset Boulevard #12"), "77 SUNSET BLVD # 12");
        assert_eq!(street_line("P.O. Box 42"), "PO BOX 42");
        assert_eq!(street_line("Post Office Box 42"), "PO BOX 42");
        assert!(is_po_box(&street_line("p o box 9")));
        assert!(!is_po_box(&street_line("12 Boxwood Lane")));
    }

    #[test]
    fn private_mailboxes_are_told_from_apartments_and_suites() {
        let pmb = |line: &str| private_mailbox(&street_line(line));
        assert_eq!(pmb("123 Main St PMB 45"), Some("PMB 45".into()));
        assert_eq!(pmb("123 Main St, PMB #45"), Some("PMB 45".into()));
        assert_eq!(pmb("123 Main St Ste 100 PMB 7"), Some("PMB 7".into()));
        assert_eq!(pmb("123 Main St #45"), Some("#45".into()));
        assert_eq!(pmb("123 Main St # 45"), Some("#45".into()));
        for line in [
            "123 Main St Apt 5B",
            "123 Main St Suite 200",
            "123 Main St Unit 3",
            "123 Main St Apt #4",
            "123 Main St Ste #200",
            "#12 Elm St",
            "62701 Main St",
            "12 Elm St #5B",
        ] {
            assert_eq!(pmb(line), None, "{line}");
        }
    }

    #[test]
    fn units_are_dropped_for_building_comparisons() {
        let a = address("123 Main Street", Some("PMB 45"), "Springfield", "IL", "62701-0001");
        let b = address("123 Main St", Some("Suite 100"), "Springfield", "IL", "62701");
        assert_eq!(without_units(&a), "123 MAIN ST, SPRINGFIELD, IL, 62701");
        assert_eq!(without_units(&a), without_units(&b));
        assert_eq!(without_units(&address("12 Unit Rd", None, "Springfield", "IL", "62701")), "12 UNIT RD, SPRINGFIELD, IL, 62701");
        assert_ne!(without_units(&address("125 Main St", None, "Springfield", "IL", "62701")), without_units(&b));
    }

    #[test]
    fn whole_addresses_compare_equal_across_spellings() {
        let a = address("1 Main Street", Some("Suite 5"), "Springfield", "il", "62701-1234");
        let b = address("1 MAIN ST", Some("STE 5"), "SPRINGFIELD", "IL", "62701");
        assert_eq!(a, b);
        assert_eq!(address_text("1 Main St Ste 5, Springfield, IL 62701"), b);
    }
}
