//! Times the selfie match: detection + embedding of two photos and their comparison.
//!
//! ```text
//! extract/tests/fixtures/face/fetch.sh ~/.cache/attest/fixtures/face
//! scripts/models/face.sh ~/.cache/attest/models
//! cargo run --release -p attest-extract --example bench_face -- \
//!     ~/.cache/attest/models ~/.cache/attest/fixtures/face [rounds]
//! ```

use attest_extract::face::{self, FaceMatcher};
use image::imageops::FilterType;
use image::DynamicImage;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(models), Some(fixtures)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_face <models_dir> <fixtures_dir> [rounds]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20).max(1);
    let fixtures = PathBuf::from(fixtures);
    let open = |name: &str| image::open(fixtures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));

    let started = Instant::now();
    let matcher = FaceMatcher::load(&PathBuf::from(models)).expect("models load");
    println!("load: {:.0} ms", ms(started.elapsed()));

    let astronaut = open("astronaut.png");
    let hopper = open("grace_hopper.jpg");
    // A phone-sized selfie: the portrait upscaled to 3024 × 3024 (9 MP).
    let phone = astronaut.resize_exact(3024, 3024, FilterType::Triangle);
    let cases: [(&str, &DynamicImage, &DynamicImage); 3] = [
        ("512 px vs 512×600 px", &astronaut, &hopper),
        ("9 MP selfie vs 512 px", &phone, &astronaut),
        ("no face (cat) vs 512 px", &open("chelsea.png"), &astronaut),
    ];
    for (name, a, b) in cases {
        let mut times = Vec::with_capacity(rounds);
        let mut last = None;
        let cpu_before = process_cpu();
        for _ in 0..rounds {
            let t = Instant::now();
            let result = matcher.embed(a).and_then(|ea| matcher.embed(b).map(|eb| face::score(&ea, &eb)));
            times.push(t.elapsed());
            last = Some(result);
        }
        let cpu = cpu_before.zip(process_cpu()).map(|(a, b)| ms(b.saturating_sub(a)) / rounds as f64);
        times.sort();
        let pick = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        println!(
            "{name}: median {:.0} ms, p90 {:.0} ms, CPU {:.0} ms per match ({rounds} rounds) → {:?}",
            pick(0.5),
            pick(0.9),
            cpu.unwrap_or(f64::NAN),
            last.expect("ran")
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
