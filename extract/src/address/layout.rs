//! Text as positioned cells, whatever it came from.
//!
//! An addressee block is recognised by position: the street sits directly above the
//! "City, ST 12345" line, the name directly above the street, all left-aligned. Bills
//! put an account summary in a second column on the same rows, so a text line is cut
//! into *cells* at wide gaps, and "above" means the nearest cell higher up that starts
//! at (about) the same x. Positions are in units of the document's typical text height
//! so one rule serves both sources:
//! - a PDF text layer: one row per non-empty line (two units apart, the usual line
//!   pitch), x from the character offset, cells split at runs of 3+ spaces;
//! - Tesseract's TSV: word boxes grouped into its lines, cells split where the gap
//!   between words exceeds ~1.5 text heights.

/// A run of text on one line, with its position (in text heights).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub x: f32,
    pub y: f32,
}

/// Vertical distance (text heights) within which a cell counts as the line directly
/// above another: a line pitch is ~1.7–2.2 heights, so this excludes skipped lines.
pub const NEXT_LINE: f32 = 3.2;
/// Horizontal tolerance (text heights) for two cells to be left-aligned.
pub const SAME_COLUMN: f32 = 2.0;

/// Line pitch given to text-layer rows, in text heights.
const TEXT_ROW_PITCH: f32 = 2.0;
/// Width of one character of text-layer output, in text heights (average glyph).
const TEXT_CHAR_WIDTH: f32 = 0.75;

/// Cells of plain text (a PDF text layer): each non-empty line is a row.
pub fn from_plain_text(text: &str) -> Vec<Cell> {
    let mut cells = Vec::new();
    let rows = text.lines().map(|l| l.replace('\t', "    ")).filter(|l| !l.trim().is_empty());
    for (row, line) in rows.enumerate() {
        let y = row as f32 * TEXT_ROW_PITCH;
        let mut start: Option<usize> = None;
        let mut spaces = 0;
        let chars: Vec<char> = line.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if c.is_whitespace() {
                spaces += 1;
                if spaces == 3 {
                    if let Some(s) = start.take() {
                        push_cell(&mut cells, &chars[s..i], s, y);
                    }
                }
            } else {
                spaces = 0;
                start.get_or_insert(i);
            }
        }
        if let Some(s) = start {
            push_cell(&mut cells, &chars[s..], s, y);
        }
    }
    cells
}

fn push_cell(cells: &mut Vec<Cell>, chars: &[char], offset: usize, y: f32) {
    let text = normalize_spaces(&chars.iter().collect::<String>());
    if !text.is_empty() {
        cells.push(Cell { text, x: offset as f32 * TEXT_CHAR_WIDTH, y });
    }
}

/// A recognised word from Tesseract's TSV output.
#[derive(Debug, Clone)]
struct Word {
    line: (u32, u32, u32),
    left: f32,
    top: f32,
    width: f32,
    height: f32,
    conf: f32,
    text: String,
}

/// Cells from Tesseract's TSV (`level page block par line word left top width height
/// conf text`). Cells whose words Tesseract is, on average, unsure are text (mean
/// confidence below `min_conf`: wood grain, a logo) are dropped; single unsure words
/// are kept, as short tokens like "IL" often score low while being right.
pub fn from_tesseract_tsv(tsv: &str, min_conf: f32) -> Vec<Cell> {
    let words: Vec<Word> = tsv.lines().filter_map(parse_word).collect();
    let mut heights: Vec<f32> = words.iter().map(|w| w.height).collect();
    heights.sort_by(f32::total_cmp);
    let Some(unit) = heights.get(heights.len() / 2).copied().filter(|h| *h > 0.0) else {
        return Vec::new();
    };
    let mut cells = Vec::new();
    let mut current: Vec<&Word> = Vec::new();
    for word in &words {
        let split = current.last().is_some_and(|prev| prev.line != word.line || word.left - (prev.left + prev.width) > 1.5 * prev.height.max(word.height));
        if split {
            push_words(&mut cells, &current, unit, min_conf);
            current.clear();
        }
        current.push(word);
    }
    push_words(&mut cells, &current, unit, min_conf);
    cells
}

