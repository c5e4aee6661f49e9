//! The AAMVA DL/ID record carried by the PDF417 barcode, parsed leniently.
//!
//! Why our own parser: the `aamva` crate refused a Latin-1 payload and is young, while the
//! format is small. What real barcodes get wrong, and what we tolerate:
//!
//! - **Separators.** The header should open with `@`, LF, RS, CR; some issuers use other
//!   control bytes, or none. We look for the file type (`ANSI ` or, before the 2000
//!   standard, `AAMVA`) near the start instead of demanding exact bytes.
//! - **Header layout.** Version 01 has no jurisdiction-version field, later ones do; some
//!   issuers got this wrong in both directions, so both layouts are tried and the one
//!   followed by a well-formed subfile designator wins.
//! - **Offsets.** Subfile designators give an offset and a length, and both are often off
//!   by a few bytes (or count from somewhere else). An offset is used only when the bytes
//!   there look like the subfile; otherwise we scan for `DL`/`ID` followed by an element id.
//!   Some issuers also omit the `DL`/`ID` prefix at the start of the subfile.
//! - **Element separators.** LF by the standard; CR LF and other control bytes occur, so any
//!   of them ends an element, and empty pieces are skipped. Values are trimmed (version 01
//!   pads fixed-width fields with spaces).
//! - **Encoding.** Names with accents arrive as ISO-8859-1 (decoded as Windows-1252, its
//!   superset) from most issuers, as UTF-8 from a few: a payload that is valid UTF-8 is read
//!   as UTF-8, anything else as Windows-1252.
//! - **Dates.** US cards write `MMDDCCYY`, Canadian cards and version 01 `CCYYMMDD`. We try
//!   the expected order first and the other second; with years limited to 1900–2199 the two
//!   cannot both be valid, so the result does not depend on guessing the issuer right.
//! - **Names.** Version 04+ has `DCS`/`DAC`/`DAD`; 02–03 `DCS` plus `DCT` (given names,
//!   first and middle separated by a space or comma); 01 `DAA` (`LAST,FIRST,MIDDLE`, or the
//!   same order separated by spaces) or `DAB`/`DAC`/`DAD`. `NONE` and `UNAVL` mean absent.
//!   The truncation flags `DDE`/`DDF`/`DDG` are recorded; names are returned as printed.
//!
//! Nothing here panics on any input: every index goes through `get`, every number through
//! checked parsing.

use super::jurisdictions;
use crate::{Address, Extracted, Failure};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Which standard subfile the record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubfileKind {
    /// `DL`: a driver's licence.
    DriverLicense,
    /// `ID`: an identification card (state or provincial ID).
    IdCard,
}

impl SubfileKind {
    fn from_code(code: &[u8]) -> Option<Self> {
        match code {
            b"DL" => Some(SubfileKind::DriverLicense),
            b"ID" => Some(SubfileKind::IdCard),
            _ => None,
        }
    }

    fn code(self) -> &'static [u8; 2] {
        match self {
            SubfileKind::DriverLicense => b"DL",
            SubfileKind::IdCard => b"ID",
        }
    }

    /// The document kind in the flow's vocabulary.
    pub fn document_kind(self) -> &'static str {
        match self {
            SubfileKind::DriverLicense => "drivers_license",
            SubfileKind::IdCard => "state_id",
        }
    }
}

/// A name truncation flag (`DDE` family, `DDF` first, `DDG` middle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// `T`: the printed name was cut to fit.
    Truncated,
    /// `N`: not truncated.
    NotTruncated,
    /// `U`: the issuer does not know.
    Unknown,
}

impl Truncation {
    fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "T" | "t" => Some(Truncation::Truncated),
            "N" | "n" => Some(Truncation::NotTruncated),
            "U" | "u" => Some(Truncation::Unknown),
            _ => None,
        }
    }
}

