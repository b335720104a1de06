//! Timers, side by side: rallypoint::Timer, a Condvar::wait_timeout timer
//! thread (how Python's Event-based Timer waits) and a thread::sleep timer.
//! `cargo bench -p rallypoint-benches --bench timer`.
//!
//! - `lateness`: (time fired) - (start + 1 ms), mean per timer.
//! - `cancel_to_joined`: cancel + join of a long timer that has parked
//!   (the sleep timer cannot be woken: it sleeps out a 5 ms interval).
//! - `start_cancel_join`: the whole life of a cancelled timer.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

#[path = "common/mod.rs"]
mod common;

use common::TimerKind;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    for kind in TimerKind::ALL {
        group.bench_function(format!("lateness/{}", kind.name()), |b| {
            b.iter_custom(|iters| {
                common::lateness(kind, Duration::from_millis(1), iters as usize)
                    .into_iter()
                    .sum()
            });
        });
        let long = if kind == TimerKind::Sleep {
            Duration::from_millis(5)
        } else {
            Duration::from_secs(3600)
        };
        group.bench_function(format!("cancel_to_joined/{}", kind.name()), |b| {
            b.iter_custom(|iters| {
                common::cancel_to_joined(kind, long, iters as usize)
                    .into_iter()
                    .sum()
            });
        });
        group.bench_function(format!("start_cancel_join/{}", kind.name()), |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    common::start_timer(kind, long, || {}).cancel_and_join();
                }
                t0.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, timers);
criterion_main!(benches);
