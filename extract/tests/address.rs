//! Proof-of-address reading on synthetic documents.
//!
//! The fixtures in `tests/fixtures/address/` are made by `generate.py` there (invented
//! people and companies): a utility bill as a text PDF, as a scanned PDF without text
//! layer and as a phone photo; a lease with the premises on one line; a Canadian
//! insurance declaration; a blank page and a letter without an address. `producers.py`
//! there writes leases, a utility bill and a letter with fpdf2, reportlab, LibreOffice
//! and cairo, for text layers as different software lays them out. OCR uses
//! Debian's Tesseract `eng` model (`$ATTEST_TESSDATA` overrides its folder).

use attest_extract::address::{self, Ocr, PoaReading, TextSource, DEBIAN_TESSDATA};
use attest_extract::intake;
use attest_extract::{Address, Failure};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn ocr() -> &'static Ocr {
    static OCR: OnceLock<Ocr> = OnceLock::new();
    OCR.get_or_init(|| {
        let dir = std::env::var_os("ATTEST_TESSDATA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEBIAN_TESSDATA));
        Ocr::english(&dir).expect("tesseract eng model")
    })
}

fn read_fixture(name: &str) -> Result<PoaReading, Failure> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/address").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    address::read(&intake::load(&bytes)?, ocr())
}

/// Case and spacing do not matter for the comparison.
fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

fn assert_reading(name: &str, source: TextSource, person: (&str, Option<&str>, &str), expected: Address) {
    let reading = read_fixture(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let e = &reading.extracted;
    let found = (e.first_name.as_deref().map(norm), e.middle_name.as_deref().map(norm), e.last_name.as_deref().map(norm));
    assert_eq!(found, (Some(norm(person.0)), person.1.map(norm), Some(norm(person.2))), "{name}: name");
    let a = e.address.as_ref().unwrap_or_else(|| panic!("{name}: no address"));
    let fields = |a: &Address| (norm(&a.line1), a.line2.as_deref().map(norm), norm(&a.city), norm(&a.state), norm(&a.postal_code), a.country.clone());
    assert_eq!(fields(a), fields(&expected), "{name}: address");
    assert_eq!(reading.source, source, "{name}: source");
}

fn springfield() -> Address {
    Address {
        line1: "1234 N Maple Ave".into(),
        line2: Some("Apt 5B".into()),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62704-1234".into(),
        country: "US".into(),
    }
}

#[test]
fn utility_bill_text_layer() {
    assert_reading("bill.pdf", TextSource::TextLayer, ("Maria", Some("E."), "Garcia"), springfield());
    let lines = read_fixture("bill.pdf").expect("reads").lines;
    assert!(lines.iter().any(|l| l == "MARIA E. GARCIA"), "{lines:?}");
}

#[test]
fn utility_bill_scanned_pdf() {
    assert_reading("bill_scanned.pdf", TextSource::Ocr, ("Maria", Some("E."), "Garcia"), springfield());
}

#[test]
fn utility_bill_photo() {
    assert_reading("bill_photo.jpg", TextSource::Ocr, ("Maria", Some("E."), "Garcia"), springfield());
}

#[test]
fn utility_bill_low_resolution_photo() {
    // ~75 dpi: enlarged before OCR, or Tesseract misreads the addressee block.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/address/bill_photo.jpg");
    let photo = image::open(path).expect("fixture").resize(800, 800, image::imageops::FilterType::Triangle);
    let reading = address::read(&intake::Loaded::Image(photo), ocr()).expect("reads");
    let a = reading.extracted.address.expect("address");
    assert_eq!((norm(&a.line1), a.line2.as_deref().map(norm), norm(&a.postal_code)), (norm("1234 N Maple Ave"), Some(norm("Apt 5B")), "62704-1234".into()));
    assert_eq!(reading.extracted.last_name.as_deref().map(norm), Some("GARCIA".into()));
}

#[test]
fn lease_with_one_line_premises() {
    let premises = Address {
        line1: "77 Elm Street".into(),
        line2: Some("Unit 12".into()),
        city: "Portland".into(),
        state: "OR".into(),
        postal_code: "97205".into(),
        country: "US".into(),
    };
    assert_reading("lease.pdf", TextSource::TextLayer, ("Jonathan", Some("A."), "Smith"), premises);
}

#[test]
fn canadian_insurance_declaration() {
    let home = Address {
        line1: "4521 rue Saint-Denis".into(),
        line2: None,
        city: "Montréal".into(),
        state: "QC".into(),
        postal_code: "H2J 2L3".into(),
        country: "CA".into(),
    };
    assert_reading("insurance_ca.pdf", TextSource::TextLayer, ("Émilie", None, "Tremblay"), home);
}

#[test]
fn nothing_legible_is_text_not_found() {
    assert_eq!(read_fixture("blank.pdf").err(), Some(Failure::TextNotFound));
    let white = image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(850, 1100, image::Luma([250])));
    assert_eq!(address::read(&intake::Loaded::Image(white), ocr()).err(), Some(Failure::TextNotFound));
}

/// The software that wrote the `producers.py` fixtures: each spaces glyphs and orders
/// text its own way, and pdftotext reads each differently.
const PRODUCERS: [&str; 4] = ["fpdf2", "reportlab", "libreoffice", "cairo"];

/// The holder of the `producers.py` documents.
fn dana() -> (&'static str, Option<&'static str>, &'static str) {
    ("Dana", Some("K."), "Whitfield")
}

fn main_street() -> Address {
    Address { line1: "1600 Main St".into(), line2: None, city: "Springfield".into(), state: "IL".into(), postal_code: "62701".into(), country: "US".into() }
}

