//! Phaser rounds beside `Barrier`, std and hurdles, and the fuzzy-barrier
//! loop split vs blocking, side by side in one run: `cargo bench -p
//! rallypoint-benches --bench phaser` (`examples/phaser` repeats and
//! interleaves them, with ratios).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

#[path = "common/mod.rs"]
mod common;
#[path = "phaser_common/mod.rs"]
mod phaser_common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phaser_common::RoundKind;
use std::time::Duration;

fn phaser_rounds(c: &mut Criterion) {
    let mut group = c.benchmark_group("phaser_round");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for threads in [2usize, 4, 8, 16] {
        for kind in RoundKind::ALL {
            group.bench_with_input(
                BenchmarkId::new(kind.name(), threads),
                &threads,
                |b, &threads| {
                    b.iter_custom(|iters| {
                        let m = phaser_common::run_rounds(
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
    group.finish();

    let mut group = c.benchmark_group("fuzzy_loop_round");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for threads in [2usize, 4] {
        for (name, split) in [
            ("split arrive/wait", true),
            ("blocking arrive_and_wait", false),
        ] {
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| phaser_common::fuzzy_loop(threads, iters.max(1), split));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, phaser_rounds);
criterion_main!(benches);
