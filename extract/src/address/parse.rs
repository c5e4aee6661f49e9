//! Finding the holder's address (and name) among a document's text cells.
//!
//! Every "City, ST 12345(-6789)" (US) or "City, QC H2J 2L3" (Canada) is the end of a
//! candidate address; its street is either on the same line ("Premises: 77 Elm Street,
//! Unit 12, Portland, OR 97205") or on the line(s) directly above, with an optional
//! unit line ("APT 5B") between, possibly after a label ("Premises: 1600 Main St" over
//! "Springfield, IL 62701"; the city line under the label or under the value). A bill
//! carries several addresses (the holder's, the company's remittance box, a branch),
//! so candidates are scored:
//! - a person's name directly above the street: the addressee block (+4);
//! - words around it that point at the holder ("service address", "premises",
//!   "tenant", "insured", "mailing address"…) (+3), or away ("remit", "payment",
//!   "landlord", "office"…) (−5); a label on the street's own line speaks for it, and
//!   the line above is then another field of the form, read only for a name;
//! - a company name above the street (−3), a PO box as the street (−2).
//!
//! The highest score wins, the earliest on ties; a negative score (a company's or a
//! landlord's address) is never taken for the holder's.

use super::layout::{cell_above, offset_x, Cell, NEXT_LINE, SAME_COLUMN};
use super::lines::{city_line, clean_street, is_po_box, is_unit, street_and_unit, street_start};
use super::name::{labelled_name, person_name, PersonName};
use crate::Address;

/// Words near an address that say it is the holder's.
#[rustfmt::skip]
const HOLDER_CONTEXT: &[&str] = &[
    "service address", "service location", "premises", "property address", "rental", "residence", "home address",
    "mailing address", "insured", "tenant", "lessee", "resident", "customer", "account holder", "bill to",
    "located at", "policyholder", "borrower", "your address",
];
/// Words near an address that say it is someone else's (where to pay, the landlord's).
#[rustfmt::skip]
const OTHER_CONTEXT: &[&str] = &[
    "remit", "payment", "pay to", "send", "landlord", "lessor", "our office", "office address", "headquarters",
    "correspondence", "our address", "write to",
];

/// Words of company names, as opposed to people's.
#[rustfmt::skip]
const COMPANY_WORDS: &[&str] = &[
    "inc", "llc", "ltd", "corp", "company", "bank", "insurance", "mutual", "power", "electric", "energy", "gas",
    "water", "utilities", "management", "services", "properties", "realty",
];

/// An address read from the document, with what the scoring used.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub address: Address,
    pub name: Option<PersonName>,
    pub score: i32,
}

/// The holder's address and name among `cells`, or `None` when no address is there.
pub fn find_address(cells: &[Cell]) -> Option<Found> {
    let mut best: Option<Found> = None;
    for i in 0..cells.len() {
        if let Some(found) = candidate_at(cells, i) {
            if found.score >= 0 && best.as_ref().is_none_or(|b| found.score > b.score) {
                best = Some(found);
            }
        }
    }
    let mut best = best?;
    if best.name.is_none() {
        best.name = cells.iter().find_map(|c| labelled_name(&c.text));
    }
    Some(best)
}

