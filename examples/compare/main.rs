//! rallypoint racing its peers: `cargo run --release --example compare`.
//!
//! Every primitive against its peers, side by side in one process, with
//! the contenders and measurements the criterion benches use
//! (`benches/common`, `benches/phaser_common`, `benches/timer_service`):
//!
//! - Barrier rounds against std, hurdles, spin and a CPython-shaped
//!   Mutex+Condvar barrier at each thread count, with the 2-thread floor
//!   (`barrier.rs`);
//! - Phaser rounds in the same race, against Barrier and the peers;
//! - TimerQueue against a `Mutex<BinaryHeap>` + `Condvar` timer service
//!   (`timer_queue.rs`);
//! - Timer's firing lateness and cancel-to-joined latency against a
//!   Condvar thread and a sleeping thread (`timer.rs`).
//!
//! The barrier and TimerQueue races run `--repeat` times, interleaved
//! (every contender once, then again), and print each rate as the median
//! with the min–max of the repetitions and each ratio per repetition (both
//! sides measured back to back), then its median: one run's ratios on a
//! shared machine are not what the next run shows. Writes an SVG chart of
//! the rounds/s by thread count. About a minute on 2 cores; `--smoke` a few
//! seconds.
//!
//! ```text
//! --threads 2,4,8,16   thread counts for the barrier race
//! --ms 300             time budget per contender per thread count per repetition
//!                      (and per thread count of the TimerQueue's pairs/s)
//! --repeat 3           repetitions of the barrier and TimerQueue races
//! --smoke              a few hundred rounds each, one repetition (CI: keeps it from rotting)
//! --out PATH           where to write the chart (default $CARGO_TARGET_DIR/compare.svg,
//!                      or target/compare.svg)
//! --no-timer-queue     skip the TimerQueue race
//! --no-timer           skip the Timer race
//! ```
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Example code uses std.

#[path = "../../benches/common/mod.rs"]
mod common;
#[path = "../../benches/phaser_common/mod.rs"]
mod phaser_common;
#[path = "../../benches/timer_service/mod.rs"]
mod timer_service;

mod barrier;
mod chart;
mod stats;
mod timer;
mod timer_queue;

use std::path::PathBuf;
use std::time::Duration;

struct Args {
    threads: Vec<usize>,
    budget: Duration,
    max_rounds: u64,
    out: PathBuf,
    timer_queue: bool,
    timer: bool,
    smoke: bool,
    repeat: usize,
}

/// Where the chart goes by default: the target directory cargo builds in,
/// `CARGO_TARGET_DIR` when the environment sets it (cargo passes it through
/// to `cargo run`), else `target` (relative, as cargo resolves both).
fn default_out() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    dir.join("compare.svg")
}

fn parse_args() -> Args {
    let mut args = Args {
        threads: vec![2, 4, 8, 16],
        budget: Duration::from_millis(300),
        max_rounds: u64::MAX,
        out: default_out(),
        timer_queue: true,
        timer: true,
        smoke: false,
        repeat: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--threads" => {
                args.threads = value("--threads")
                    .split(',')
                    .map(|t| match t.trim().parse::<usize>() {
                        Ok(n) if (2..=rallypoint::Barrier::MAX_PARTIES).contains(&n) => n,
                        _ => usage(&format!("bad thread count {t:?} (2..=65535)")),
                    })
                    .collect();
            }
            "--ms" => {
                let ms = value("--ms")
                    .parse::<u64>()
                    .unwrap_or_else(|_| usage("--ms takes milliseconds"));
                args.budget = Duration::from_millis(ms.max(1));
            }
            "--smoke" => {
                args.smoke = true;
                args.max_rounds = 400;
                args.budget = Duration::from_millis(200);
                args.repeat = 1;
            }
            "--repeat" => {
                args.repeat = match value("--repeat").parse::<usize>() {
                    Ok(n) if (1..=100).contains(&n) => n,
                    _ => usage("--repeat takes a count from 1 to 100"),
                };
            }
            "--out" => args.out = value("--out").into(),
            "--no-timer-queue" => args.timer_queue = false,
            "--no-timer" => args.timer = false,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown flag {other:?}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("compare: {problem}");
    }
    eprintln!(
        "usage: compare [--threads 2,4,8,16] [--ms 300] [--repeat 3] [--smoke] [--out PATH] \
         [--no-timer-queue] [--no-timer]"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}

fn main() {
    let args = parse_args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "rallypoint compare: {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!(
        "budget {} per contender per thread count{}\n",
        stats::fmt_dur(args.budget),
        if args.smoke {
            " (smoke: at most 400 rounds)"
        } else {
            ""
        }
    );

    // ------------------------------------------------------------ rounds
    let load_before = stats::load_average();
    let race = barrier::run(barrier::Settings {
        threads: args.threads.clone(),
        budget: args.budget,
        max_rounds: args.max_rounds,
        repeat: args.repeat,
        cores,
    });
    let load_after = stats::load_average();
    let widest_spread = race.print_barrier_tables();
    race.print_phaser_table();
    warn_if_noisy([load_before, load_after], cores, args.repeat, widest_spread);
    match chart::draw(&args.out, &args.threads, &race.medians(), cores) {
        Ok(()) => println!("chart: {}\n", args.out.display()),
        Err(e) => eprintln!(
            "compare: could not write the chart to {}: {e}\n",
            args.out.display()
        ),
    }

    // ------------------------------------------------------------ timer queue
    if args.timer_queue {
        let sizes = if args.smoke {
            timer_queue::Sizes {
                batches: 3,
                batch: 100,
                pending: 1_000,
                pairs_for: Duration::from_millis(20),
                late_k: 100,
                late_span: Duration::from_millis(20),
            }
        } else {
            timer_queue::Sizes {
                batches: 15,
                batch: 10_000,
                pending: 1_000_000,
                pairs_for: args.budget,
                late_k: 2_000,
                late_span: Duration::from_millis(200),
            }
        };
        timer_queue::race(&sizes, args.repeat, cores);
    }

    // ------------------------------------------------------------ timer
    if args.timer {
        timer::race(if args.smoke { 10 } else { 60 });
    }
}

/// Warns when the load average (before or after the race) or the spread of
/// a contender's rates says the machine was busy.
fn warn_if_noisy(loads: [Option<f64>; 2], cores: usize, repeat: usize, widest_spread: f64) {
    let loaded = loads
        .into_iter()
        .flatten()
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
    if let Some(load) = loaded.filter(|&l| l > 0.5 * cores as f64) {
        println!(
            "WARNING: the machine looks busy (load average {load:.1} on {cores} cores): other\n\
             processes compete with every contender, and spinners suffer most. Compare\n\
             ratios, not absolute rates, and re-run on a quiet machine before quoting them.\n"
        );
    }
    if repeat > 1 && widest_spread > 2.0 {
        println!(
            "WARNING: a contender's rate varied {widest_spread:.1}x between repetitions: the\n\
             machine's load changed during the race. Quote medians with their min–max.\n"
        );
    }
}
