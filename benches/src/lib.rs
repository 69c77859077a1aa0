//! Helpers shared by the benchmarks in `benches/`.

use std::time::{Duration, Instant};

/// Times `subject` and `reference` in alternating passes (so that machine noise hits both
/// alike), after one warm-up pass each, and returns their median times and the median of
/// the per-round ratios reference time / subject time.
pub fn paired(
    rounds: usize,
    mut subject: impl FnMut(),
    mut reference: impl FnMut(),
) -> (Duration, Duration, f64) {
    subject();
    reference();
    let mut subject_times = Vec::with_capacity(rounds);
    let mut reference_times = Vec::with_capacity(rounds);
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        subject();
        let s = start.elapsed();
        let start = Instant::now();
        reference();
        let r = start.elapsed();
        subject_times.push(s);
        reference_times.push(r);
        ratios.push(r.as_secs_f64() / s.as_secs_f64());
    }
    subject_times.sort();
    reference_times.sort();
    ratios.sort_by(f64::total_cmp);
    (
        subject_times[rounds / 2],
        reference_times[rounds / 2],
        ratios[rounds / 2],
    )
}

/// Times `work` over `rounds` passes after one warm-up pass; returns the median pass time.
pub fn median_time(rounds: usize, mut work: impl FnMut()) -> Duration {
    work();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}