fn parse_word(line: &str) -> Option<Word> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 12 || fields[0] != "5" {
        return None;
    }
    let num = |i: usize| fields[i].trim().parse::<f32>().ok();
    let id = |i: usize| fields[i].trim().parse::<u32>().ok();
    let text = fields[11..].join(" ").trim().to_string();
    let conf = num(10)?;
    if text.is_empty() || conf < 0.0 {
        return None;
    }
    Some(Word { line: (id(2)?, id(3)?, id(4)?), left: num(6)?, top: num(7)?, width: num(8)?, height: num(9)?, conf, text })
}

fn push_words(cells: &mut Vec<Cell>, words: &[&Word], unit: f32, min_conf: f32) {
    let Some(first) = words.first() else { return };
    let mean_conf = words.iter().map(|w| w.conf).sum::<f32>() / words.len() as f32;
    if mean_conf < min_conf {
        return;
    }
    let text = normalize_spaces(&words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "));
    let top = words.iter().map(|w| w.top).fold(f32::INFINITY, f32::min);
    if !text.is_empty() {
        cells.push(Cell { text, x: first.left / unit, y: top / unit });
    }
}

/// Collapses runs of whitespace and trims.
pub fn normalize_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where the character `chars` into a cell starts (text heights), estimated with the
/// average glyph width: exact enough to tell which part of a line a cell below hangs
/// under ("Premises: 1600 Main St" with the city under "1600").
pub fn offset_x(cell: &Cell, chars: usize) -> f32 {
    cell.x + chars as f32 * TEXT_CHAR_WIDTH
}

/// Index of the cell directly above `cells[i]`, left-aligned with it, if any.
pub fn cell_above(cells: &[Cell], i: usize) -> Option<usize> {
    let here = cells.get(i)?;
    cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.y < here.y && here.y - c.y <= NEXT_LINE && (c.x - here.x).abs() <= SAME_COLUMN)
        .max_by(|(_, a), (_, b)| a.y.total_cmp(&b.y))
        .map(|(j, _)| j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_splits_columns_at_wide_gaps() {
        let cells = from_plain_text("MARIA GARCIA        Account: 12\n\n1234 MAPLE AVE      Due: 3/24\n  Dwelling: $4    x");
        let texts: Vec<&str> = cells.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["MARIA GARCIA", "Account: 12", "1234 MAPLE AVE", "Due: 3/24", "Dwelling: $4", "x"]);
        assert_eq!(cell_above(&cells, 2), Some(0));
        assert_eq!(cell_above(&cells, 3), Some(1));
        assert_eq!(cell_above(&cells, 0), None);
    }

    #[test]
    fn tsv_words_become_cells() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t100\t200\t80\t20\t95\tMARIA\n\
                   5\t1\t1\t1\t1\t2\t190\t200\t90\t20\t94\tGARCIA\n\
                   5\t1\t1\t1\t1\t3\t700\t200\t90\t20\t94\tAccount\n\
                   5\t1\t1\t1\t2\t1\t101\t236\t60\t20\t91\t1234\n\
                   5\t1\t1\t1\t2\t2\t170\t236\t60\t20\t12\tIL\n\
                   5\t1\t1\t1\t3\t1\t100\t272\t60\t20\t8\t~~\n";
        let cells = from_tesseract_tsv(tsv, 30.0);
        let texts: Vec<&str> = cells.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["MARIA GARCIA", "Account", "1234 IL"]);
        assert_eq!(cell_above(&cells, 2), Some(0));
        assert!(from_tesseract_tsv("garbage\n5\tx", 0.0).is_empty());
    }
}
