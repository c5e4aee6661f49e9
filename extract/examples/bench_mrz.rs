//! Time per MRZ over the synthetic fixture set.
//!
//! ```text
//! CARGO_TARGET_DIR=/var/cache/attest/extract-target \
//!   cargo run --release -p attest-extract --example bench_mrz [-- FIXTURE_DIR]
//! ```
//!
//! Without FIXTURE_DIR the fixtures are generated first with
//! `tests/fixtures/mrz/generate.py` (Python from `ATTEST_TEST_PYTHON`). The model is
//! trained first if missing (`ATTEST_MODELS_DIR`, default `~/.cache/attest/models`).
//! Reports exact / refused / wrong counts and the median and 90th percentile of the time
//! per image (decode excluded; locate + OCR + parse included), wall clock and thread CPU
//! time (the latter stays meaningful on a busy machine), per variant and overall.

use attest_extract::mrz::{self, MrzReader};
use attest_extract::{intake, Extracted};
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod common;
use common::percentile;

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// The manifest's expected reading (the generator writes every field of `Extracted`).
fn expected(v: &Value) -> Extracted {
    serde_json::from_value(v.clone()).expect("a manifest's expected reading")
}

/// CPU time of this thread (Linux `schedstat`, nanoseconds): on a shared machine the
/// wall clock also counts other processes' turns.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

fn run() -> Result<(), String> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = std::env::var_os("ATTEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/attest/models"));
    let status = Command::new("bash").arg(manifest_dir.join("../scripts/models/mrz.sh")).arg(&models).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("scripts/models/mrz.sh failed".into());
    }
    let generated;
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => {
            let python = std::env::var_os("ATTEST_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| home().join(".cache/attest/test-venv/bin/python"));
            let dir = std::env::temp_dir().join(format!("attest-mrz-bench-{}", std::process::id()));
            let status = Command::new(&python)
                .arg(manifest_dir.join("tests/fixtures/mrz/generate.py"))
                .arg(&dir)
                .status()
                .map_err(|e| format!("{}: {e}", python.display()))?;
            if !status.success() {
                return Err("generate.py failed".into());
            }
            generated = RemoveOnDrop(dir.clone());
            generated.0.clone()
        }
    };
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let today = manifest["today"].as_str().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).ok_or("manifest: today")?;
    let reader = MrzReader::new(&models).map_err(|e| format!("model: {e:?}"))?;
    let verbose = std::env::var_os("MRZ_VERBOSE").is_some();

    let mut times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut cpu_times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut counts: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for item in manifest["fixtures"].as_array().ok_or("manifest: fixtures")? {
        let file = item["file"].as_str().ok_or("manifest: file")?;
        let valid = item["valid"].as_bool().unwrap_or(false);
        let key = format!("{} {}", item["variant"].as_str().unwrap_or("?"), if valid { "valid" } else { "corrupted" });
        let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let img = match intake::load(&bytes) {
            Ok(intake::Loaded::Image(img)) => img,
            _ => return Err(format!("{file}: not a decodable image")),
        };
        let (start, cpu_start) = (Instant::now(), thread_cpu());
        let got = reader.read_as_of(&img, today).map(|m| mrz::to_extracted(&m));
        let elapsed = start.elapsed();
        let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
        let outcome = match &got {
            Ok(e) if valid && *e == expected(&item["expected"]) => 0,
            Err(_) => 1,
            Ok(_) => 2,
        };
        if verbose || outcome == 2 {
            println!("{file}: {} in {:.1} ms", ["exact", "refused", "WRONG"][outcome], elapsed.as_secs_f64() * 1e3);
        }
        counts.entry(key.clone()).or_default()[outcome] += 1;
        if let Some(cpu) = cpu {
            cpu_times.entry(key.clone()).or_default().push(cpu);
            cpu_times.entry("all".into()).or_default().push(cpu);
        }
        times.entry(key).or_default().push(elapsed);
        times.entry("all".into()).or_default().push(elapsed);
    }
    println!("{:<18} {:>6} {:>8} {:>6} {:>10} {:>10} {:>10} {:>10}", "fixtures", "exact", "refused", "wrong", "median ms", "p90 ms", "cpu med", "cpu p90");
    for (key, t) in &mut times {
        t.sort();
        let c = counts.get(key).copied().unwrap_or_else(|| counts.values().fold([0; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]));
        let cpu = cpu_times.get_mut(key).map(|c| {
            c.sort();
            (percentile(c, 0.5).as_secs_f64() * 1e3, percentile(c, 0.9).as_secs_f64() * 1e3)
        });
        let (cpu_med, cpu_p90) = cpu.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{key:<18} {:>6} {:>8} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            c[0],
            c[1],
            c[2],
            percentile(t, 0.5).as_secs_f64() * 1e3,
            percentile(t, 0.9).as_secs_f64() * 1e3,
            cpu_med,
            cpu_p90
        );
    }
    Ok(())
}

/// Removes the generated fixtures when the bench ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_mrz: {e}");
            ExitCode::FAILURE
        }
    }
}
