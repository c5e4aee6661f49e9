//! MRZ text → fields: layouts of the three ICAO 9303 formats, correction by field type,
//! check digits, and the structural checks that guard the fields no check digit covers.
//!
//! Correction is deliberately narrow. Each position of an MRZ has a type fixed by the
//! format (a date is digits, a name is letters, a country code is letters), so an OCR
//! `O` in a date can only be `0`, and a `5` in a name can only be `S`. That kind of fix
//! is certain. What we never do is *search*: trying `O`/`0` combinations in an
//! alphanumeric document number until the check digit agrees would accept a wrong
//! reading one time in ten, because a single mod-10 digit cannot tell the candidates
//! apart. So anything type correction cannot settle is refused, and every check digit
//! must then pass on the text as corrected.

use super::{country, glyph};
use crate::Failure;
use chrono::{Datelike, NaiveDate};

/// The three ICAO 9303 machine-readable zone formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzFormat {
    /// ID-1 cards: 3 lines of 30 characters.
    Td1,
    /// ID-2 cards: 2 lines of 36 characters.
    Td2,
    /// Passport booklets: 2 lines of 44 characters.
    Td3,
}

impl MrzFormat {
    /// Number of lines and characters per line.
    pub fn shape(self) -> (usize, usize) {
        match self {
            MrzFormat::Td1 => (3, 30),
            MrzFormat::Td2 => (2, 36),
            MrzFormat::Td3 => (2, 44),
        }
    }

    /// The format whose shape is exactly `lines` × `len`.
    pub fn from_shape(lines: usize, len: usize) -> Option<MrzFormat> {
        [MrzFormat::Td1, MrzFormat::Td2, MrzFormat::Td3].into_iter().find(|f| f.shape() == (lines, len))
    }
}

/// What the MRZ says, after correction and validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    pub format: MrzFormat,
    /// The lines as corrected and validated.
    pub lines: Vec<String>,
    /// Document code without fillers: `P`, `PP`, `I`, `ID`, `IP`, `AC`…
    pub document_code: String,
    /// Issuing state or organisation as printed, fillers removed (`D`, `UTO`, `GBR`).
    pub issuing_state: String,
    /// Document number without fillers, including the overflow of long TD1/TD2 numbers.
    pub document_number: String,
    /// Primary identifier, name components separated by single spaces.
    pub surname: String,
    /// Secondary identifier, one entry per name component.
    pub given_names: Vec<String>,
    pub nationality: String,
    pub birth_date: NaiveDate,
    /// `M`, `F` or `X`; `None` when unspecified (`<`).
    pub sex: Option<char>,
    pub expiry_date: NaiveDate,
    /// Optional data fields, fillers trimmed, empty fields left out.
    pub optional_data: Vec<String>,
}

/// One OCR'd line: characters, the recognizer's confidence (0–100) for each, and what
/// the glyph geometry says about each.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub chars: Vec<char>,
    pub confidence: Vec<f32>,
    /// Character boxes in the line image (x0, y0, x1, y1), when the recognizer gave one.
    pub boxes: Vec<Option<[u32; 4]>>,
    /// Measured ink height of each glyph in original-image pixels (see [`super::glyph`]);
    /// empty when not measured (typed text).
    pub heights: Vec<Option<f32>>,
    /// Holes counted in each glyph; empty when not measured.
    pub holes: Vec<Option<u8>>,
}

impl OcrLine {
    /// A line known with certainty (typed text, tests): no geometry to check.
    pub fn exact(text: &str) -> OcrLine {
        let chars: Vec<char> = text.chars().collect();
        let confidence = vec![100.0; chars.len()];
        OcrLine { boxes: vec![None; chars.len()], chars, confidence, heights: Vec::new(), holes: Vec::new() }
    }
}

/// What a position may hold, fixed by the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `A`–`Z` or filler (names, codes).
    Alpha,
    /// `0`–`9` (dates, most check digits).
    Digit,
    /// `0`–`9` or a filler: the check digit of an optional field that may be empty.
    DigitOrFiller,
    /// Anything in the MRZ alphabet (document numbers, optional data): not correctable.
    Alnum,
    /// `M`, `F`, `X` or filler.
    Sex,
}

