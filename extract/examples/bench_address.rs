//! Times proof-of-address reading per document: a text PDF, a scanned PDF (rasterized
//! and OCR'd) and a phone photo (OCR'd), from the test fixtures.
//!
//! ```text
//! cargo run --release -p attest-extract --example bench_address -- [rounds] [tessdata_dir]
//! ```

use attest_extract::address::{self, Ocr, DEBIAN_TESSDATA};
use attest_extract::intake;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::{ms, time_rounds};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let tessdata = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEBIAN_TESSDATA));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/address");

    let started = Instant::now();
    let ocr = Ocr::english(&tessdata).expect("tesseract eng model");
    println!("tesseract init: {:.0} ms", ms(started.elapsed()));

    for name in ["bill.pdf", "lease.pdf", "bill_scanned.pdf", "bill_photo.jpg"] {
        let bytes = std::fs::read(fixtures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Decoding is part of the cost for the photo, as in the pipeline.
        let (t, last) = time_rounds(rounds, || intake::load(&bytes).and_then(|loaded| address::read(&loaded, &ocr)));
        let outcome = match last {
            Ok(r) => format!("{:?}, {:?}", r.source, r.extracted.address.map(|a| a.line1)),
            Err(e) => format!("error {}", e.code()),
        };
        println!("{name}: median {:.0} ms, p90 {:.0} ms, CPU {:.0} ms per document ({rounds} rounds) → {outcome}", t.median_ms, t.p90_ms, t.cpu_ms);
    }
}
