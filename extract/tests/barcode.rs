//! The AAMVA PDF417 reader, end to end and in parts.
//!
//! Fixture images come from `tests/fixtures/pdf417/generate.py`: invented AAMVA records
//! (versions 01–10, DL and ID, Latin-1 and UTF-8 names, wrong subfile offsets…) encoded by
//! PyPI `pdf417gen` and Debian `zint` — encoders that share no code with rxing — placed on
//! a card, and photographed synthetically (tilt up to ±20°, blur, noise, JPEG 60–85).
//! They are generated once into the target directory, keyed by a hash of the script, with
//! the Python from `ATTEST_TEST_PYTHON` (default `~/.cache/attest/test-venv/bin/python`,
//! which needs `pdf417gen`, `Pillow`, `numpy`).

use attest_extract::barcode::{self, aamva, SubfileKind, Truncation};
use attest_extract::{intake, Address, Extracted, Failure};
use image::{DynamicImage, GrayImage, Luma};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// Generated fixtures
// ---------------------------------------------------------------------------------------

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pdf417/generate.py");
/// Generator arguments: 48 records → 48 clean images, 96 photos, 6 negatives.
const GENERATOR_ARGS: &[&str] = &["--records", "48", "--photos", "2", "--negatives", "6"];

struct Case {
    file: String,
    kind: String,
    angle: f64,
    expected: Option<Extracted>,
    failure: Option<String>,
    payload: Option<Vec<u8>>,
}

fn fixtures() -> &'static (PathBuf, Vec<Case>) {
    static FIXTURES: OnceLock<(PathBuf, Vec<Case>)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = generate().unwrap_or_else(|e| panic!("generating PDF417 fixtures failed: {e}"));
        let manifest = std::fs::read(dir.join("manifest.json")).expect("manifest.json");
        let entries: Vec<serde_json::Value> = serde_json::from_slice(&manifest).expect("manifest.json is JSON");
        let cases = entries
            .iter()
            .map(|e| Case {
                file: e["file"].as_str().expect("file").to_string(),
                kind: e["kind"].as_str().expect("kind").to_string(),
                angle: e["angle"].as_f64().unwrap_or(0.0),
                expected: serde_json::from_value(e["expected"].clone()).expect("expected fields"),
                failure: e["failure"].as_str().map(str::to_string),
                payload: e["payload_hex"].as_str().map(|h| hex::decode(h).expect("payload hex")),
            })
            .collect();
        (dir, cases)
    })
}

/// Runs the generator unless its output for this exact script and arguments exists.
fn generate() -> Result<PathBuf, String> {
    let script = std::fs::read(SCRIPT).map_err(|e| format!("{SCRIPT}: {e}"))?;
    let mut hash = Sha256::new();
    hash.update(&script);
    hash.update(GENERATOR_ARGS.join(" "));
    let key = hex::encode(&hash.finalize()[..8]);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = root.join(format!("pdf417-fixtures-{key}"));
    if dir.join("manifest.json").exists() {
        return Ok(dir);
    }
    let python = std::env::var_os("ATTEST_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/attest/test-venv/bin/python")
    });
    // Generate beside the final directory and rename, so concurrent test runs never see
    // half a set.
    let partial = root.join(format!("pdf417-fixtures-{key}.partial-{}", std::process::id()));
    let out = Command::new(&python)
        .arg(SCRIPT)
        .arg(&partial)
        .args(GENERATOR_ARGS)
        .output()
        .map_err(|e| format!("{} (set ATTEST_TEST_PYTHON): {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}: {}", python.display(), out.status, String::from_utf8_lossy(&out.stderr)));
    }
    if std::fs::rename(&partial, &dir).is_err() {
        // Another run finished first; use its set.
        let _ = std::fs::remove_dir_all(&partial);
    }
    Ok(dir)
}

fn load(dir: &Path, case: &Case) -> DynamicImage {
    let bytes = std::fs::read(dir.join(&case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.file));
    intake::decode_image(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.file))
}