/// Confidence below which a character in a field no check digit covers is refused.
pub(crate) const MIN_UNCHECKED_CONFIDENCE: f32 = 60.0;
/// Confidence below which any character is refused, check digit or not.
pub(crate) const MIN_CONFIDENCE: f32 = 40.0;

/// A digit read where only a letter can stand, and the letter it must be (OCR-B shapes).
pub(crate) fn digit_as_letter(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '5' => 'S',
        '6' => 'G',
        '8' => 'B',
        _ => return None,
    })
}

/// A letter read where only a digit can stand, and the digit it must be (OCR-B shapes).
pub(crate) fn letter_as_digit(c: char) -> Option<char> {
    Some(match c {
        'O' | 'Q' | 'D' => '0',
        'I' => '1',
        'Z' => '2',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        _ => return None,
    })
}

/// Corrects one character by the type of its position; `None` when the type cannot
/// settle it (the whole MRZ is then refused).
pub(crate) fn correct_char(c: char, kind: Kind) -> Option<char> {
    let valid = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<';
    if !valid(c) {
        return None;
    }
    match kind {
        Kind::Alnum => Some(c),
        Kind::Alpha => {
            if c.is_ascii_digit() {
                digit_as_letter(c)
            } else {
                Some(c)
            }
        }
        Kind::Digit => {
            if c.is_ascii_digit() {
                Some(c)
            } else if c == '<' {
                None
            } else {
                letter_as_digit(c)
            }
        }
        Kind::DigitOrFiller => match c {
            '0'..='9' | '<' => Some(c),
            // An open chevron is the only glyph that reads as K or C where a digit or
            // filler stands; no digit looks like either.
            'K' | 'C' => Some('<'),
            _ => letter_as_digit(c),
        },
        Kind::Sex => match c {
            'M' | 'F' | 'X' | '<' => Some(c),
            _ => None,
        },
    }
}

/// ICAO 9303 check digit: values `0`–`9`, `A`=10 … `Z`=35, `<`=0, weights 7-3-1.
/// `None` for a character outside the MRZ alphabet.
pub fn check_digit(field: &str) -> Option<u32> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += value * WEIGHTS[i % 3];
    }
    Some(sum % 10)
}

/// Whether `digit` is the check digit of `field`. A filler check digit is accepted only
/// where `filler_allowed` and the field is all fillers.
fn check(field: &str, digit: char, filler_allowed: bool) -> bool {
    if digit == '<' {
        return filler_allowed && field.chars().all(|c| c == '<');
    }
    match (check_digit(field), digit.to_digit(10)) {
        (Some(expected), Some(found)) => expected == found,
        _ => false,
    }
}

/// One field of a layout: line, start, length, type.
struct Field(usize, usize, usize, Kind);

/// The type of every position, per format (ICAO 9303 parts 4, 5 and 6).
fn layout(format: MrzFormat) -> Vec<Field> {
    use Kind::*;
    match format {
        MrzFormat::Td1 => vec![
            Field(0, 0, 2, Alpha),          // document code
            Field(0, 2, 3, Alpha),          // issuing state
            Field(0, 5, 9, Alnum),          // document number
            Field(0, 14, 1, DigitOrFiller), // its check digit, or `<` when the number overflows
            Field(0, 15, 15, Alnum),        // optional data 1 (and the overflow)
            Field(1, 0, 6, Digit),          // date of birth
            Field(1, 6, 1, Digit),
            Field(1, 7, 1, Sex),
            Field(1, 8, 6, Digit), // expiry
            Field(1, 14, 1, Digit),
            Field(1, 15, 3, Alpha),  // nationality
            Field(1, 18, 11, Alnum), // optional data 2
            Field(1, 29, 1, Digit),  // composite
            Field(2, 0, 30, Alpha),  // name
        ],
        MrzFormat::Td2 => vec![
            Field(0, 0, 2, Alpha),
            Field(0, 2, 3, Alpha),
            Field(0, 5, 31, Alpha),        // name
            Field(1, 0, 9, Alnum),         // document number
            Field(1, 9, 1, DigitOrFiller), // its check digit, or `<` when the number overflows
            Field(1, 10, 3, Alpha),        // nationality
            Field(1, 13, 6, Digit),        // date of birth
            Field(1, 19, 1, Digit),
            Field(1, 20, 1, Sex),
            Field(1, 21, 6, Digit), // expiry
            Field(1, 27, 1, Digit),
            Field(1, 28, 7, Alnum), // optional data
            Field(1, 35, 1, Digit), // composite
        ],
        MrzFormat::Td3 => vec![
            Field(0, 0, 2, Alpha),
            Field(0, 2, 3, Alpha),
            Field(0, 5, 39, Alpha), // name
            Field(1, 0, 9, Alnum),  // passport number
            Field(1, 9, 1, Digit),
            Field(1, 10, 3, Alpha), // nationality
            Field(1, 13, 6, Digit), // date of birth
            Field(1, 19, 1, Digit),
            Field(1, 20, 1, Sex),
            Field(1, 21, 6, Digit), // expiry
            Field(1, 27, 1, Digit),
            Field(1, 28, 14, Alnum),        // personal number / optional data
            Field(1, 42, 1, DigitOrFiller), // its check digit
            Field(1, 43, 1, Digit),         // composite
        ],
    }
}