/// What the DL/ID subfile of an AAMVA barcode says, with the raw elements kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AamvaRecord {
    /// Issuer Identification Number (6 digits).
    pub iin: String,
    /// AAMVA version number (01 = DL/ID-2000 … 10 = CDS 2020).
    pub version: u8,
    /// Jurisdiction version number (absent in version 01 headers).
    pub jurisdiction_version: Option<u8>,
    pub kind: SubfileKind,
    /// Every element of the DL/ID subfile: id (`DAQ`) → trimmed value.
    pub elements: BTreeMap<String, String>,
    pub family_name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name_truncation: Option<Truncation>,
    pub first_name_truncation: Option<Truncation>,
    pub middle_name_truncation: Option<Truncation>,
    pub date_of_birth: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    /// `DAQ`, the customer / licence number.
    pub document_number: Option<String>,
    /// `DCF`, the document discriminator (identifies this particular card).
    pub document_discriminator: Option<String>,
    /// Issuing jurisdiction: `DAJ`, or the IIN's jurisdiction when `DAJ` is missing.
    pub jurisdiction: Option<String>,
    /// ISO 3166-1 alpha-2: `DCG`, else by IIN, else by jurisdiction.
    pub country: Option<String>,
    pub address: Option<Address>,
}

impl AamvaRecord {
    /// A raw element value by id, e.g. `record.element("DCA")` for the licence class.
    pub fn element(&self, id: &str) -> Option<&str> {
        self.elements.get(id).map(String::as_str)
    }

    /// The fields the verification flow uses.
    pub fn to_extracted(&self) -> Extracted {
        Extracted {
            first_name: self.first_name.clone(),
            middle_name: self.middle_name.clone(),
            last_name: self.family_name.clone(),
            date_of_birth: self.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string()),
            document_number: self.document_number.clone(),
            expiry_date: self.expiry_date.map(|d| d.format("%Y-%m-%d").to_string()),
            issuing_country: self.country.clone(),
            issuing_jurisdiction: self.jurisdiction.clone(),
            address: self.address.clone(),
            document_kind: Some(self.kind.document_kind().to_string()),
        }
    }
}

/// Parses an AAMVA barcode payload (the bytes the PDF417 symbol carries).
///
/// `BarcodeInvalid` when the payload is not an AAMVA DL/ID record, or carries none of
/// document number, family name and date of birth.
pub fn parse(payload: &[u8]) -> Result<AamvaRecord, Failure> {
    let header = Header::parse(payload).ok_or(Failure::BarcodeInvalid)?;
    let (kind, body) = locate_subfile(payload, &header).ok_or(Failure::BarcodeInvalid)?;
    let utf8 = std::str::from_utf8(payload).is_ok();
    let elements = read_elements(payload.get(body..).unwrap_or_default(), utf8);
    let record = build(header, kind, elements);
    if record.document_number.is_none() && record.family_name.is_none() && record.date_of_birth.is_none() {
        return Err(Failure::BarcodeInvalid);
    }
    Ok(record)
}

/// The file header and subfile designators.
struct Header {
    /// Where offsets count from (the `@`).
    base: usize,
    iin: String,
    version: u8,
    jurisdiction_version: Option<u8>,
    designators: Vec<Designator>,
    /// First byte after the designator table.
    table_end: usize,
}

struct Designator {
    code: [u8; 2],
    offset: usize,
}

/// How far into the payload the file type may start (after the compliance indicator and
/// separators, plus some slack for junk).
const FILE_TYPE_WINDOW: usize = 24;
/// More subfiles than this is not a real card.
const MAX_SUBFILES: usize = 16;

impl Header {
    fn parse(p: &[u8]) -> Option<Header> {
        let window = p.get(..p.len().min(FILE_TYPE_WINDOW + 5))?;
        let (file_type_at, file_type_len) = find(window, b"ANSI").map(|at| (at, 4)).or_else(|| find(window, b"AAMVA").map(|at| (at, 5)))?;
        let base = p.get(..file_type_at).and_then(|head| head.iter().position(|&b| b == b'@')).unwrap_or(file_type_at.saturating_sub(4));
        let mut at = file_type_at + file_type_len;
        if p.get(at) == Some(&b' ') {
            at += 1;
        }
        let iin = digits(p, at, 6)?;
        let version = u8::try_from(digits(p, at + 6, 2)?.parse::<u32>().ok()?).ok()?;
        at += 8;
        // Version 01 has no jurisdiction version; some issuers disagree. Take the layout
        // whose entry count is followed by a well-formed designator.
        let with_jv = (Some(at), at + 2);
        let without_jv = (None, at);
        let layouts = if version >= 2 { [with_jv, without_jv] } else { [without_jv, with_jv] };
        let fits = |&(_, count_at): &(Option<usize>, usize)| digits(p, count_at, 2).is_some() && designator(p, count_at + 2).is_some();
        let (jv_at, count_at) = layouts.iter().copied().find(fits).unwrap_or(layouts[0]);
        let jurisdiction_version = jv_at.and_then(|a| digits(p, a, 2)).and_then(|d| d.parse().ok());
        let count = digits(p, count_at, 2).and_then(|d| d.parse::<usize>().ok()).unwrap_or(0).min(MAX_SUBFILES);
        let mut designators = Vec::new();
        let mut table_end = count_at + if digits(p, count_at, 2).is_some() { 2 } else { 0 };
        while designators.len() < count {
            match designator(p, table_end) {
                Some(d) => {
                    designators.push(d);
                    table_end += 10;
                }
                None => break,
            }
        }
        Some(Header { base, iin, version, jurisdiction_version, designators, table_end })
    }
}

