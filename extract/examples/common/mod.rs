//! Timing helpers shared by the extraction benchmarks (`mod common;` in each example).
#![allow(dead_code)] // each example uses its own subset

use std::time::{Duration, Instant};

/// Per-call figures of a timed loop.
pub struct Timing {
    pub median_ms: f64,
    pub p90_ms: f64,
    /// CPU time per call (all threads and finished children), NaN where unknown.
    pub cpu_ms: f64,
}

/// Runs `call` `rounds` times; its timing and the last result.
pub fn time_rounds<T>(rounds: usize, mut call: impl FnMut() -> T) -> (Timing, T) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    let cpu_before = process_cpu();
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let result = call();
        times.push(started.elapsed());
        last = Some(result);
    }
    let cpu = cpu_before.zip(process_cpu()).map(|(a, b)| ms(b.saturating_sub(a)) / times.len() as f64);
    times.sort();
    let timing = Timing { median_ms: ms(percentile(&times, 0.5)), p90_ms: ms(percentile(&times, 0.9)), cpu_ms: cpu.unwrap_or(f64::NAN) };
    (timing, last.expect("ran at least once"))
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of sorted durations (zero when empty).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// CPU time used so far by this process (all threads) and its finished children (e.g.
/// `pdftoppm` runs), from `/proc/self/stat`: on a shared machine wall-clock times
/// include waiting for other processes, CPU time does not.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime, stime, cutime, cstime: fields 14–17 of proc(5), counted after the name.
    let ticks = (11..15).map(|i| fields.get(i)?.parse::<u64>().ok()).sum::<Option<u64>>()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}
