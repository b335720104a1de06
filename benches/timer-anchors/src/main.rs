//! tokio timers and `scheduled-thread-pool` on the harness of
//! `examples/timers.rs`, in the same run as rallypoint's `TimerQueue`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[path = "../../timer_service/mod.rs"]
mod timer_service;

use rallypoint::Precision;
use std::time::Duration;
use timer_service::{Heap, Queue, Service};

#[global_allocator]
static GLOBAL: timer_service::Counting = timer_service::Counting;

/// tokio 1.x: a spawned task per timer that sleeps then runs the function
/// (one worker thread drives the timer wheel); cancel = `abort()`.
struct Tokio {
    rt: tokio::runtime::Runtime,
}

impl Service for Tokio {
    type Handle = tokio::task::JoinHandle<()>;
    fn name(&self) -> String {
        "tokio (spawned sleep, 1 worker)".into()
    }
    fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> Self::Handle {
        self.rt.spawn(async move {
            tokio::time::sleep(delay).await;
            f();
        })
    }
    fn cancel(&self, handle: &Self::Handle) -> bool {
        handle.abort();
        true // tokio cannot say whether it won
    }
}

/// scheduled-thread-pool 0.2 with one thread; cancel sets a flag (the job
/// stays queued until due).
struct Stp {
    pool: scheduled_thread_pool::ScheduledThreadPool,
}

impl Service for Stp {
    type Handle = scheduled_thread_pool::JobHandle;
    fn name(&self) -> String {
        "scheduled-thread-pool (1 thread)".into()
    }
    fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> Self::Handle {
        self.pool.execute_after(delay, f)
    }
    fn cancel(&self, handle: &Self::Handle) -> bool {
        handle.cancel();
        true // returns (): cannot say
    }
}

fn row<S: Service>(s: &S, pending: usize) {
    let (sched0, canc0) = timer_service::schedule_cancel_ns(s, 0, 31, 10_000);
    let (sched1, canc1) = timer_service::schedule_cancel_ns(s, pending, 31, 10_000);
    let one = timer_service::pairs_per_sec(s, 1, 500);
    let two = timer_service::pairs_per_sec(s, 2, 500);
    let bytes = timer_service::bytes_per_timer(s, 100_000);
    println!(
        "| {} | {sched0:.0} ns | {canc0:.0} ns | {sched1:.0} ns | {canc1:.0} ns | {:.2} M/s | {:.2} M/s ({:.2}x) | {bytes:.0} |",
        s.name(),
        one / 1e6,
        two / 1e6,
        two / one
    );
}

fn late<S: Service>(s: &S) {
    let (min, p50, p99) = timer_service::lateness(s, 20_000, Duration::from_millis(500));
    println!("| {} | 20000 timers over 500ms | {p50:.1} µs | {p99:.1} µs | {min:.1} µs |", s.name());
}

fn main() {
    let pending = 1_000_000;
    let tokio = Tokio {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap(),
    };
    let stp = Stp {
        pool: scheduled_thread_pool::ScheduledThreadPool::new(1),
    };
    println!("| service | schedule | cancel | schedule, {pending} pending | cancel, {pending} pending | pairs/s, 1 thread | pairs/s, 2 threads | bytes per pending timer |");
    println!("|---|---|---|---|---|---|---|---|");
    row(&Queue::new(Precision::Default), pending);
    row(&Heap::new(), pending);
    row(&tokio, pending);
    row(&stp, pending);
    println!();
    println!("| service | load | p50 | p99 | min |");
    println!("|---|---|---|---|---|");
    late(&Queue::new(Precision::Default));
    late(&Queue::new(Precision::Precise));
    late(&Heap::new());
    late(&tokio);
    late(&stp);
}