/// `n` ASCII digits at `at`, as a string.
fn digits(p: &[u8], at: usize, n: usize) -> Option<String> {
    let s = p.get(at..at.checked_add(n)?)?;
    s.iter().all(u8::is_ascii_digit).then(|| s.iter().map(|&b| char::from(b)).collect())
}

/// A subfile designator at `at`: type (2 uppercase letters or digits), offset (4 digits),
/// length (4 digits).
fn designator(p: &[u8], at: usize) -> Option<Designator> {
    let code = p.get(at..at + 2)?;
    if !code.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return None;
    }
    let offset = digits(p, at + 2, 4)?.parse().ok()?;
    digits(p, at + 6, 4)?;
    Some(Designator { code: [code[0], code[1]], offset })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A DL/ID element id at `at`: `D` and two uppercase letters.
fn element_id_at(p: &[u8], at: usize) -> bool {
    matches!(p.get(at..at + 3), Some([b'D', b, c]) if b.is_ascii_uppercase() && c.is_ascii_uppercase())
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | 0x1c | 0x1d | 0x1e)
}

/// Finds the DL or ID subfile: its kind and where its first element starts.
fn locate_subfile(p: &[u8], h: &Header) -> Option<(SubfileKind, usize)> {
    let declared: Vec<(SubfileKind, usize)> =
        h.designators.iter().filter_map(|d| Some((SubfileKind::from_code(&d.code)?, h.base.checked_add(d.offset)?))).collect();
    // 1. Where the designator says, if the bytes there are that subfile's start.
    for &(kind, at) in &declared {
        if p.get(at..at + 2) == Some(kind.code()) && element_id_at(p, at + 2) {
            return Some((kind, at + 2));
        }
    }
    // 2. Scan past the designator table for a subfile start, preferring declared kinds.
    let rest = p.get(h.table_end..)?;
    let scan = |kind: SubfileKind| rest.windows(5).position(|w| &w[..2] == kind.code() && element_id_at(w, 2)).map(|i| (kind, h.table_end + i + 2));
    for &(kind, _) in &declared {
        if let Some(found) = scan(kind) {
            return Some(found);
        }
    }
    let scanned = [SubfileKind::DriverLicense, SubfileKind::IdCard].into_iter().filter_map(scan).min_by_key(|&(_, at)| at);
    if scanned.is_some() {
        return scanned;
    }
    // 3. No `DL`/`ID` prefix anywhere: some issuers omit it. Elements then start at a
    //    subfile boundary: right after the designator table (the first subfile) or after
    //    the previous subfile's CR. An offset landing anywhere else (after an LF) is a wrong
    //    offset pointing into the middle of the subfile, and would lose its first elements.
    let (first_kind, _) = *declared.first()?;
    let at_boundary = |at: usize| at == h.table_end || p.get(at.wrapping_sub(1)) == Some(&b'\r');
    for &(kind, at) in &declared {
        if element_id_at(p, at) && at_boundary(at) {
            return Some((kind, at));
        }
    }
    let start = h.table_end + rest.iter().take_while(|&&b| is_separator(b) || b == b' ').count();
    element_id_at(p, start).then_some((first_kind, start))
}

/// Elements from `body` on: every separator-delimited piece that starts with a DL/ID
/// element id. Pieces of other subfiles (`Z…` ids) are skipped; the first value of an id
/// wins.
fn read_elements(body: &[u8], utf8: bool) -> BTreeMap<String, String> {
    let mut elements = BTreeMap::new();
    for piece in body.split(|&b| is_separator(b)) {
        let start = piece.iter().take_while(|&&b| b == b' ').count();
        let Some(piece) = piece.get(start..) else { continue };
        if !element_id_at(piece, 0) {
            continue;
        }
        let (id, value) = piece.split_at(3);
        let id: String = id.iter().map(|&b| char::from(b)).collect();
        let value = decode_text(value, utf8);
        let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        elements.entry(id).or_insert_with(|| value.to_string());
    }
    elements
}

