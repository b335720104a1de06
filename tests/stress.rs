//! Long randomized runs. `#[ignore]`d: run them with
//! `cargo test --release --test stress -- --ignored`; scale the length with
//! `RALLYPOINT_STRESS_SCALE` (1.0 = full length; `.ci/run` uses a short form).
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use rallypoint::{Barrier, BarrierError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

fn scaled(full: u64) -> u64 {
    let scale: f64 = std::env::var("RALLYPOINT_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((full as f64 * scale) as u64).max(10)
}

/// A tiny xorshift PRNG, seeded per thread, so failures print a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seed() -> u64 {
    let s = std::env::var("RALLYPOINT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("RALLYPOINT_SEED={s}");
    s
}

#[test]
#[ignore = "long: run with --ignored"]
fn eight_threads_many_generations_unique_indices() {
    const T: usize = 8;
    let generations = scaled(100_000);
    let barrier = Barrier::new(T);
    // slots[g % 3]: bit i set by the party with index i in generation g. The
    // leader of g + 1 checks g's slot; g + 3 reuses it only after that.
    let slots: [AtomicU64; 3] = Default::default();
    thread::scope(|s| {
        for _ in 0..T {
            s.spawn(|| {
                for g in 0..generations {
                    let r = barrier.wait().unwrap();
                    let before =
                        slots[(g % 3) as usize].fetch_or(1 << r.index(), Ordering::Relaxed);
                    assert_eq!(
                        before & (1 << r.index()),
                        0,
                        "index {} twice in generation {g}",
                        r.index()
                    );
                    if r.is_leader() && g > 0 {
                        let prev = &slots[((g - 1) % 3) as usize];
                        assert_eq!(
                            prev.swap(0, Ordering::Relaxed),
                            (1 << T) - 1,
                            "generation {} incomplete",
                            g - 1
                        );
                    }
                }
            });
        }
    });
}

#[test]
#[ignore = "long: run with --ignored"]
fn chaos_no_hang_and_no_mixed_generation() {
    const T: usize = 4;
    let rounds = scaled(20_000);
    let seed = seed();
    let completed = AtomicUsize::new(0);
    let barrier = Barrier::with_action(T, || {
        completed.fetch_add(1, Ordering::Relaxed);
    });
    let oks: Mutex<HashMap<usize, usize>> = Mutex::new(HashMap::new());
    let finished = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..T {
            let (barrier, completed, oks, finished) = (&barrier, &completed, &oks, &finished);
            s.spawn(move || {
                let mut rng =
                    Rng(seed.wrapping_add((t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                let mut mine = HashMap::new();
                for _ in 0..rounds {
                    let result = match rng.next() % 100 {
                        0 => {
                            barrier.abort();
                            continue;
                        }
                        1..=2 => {
                            barrier.reset();
                            continue;
                        }
                        3..=5 => barrier.wait_timeout(Duration::ZERO),
                        // Bounded, so no thread waits forever for a partner
                        // that has finished.
                        _ => barrier.wait_timeout(Duration::from_micros(rng.next() % 2_000 + 50)),
                    };
                    match result {
                        Ok(_) => *mine.entry(completed.load(Ordering::Relaxed)).or_insert(0) += 1,
                        Err(BarrierError::Broken) if rng.next() % 2 == 0 => barrier.reset(),
                        Err(_) => {}
                    }
                }
                {
                    let mut all = oks.lock().unwrap();
                    for (k, n) in mine {
                        *all.entry(k).or_insert(0) += n;
                    }
                }
                finished.fetch_add(1, Ordering::SeqCst);
                // Keep failing everyone still waiting until all are done.
                while finished.load(Ordering::SeqCst) < T {
                    barrier.abort();
                    thread::yield_now();
                }
            });
        }
    });
    // Each completed generation k ran its action once, and every party of it
    // got Ok and read `completed == k` (the next generation cannot complete
    // before they arrive again): exactly T Oks per k, never fewer.
    let oks = oks.into_inner().unwrap();
    let mut bad: Vec<_> = oks
        .iter()
        .filter(|(_, n)| **n != T)
        .map(|(k, n)| (*k, *n))
        .collect();
    bad.sort_unstable();
    if !bad.is_empty() {
        println!("generations with != {T} Oks (generation, count): {bad:?}");
    }
    for (k, n) in &oks {
        assert_eq!(
            *n, T,
            "seed {seed}: generation {k} had {n} Ok results (mixed outcome)"
        );
    }
    assert_eq!(
        oks.len(),
        completed.load(Ordering::Relaxed),
        "seed {seed}: an action ran without all Oks"
    );
    println!(
        "{} generations completed in {rounds} chaotic rounds",
        oks.len()
    );
}

#[test]
#[ignore = "long: run with --ignored"]
fn timers_fire_xor_cancel_under_load() {
    let n = scaled(20_000);
    let seed = seed();
    let mut rng = Rng(seed);
    let (mut fired, mut cancelled) = (0, 0);
    for i in 0..n {
        let interval = Duration::from_nanos(rng.next() % 40_000);
        let ran = common::race_cancel(
            interval,
            rng.next() % 2_000,
            &format!("seed {seed}, timer {i}"),
        );
        let c = !ran;
        fired += usize::from(ran);
        cancelled += usize::from(c);
    }
    println!("{fired} fired, {cancelled} cancelled");
}