/// A lease labels the premises ("Premises: 1600 Main St" over "Springfield, IL 62701",
/// or on one line) and the landlord's office the same way: the premises are read, the
/// landlord's address never, whatever software wrote the PDF.
#[test]
fn labelled_lease_premises_not_the_landlords_address_from_every_producer() {
    for document in ["lease_labelled", "lease_one_line"] {
        for producer in PRODUCERS {
            assert_reading(&format!("{document}.{producer}.pdf"), TextSource::TextLayer, dana(), main_street());
        }
    }
}

/// A lease laid out as a form: the city line hangs under the premises' value, not under
/// its "Premises:" label; the landlord's address below sits under a bare "Address:".
#[test]
fn lease_form_city_under_the_premises_value_not_the_landlords_address() {
    assert_reading("lease_form.pdf", TextSource::TextLayer, dana(), main_street());
}

/// A utility bill shows the utility's letterhead address and its remittance box above
/// the customer's labelled service address: the service address is the holder's.
#[test]
fn utility_service_address_not_the_utilitys_own_from_every_producer() {
    for producer in PRODUCERS {
        assert_reading(&format!("utility_service.{producer}.pdf"), TextSource::TextLayer, dana(), main_street());
    }
}

/// A document with readable text but no address anywhere is `address_not_found`, not
/// `text_not_found`: the applicant needs another document, not a sharper picture.
#[test]
fn text_without_an_address_is_address_not_found() {
    assert_eq!(read_fixture("no_address.pdf").err(), Some(Failure::AddressNotFound));
    for producer in PRODUCERS {
        let name = format!("letter_no_address.{producer}.pdf");
        assert_eq!(read_fixture(&name).err(), Some(Failure::AddressNotFound), "{name}");
    }
    assert_eq!(Failure::AddressNotFound.code(), "address_not_found");
}

#[test]
fn broken_pdfs_fail_cleanly() {
    for bytes in [&b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"[..], b"%PDF-", b"%PDF-1.4\n\xff\xfe garbage"] {
        let err = address::read(&intake::Loaded::Pdf(bytes.to_vec()), ocr()).err();
        assert!(matches!(err, Some(Failure::UnsupportedFormat | Failure::TextNotFound | Failure::AddressNotFound)), "{err:?}");
    }
    assert_eq!(address::pdf_text_layer(b"%PDF-1.4 nonsense", 3), None);
}

#[test]
fn missing_tesseract_model_is_a_provider_error() {
    assert!(matches!(Ocr::english(Path::new("/nonexistent/tessdata")), Err(Failure::ProviderError(_))));
}

#[test]
fn damaged_pdfs_never_panic_the_text_layer_reader() {
    use rand::{Rng, SeedableRng};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/address/bill.pdf");
    let pdf = std::fs::read(path).expect("fixture");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1583);
    // A malformed PDF is "no text layer" (poppler runs in a child process, so even a
    // crash there cannot reach us).
    for _ in 0..100 {
        let mut damaged = pdf.clone();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..damaged.len());
            damaged[at] = rng.gen();
        }
        damaged.truncate(rng.gen_range(damaged.len() / 2..=damaged.len()));
        let _ = address::pdf_text_layer(&damaged, 3);
    }
}

#[test]
fn arbitrary_text_never_panics_the_parser() {
    use attest_extract::address::{layout, parse};
    use rand::{seq::SliceRandom, Rng, SeedableRng};
    let pieces = [
        "1234",
        "N",
        "MAPLE",
        "AVE",
        "APT",
        "5B",
        "#",
        "SPRINGFIELD,",
        "IL",
        "62704-1234",
        "QC",
        "H2J",
        "2L3",
        "é",
        "Ø",
        ",",
        ":",
        "Tenant:",
        "PO",
        "Box",
        "&",
        "  ",
        "\n",
        "\t",
        "ǅ",
        "🏠",
        "-",
        ".",
        "Suite",
        "Maria",
        "Garcia",
        "1",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(28);
    for _ in 0..2000 {
        let n = rng.gen_range(0..40);
        let text: String = (0..n).map(|_| *pieces.choose(&mut rng).expect("pieces")).collect::<Vec<_>>().join(if rng.gen() { " " } else { "" });
        let _ = parse::find_address(&layout::from_plain_text(&text));
        let tsv: String = text
            .split('\n')
            .enumerate()
            .map(|(i, w)| format!("5\t1\t1\t1\t{i}\t1\t{}\t{}\t30\t20\t{}\t{w}\n", rng.gen_range(-5..900), i * 30, rng.gen_range(-1..100)))
            .collect();
        let _ = parse::find_address(&layout::from_tesseract_tsv(&tsv, 30.0));
    }
}

/// A one-page PDF whose media box is `inches` square, with no text layer.
fn pdf_page_of(inches: f64) -> Vec<u8> {
    attest_extract::intake::one_page_pdf(inches * 72.0, inches * 72.0)
}

/// A proof of address whose page is 200 × 200 inches (2.5 gigapixels at the OCR
/// resolution) fails fast and for good as `image_too_large`, instead of poppler
/// rendering gigabytes or failing in a way that is retried.
#[test]
fn a_page_size_bomb_is_image_too_large_quickly() {
    let started = std::time::Instant::now();
    let err = address::read(&intake::load(&pdf_page_of(200.0)).unwrap(), ocr()).err();
    assert_eq!(err, Some(Failure::ImageTooLarge));
    assert!(!err.unwrap().is_transient());
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
}