/// Runs the extractor over every case of `kind` (on both cores) and returns the misses.
fn misses(kind: &str) -> (usize, Vec<String>) {
    let (dir, cases) = fixtures();
    let selected: Vec<&Case> = cases.iter().filter(|c| c.kind == kind).collect();
    assert!(!selected.is_empty(), "no {kind} fixtures");
    let check = |case: &&Case| -> Option<String> {
        let got = barcode::extract(&load(dir, case));
        let ok = match (&case.expected, &case.failure, &got) {
            (Some(want), _, Ok(got)) => want == got,
            (None, Some(reason), Err(e)) => e.code() == reason,
            _ => false,
        };
        (!ok).then(|| format!("{} (angle {:.1}): {got:?}", case.file, case.angle))
    };
    let (left, right) = selected.split_at(selected.len() / 2);
    let found = std::thread::scope(|s| {
        let other = s.spawn(|| left.iter().filter_map(check).collect::<Vec<_>>());
        let mut found: Vec<String> = right.iter().filter_map(check).collect();
        found.extend(other.join().expect("worker"));
        found
    });
    (selected.len(), found)
}

#[test]
fn every_clean_card_decodes_exactly() {
    let (total, missed) = misses("clean");
    assert!(missed.is_empty(), "{} of {total} clean cards wrong:\n{}", missed.len(), missed.join("\n"));
}

#[test]
fn photos_tilted_up_to_20_degrees_decode_exactly() {
    let (total, missed) = misses("photo");
    let exact = total - missed.len();
    eprintln!("photos: {exact}/{total} exact; misses:\n{}", missed.join("\n"));
    assert!(exact * 100 >= total * 95, "only {exact}/{total} photos exact (need 95%):\n{}", missed.join("\n"));
}

#[test]
fn card_fronts_and_foreign_barcodes_fail_with_their_reason() {
    let (total, missed) = misses("negative");
    assert!(missed.is_empty(), "{} of {total} negatives wrong:\n{}", missed.len(), missed.join("\n"));
    let (_, cases) = fixtures();
    let reasons: Vec<&str> = cases.iter().filter_map(|c| c.failure.as_deref()).collect();
    assert!(reasons.contains(&"barcode_not_found") && reasons.contains(&"barcode_invalid"), "{reasons:?}");
}

#[test]
fn payload_bytes_come_back_exactly() {
    let (dir, cases) = fixtures();
    for case in cases.iter().filter(|c| c.kind == "clean").take(12) {
        let payload = barcode::read_pdf417(&load(dir, case)).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(Some(&payload), case.payload.as_ref(), "{}", case.file);
    }
}

#[test]
fn parser_reads_every_generated_payload() {
    let (_, cases) = fixtures();
    let mut seen = std::collections::HashSet::new();
    for case in cases.iter().filter(|c| c.kind == "clean") {
        let payload = case.payload.as_ref().expect("payload");
        let record = aamva::parse(payload).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(Some(&record.to_extracted()), case.expected.as_ref(), "{}: {}", case.file, String::from_utf8_lossy(payload));
        seen.insert(record.version);
    }
    assert_eq!(seen.len(), 10, "fixtures should cover AAMVA versions 01–10: {seen:?}");
}

// ---------------------------------------------------------------------------------------
// Images without a barcode
// ---------------------------------------------------------------------------------------

#[test]
fn blank_and_noise_images_have_no_barcode() {
    let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(800, 500, Luma([235])));
    assert_eq!(barcode::extract(&blank), Err(Failure::BarcodeNotFound));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let noise = DynamicImage::ImageLuma8(GrayImage::from_fn(640, 400, |_, _| Luma([rng.gen()])));
    assert_eq!(barcode::extract(&noise), Err(Failure::BarcodeNotFound));
    for (w, h) in [(1, 1), (1, 300), (300, 1), (17, 9)] {
        assert_eq!(barcode::extract(&DynamicImage::new_luma8(w, h)), Err(Failure::BarcodeNotFound), "{w}x{h}");
    }
}

// ---------------------------------------------------------------------------------------
// The AAMVA parser on hand-written payloads
// ---------------------------------------------------------------------------------------

