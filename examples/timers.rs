//! Timer services side by side: `cargo run --release --example timers`.
//!
//! rallypoint's `TimerQueue` (default and precise) against a
//! `Mutex<BinaryHeap>` + `Condvar` driver (Java's `ScheduledThreadPoolExecutor`
//! shape, written in `benches/timer_service`) and, for lateness at small
//! counts, `Timer::start` (a thread per timer). tokio and
//! `scheduled-thread-pool` run the same harness from
//! `benches/timer-anchors/` (`cargo run --release` there), kept out of this
//! crate's dev-dependencies so that CI (Miri, TSan) does not build them.
//!
//! ```text
//! --smoke      tiny sizes (CI: keeps it from rotting)
//! --no-10m     skip the 10 M pending timers row
//! ```
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Example code uses std.

#[path = "../benches/timer_service/mod.rs"]
mod timer_service;

use rallypoint::{Precision, Timer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timer_service::{Heap, Queue, Service};

#[global_allocator]
static GLOBAL: timer_service::Counting = timer_service::Counting;

struct Sizes {
    batches: usize,
    batch: usize,
    pending: usize,
    pairs_ms: u64,
    bytes_n: usize,
    late_k: usize,
    late_span: Duration,
    many: usize,
}

fn row<S: Service>(s: &S, z: &Sizes) {
    let (sched0, canc0) = timer_service::schedule_cancel_ns(s, 0, z.batches, z.batch);
    let (sched1, canc1) = timer_service::schedule_cancel_ns(s, z.pending, z.batches, z.batch);
    let one = timer_service::pairs_per_sec(s, 1, z.pairs_ms);
    let two = timer_service::pairs_per_sec(s, 2, z.pairs_ms);
    let bytes = timer_service::bytes_per_timer(s, z.bytes_n);
    println!(
        "| {} | {sched0:.0} ns | {canc0:.0} ns | {sched1:.0} ns | {canc1:.0} ns | {:.2} M/s | {:.2} M/s ({:.2}x) | {bytes:.0} |",
        s.name(),
        one / 1e6,
        two / 1e6,
        two / one
    );
}

fn lateness_row<S: Service>(s: &S, z: &Sizes) {
    let (min, p50, p99) = timer_service::lateness(s, z.late_k, z.late_span);
    println!(
        "| {} | {} timers over {:?} | {p50:.1} µs | {p99:.1} µs | {min:.1} µs{} |",
        s.name(),
        z.late_k,
        z.late_span,
        if min < 0.0 { " **EARLY**" } else { "" }
    );
}

/// `Timer::start` lateness: one thread per timer, `k` timers over `span`.
fn thread_per_timer_lateness(k: usize, span: Duration, precision: Precision) -> (f64, f64, f64) {
    let base = Instant::now();
    let fired: Arc<Vec<AtomicU64>> = Arc::new((0..k).map(|_| AtomicU64::new(0)).collect());
    let mut rng = timer_service::Rng::new(3);
    let mut handles = Vec::new();
    let mut dues = Vec::new();
    for i in 0..k {
        let delay =
            Duration::from_millis(20) + Duration::from_nanos(rng.below(span.as_nanos() as u64));
        let f = Arc::clone(&fired);
        let at = Instant::now();
        handles.push(
            Timer::new(delay, move || {
                f[i].store(base.elapsed().as_nanos() as u64, Ordering::Release);
            })
            .start_with_precision(precision),
        );
        dues.push((at + delay - base).as_nanos() as i64);
    }
    for h in handles {
        h.join().unwrap();
    }
    let mut late: Vec<f64> = fired
        .iter()
        .zip(&dues)
        .map(|(f, &d)| (f.load(Ordering::Acquire) as i64 - d) as f64 / 1000.0)
        .collect();
    late.sort_by(f64::total_cmp);
    (late[0], late[k / 2], late[k * 99 / 100])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let ten_m = !smoke && !args.iter().any(|a| a == "--no-10m");
    let z = if smoke {
        Sizes {
            batches: 3,
            batch: 100,
            pending: 1000,
            pairs_ms: 20,
            bytes_n: 1000,
            late_k: 200,
            late_span: Duration::from_millis(50),
            many: 10_000,
        }
    } else {
        Sizes {
            batches: 31,
            batch: 10_000,
            pending: 1_000_000,
            pairs_ms: 500,
            bytes_n: 100_000,
            late_k: 20_000,
            late_span: Duration::from_millis(500),
            many: 10_000_000,
        }
    };

    println!(
        "## schedule / cancel (one caller thread, median of {} batches of {})\n",
        z.batches, z.batch
    );
    println!("| service | schedule | cancel | schedule, {} pending | cancel, {} pending | pairs/s, 1 thread | pairs/s, 2 threads | bytes per pending timer |", z.pending, z.pending);
    println!("|---|---|---|---|---|---|---|---|");
    row(&Queue::new(Precision::Default), &z);
    row(&Heap::new(), &z);

    println!("\n## lateness (fired - due; never early means min >= 0)\n");
    println!("| service | load | p50 | p99 | min |");
    println!("|---|---|---|---|---|");
    lateness_row(&Queue::new(Precision::Default), &z);
    lateness_row(&Queue::new(Precision::Precise), &z);
    lateness_row(&Heap::new(), &z);
    let small = if smoke { 20 } else { 200 };
    let small_span = Duration::from_millis(200);
    for (name, p) in [
        ("Timer::start (thread per timer)", Precision::Default),
        ("Timer::start (precise)", Precision::Precise),
    ] {
        let (min, p50, p99) = thread_per_timer_lateness(small, small_span, p);
        println!("| {name} | {small} timers over {small_span:?} | {p50:.1} µs | {p99:.1} µs | {min:.1} µs |");
    }
    {
        let q = Queue::new(Precision::Default);
        let z2 = Sizes {
            late_k: small,
            late_span: small_span,
            ..z
        };
        lateness_row(&q, &z2);
    }

    let many = if ten_m { z.many } else { z.many / 10 };
    println!("\n## {many} pending timers, scheduled then all cancelled (rallypoint TimerQueue)\n");
    let q = Queue::new(Precision::Default);
    let (sched, canc, peak, after) = timer_service::many(&q, many);
    println!(
        "scheduled in {sched:.2} s ({:.0} ns each), cancelled in {canc:.2} s ({:.0} ns each); peak RSS {peak:.0} MiB ({:.0} bytes per timer incl. the handle vector), RSS after the cancels {after:.0} MiB; len() = {}",
        sched * 1e9 / many as f64,
        canc * 1e9 / many as f64,
        peak * 1024.0 * 1024.0 / many as f64,
        q.queue().len()
    );
}
