//! Times proof-of-address reading per document: a text PDF, a scanned PDF (rasterized
//! and OCR'd) and a phone photo (OCR'd), from the test fixtures.
//!
//! ```text
//! cargo run --release -p attest-extract --example bench_address -- [rounds] [tessdata_dir]
//! ```

use attest_extract::address::{self, Ocr, DEBIAN_TESSDATA};
use attest_extract::intake;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
        let mut times = Vec::with_capacity(rounds);
        let mut last = None;
        let cpu_before = process_cpu();
        for _ in 0..rounds {
            let t = Instant::now();
            // Decoding is part of the cost for the photo, as in the pipeline.
            let result = intake::load(&bytes).and_then(|loaded| address::read(&loaded, &ocr));
            times.push(t.elapsed());
            last = Some(result);
        }
        let cpu = cpu_before.zip(process_cpu()).map(|(a, b)| ms(b.saturating_sub(a)) / rounds as f64);
        times.sort();
        let pick = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        let outcome = match last.expect("ran") {
            Ok(r) => format!("{:?}, {:?}", r.source, r.extracted.address.map(|a| a.line1)),
            Err(e) => format!("error {}", e.code()),
        };
        println!(
            "{name}: median {:.0} ms, p90 {:.0} ms, CPU {:.0} ms per document ({rounds} rounds) → {outcome}",
            pick(0.5),
            pick(0.9),
            cpu.unwrap_or(f64::NAN)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time used so far by this process (all threads) and its finished children (the
/// `pdftoppm` runs), from `/proc/self/stat`: on a shared machine wall-clock times
/// include waiting for other processes, CPU time does not.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime, stime, cutime, cstime: fields 14–17 of proc(5), counted after the name.
    let ticks = (11..15).map(|i| fields.get(i)?.parse::<u64>().ok()).sum::<Option<u64>>()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}
