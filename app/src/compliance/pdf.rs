//! Printable PDFs in our own layout (the PS Form 1583 record, the quarterly report):
//! a title, then sections of labelled rows, on US Letter pages. Written with
//! `pdf-writer` in the standard Helvetica faces, which every PDF reader has, so there is
//! no font file to ship, embed or fetch.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A heading and its `(label, value)` rows.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub heading: String,
    pub rows: Vec<(String, String)>,
}

const PAGE_WIDTH: f32 = 612.0;
const PAGE_HEIGHT: f32 = 792.0;
const MARGIN: f32 = 50.0;
const VALUE_X: f32 = 270.0;
const LABEL_CHARS: usize = 44;
const VALUE_CHARS: usize = 58;
const LINE: f32 = 12.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text as WinAnsi bytes (the standard fonts' encoding): Latin-1 as is, a few common
/// typographic marks mapped, anything else `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{2014}' => 0x97,
            '\u{2013}' => 0x96,
            '\u{2026}' => 0x85,
            '\u{2019}' => 0x92,
            c if (c as u32) < 0x20 => b' ',
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lays out pages of text as content streams.
struct Layout {
    pages: Vec<Content>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        let mut layout = Layout { pages: Vec::new(), y: 0.0 };
        layout.new_page();
        layout
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_HEIGHT - MARGIN;
    }

    fn room_for(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn text(&mut self, font: Name<'static>, size: f32, x: f32, y: f32, text: &str) {
        let content = self.pages.last_mut().expect("a page");
        content.begin_text();
        content.set_font(font, size);
        content.next_line(x, y);
        content.show(Str(&win_ansi(text)));
        content.end_text();
    }

    fn rule(&mut self, y: f32) {
        let content = self.pages.last_mut().expect("a page");
        content.set_line_width(0.4);
        content.move_to(MARGIN, y);
        content.line_to(PAGE_WIDTH - MARGIN, y);
        content.stroke();
    }
}

/// A PDF of `title`, lines under it, and `sections`.
pub fn render(title: &str, intro: &[String], sections: &[Section]) -> Vec<u8> {
    let mut layout = Layout::new();
    let top = layout.y;
    layout.text(BOLD, 16.0, MARGIN, top - 16.0, title);
    layout.y -= 30.0;
    for line in intro.iter().flat_map(|l| wrap(l, 95)) {
        layout.room_for(LINE);
        let y = layout.y - 9.0;
        layout.text(REGULAR, 9.0, MARGIN, y, &line);
        layout.y -= LINE;
    }
    for section in sections {
        layout.room_for(2.0 * LINE + 10.0);
        layout.y -= 10.0;
        let y = layout.y - 12.0;
        layout.text(BOLD, 12.0, MARGIN, y, &section.heading);
        layout.y -= 18.0;
        for (label, value) in &section.rows {
            let labels = wrap(label, LABEL_CHARS);
            let values = wrap(if value.is_empty() { "-" } else { value }, VALUE_CHARS);
            let height = labels.len().max(values.len()) as f32 * LINE + 4.0;
            layout.room_for(height);
            let start = layout.y - 10.0;
            for (i, line) in labels.iter().enumerate() {
                layout.text(BOLD, 9.0, MARGIN, start - i as f32 * LINE, line);
            }
            for (i, line) in values.iter().enumerate() {
                layout.text(REGULAR, 10.0, VALUE_X, start - i as f32 * LINE, line);
            }
            layout.y -= height;
            let y = layout.y + 2.0;
            layout.rule(y);
        }
    }
    finish(layout.pages)
}

fn finish(pages: Vec<Content>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let page_ids: Vec<(Ref, Ref)> = (0..pages.len() as i32).map(|i| (Ref::new(5 + 2 * i), Ref::new(6 + 2 * i))).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().map(|(page, _)| *page)).count(page_ids.len() as i32);
    for ((page_id, content_id), content) in page_ids.iter().zip(pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        page.resources().fonts().pair(REGULAR, regular).pair(BOLD, bold);
        page.finish();
        let data = content.finish();
        pdf.stream(*content_id, &data);
    }
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_wrap_and_every_page_is_a_pdf_page() {
        assert_eq!(wrap("a b c", 3), vec!["a b", "c"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        let rows: Vec<(String, String)> = (0..120).map(|i| (format!("Row {i}"), "value ".repeat(20))).collect();
        let pdf = render("Title", &["intro".into()], &[Section { heading: "Many".into(), rows }]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-"));
        let count: usize = text.split("/Count ").nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()).and_then(|n| n.parse().ok()).unwrap();
        assert!(count > 1, "120 rows take several pages, not one overflowing page");
        assert_eq!(text.matches("/Helvetica-Bold").count(), 1, "the standard fonts, named once, nothing embedded");
    }
}