/// Whether a position is covered by at least one check digit (so a misread there is
/// caught), per format.
fn is_checked(format: MrzFormat, line: usize, pos: usize) -> bool {
    match format {
        MrzFormat::Td1 => match line {
            0 => pos >= 5,
            1 => !(pos == 7 || (15..18).contains(&pos)),
            _ => false,
        },
        MrzFormat::Td2 | MrzFormat::Td3 => line == 1 && !(pos == 20 || (10..13).contains(&pos)),
    }
}

/// Parses OCR'd lines: format by shape, correction by type, every check digit, and
/// structural checks on the unchecked fields. `today` anchors the two-digit years.
pub fn parse(lines: &[OcrLine], today: NaiveDate) -> Result<Mrz, Failure> {
    let len = lines.first().map_or(0, |l| l.chars.len());
    if lines.iter().any(|l| l.chars.len() != len || l.confidence.len() != len) {
        return Err(Failure::MrzUnreadable);
    }
    let format = MrzFormat::from_shape(lines.len(), len).ok_or(Failure::MrzUnreadable)?;

    // Correct every position by its type and refuse doubtful characters.
    let mut text: Vec<Vec<char>> = Vec::with_capacity(lines.len());
    for line in lines {
        text.push(line.chars.clone());
    }
    for Field(line, start, flen, kind) in layout(format) {
        let ocr = &lines[line];
        for (pos, slot) in text[line].iter_mut().enumerate().skip(start).take(flen) {
            let conf = ocr.confidence[pos];
            let floor = if is_checked(format, line, pos) { MIN_CONFIDENCE } else { MIN_UNCHECKED_CONFIDENCE };
            // A confidence that is not a number is as doubtful as a low one.
            if conf.is_nan() || conf < floor {
                return Err(Failure::MrzUnreadable);
            }
            *slot = correct_char(ocr.chars[pos], kind).ok_or(Failure::MrzUnreadable)?;
        }
    }
    check_geometry(format, lines, &mut text)?;
    let lines: Vec<String> = text.iter().map(|l| l.iter().collect()).collect();
    let field = |line: usize, start: usize, len: usize| -> &str { &lines[line][start..start + len] };
    let digit = |line: usize, pos: usize| -> char { text[line][pos] };

    let (code, state, name, number, nationality, birth, sex, expiry, optional) = match format {
        MrzFormat::Td1 => {
            let (number, number_ok) = document_number(field(0, 5, 9), digit(0, 14), field(0, 15, 15))?;
            let composite = format!("{}{}{}{}", field(0, 5, 25), field(1, 0, 7), field(1, 8, 7), field(1, 18, 11));
            let checks =
                number_ok && check(field(1, 0, 6), digit(1, 6), false) && check(field(1, 8, 6), digit(1, 14), false) && check(&composite, digit(1, 29), false);
            if !checks {
                return Err(Failure::MrzUnreadable);
            }
            let opt1 = if digit(0, 14) == '<' { String::new() } else { trim_fillers(field(0, 15, 15)) };
            let optional = vec![opt1, trim_fillers(field(1, 18, 11))];
            (field(0, 0, 2), field(0, 2, 3), field(2, 0, 30), number, field(1, 15, 3), field(1, 0, 6), digit(1, 7), field(1, 8, 6), optional)
        }
        MrzFormat::Td2 => {
            let (number, number_ok) = document_number(field(1, 0, 9), digit(1, 9), field(1, 28, 7))?;
            let composite = format!("{}{}{}", field(1, 0, 10), field(1, 13, 7), field(1, 21, 14));
            let checks = number_ok
                && check(field(1, 13, 6), digit(1, 19), false)
                && check(field(1, 21, 6), digit(1, 27), false)
                && check(&composite, digit(1, 35), false);
            if !checks {
                return Err(Failure::MrzUnreadable);
            }
            let optional = if digit(1, 9) == '<' { String::new() } else { trim_fillers(field(1, 28, 7)) };
            (field(0, 0, 2), field(0, 2, 3), field(0, 5, 31), number, field(1, 10, 3), field(1, 13, 6), digit(1, 20), field(1, 21, 6), vec![optional])
        }
        MrzFormat::Td3 => {
            let composite = format!("{}{}{}", field(1, 0, 10), field(1, 13, 7), field(1, 21, 22));
            let checks = check(field(1, 0, 9), digit(1, 9), false)
                && check(field(1, 13, 6), digit(1, 19), false)
                && check(field(1, 21, 6), digit(1, 27), false)
                && check(field(1, 28, 14), digit(1, 42), true)
                && check(&composite, digit(1, 43), false);
            if !checks {
                return Err(Failure::MrzUnreadable);
            }
            let number = trim_fillers(field(1, 0, 9));
            (
                field(0, 0, 2),
                field(0, 2, 3),
                field(0, 5, 39),
                number,
                field(1, 10, 3),
                field(1, 13, 6),
                digit(1, 20),
                field(1, 21, 6),
                vec![trim_fillers(field(1, 28, 14))],
            )
        }
    };

    // Structure of what no check digit protects.
    let document_code = document_code(code, format)?;
    let issuing_state = country_code(state)?;
    let nationality = country_code(nationality)?;
    let (surname, given_names) = split_name(name)?;
    if number.is_empty() || number.contains('<') {
        return Err(Failure::MrzUnreadable);
    }
    let birth_date = birth_date(birth, today)?;
    let expiry_date = expiry_date(expiry, today)?;
    if expiry_date <= birth_date {
        return Err(Failure::MrzUnreadable);
    }
    let sex = (sex != '<').then_some(sex);

    Ok(Mrz {
        format,
        lines: lines.clone(),
        document_code,
        issuing_state,
        document_number: number,
        surname,
        given_names,
        nationality,
        birth_date,
        sex,
        expiry_date,
        optional_data: optional.into_iter().filter(|s| !s.is_empty()).collect(),
    })
}