fn candidate_at(cells: &[Cell], i: usize) -> Option<Found> {
    let city = city_line(&cells.get(i)?.text)?;
    let mut context = city.before.to_lowercase();
    // What stands right before the street: the addressee's name, a company, a label.
    let lead: Option<String>;
    let mut lead_is_context = true;
    let (line1, line2) = if let Some(inline) = inline_street(&city.before) {
        let above = cell_above(cells, i).map(|j| cells[j].text.as_str());
        if let (Some(_), Some(text)) = (&inline.lead, above) {
            context.push(' ');
            context.push_str(&text.to_lowercase());
        }
        // Nothing before the street on its line: the name may be on the line above.
        lead = inline.lead.or_else(|| above.map(str::to_string));
        (inline.line1, inline.line2)
    } else {
        let block = street_block_above(cells, i)?;
        let name_cell = cell_above(cells, block.street);
        // A label on the street's line, or in the cell left of it ("Premises:"), says
        // whose address it is; the line above is then another field of the form
        // ("Tenant: Dana Whitfield", "Landlord: Prairie Homes LLC"): only a person's
        // name there counts, as the addressee.
        let label = block.label.or_else(|| label_left_of(cells, block.street).map(|j| cells[j].text.clone()));
        if let Some(label) = label {
            // A bare "Address:" says nothing: then the field above does ("Landlord: …").
            if !says_whose(&label) {
                if let Some(j) = name_cell {
                    context.push(' ');
                    context.push_str(&cells[j].text.to_lowercase());
                }
            }
            context.push(' ');
            context.push_str(&label.to_lowercase());
            lead = name_cell.map(|j| cells[j].text.clone()).filter(|t| name_of(t).is_some());
            lead_is_context = false;
        } else {
            lead = name_cell.map(|j| cells[j].text.clone());
            // The heading over the block ("Named insured and mailing address").
            if let Some(heading) = name_cell.and_then(|j| cell_above(cells, j)) {
                context.push(' ');
                context.push_str(&cells[heading].text.to_lowercase());
            }
        }
        (block.line1, block.line2)
    };
    let mut score = 0;
    let mut name = None;
    if let Some(lead) = &lead {
        name = name_of(lead);
        if name.is_some() {
            score += 4;
        } else if is_company(lead) {
            score -= 3;
        }
        if lead_is_context {
            context.push(' ');
            context.push_str(&lead.to_lowercase());
        }
    }
    if HOLDER_CONTEXT.iter().any(|k| context.contains(k)) {
        score += 3;
    }
    if OTHER_CONTEXT.iter().any(|k| context.contains(k)) {
        score -= 5;
    }
    if is_po_box(&line1) {
        score -= 2;
    }
    let address = Address { line1, line2, city: city.city, state: city.state, postal_code: city.postal_code, country: city.country.to_string() };
    Some(Found { address, name, score })
}

/// The street and unit lines directly above a city line.
#[derive(Debug, Clone, PartialEq)]
struct StreetBlock {
    line1: String,
    line2: Option<String>,
    /// The index of the street's cell.
    street: usize,
    /// What precedes the street on its own line ("Premises:", "Service address:").
    label: Option<String>,
}

/// The street above the city line `cells[i]`, with an optional unit line between
/// ("APT 5B"). The street may follow a label on its line ("Premises: 1600 Main St"
/// over "Springfield, IL 62701"), as leases and bills label the holder's address.
fn street_block_above(cells: &[Cell], i: usize) -> Option<StreetBlock> {
    let above = cell_above(cells, i).or_else(|| hanging_street_above(cells, i))?;
    let text = &cells[above].text;
    if let Some((line1, line2)) = street_and_unit(text) {
        return Some(StreetBlock { line1, line2, street: above, label: None });
    }
    if is_unit(text) {
        let street = cell_above(cells, above)?;
        let (label, line1, _) = labelled_street(&cells[street].text)?;
        return Some(StreetBlock { line1, line2: Some(text.clone()), street, label });
    }
    let (label, line1, line2) = labelled_street(text)?;
    Some(StreetBlock { line1, line2, street: above, label })
}

/// A street line, possibly after a label: `(label, line1, line2)`.
fn labelled_street(text: &str) -> Option<(Option<String>, String, Option<String>)> {
    if let Some((line1, line2)) = street_and_unit(text) {
        return Some((None, line1, line2));
    }
    let (label, street) = street_start(text)?;
    let (line1, line2) = street_and_unit(&street)?;
    Some((Some(label), line1, line2))
}

