//! The Phaser's showcase: `cargo run --release --example phaser`.
//!
//! 1. Barrier rounds: `Phaser::arrive_and_wait` against `Barrier::wait`,
//!    `std::sync::Barrier` and hurdles at 2/4/8/16 threads.
//! 2. A fuzzy-barrier loop (publish, `arrive`, independent work,
//!    `wait(token)`) against the same loop forced through a blocking
//!    barrier (publish, `arrive_and_wait`, independent work).
//!
//! Every measurement is repeated `--reps` times, the contenders interleaved
//! (rotated each repetition) so that a noisy neighbour hits all of them;
//! it prints medians with min–max, and the ratios per repetition (median,
//! min–max). A shared machine swings absolute rates; read the ratios.
//!
//! ```text
//! --threads 2,4,8,16   thread counts
//! --ms 200             time budget per barrier-round run
//! --reps 7             repetitions
//! --smoke              a few rounds each (CI: keeps it from rotting)
//! ```
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Example code uses std.

#[path = "../benches/common/mod.rs"]
mod common;
#[path = "../benches/phaser_common/mod.rs"]
mod phaser_common;

use phaser_common::RoundKind;
use std::time::Duration;

/// Median and range of `v`.
fn summary(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M/s", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k/s", x / 1e3)
    } else {
        format!("{x:.0} /s")
    }
}

fn main() {
    let mut threads = vec![2, 4, 8, 16];
    let (mut budget, mut reps, mut smoke) = (Duration::from_millis(200), 7, false);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => {
                threads = it
                    .next()
                    .expect("--threads N,N")
                    .split(',')
                    .map(|n| n.parse().expect("a number"))
                    .collect();
            }
            "--ms" => {
                budget =
                    Duration::from_millis(it.next().expect("--ms N").parse().expect("a number"))
            }
            "--reps" => reps = it.next().expect("--reps N").parse().expect("a number"),
            "--smoke" => smoke = true,
            other => panic!("unknown argument {other}"),
        }
    }
    if smoke {
        (budget, reps) = (Duration::from_millis(5), 1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("rallypoint::Phaser showcase: {cores} cores, {reps} interleaved repetitions, medians (min–max)\n");

    println!("## Barrier rounds per second (one round: every thread passes once)\n");
    println!("| threads | Phaser | Barrier | std | hurdles | Phaser / Barrier | Phaser / std |");
    println!("|---|---|---|---|---|---|---|");
    for &n in &threads {
        let kinds = RoundKind::ALL;
        let mut rates = vec![Vec::new(); kinds.len()];
        let (mut vs_barrier, mut vs_std) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            let mut this = [0.0; 4];
            for i in 0..kinds.len() {
                let k = (i + rep) % kinds.len();
                let max_rounds = if smoke { 200 } else { u64::MAX };
                this[k] =
                    phaser_common::run_rounds(kinds[k], n, budget, max_rounds).rounds_per_sec();
                rates[k].push(this[k]);
            }
            vs_barrier.push(this[0] / this[1]);
            vs_std.push(this[0] / this[2]);
        }
        let cells: Vec<String> = rates
            .iter_mut()
            .map(|v| {
                let (m, lo, hi) = summary(v);
                format!("{} ({}–{})", rate(m), rate(lo), rate(hi))
            })
            .collect();
        let (b, bl, bh) = summary(&mut vs_barrier);
        let (s, sl, sh) = summary(&mut vs_std);
        println!(
            "| {n}{} | {} | {b:.2}× ({bl:.2}–{bh:.2}) | {s:.1}× ({sl:.1}–{sh:.1}) |",
            if n > cores { " (oversubscribed)" } else { "" },
            cells.join(" | ")
        );
    }

    println!("\n## Fuzzy-barrier loop: split phase vs the same work through a blocking barrier\n");
    let t0 = std::time::Instant::now();
    phaser_common::work(1_000);
    let unit = t0.elapsed() / 1_000;
    println!("Each round: 0–3 units of work before arriving, 0–3 units of independent work after (random per thread and round; a unit is {unit:?} here).\n");
    println!(
        "| threads | split (arrive … wait) | blocking (arrive_and_wait) | blocking / split time |"
    );
    println!("|---|---|---|---|");
    for &n in &threads {
        let rounds = if smoke { 50 } else { 20_000 / n as u64 };
        let (mut split, mut blocking, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            let order = if rep % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            let mut t = [0.0; 2];
            for s in order {
                let wall = phaser_common::fuzzy_loop(n, rounds, s).as_secs_f64();
                t[usize::from(!s)] = wall / rounds as f64;
            }
            split.push(1.0 / t[0]);
            blocking.push(1.0 / t[1]);
            ratio.push(t[1] / t[0]);
        }
        let (sm, sl, sh) = summary(&mut split);
        let (bm, bl, bh) = summary(&mut blocking);
        let (r, rl, rh) = summary(&mut ratio);
        println!(
            "| {n} | {} ({}–{}) | {} ({}–{}) | {r:.2}× ({rl:.2}–{rh:.2}) |",
            rate(sm),
            rate(sl),
            rate(sh),
            rate(bm),
            rate(bl),
            rate(bh)
        );
    }
}