/// Glyph geometry in alphanumeric fields, where type correction cannot help (see
/// [`glyph`]). OCR-B digits stand taller than capitals: an `O` measured clearly as tall as
/// the digits of the date fields is a `0`, and vice versa (a wrong swap would still have to
/// pass the check digit, which sees every `O`/`0` exchange). And the look-alike pairs no
/// check digit can separate (`S`/`8`, `G`/`6`, `U`/`0`) must show the holes of the
/// character read, or the MRZ is refused. Lines without measurements (typed text) skip
/// this.
fn check_geometry(format: MrzFormat, lines: &[OcrLine], text: &mut [Vec<char>]) -> Result<(), Failure> {
    if lines.iter().all(|l| l.heights.is_empty()) {
        return Ok(());
    }
    let height = |line: usize, pos: usize| lines[line].heights.get(pos).copied().flatten();
    let (mut letters, mut digits) = (Vec::new(), Vec::new());
    let layout = layout(format);
    for Field(line, start, len, kind) in &layout {
        for (pos, &c) in text[*line].iter().enumerate().skip(*start).take(*len) {
            let h = height(*line, pos);
            match (kind, h) {
                (Kind::Digit | Kind::DigitOrFiller, Some(h)) if c.is_ascii_digit() => digits.push(h),
                (Kind::Alpha | Kind::Sex, Some(h)) if c.is_ascii_uppercase() => letters.push(h),
                _ => {}
            }
        }
    }
    // Without a usable reference, `O`/`0` stay as read (the check digit judges them).
    let reference = glyph::Reference::new(&letters, &digits);
    for Field(line, start, len, kind) in &layout {
        if *kind != Kind::Alnum {
            continue;
        }
        for (pos, slot) in text[*line].iter_mut().enumerate().skip(*start).take(*len) {
            let c = *slot;
            let class = reference.zip(height(*line, pos)).map(|(r, h)| r.classify(h));
            let c = match (c, class) {
                ('O', Some(glyph::Class::Digit)) => '0',
                ('0', Some(glyph::Class::Letter)) => 'O',
                _ => c,
            };
            if let Some(expected) = glyph::expected_holes(c) {
                let found = lines[*line].holes.get(pos).copied().flatten();
                if found != Some(expected) {
                    return Err(Failure::MrzUnreadable);
                }
            }
            *slot = c;
        }
    }
    Ok(())
}