/// Builds a payload with correct offsets: header, designators, subfiles.
fn payload(version: u8, iin: &str, subfiles: &[(&str, &[u8])]) -> Vec<u8> {
    let mut header = format!("@\n\x1e\rANSI {iin}{version:02}").into_bytes();
    if version >= 2 {
        header.extend_from_slice(b"00");
    }
    header.extend_from_slice(format!("{:02}", subfiles.len()).as_bytes());
    let mut offset = header.len() + 10 * subfiles.len();
    let mut body = Vec::new();
    for (kind, data) in subfiles {
        header.extend_from_slice(format!("{kind}{offset:04}{:04}", data.len()).as_bytes());
        offset += data.len();
        body.extend_from_slice(data);
    }
    header.extend_from_slice(&body);
    header
}

fn subfile(kind: &str, elements: &[(&str, &str)]) -> Vec<u8> {
    let mut out = kind.as_bytes().to_vec();
    for (id, value) in elements {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\r');
    out
}

const V10_ELEMENTS: &[(&str, &str)] = &[
    ("DAQ", "D1234567"),
    ("DCS", "PUBLIC"),
    ("DAC", "JOHN"),
    ("DAD", "QUINCY"),
    ("DDE", "N"),
    ("DDF", "T"),
    ("DDG", "U"),
    ("DBB", "07041976"),
    ("DBA", "07042030"),
    ("DAG", "123 MAIN ST"),
    ("DAI", "SACRAMENTO"),
    ("DAJ", "CA"),
    ("DAK", "958140000  "),
    ("DCG", "USA"),
    ("DCF", "ABC123XYZ"),
];

#[test]
fn version_10_licence() {
    let record = aamva::parse(&payload(10, "636014", &[("DL", &subfile("DL", V10_ELEMENTS))])).expect("valid");
    assert_eq!((record.version, record.jurisdiction_version, record.iin.as_str()), (10, Some(0), "636014"));
    assert_eq!(record.kind, SubfileKind::DriverLicense);
    assert_eq!(
        (record.family_name_truncation, record.first_name_truncation, record.middle_name_truncation),
        (Some(Truncation::NotTruncated), Some(Truncation::Truncated), Some(Truncation::Unknown))
    );
    assert_eq!(record.document_discriminator.as_deref(), Some("ABC123XYZ"));
    assert_eq!(record.element("DAK"), Some("958140000"));
    assert_eq!(
        record.to_extracted(),
        Extracted {
            first_name: Some("JOHN".into()),
            middle_name: Some("QUINCY".into()),
            last_name: Some("PUBLIC".into()),
            date_of_birth: Some("1976-07-04".into()),
            document_number: Some("D1234567".into()),
            expiry_date: Some("2030-07-04".into()),
            issuing_country: Some("US".into()),
            issuing_jurisdiction: Some("CA".into()),
            address: Some(Address {
                line1: "123 MAIN ST".into(),
                line2: None,
                city: "SACRAMENTO".into(),
                state: "CA".into(),
                postal_code: "95814".into(),
                country: "US".into(),
            }),
            document_kind: Some("drivers_license".into()),
        }
    );
}

#[test]
fn version_1_full_name_and_ymd_dates() {
    let elements = [("DAQ", "123456789"), ("DAA", "DE LA CRUZ,ANA,MARIE"), ("DBB", "19800229"), ("DBA", "20290101"), ("DAJ", "NY")];
    let record = aamva::parse(&payload(1, "636001", &[("ID", &subfile("ID", &elements))])).expect("valid");
    assert_eq!((record.version, record.jurisdiction_version), (1, None));
    let e = record.to_extracted();
    assert_eq!((e.last_name.as_deref(), e.first_name.as_deref(), e.middle_name.as_deref()), (Some("DE LA CRUZ"), Some("ANA"), Some("MARIE")));
    assert_eq!((e.date_of_birth.as_deref(), e.expiry_date.as_deref()), (Some("1980-02-29"), Some("2029-01-01")));
    assert_eq!(e.document_kind.as_deref(), Some("state_id"));
    // No DCG in version 01: the country comes from the IIN.
    assert_eq!(e.issuing_country.as_deref(), Some("US"));
    // Space-separated DAA, same order.
    let spaced = [("DAQ", "1"), ("DAA", "SMITH JOHN LEE")];
    let e = aamva::parse(&payload(1, "636001", &[("DL", &subfile("DL", &spaced))])).expect("valid").to_extracted();
    assert_eq!((e.last_name.as_deref(), e.first_name.as_deref(), e.middle_name.as_deref()), (Some("SMITH"), Some("JOHN"), Some("LEE")));
}

#[test]
fn versions_2_and_3_given_names() {
    for (dct, middle) in [("JOHN QUINCY", Some("QUINCY")), ("JOHN,QUINCY", Some("QUINCY")), ("JOHN", None)] {
        let elements = [("DAQ", "X1"), ("DCS", "ADAMS"), ("DCT", dct), ("DBB", "07111967"), ("DCG", "USA")];
        let e = aamva::parse(&payload(3, "636002", &[("DL", &subfile("DL", &elements))])).expect("valid").to_extracted();
        assert_eq!((e.first_name.as_deref(), e.middle_name.as_deref()), (Some("JOHN"), middle), "{dct}");
        assert_eq!(e.date_of_birth.as_deref(), Some("1967-07-11"));
    }
}

#[test]
fn canadian_card_uses_ymd_dates_and_provincial_postal_code() {
    let elements = [("DAQ", "A1234-56789-01234"), ("DCS", "CÔTÉ"), ("DAC", "HÉLÈNE"), ("DBB", "19900131"), ("DBA", "20300131"), ("DAJ", "QC"), ("DAK", "H2Y1C6"), ("DAG", "1 RUE X"), ("DAI", "MONTRÉAL"), ("DCG", "CAN")];
    let data = subfile("DL", &elements);
    let latin1: Vec<u8> = String::from_utf8(data).expect("utf8").chars().map(|c| c as u32 as u8).collect();
    let e = aamva::parse(&payload(8, "604428", &[("DL", &latin1)])).expect("valid").to_extracted();
    assert_eq!((e.date_of_birth.as_deref(), e.expiry_date.as_deref()), (Some("1990-01-31"), Some("2030-01-31")));
    assert_eq!((e.issuing_country.as_deref(), e.issuing_jurisdiction.as_deref()), (Some("CA"), Some("QC")));
    assert_eq!(e.address.as_ref().map(|a| (a.postal_code.as_str(), a.city.as_str())), Some(("H2Y 1C6", "MONTRÉAL")));
    assert_eq!((e.last_name.as_deref(), e.first_name.as_deref()), (Some("CÔTÉ"), Some("HÉLÈNE")));
}

#[test]
fn latin1_and_utf8_names() {
    let latin1 = payload(9, "636015", &[("DL", b"DLDAQ1\nDCSM\xdcLLER\nDACZO\xcb\nDADNONE\n\r")]);
    let e = aamva::parse(&latin1).expect("latin-1").to_extracted();
    assert_eq!((e.last_name.as_deref(), e.first_name.as_deref(), e.middle_name), (Some("MÜLLER"), Some("ZOË"), None));
    let utf8 = payload(9, "636015", &[("DL", "DLDAQ1\nDCSMüller\nDACZoë\n\r".as_bytes())]);
    let e = aamva::parse(&utf8).expect("utf-8").to_extracted();
    assert_eq!((e.last_name.as_deref(), e.first_name.as_deref()), (Some("Müller"), Some("Zoë")));
}

#[test]
fn wrong_offsets_and_missing_prefix_are_tolerated() {
    let good = payload(10, "636014", &[("DL", &subfile("DL", V10_ELEMENTS)), ("ZC", b"ZCZCAX\n\r")]);
    let want = aamva::parse(&good).expect("valid").to_extracted();
    let header_len = good.windows(2).position(|w| w == b"DL").expect("designator");
    // Offsets pointing anywhere: into the header, into the subfile, past the end.
    for offset in ["0000", "0005", "0040", "0047", "0060", "9999"] {
        let mut bad = good.clone();
        bad[header_len + 2..header_len + 6].copy_from_slice(offset.as_bytes());
        assert_eq!(aamva::parse(&bad).map(|r| r.to_extracted()), Ok(want.clone()), "offset {offset}");
    }
    // No "DL" at the start of the subfile, correct and wrong offsets.
    let mut bare = subfile("DL", V10_ELEMENTS);
    bare.drain(..2);
    let no_prefix = payload(10, "636014", &[("DL", &bare)]);
    assert_eq!(aamva::parse(&no_prefix).map(|r| r.to_extracted()), Ok(want.clone()));
    let mut wrong = no_prefix.clone();
    wrong[header_len + 2..header_len + 6].copy_from_slice(b"0052");
    assert_eq!(aamva::parse(&wrong).map(|r| r.to_extracted()), Ok(want.clone()));
    // Other separators, CR LF between elements, missing "@".
    let variant: Vec<u8> = good.iter().skip(1).map(|&b| if b == 0x1e { 0x1c } else { b }).collect();
    assert_eq!(aamva::parse(&variant).map(|r| r.to_extracted()), Ok(want.clone()));
    let crlf: Vec<u8> = good.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
    assert_eq!(aamva::parse(&crlf).map(|r| r.to_extracted()), Ok(want.clone()));
    // Version 01 header written with a jurisdiction version, and the other way round.
    let mut v1 = payload(1, "636014", &[("DL", &subfile("DL", V10_ELEMENTS))]);
    let at = v1.windows(4).position(|w| w == b"ANSI").expect("ANSI") + 5 + 6 + 2;
    v1.splice(at..at, *b"00");
    assert_eq!(aamva::parse(&v1).map(|r| r.document_number), Ok(Some("D1234567".into())));
}

#[test]
fn postal_codes_and_dates() {
    for (dak, want) in [("958140000  ", "95814"), ("95814    ", "95814"), ("958141234", "95814-1234"), ("K1A0B1", "K1A 0B1")] {
        let elements = [("DAQ", "1"), ("DAG", "1 A ST"), ("DAK", dak)];
        let e = aamva::parse(&payload(10, "636014", &[("DL", &subfile("DL", &elements))])).expect("valid").to_extracted();
        assert_eq!(e.address.map(|a| a.postal_code), Some(want.to_string()), "{dak}");
    }
    // Impossible dates are dropped, not guessed.
    let elements = [("DAQ", "1"), ("DBB", "02302000"), ("DBA", "99999999")];
    let e = aamva::parse(&payload(10, "636014", &[("DL", &subfile("DL", &elements))])).expect("valid").to_extracted();
    assert_eq!((e.date_of_birth, e.expiry_date), (None, None));
}

#[test]
fn non_aamva_payloads_are_invalid() {
    for p in [
        &b""[..],
        b"@",
        b"HELLO WORLD",
        b"M1DOE/JANE            E123456 YULFRAAC 0834 226F001A0025 100",
        b"@\n\x1e\rANSI 63601",           // header cut inside the IIN
        b"@\n\x1e\rANSI 636014100001",    // no subfiles
        b"@\n\x1e\rANSI 636014100001ZC00310008ZCZCAX\n\r", // jurisdiction subfile only
        b"@\n\x1e\rANSI 636014100001DL00310004DL\n\r", // a DL subfile without elements
    ] {
        assert_eq!(aamva::parse(p).map(|r| r.document_number), Err(Failure::BarcodeInvalid), "{}", String::from_utf8_lossy(p));
    }
}

#[test]
fn parser_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(417);
    let good = payload(10, "636014", &[("DL", &subfile("DL", V10_ELEMENTS)), ("ZC", b"ZCZCAX\n\r")]);
    for round in 0..20_000 {
        let mut p = if round % 2 == 0 { good.clone() } else { (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect() };
        for _ in 0..rng.gen_range(0..8) {
            if p.is_empty() {
                break;
            }
            let i = rng.gen_range(0..p.len());
            match rng.gen_range(0..4) {
                0 => p[i] = rng.gen(),
                1 => p.truncate(i),
                2 => {
                    p.remove(i);
                }
                _ => p.insert(i, *b"@\n\r\x1eDLAQ0123456789 ".get(rng.gen_range(0..20)).unwrap_or(&b'D')),
            }
        }
        let _ = aamva::parse(&p);
    }
}