fn decode_text(bytes: &[u8], utf8: bool) -> String {
    if utf8 {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return s.to_string();
        }
    }
    encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned()
}

fn build(h: Header, kind: SubfileKind, elements: BTreeMap<String, String>) -> AamvaRecord {
    let get = |id: &str| elements.get(id).map(|v| v.trim()).filter(|v| !v.is_empty());
    let name = |id: &str| get(id).and_then(name_value);

    // Names, newest layout first.
    let mut family_name = name("DCS").or_else(|| name("DAB"));
    let mut first_name = name("DAC");
    let mut middle_name = name("DAD");
    if first_name.is_none() {
        if let Some(given) = get("DCT") {
            let (first, middle) = split_given(given);
            first_name = first;
            middle_name = middle_name.or(middle);
        }
    }
    if let Some(full) = get("DAA") {
        let (last, first, middle) = split_full_name(full);
        family_name = family_name.or(last);
        if first_name.is_none() {
            first_name = first;
            middle_name = middle_name.or(middle);
        }
    }

    let jurisdiction = get("DAJ")
        .map(str::to_uppercase)
        .filter(|j| j.len() == 2 && j.bytes().all(|b| b.is_ascii_uppercase()))
        .or_else(|| jurisdictions::by_iin(&h.iin).map(|(j, _)| j.to_string()));
    let country = get("DCG")
        .and_then(country_code)
        .or_else(|| jurisdictions::by_iin(&h.iin).map(|(_, c)| c.to_string()))
        .or_else(|| jurisdiction.as_deref().and_then(jurisdictions::country_of).map(str::to_string));

    let ymd_first = h.version <= 1 || country.as_deref() == Some("CA");
    let date = |id: &str| get(id).and_then(|v| parse_date(v, ymd_first));

    let address = get("DAG").or_else(|| get("DAL")).map(|line1| Address {
        line1: line1.to_string(),
        line2: get("DAH").or_else(|| get("DAM")).map(str::to_string),
        city: get("DAI").or_else(|| get("DAN")).unwrap_or_default().to_string(),
        state: get("DAJ").or_else(|| get("DAO")).unwrap_or_default().to_string(),
        postal_code: get("DAK").or_else(|| get("DAP")).map(normalize_postal).unwrap_or_default(),
        country: country.clone().unwrap_or_default(),
    });

    AamvaRecord {
        family_name,
        first_name,
        middle_name,
        family_name_truncation: get("DDE").and_then(Truncation::parse),
        first_name_truncation: get("DDF").and_then(Truncation::parse),
        middle_name_truncation: get("DDG").and_then(Truncation::parse),
        date_of_birth: date("DBB"),
        expiry_date: date("DBA"),
        document_number: get("DAQ").map(str::to_string),
        document_discriminator: get("DCF").map(str::to_string),
        jurisdiction,
        country,
        address,
        iin: h.iin,
        version: h.version,
        jurisdiction_version: h.jurisdiction_version,
        kind,
        elements,
    }
}

/// A name element's value, or `None` for the "no such name" placeholders.
fn name_value(v: &str) -> Option<String> {
    let v = v.trim();
    let placeholder = v.is_empty() || v.eq_ignore_ascii_case("NONE") || v.eq_ignore_ascii_case("UNAVL");
    (!placeholder).then(|| v.to_string())
}

/// `DCT` (versions 02–03): first and middle names, separated by a comma or a space.
fn split_given(given: &str) -> (Option<String>, Option<String>) {
    let given = given.trim();
    let (first, middle) = match given.split_once(',').or_else(|| given.split_once(' ')) {
        Some((f, m)) => (f, m),
        None => (given, ""),
    };
    (name_value(first), name_value(middle.trim_start_matches([',', ' '])))
}

/// `DAA` (version 01): `LAST,FIRST,MIDDLE`, or the same order separated by spaces.
fn split_full_name(full: &str) -> (Option<String>, Option<String>, Option<String>) {
    let parts: Vec<&str> = if full.contains(',') { full.split(',').map(str::trim).collect() } else { full.split_whitespace().collect() };
    let part = |i: usize| parts.get(i).and_then(|p| name_value(p));
    let middle = parts.get(2..).map(|rest| rest.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" "));
    (part(0), part(1), middle.as_deref().and_then(name_value))
}

