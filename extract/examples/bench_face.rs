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
use std::time::Instant;

mod common;
use common::{ms, time_rounds};

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
        let (t, last) = time_rounds(rounds, || matcher.embed(a).and_then(|ea| matcher.embed(b).map(|eb| face::score(&ea, &eb))));
        println!("{name}: median {:.0} ms, p90 {:.0} ms, CPU {:.0} ms per match ({rounds} rounds) → {last:?}", t.median_ms, t.p90_ms, t.cpu_ms);
    }
}
