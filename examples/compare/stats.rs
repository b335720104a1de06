//! How compare summarises repetitions (median, min–max, per-repetition
//! ratios) and formats what it prints; the machine's load average.

use crate::common::Measurement;
use std::time::Duration;

/// The median, min and max of `xs` (not empty).
pub(crate) fn spread(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    (median, v[0], v[v.len() - 1])
}

/// The median of one duration of each measurement.
pub(crate) fn median_by(ms: &[Measurement], f: impl Fn(&Measurement) -> Duration) -> Duration {
    let secs: Vec<f64> = ms.iter().map(|m| f(m).as_secs_f64()).collect();
    Duration::from_secs_f64(spread(&secs).0)
}

/// `a[i] / b[i]` for each repetition `i`: both sides measured back to back,
/// so a burst of load that slows both cancels out of the ratio.
pub(crate) fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}

/// `median (min–max)` of `xs`, or the value alone for a single run.
pub(crate) fn summary(xs: &[f64], f: impl Fn(f64) -> String) -> String {
    let (median, lo, hi) = spread(xs);
    if xs.len() > 1 {
        format!("{} ({}–{})", f(median), f(lo), f(hi))
    } else {
        f(median)
    }
}

/// A ratio as compare prints it.
pub(crate) fn times(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}x")
    } else {
        format!("{x:.1}x")
    }
}

/// A duration in the unit that keeps 3–4 significant digits.
pub(crate) fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

/// The 1-minute load average, where the OS reports one (Linux).
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