/// A labelled street on the line above whose value, not its label, sits over the city
/// line (a form's field column: "Premises:  1600 Main St" over "           Springfield,
/// IL 62701", with too few spaces between label and value to split them into cells).
fn hanging_street_above(cells: &[Cell], i: usize) -> Option<usize> {
    let here = cells.get(i)?;
    cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.y < here.y && here.y - c.y <= NEXT_LINE && c.x < here.x)
        .filter(|(_, c)| {
            street_start(&c.text).is_some_and(|(label, _)| !label.is_empty() && (offset_x(c, label.chars().count() + 1) - here.x).abs() <= SAME_COLUMN)
        })
        .max_by(|(_, a), (_, b)| a.y.total_cmp(&b.y))
        .map(|(j, _)| j)
}

/// The cell on the same row just left of `cells[i]`, when it is a label ("Premises:").
fn label_left_of(cells: &[Cell], i: usize) -> Option<usize> {
    let here = cells.get(i)?;
    cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.y == here.y && c.x < here.x && c.text.ends_with(':'))
        .max_by(|(_, a), (_, b)| a.x.total_cmp(&b.x))
        .map(|(j, _)| j)
}

/// The street of a one-line address, from the comma-parts before the city.
#[derive(Debug, Clone, PartialEq)]
struct InlineStreet {
    line1: String,
    line2: Option<String>,
    /// What precedes the street: the part before it ("Jonathan Smith, 77 Elm St, …")
    /// or the words before its house number ("Premises: 77 Elm St").
    lead: Option<String>,
}

fn inline_street(before: &str) -> Option<InlineStreet> {
    let parts: Vec<&str> = before.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let (last, rest) = parts.split_last()?;
    let (street_part, line2, rest) = if is_unit(last) {
        let (street, rest) = rest.split_last()?;
        (*street, Some(last.to_string()), rest)
    } else {
        (*last, None, rest)
    };
    let (lead_in, line1) = street_start(street_part)?;
    let line1 = clean_street(&line1);
    let lead = if lead_in.is_empty() { rest.last().map(|p| p.to_string()) } else { Some(lead_in) };
    Some(InlineStreet { line1, line2, lead })
}

/// Whether `text` says whose address follows (the holder's or someone else's).
fn says_whose(text: &str) -> bool {
    let text = text.to_lowercase();
    HOLDER_CONTEXT.iter().chain(OTHER_CONTEXT).any(|k| text.contains(k))
}

/// The person a line names, bare ("MARIA E. GARCIA") or labelled ("Tenant: Ann Lee").
fn name_of(text: &str) -> Option<PersonName> {
    person_name(text).or_else(|| labelled_name(text))
}

