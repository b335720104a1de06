//! Timer services under criterion: `cargo bench -p rallypoint-benches --bench timer_queue`.
//!
//! `schedule` and `cancel` of one-shot timers an hour away, one caller
//! thread, with 0 and 1 M other timers pending: rallypoint's `TimerQueue`
//! against a `Mutex<BinaryHeap>` + `Condvar` driver (Java's shape; its
//! cancel only sets a flag). `examples/timers.rs` prints the full table
//! (lateness, bytes, two threads, 10 M pending).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

#[path = "timer_service/mod.rs"]
mod timer_service;

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};
use timer_service::{Heap, Queue, Rng, Service};

fn bench_service<S: Service>(c: &mut Criterion, s: &S, pending: usize) {
    let mut group = c.benchmark_group(format!("timer_service/{pending}_pending"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut rng = Rng::new(1);
    let far: Vec<_> = (0..pending)
        .map(|_| s.schedule(Duration::from_secs(3600 + rng.below(3600)), || {}))
        .collect();
    group.bench_function(format!("schedule/{}", s.name()), |b| {
        b.iter_custom(|iters| {
            let mut handles = Vec::with_capacity(iters as usize);
            let t = Instant::now();
            for _ in 0..iters {
                handles.push(s.schedule(Duration::from_secs(3600 + rng.below(3600)), || {}));
            }
            let took = t.elapsed();
            for h in &handles {
                s.cancel(h);
            }
            took
        });
    });
    group.bench_function(format!("cancel/{}", s.name()), |b| {
        b.iter_custom(|iters| {
            let handles: Vec<_> = (0..iters)
                .map(|_| s.schedule(Duration::from_secs(3600 + rng.below(3600)), || {}))
                .collect();
            let t = Instant::now();
            for h in &handles {
                std::hint::black_box(s.cancel(h));
            }
            t.elapsed()
        });
    });
    group.finish();
    for h in &far {
        s.cancel(h);
    }
}

fn services(c: &mut Criterion) {
    for pending in [0, 1_000_000] {
        bench_service(c, &Queue::new(rallypoint::Precision::Default), pending);
        bench_service(c, &Heap::new(), pending);
    }
}

criterion_group!(benches, services);
criterion_main!(benches);
