//! The Phaser's contenders, shared by `benches/phaser.rs` and
//! `examples/phaser.rs` (`#[path]`-included next to `benches/common`).
#![allow(dead_code)] // Each includer uses a subset.

use super::common::{self, BarrierKind, Measurement};
use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A barrier round by one of: `Phaser::arrive_and_wait`, or a
/// `BarrierKind` from `benches/common`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoundKind {
    Phaser,
    Other(BarrierKind),
}

impl RoundKind {
    pub(crate) const ALL: [RoundKind; 4] = [
        RoundKind::Phaser,
        RoundKind::Other(BarrierKind::Rallypoint),
        RoundKind::Other(BarrierKind::Std),
        RoundKind::Other(BarrierKind::Hurdles),
    ];
    pub(crate) fn name(self) -> &'static str {
        match self {
            RoundKind::Phaser => "rallypoint::Phaser",
            RoundKind::Other(BarrierKind::Rallypoint) => "rallypoint::Barrier",
            RoundKind::Other(k) => k.name(),
        }
    }
}

/// Barrier rounds with `kind`, measured as `benches/common::drive` does.
pub(crate) fn run_rounds(
    kind: RoundKind,
    threads: usize,
    budget: Duration,
    max_rounds: u64,
) -> Measurement {
    match kind {
        RoundKind::Phaser => {
            let p = Arc::new(rallypoint::Phaser::new(threads));
            common::drive(threads, budget, max_rounds, || {
                let p = Arc::clone(&p);
                move || p.arrive_and_wait().unwrap().is_leader()
            })
        }
        RoundKind::Other(k) => common::run_barrier(k, threads, budget, max_rounds),
    }
}

/// A few microseconds of private work per unit (no shared memory);
/// `examples/phaser` prints what a unit costs on the machine it runs on.
pub(crate) fn work(units: u64) {
    let mut x = 0x9E37_79B9u64;
    for _ in 0..units * 10_000 {
        x = black_box(x.rotate_left(5) ^ 0x2545_F491);
    }
    black_box(x);
}

/// One thread's work sizes in round `r`: (before arriving, independent
/// after arriving), 0..=3 units each, different per thread and round, so
/// threads reach the barrier at different times (the skew split phase
/// hides).
fn sizes(t: usize, r: u64) -> (u64, u64) {
    let mut x =
        (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ r.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 4, (x >> 8) % 4)
}

/// The fuzzy-barrier loop, `rounds` times on `threads` threads: publish
/// (work), `arrive`, independent work, `wait(token)` when `split`; else the
/// same work forced through a blocking barrier: publish, `arrive_and_wait`,
/// independent work. Returns the wall time.
pub(crate) fn fuzzy_loop(threads: usize, rounds: u64, split: bool) -> Duration {
    let phaser = rallypoint::Phaser::new(threads);
    let start_line = std::sync::Barrier::new(threads);
    let t0 = std::sync::Mutex::new(None::<Instant>);
    let wall = thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (phaser, start_line, t0) = (&phaser, &start_line, &t0);
                s.spawn(move || {
                    if start_line.wait().is_leader() {
                        *t0.lock().unwrap() = Some(Instant::now());
                    }
                    for r in 0..rounds {
                        let (publish, private) = sizes(t, r);
                        work(publish);
                        if split {
                            let token = phaser.arrive().unwrap();
                            work(private);
                            phaser.wait(token).unwrap();
                        } else {
                            phaser.arrive_and_wait().unwrap();
                            work(private);
                        }
                    }
                    Instant::now()
                })
            })
            .collect();
        let end = hs.into_iter().map(|h| h.join().unwrap()).max().unwrap();
        end - t0.lock().unwrap().unwrap()
    });
    wall
}
