//! Accuracy and speed of the PDF417 reader over a generated fixture set.
//!
//! ```text
//! ~/.cache/attest/test-venv/bin/python extract/tests/fixtures/pdf417/generate.py /tmp/pdf417-set
//! cargo run --release -p attest-extract --example bench_barcode -- /tmp/pdf417-set
//! ```
//!
//! Negatives (card fronts, non-AAMVA barcodes) count as exact when they fail with the
//! expected reason. Prints, per image kind and overall: count, exact-match %, median and p90 time per
//! document (barcode reading only; image decoding is reported separately) as wall time
//! and as on-CPU time (the two differ when other work shares the machine), which rung of
//! the retry ladder succeeded, and the misses.

use attest_extract::{barcode, intake, Extracted};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Row {
    kind: String,
    angle: f64,
    exact: bool,
    time: Duration,
    /// On-CPU time of this thread (the machine may be busy with other work).
    cpu: Option<Duration>,
    step: String,
    note: String,
    file: String,
}

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: bench_barcode FIXTURE_DIR");
        std::process::exit(2);
    };
    let manifest: Vec<serde_json::Value> = match std::fs::read(dir.join("manifest.json")).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return eprintln!("manifest.json: {e}"),
        Err(e) => return eprintln!("{}: {e}", dir.join("manifest.json").display()),
    };
    let mut rows = Vec::new();
    let mut decode_times = Vec::new();
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap_or_default().to_string();
        let expected: Option<Extracted> = serde_json::from_value(entry["expected"].clone()).ok();
        let bytes = match std::fs::read(dir.join(&file)) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{file}: {e}");
                continue;
            }
        };
        let t0 = Instant::now();
        let img = match intake::decode_image(&bytes) {
            Ok(img) => img,
            Err(e) => {
                eprintln!("{file}: {e}");
                continue;
            }
        };
        decode_times.push(t0.elapsed());
        let c1 = thread_cpu();
        let t1 = Instant::now();
        let result = barcode::scan(&img);
        let time = t1.elapsed();
        let cpu = thread_cpu().zip(c1).map(|(b, a)| b.saturating_sub(a));
        // Negatives name the failure they must end in instead of fields.
        let failure = entry["failure"].as_str();
        let (exact, step, note) = match result {
            Ok(scan) => {
                let got = scan.record.to_extracted();
                let exact = expected.as_ref() == Some(&got);
                let step = format!("{}#{}", scan.step.name, scan.step.attempts);
                let note = if exact { String::new() } else { format!("got {got:?}") };
                (exact, step, note)
            }
            Err(e) => (failure == Some(e.code()), format!("failed:{}", e.code()), String::new()),
        };
        // For misses, what the tilt/region analysis saw.
        let note = if exact {
            note
        } else {
            let analysis = barcode::locate::analyze(&img.to_luma8());
            let seen = analysis.map(|a| format!("tilt {:.2}° (strength {:.1}), region {:?}", a.skew.degrees, a.skew.strength, a.region));
            format!("{note} [{}]", seen.unwrap_or_default())
        };
        rows.push(Row {
            kind: entry["kind"].as_str().unwrap_or("?").to_string(),
            angle: entry["angle"].as_f64().unwrap_or(0.0),
            exact,
            time,
            cpu,
            step,
            note,
            file,
        });
    }

    let mut kinds: Vec<String> = rows.iter().map(|r| r.kind.clone()).collect();
    kinds.sort();
    kinds.dedup();
    println!("{:<8} {:>6} {:>8} {:>10} {:>10} {:>10} {:>12} {:>10}", "set", "count", "exact%", "median ms", "p90 ms", "max ms", "cpu med ms", "cpu p90");
    for kind in kinds.iter().map(Some).chain([None]) {
        let subset: Vec<&Row> = rows.iter().filter(|r| kind.is_none_or(|k| &r.kind == k)).collect();
        summary(kind.map_or("all", |k| k.as_str()), &subset);
    }
    let mut dt: Vec<f64> = decode_times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    dt.sort_by(f64::total_cmp);
    println!("image decoding (intake): median {:.1} ms, p90 {:.1} ms", percentile(&dt, 0.5), percentile(&dt, 0.9));

    let mut steps: BTreeMap<&str, (usize, Vec<f64>)> = BTreeMap::new();
    for r in &rows {
        let name = r.step.split('#').next().unwrap_or_default();
        let e = steps.entry(name).or_default();
        e.0 += 1;
        e.1.push(r.time.as_secs_f64() * 1e3);
    }
    println!("\nladder rung that succeeded:");
    for (name, (n, mut t)) in steps {
        t.sort_by(f64::total_cmp);
        println!("  {name:<22} {n:>4}  median {:.0} ms", percentile(&t, 0.5));
    }
    let misses: Vec<&Row> = rows.iter().filter(|r| !r.exact).collect();
    if !misses.is_empty() {
        println!("\nmisses:");
        for r in misses {
            println!("  {:<22} angle {:>6.2}  {:>6.0} ms  {}  {}", r.file, r.angle, r.time.as_secs_f64() * 1e3, r.step, r.note);
        }
    }
}

fn summary(name: &str, rows: &[&Row]) {
    if rows.is_empty() {
        return;
    }
    let exact = rows.iter().filter(|r| r.exact).count();
    let mut t: Vec<f64> = rows.iter().map(|r| r.time.as_secs_f64() * 1e3).collect();
    t.sort_by(f64::total_cmp);
    let mut cpu: Vec<f64> = rows.iter().filter_map(|r| r.cpu).map(|c| c.as_secs_f64() * 1e3).collect();
    cpu.sort_by(f64::total_cmp);
    println!(
        "{:<8} {:>6} {:>7.1}% {:>10.1} {:>10.1} {:>10.1} {:>12.1} {:>10.1}",
        name,
        rows.len(),
        100.0 * exact as f64 / rows.len() as f64,
        percentile(&t, 0.5),
        percentile(&t, 0.9),
        t.last().copied().unwrap_or_default(),
        percentile(&cpu, 0.5),
        percentile(&cpu, 0.9),
    );
}

/// This thread's on-CPU time so far, from Linux's schedstat (nanoseconds), so timings
/// stay meaningful while other work shares the machine.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
