//! The TimerQueue race: rallypoint's `TimerQueue` (default and precise)
//! against the timer service of `benches/timer_service` (a
//! `Mutex<BinaryHeap>` + `Condvar` driver, Java's
//! `ScheduledThreadPoolExecutor` shape), with that module's measurements,
//! repeated and interleaved. tokio and `scheduled-thread-pool` run the same
//! harness from `benches/timer-anchors/`, outside this crate's
//! dev-dependencies (CI builds those in every configuration).

use crate::stats::{ratios, summary, times};
use crate::timer_service::{self, Heap, Queue, Service};
use rallypoint::Precision;
use std::time::Duration;

/// How much each measurement does.
pub(crate) struct Sizes {
    /// `schedule_cancel_ns`: batches, timers per batch, and the timers
    /// already pending in the second pair of rows.
    pub(crate) batches: usize,
    pub(crate) batch: usize,
    pub(crate) pending: usize,
    /// `pairs_per_sec`: how long each thread count runs.
    pub(crate) pairs_for: Duration,
    /// `lateness`: how many timers, due at random over how long.
    pub(crate) late_k: usize,
    pub(crate) late_span: Duration,
}

/// The contenders, rotated each repetition.
const CONTENDERS: usize = 3;
/// The peer every ratio is taken against: the last contender.
const HEAP: usize = CONTENDERS - 1;

/// Runs contender `c` once through every measurement (the table's rows, in
/// order), a fresh service for each: the heap keeps cancelled entries until
/// they are due (an hour away), which would slow every later row. Also
/// returns its name and the earliest fire (µs after due; below zero is a
/// bug).
fn measure(c: usize, z: &Sizes, threads: &[usize]) -> (String, Vec<f64>, f64) {
    match c {
        0 => measure_service(|| Queue::new(Precision::Default), z, threads),
        1 => measure_service(|| Queue::new(Precision::Precise), z, threads),
        _ => measure_service(Heap::new, z, threads),
    }
}

fn measure_service<S: Service>(
    make: impl Fn() -> S,
    z: &Sizes,
    threads: &[usize],
) -> (String, Vec<f64>, f64) {
    let name = make().name();
    let mut row = Vec::new();
    for pending in [0, z.pending] {
        let (schedule, cancel) =
            timer_service::schedule_cancel_ns(&make(), pending, z.batches, z.batch);
        row.extend([schedule, cancel]);
    }
    for &t in threads {
        let ms = z.pairs_for.as_millis().max(1) as u64;
        row.push(timer_service::pairs_per_sec(&make(), t, ms) / 1e6);
    }
    let (min, p50, p99) = timer_service::lateness(&make(), z.late_k, z.late_span);
    row.extend([p50, p99]);
    (name, row, min)
}

/// The table's rows: label and whether higher is better, in the order
/// [`measure_service`] fills a row.
fn measures(z: &Sizes, threads: &[usize], cores: usize) -> Vec<(String, bool)> {
    let mut m = Vec::new();
    for pending in [0, z.pending] {
        m.push((format!("schedule, ns per call, {pending} pending"), false));
        m.push((format!("cancel, ns per call, {pending} pending"), false));
    }
    for &t in threads {
        m.push((
            format!(
                "schedule+cancel, M pairs/s, {t} thread{}{}",
                if t == 1 { "" } else { "s" },
                if t > cores { " (oversubscribed)" } else { "" }
            ),
            true,
        ));
    }
    // timer_service::lateness: due 20 ms + a random part of the span away.
    let load = format!("{} timers due in 20 ms + 0..{:?}", z.late_k, z.late_span);
    m.push((format!("lateness p50, µs, {load}"), false));
    m.push((format!("lateness p99, µs, {load}"), false));
    m
}

/// Runs the race `repeat` times and prints its table.
pub(crate) fn race(z: &Sizes, repeat: usize, cores: usize) {
    // One thread, every core, and twice that: uncontended, contended, and
    // oversubscribed callers.
    let mut threads = vec![1, 2, cores.max(1), 2 * cores.max(1)];
    threads.sort_unstable();
    threads.dedup();
    // values[contender][repetition][measure]
    let mut values = vec![Vec::new(); CONTENDERS];
    let mut names = vec![String::new(); CONTENDERS];
    let mut earliest = f64::INFINITY;
    for rep in 0..repeat {
        for i in 0..CONTENDERS {
            let c = (i + rep) % CONTENDERS;
            let (name, row, min) = measure(c, z, &threads);
            (names[c], earliest) = (name, earliest.min(min));
            values[c].push(row);
        }
    }
    println!(
        "TimerQueue against {} (benches/timer_service){}",
        names[HEAP],
        if repeat > 1 {
            format!(", median of {repeat} runs (min–max)")
        } else {
            String::new()
        }
    );
    println!(
        "  {:<40} {:>28} {:>22}",
        "measure / contender", "", "vs heap"
    );
    for (mi, (label, higher_is_better)) in measures(z, &threads, cores).iter().enumerate() {
        println!("  {label}");
        let of = |c: usize| -> Vec<f64> { values[c].iter().map(|row| row[mi]).collect() };
        let heap = of(HEAP);
        for (c, name) in names.iter().enumerate() {
            let mine = of(c);
            let vs = if c == HEAP {
                String::new()
            } else if *higher_is_better {
                summary(&ratios(&mine, &heap), times)
            } else {
                summary(&ratios(&heap, &mine), times)
            };
            let digits = if *higher_is_better || label.starts_with("lateness") {
                2
            } else {
                0
            };
            println!(
                "    {name:<38} {:>28} {vs:>22}",
                summary(&mine, |x| format!("{x:.digits$}"))
            );
        }
    }
    println!(
        "  vs heap: how many times better than {}, per repetition (each",
        names[HEAP]
    );
    println!("  contender ran in turn, rotated each repetition), then the median; above 1.00x");
    println!("  rallypoint was faster. The heap's cancel only sets a flag (the entry and its");
    println!("  memory stay until due, as in ScheduledThreadPoolExecutor by default); the queue's");
    println!("  cancel also lets its driver free the timer long before it would have been due.");
    println!("  Lateness: fired - due. pairs/s: each thread schedules a timer an hour away and");
    println!("  cancels it, in a loop.");
    if earliest < 0.0 {
        println!(
            "  EARLY: a timer fired {:.1} µs before it was due.",
            -earliest
        );
    }
    println!();
}