/// Whether a line names a company (the biller's letterhead, a landlord) rather than a person.
fn is_company(text: &str) -> bool {
    text.contains('&') || text.split(|c: char| !c.is_alphanumeric()).any(|w| COMPANY_WORDS.iter().any(|k| w.eq_ignore_ascii_case(k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::layout::from_plain_text;

    #[test]
    fn one_line_addresses() {
        let inline = inline_street("located at 77 Elm Street, Unit 12").expect("street");
        assert_eq!((inline.line1.as_str(), inline.line2.as_deref(), inline.lead.as_deref()), ("77 Elm Street", Some("Unit 12"), Some("located at")));
        let inline = inline_street("Ann Lee, 9 Oak Rd").expect("street");
        assert_eq!((inline.line1.as_str(), inline.lead.as_deref()), ("9 Oak Rd", Some("Ann Lee")));
    }

    #[test]
    fn a_name_above_a_one_line_address() {
        let found = find_address(&from_plain_text("Ann Lee\n9 Oak Rd, Apt 2, Boise, ID 83702")).expect("address");
        assert_eq!((found.address.line1.as_str(), found.address.line2.as_deref()), ("9 Oak Rd", Some("Apt 2")));
        assert_eq!(found.name.map(|n| n.last), Some("Lee".into()));
    }

    #[test]
    fn the_addressee_block_beats_the_remittance_box() {
        let text = "Northwind Power & Light\nPO Box 6000\nChicago, IL 60680-6000\n\n\
                    MARIA E. GARCIA        Account number: 4471\n1234 N MAPLE AVE       Statement date: March 3\n\
                    APT 5B                 Amount due: $142.17\nSPRINGFIELD, IL 62704-1234     Due date: March 24\n\
                    Send payments to Northwind Power & Light, PO Box 6000, Chicago, IL 60680-6000.";
        let found = find_address(&from_plain_text(text)).expect("address");
        assert_eq!(found.address.line1, "1234 N MAPLE AVE");
        assert_eq!(found.address.line2.as_deref(), Some("APT 5B"));
        assert_eq!(found.address.city, "SPRINGFIELD");
        assert_eq!(found.name.map(|n| n.last), Some("GARCIA".into()));
    }

    #[test]
    fn labelled_premises_beat_the_landlord() {
        let text = "Landlord address: 500 Market St, Suite 300, Portland, OR 97204\nTenant: Jonathan A. Smith\n\
                    Premises: 77 Elm Street, Unit 12, Portland, OR 97205";
        let found = find_address(&from_plain_text(text)).expect("address");
        assert_eq!(found.address.line1, "77 Elm Street");
        assert_eq!(found.address.postal_code, "97205");
        assert_eq!(found.name.map(|n| n.first), Some("Jonathan".into()));
    }

    fn premises(text: &str) -> Found {
        let found = find_address(&from_plain_text(text)).expect("address");
        assert_eq!((found.address.line1.as_str(), found.address.postal_code.as_str()), ("1600 Main St", "62701"), "{text}");
        found
    }

    #[test]
    fn a_labelled_street_over_the_city_line() {
        let found = premises(
            "Landlord: Prairie Homes LLC\nLandlord address: 400 W Jefferson St\nSpringfield, IL 62702\n\n\
             Tenant: Dana K. Whitfield\nPremises: 1600 Main St\nSpringfield, IL 62701",
        );
        assert_eq!(found.name.map(|n| n.last), Some("Whitfield".into()));
        // The tenant's line above the landlord's address does not make it the holder's.
        premises("Premises: 1600 Main St\nSpringfield, IL 62701\nTenant: Dana Whitfield\nLandlord address: 400 W Jefferson St\nSpringfield, IL 62702");
    }

    #[test]
    fn a_city_line_under_the_labels_value() {
        // One space after the label: one cell, the city hanging under "1600".
        premises("Tenant: Dana K. Whitfield\nPremises: 1600 Main St\n          Springfield, IL 62701\nLandlord: Prairie Homes LLC\nAddress: 400 W Jefferson St\n          Springfield, IL 62702");
        // A wide gap: the label is a cell of its own, left of the street.
        premises("Landlord address:    400 W Jefferson St\n                     Springfield, IL 62702\nService address:     1600 Main St\n                     Springfield, IL 62701");
    }

    #[test]
    fn the_utility_letterhead_and_remittance_box_are_not_the_service_address() {
        premises(
            "Springfield City Water & Light\n800 E Monroe St\nSpringfield, IL 62757\nCustomer: Dana K. Whitfield\n\
             Service address: 1600 Main St\nSpringfield, IL 62701\nRemit payment to:\nSpringfield City Water & Light\nPO Box 19270\nSpringfield, IL 62794-9270",
        );
    }

    #[test]
    fn ocr_punctuation_after_the_house_number() {
        let found = find_address(&from_plain_text("MARIA GARCIA\n1234. N MAPLE AVE\nSPRINGFIELD, IL 62704")).expect("address");
        assert_eq!(found.address.line1, "1234 N MAPLE AVE");
    }

    #[test]
    fn a_company_address_alone_is_not_the_holders() {
        assert_eq!(find_address(&from_plain_text("Northwind Power & Light\nPO Box 6000\nChicago, IL 60680")), None);
    }

    #[test]
    fn no_address_no_candidate() {
        assert_eq!(find_address(&from_plain_text("Hello\nSpringfield, IL 62704")), None);
        assert_eq!(find_address(&[]), None);
    }
}