/// TD1/TD2 document number and whether its check digit holds. Numbers longer than nine
/// characters put a filler in the check-digit position and continue in the optional
/// data, followed by their check digit and fillers (ICAO 9303-5 §4.2.4, 9303-6 §4.2.4).
fn document_number(principal: &str, check_char: char, optional: &str) -> Result<(String, bool), Failure> {
    if check_char != '<' {
        return Ok((trim_fillers(principal), check(principal, check_char, false)));
    }
    let rest = optional.split('<').next().unwrap_or("");
    // At least one overflow character plus the check digit, and nothing after the
    // first filler.
    let trailing_ok = optional[rest.len()..].chars().all(|c| c == '<');
    let Some(last) = rest.chars().last() else {
        return Err(Failure::MrzUnreadable);
    };
    if rest.len() < 2 || !trailing_ok || !last.is_ascii_digit() || principal.contains('<') {
        return Err(Failure::MrzUnreadable);
    }
    let overflow = &rest[..rest.len() - 1];
    let full = format!("{principal}{overflow}");
    let ok = check(&full, last, false);
    Ok((full, ok))
}

fn trim_fillers(s: &str) -> String {
    s.trim_end_matches('<').to_string()
}

/// Document code: a known first letter, then a letter or filler.
fn document_code(code: &str, format: MrzFormat) -> Result<String, Failure> {
    let mut chars = code.chars();
    let first = chars.next().ok_or(Failure::MrzUnreadable)?;
    let allowed = match format {
        MrzFormat::Td3 => matches!(first, 'P'),
        MrzFormat::Td1 | MrzFormat::Td2 => matches!(first, 'I' | 'A' | 'C' | 'P'),
    };
    if !allowed {
        return Err(Failure::MrzUnreadable);
    }
    Ok(trim_fillers(code))
}

/// A three-character issuing-state or nationality code: letters, then fillers, and a
/// code ICAO actually assigns (the table catches misreads no check digit covers).
fn country_code(field: &str) -> Result<String, Failure> {
    let code = trim_fillers(field);
    if code.is_empty() || code.contains('<') || !country::is_known(&code) {
        return Err(Failure::MrzUnreadable);
    }
    Ok(code)
}

/// Splits the name field: primary identifier, `<<`, secondary identifier, each made of
/// components separated by single fillers, then fillers to the end. Anything else (a
/// stray letter in the filler run, a doubled filler inside the given names) is refused:
/// no check digit covers the name, so its structure is the only guard.
fn split_name(field: &str) -> Result<(String, Vec<String>), Failure> {
    let name = field.trim_end_matches('<');
    if name.is_empty() || name.starts_with('<') {
        return Err(Failure::MrzUnreadable);
    }
    let (primary, secondary) = match name.split_once("<<") {
        Some((p, s)) => (p, s),
        None => (name, ""),
    };
    let component_ok = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase());
    let surname: Vec<&str> = primary.split('<').collect();
    if !surname.iter().all(component_ok) {
        return Err(Failure::MrzUnreadable);
    }
    let given: Vec<&str> = if secondary.is_empty() { Vec::new() } else { secondary.split('<').collect() };
    if !given.iter().all(component_ok) {
        return Err(Failure::MrzUnreadable);
    }
    Ok((surname.join(" "), given.into_iter().map(str::to_string).collect()))
}

