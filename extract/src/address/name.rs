//! Recognising a person's name on a proof of address, and splitting it.
//!
//! The name is a best guess for display and review: the name rule itself compares the
//! applicant's name with every text line ([`super::PoaReading::lines`]). So this errs
//! on the side of "no name" rather than a company or a heading: a person's name is
//! 2–5 words of letters, without digits and without the words companies and forms use.

/// Words that mark a line as a company, an institution or form text, not a person.
#[rustfmt::skip]
const NOT_PERSON_WORDS: &[&str] = &[
    "inc", "llc", "ltd", "llp", "corp", "corporation", "co", "company", "bank", "credit", "union", "insurance",
    "assurance", "mutual", "power", "light", "electric", "electricity", "energy", "gas", "water", "utilities",
    "utility", "services", "service", "management", "properties", "property", "realty", "group", "telecom",
    "communications", "wireless", "financial", "trust", "holdings", "associates", "partners", "department", "dept",
    "county", "city", "state", "authority", "district", "agency", "university", "hospital", "account", "number",
    "statement", "date", "total", "amount", "due", "page", "address", "customer", "policy", "period", "invoice",
    "bill", "balance", "payment", "lease", "agreement", "tenant", "landlord", "insured", "named", "mailing",
    "premises", "declarations", "coverage", "home", "residential", "dear", "thank", "you", "your", "the", "of",
    "for", "to", "and", "or", "at", "by", "in", "on", "with", "from", "po", "box", "usa",
];

/// Courtesy titles dropped before splitting.
const TITLES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr", "m", "mme", "mlle"];
/// Generational suffixes kept with the last name.
const SUFFIXES: &[&str] = &["jr", "sr", "ii", "iii", "iv", "v"];

/// Labels that introduce the holder's name (`Tenant: Jonathan Smith`).
#[rustfmt::skip]
const NAME_LABELS: &[&str] = &[
    "name", "customer", "customer name", "account holder", "account name", "tenant", "tenants", "tenant name",
    "lessee", "resident", "insured", "named insured", "policyholder", "policy holder", "borrower", "member",
    "bill to", "addressee", "applicant", "owner", "registered owner", "voter",
];

/// A person's name split the usual way: first word, last word (with any suffix),
/// the rest as middle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub first: String,
    pub middle: Option<String>,
    pub last: String,
}

fn bare(word: &str) -> String {
    word.trim_matches(|c: char| c == '.' || c == ',').to_lowercase()
}

fn is_name_word(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    letters > 0 && word.chars().all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '’' | '-' | ','))
}

/// The person's name in `text`, if it reads as one. `Last, First Middle` is reordered.
pub fn person_name(text: &str) -> Option<PersonName> {
    let text = text.trim().trim_end_matches([',', ';', ':']);
    // Two holders ("MARIA GARCIA & JOSE GARCIA"): the first is the best guess.
    let text = [" & ", " and ", " AND "].iter().fold(text, |t, sep| t.split(sep).next().unwrap_or(t));
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if words.len() < 2 || words.len() > 6 || !words.iter().all(|w| is_name_word(w)) {
        return None;
    }
    if words.iter().any(|w| NOT_PERSON_WORDS.contains(&bare(w).as_str())) {
        return None;
    }
    while words.first().is_some_and(|w| TITLES.contains(&bare(w).as_str())) {
        words.remove(0);
    }
    // "GARCIA, MARIA E." → MARIA E. GARCIA
    if let Some(comma) = words.iter().position(|w| w.ends_with(',')) {
        if comma + 1 < words.len() && !SUFFIXES.contains(&bare(words[comma + 1]).as_str()) {
            let (last, given) = words.split_at(comma + 1);
            words = given.iter().chain(last.iter()).copied().collect();
        }
    }
    let words: Vec<String> = words.iter().map(|w| w.trim_end_matches(',').to_string()).collect();
    let mut core: Vec<&String> = words.iter().collect();
    let suffix = core.last().filter(|w| SUFFIXES.contains(&bare(w).as_str())).map(|w| w.to_string());
    if suffix.is_some() {
        core.pop();
    }
    // At least a first and a last name of two letters or more.
    let full = core.iter().filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2).count();
    if core.len() < 2 || full < 2 {
        return None;
    }
    let first = core[0].to_string();
    let mut last = core[core.len() - 1].to_string();
    if let Some(s) = suffix {
        last = format!("{last} {s}");
    }
    let middle = (core.len() > 2).then(|| core[1..core.len() - 1].iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" "));
    Some(PersonName { first, middle, last })
}

/// `Label: value` split at the first colon, the label lower-cased and trimmed.
pub fn split_label(text: &str) -> Option<(String, &str)> {
    let (label, value) = text.split_once(':')?;
    let label = label.trim().to_lowercase();
    (!label.is_empty() && label.split_whitespace().count() <= 4).then_some((label, value.trim()))
}

/// The name in a labelled line (`Tenant: Jonathan A. Smith`, `Named insured: …`).
pub fn labelled_name(text: &str) -> Option<PersonName> {
    let (label, value) = split_label(text)?;
    let label = label.trim_end_matches("(s)");
    NAME_LABELS.contains(&label).then(|| person_name(value)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<(String, Option<String>, String)> {
        person_name(s).map(|n| (n.first, n.middle, n.last))
    }

    #[test]
    fn people_are_recognised_and_split() {
        assert_eq!(split("MARIA E. GARCIA"), Some(("MARIA".into(), Some("E.".into()), "GARCIA".into())));
        assert_eq!(split("Émilie Tremblay"), Some(("Émilie".into(), None, "Tremblay".into())));
        assert_eq!(split("Mr. John Q. Public Jr."), Some(("John".into(), Some("Q.".into()), "Public Jr.".into())));
        assert_eq!(split("Garcia, Maria Elena"), Some(("Maria".into(), Some("Elena".into()), "Garcia".into())));
        assert_eq!(split("Sean O'Brien-Smith"), Some(("Sean".into(), None, "O'Brien-Smith".into())));
        assert_eq!(split("MARIA GARCIA & JOSE GARCIA"), Some(("MARIA".into(), None, "GARCIA".into())));
    }

    #[test]
    fn companies_headings_and_numbers_are_not_people() {
        for s in [
            "Northwind Power & Light",
            "Account number: 4471",
            "1234 N MAPLE AVE",
            "Named insured and mailing address",
            "APT 5B",
            "Oakridge Property Management LLC",
            "Madonna",
            "J. K.",
        ] {
            assert_eq!(person_name(s), None, "{s}");
        }
    }

    #[test]
    fn labelled_names() {
        assert_eq!(labelled_name("Tenant: Jonathan A. Smith").map(|n| n.last), Some("Smith".into()));
        assert_eq!(labelled_name("Tenant(s): Ann Lee").map(|n| n.first), Some("Ann".into()));
        assert_eq!(labelled_name("Landlord: Oakridge Property Management LLC"), None);
        assert_eq!(labelled_name("Landlord: Ann Lee"), None);
    }
}
