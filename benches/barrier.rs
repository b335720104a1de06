//! Barrier rounds, side by side in one run: rallypoint, std, hurdles, spin,
//! a CPython-shaped Mutex+Condvar barrier, and the one-way hand-off of a
//! two-thread atomic ping-pong (the floor under a 2-thread round:
//! `common::ping_pong` says why). `cargo bench -p rallypoint-benches --bench
//! barrier`.
//!
//! One "iteration" is one barrier round (every thread passes once). Pure
//! spinners are skipped when threads outnumber cores: spin::Barrier takes
//! tens of milliseconds per round there (see `examples/compare`, which
//! measures them with a cap and reports CPU time per round as well).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

#[path = "common/mod.rs"]
mod common;

use common::BarrierKind;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn barrier_rounds(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("barrier_round");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for threads in [2usize, 4, 8, 16] {
        for kind in BarrierKind::ALL {
            if kind == BarrierKind::Spin && threads > cores {
                continue;
            }
            group.bench_with_input(
                BenchmarkId::new(kind.name(), threads),
                &threads,
                |b, &threads| {
                    b.iter_custom(|iters| {
                        let m = common::run_barrier(
                            kind,
                            threads,
                            Duration::from_secs(3600),
                            iters.max(2),
                        );
                        m.wall.mul_f64(iters as f64 / m.rounds as f64)
                    });
                },
            );
        }
    }
    // One iteration: one one-way hand-off (half a ping-pong exchange).
    group.bench_function("one-way hand-off (atomic ping-pong; the floor)/2", |b| {
        b.iter_custom(|iters| {
            let m = common::ping_pong(Duration::from_secs(3600), iters.max(1024)).run;
            m.wall.mul_f64(iters as f64 / m.rounds as f64)
        });
    });
    group.finish();
}

criterion_group!(benches, barrier_rounds);
criterion_main!(benches);