fn yymmdd(field: &str) -> Result<(i32, u32, u32), Failure> {
    let n = |s: &str| s.parse::<u32>().map_err(|_| Failure::MrzUnreadable);
    if field.len() != 6 || !field.chars().all(|c| c.is_ascii_digit()) {
        return Err(Failure::MrzUnreadable);
    }
    Ok((n(&field[0..2])? as i32, n(&field[2..4])?, n(&field[4..6])?))
}

/// Date of birth: the most recent century that puts it in the past.
pub(crate) fn birth_date(field: &str, today: NaiveDate) -> Result<NaiveDate, Failure> {
    let (yy, mm, dd) = yymmdd(field)?;
    let century = today.year() - today.year().rem_euclid(100);
    [century + yy, century - 100 + yy]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, mm, dd))
        .find(|date| *date <= today)
        .ok_or(Failure::MrzUnreadable)
}

/// Expiry: documents run at most a few decades ahead, and an expired one may be read
/// too, so the year is taken in the window [today − 50 years, today + 50 years).
pub(crate) fn expiry_date(field: &str, today: NaiveDate) -> Result<NaiveDate, Failure> {
    let (yy, mm, dd) = yymmdd(field)?;
    let lo = today.year() - 50;
    let year = lo + (yy - lo).rem_euclid(100);
    NaiveDate::from_ymd_opt(year, mm, dd).ok_or(Failure::MrzUnreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    fn parse_text(lines: &[&str]) -> Result<Mrz, Failure> {
        let ocr: Vec<OcrLine> = lines.iter().map(|l| OcrLine::exact(l)).collect();
        parse(&ocr, today())
    }

    // ICAO 9303 part 4 specimen (Utopia passport).
    const TD3: [&str; 2] = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    // ICAO 9303 part 5 specimen (TD1).
    const TD1: [&str; 3] = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
    // ICAO 9303 part 6 specimen (TD2).
    const TD2: [&str; 2] = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"];

    #[test]
    fn check_digits_match_the_icao_examples() {
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("740812"), Some(2));
        assert_eq!(check_digit("120415"), Some(9));
        assert_eq!(check_digit("ZE184226B<<<<<"), Some(1));
        assert_eq!(check_digit("D23145890"), Some(7));
        assert_eq!(check_digit("<<<"), Some(0));
        assert_eq!(check_digit("ab"), None);
    }

    #[test]
    fn parses_the_three_specimens() {
        let p = parse_text(&TD3).unwrap();
        assert_eq!(p.format, MrzFormat::Td3);
        assert_eq!(p.document_code, "P");
        assert_eq!(p.issuing_state, "UTO");
        assert_eq!(p.document_number, "L898902C3");
        assert_eq!(p.surname, "ERIKSSON");
        assert_eq!(p.given_names, vec!["ANNA", "MARIA"]);
        assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1974, 8, 12).unwrap());
        assert_eq!(p.expiry_date, NaiveDate::from_ymd_opt(2012, 4, 15).unwrap());
        assert_eq!(p.sex, Some('F'));
        assert_eq!(p.optional_data, vec!["ZE184226B"]);

        let i = parse_text(&TD1).unwrap();
        assert_eq!((i.format, i.document_number.as_str(), i.document_code.as_str()), (MrzFormat::Td1, "D23145890", "I"));
        assert_eq!(i.given_names, vec!["ANNA", "MARIA"]);

        let d = parse_text(&TD2).unwrap();
        assert_eq!((d.format, d.document_number.as_str(), d.nationality.as_str()), (MrzFormat::Td2, "D23145890", "UTO"));
    }

    #[test]
    fn long_td1_document_numbers_overflow_into_optional_data() {
        // Number D23145890734 (12 characters): check digit of the whole is 9.
        let number = "D23145890734";
        let cd = check_digit(number).unwrap();
        let line1 = format!("I<UTO{}<{}{}", &number[..9], &number[9..], cd);
        let line1 = format!("{line1:<<30}");
        let body = format!("{}{}{}", &line1[5..30], "7408122", "1204159");
        let composite = check_digit(&format!("{body}<<<<<<<<<<<")).unwrap();
        let line2 = format!("7408122F1204159UTO<<<<<<<<<<<{composite}");
        let m = parse_text(&[&line1, &line2, TD1[2]]).unwrap();
        assert_eq!(m.document_number, number);
        assert!(m.optional_data.is_empty());
    }

    #[test]
    fn type_correction_fixes_only_what_the_type_dictates() {
        // Dates and check digits read with letters, a name read with digits.
        let line1 = "P<UT0ER1KSSON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<";
        let line2 = "L898902C36UTO74O8I22F12O4IS9ZE184226B<<<<<IO";
        let m = parse_text(&[line1, line2]).unwrap();
        assert_eq!(m.lines, TD3.to_vec());
        // The same confusion inside the alphanumeric document number is not corrected:
        // the check digit then fails, and the MRZ is refused rather than guessed.
        assert_eq!(parse_text(&[TD3[0], "L8989O2C36UTO7408122F1204159ZE184226B<<<<<10"]), Err(Failure::MrzUnreadable));
    }

    #[test]
    fn correction_table() {
        assert_eq!(correct_char('O', Kind::Digit), Some('0'));
        assert_eq!(correct_char('B', Kind::Digit), Some('8'));
        assert_eq!(correct_char('<', Kind::Digit), None);
        assert_eq!(correct_char('X', Kind::Digit), None);
        assert_eq!(correct_char('0', Kind::Alpha), Some('O'));
        assert_eq!(correct_char('5', Kind::Alpha), Some('S'));
        assert_eq!(correct_char('7', Kind::Alpha), None);
        assert_eq!(correct_char('K', Kind::DigitOrFiller), Some('<'));
        assert_eq!(correct_char('0', Kind::Alnum), Some('0'));
        assert_eq!(correct_char('O', Kind::Alnum), Some('O'));
        assert_eq!(correct_char('H', Kind::Sex), None);
        assert_eq!(correct_char('a', Kind::Alnum), None);
        assert_eq!(correct_char('é', Kind::Alpha), None);
    }

    #[test]
    fn every_check_digit_is_enforced() {
        let mut cases = Vec::new();
        for pos in [9, 19, 27, 42, 43] {
            let mut l: Vec<char> = TD3[1].chars().collect();
            l[pos] = if l[pos] == '3' { '4' } else { '3' };
            cases.push(l.into_iter().collect::<String>());
        }
        for case in cases {
            assert_eq!(parse_text(&[TD3[0], &case]), Err(Failure::MrzUnreadable), "{case}");
        }
    }

    #[test]
    fn unchecked_fields_are_guarded_by_structure() {
        // A stray letter in the filler run of the name.
        assert!(parse_text(&["P<UTOERIKSSON<<ANNA<MARIA<<<<<K<<<<<<<<<<<<<", TD3[1]]).is_err());
        // An unknown country code.
        assert!(parse_text(&["P<QQQERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]]).is_err());
        // Wrong shapes.
        assert!(parse_text(&[TD3[0]]).is_err());
        assert!(parse_text(&[TD3[0], &TD3[1][..43]]).is_err());
        assert!(parse_text(&[]).is_err());
    }

    #[test]
    fn low_confidence_is_refused() {
        let mut lines: Vec<OcrLine> = TD3.iter().map(|l| OcrLine::exact(l)).collect();
        assert!(parse(&lines, today()).is_ok());
        lines[0].confidence[7] = 50.0; // in the name: no check digit
        assert!(parse(&lines, today()).is_err());
        lines[0].confidence[7] = 100.0;
        lines[1].confidence[3] = f32::NAN;
        assert!(parse(&lines, today()).is_err());
    }

    #[test]
    fn centuries() {
        assert_eq!(birth_date("740812", today()).unwrap().to_string(), "1974-08-12");
        assert_eq!(birth_date("050101", today()).unwrap().to_string(), "2005-01-01");
        assert_eq!(birth_date("250602", today()).unwrap().to_string(), "1925-06-02");
        assert_eq!(expiry_date("350101", today()).unwrap().to_string(), "2035-01-01");
        assert_eq!(expiry_date("991231", today()).unwrap().to_string(), "1999-12-31");
        assert_eq!(expiry_date("741231", today()).unwrap().to_string(), "2074-12-31");
        assert!(birth_date("741332", today()).is_err());
        assert!(expiry_date("7413", today()).is_err());
    }
}