/// `USA`/`CAN` (or already alpha-2) to ISO alpha-2.
fn country_code(v: &str) -> Option<String> {
    match v.trim().to_uppercase().as_str() {
        "USA" | "US" => Some("US".into()),
        "CAN" | "CA" => Some("CA".into()),
        _ => None,
    }
}

/// An 8-digit date, `CCYYMMDD` or `MMDDCCYY` (separators tolerated).
fn parse_date(raw: &str, ymd_first: bool) -> Option<NaiveDate> {
    let d: Vec<u32> = raw.chars().filter(|c| !matches!(c, '-' | '/' | '.' | ' ')).map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if d.len() != 8 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |acc, &x| acc * 10 + x);
    let valid = |y: u32, m: u32, day: u32| (1900..=2199).contains(&y).then(|| NaiveDate::from_ymd_opt(y as i32, m, day)).flatten();
    let ymd = || valid(num(0..4), num(4..6), num(6..8));
    let mdy = || valid(num(4..8), num(0..2), num(2..4));
    if ymd_first {
        ymd().or_else(mdy)
    } else {
        mdy().or_else(ymd)
    }
}

/// `DAK`: US ZIPs come padded (`123450000`, `12345    `) or as ZIP+4 (`123456789`);
/// Canadian postal codes with or without their space. Returns `12345`, `12345-6789`
/// or `A1A 1A1`; anything else trimmed as printed.
fn normalize_postal(raw: &str) -> String {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_uppercase();
    let b = compact.as_bytes();
    let canadian = b.len() == 6 && b.iter().enumerate().all(|(i, c)| if i % 2 == 0 { c.is_ascii_uppercase() } else { c.is_ascii_digit() });
    if canadian {
        return format!("{} {}", &compact[..3], &compact[3..]);
    }
    if b.len() >= 5 && b.iter().all(u8::is_ascii_digit) {
        let (zip, plus) = compact.split_at(5);
        if plus.bytes().all(|c| c == b'0') {
            return zip.to_string();
        }
        if plus.len() == 4 {
            return format!("{zip}-{plus}");
        }
    }
    raw.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_either_order() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(parse_date("01311990", false), d(1990, 1, 31));
        assert_eq!(parse_date("19900131", false), d(1990, 1, 31));
        assert_eq!(parse_date("19900131", true), d(1990, 1, 31));
        assert_eq!(parse_date("01311990", true), d(1990, 1, 31));
        assert_eq!(parse_date("1990-01-31", true), d(1990, 1, 31));
        assert_eq!(parse_date("02302000", false), None);
        assert_eq!(parse_date("99999999", false), None);
        assert_eq!(parse_date("0131199", false), None);
        assert_eq!(parse_date("0131199é", false), None);
    }

    #[test]
    fn postal_codes() {
        assert_eq!(normalize_postal("123450000  "), "12345");
        assert_eq!(normalize_postal("12345    "), "12345");
        assert_eq!(normalize_postal("123456789"), "12345-6789");
        assert_eq!(normalize_postal("12345-6789"), "12345-6789");
        assert_eq!(normalize_postal("02108"), "02108");
        assert_eq!(normalize_postal("k1a0b1"), "K1A 0B1");
        assert_eq!(normalize_postal("K1A 0B1"), "K1A 0B1");
        assert_eq!(normalize_postal(" 1234 "), "1234");
    }

    #[test]
    fn names() {
        assert_eq!(split_given("JOHN ANN"), (Some("JOHN".into()), Some("ANN".into())));
        assert_eq!(split_given("JOHN,ANN LEE"), (Some("JOHN".into()), Some("ANN LEE".into())));
        assert_eq!(split_given("JOHN"), (Some("JOHN".into()), None));
        assert_eq!(split_full_name("DE LA CRUZ,ANA,MARIE"), (Some("DE LA CRUZ".into()), Some("ANA".into()), Some("MARIE".into())));
        assert_eq!(split_full_name("SMITH JOHN"), (Some("SMITH".into()), Some("JOHN".into()), None));
        assert_eq!(split_full_name(",,"), (None, None, None));
        assert_eq!(name_value("NONE"), None);
    }
}
