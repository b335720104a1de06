//! rallypoint racing its peers: `cargo run --release --example compare`.
//!
//! Prints one table per primitive and writes an SVG chart of barrier
//! rounds/s by thread count. Runs in well under a minute on 2 cores.
//!
//! ```text
//! --threads 2,4,8,16   thread counts for the barrier race
//! --ms 300             time budget per contender per thread count
//! --smoke              a few hundred rounds each (CI: keeps it from rotting)
//! --out PATH           where to write the chart (default target/compare.svg)
//! --no-timer           skip the timer section
//! ```
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Example code uses std.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{BarrierKind, Measurement, TimerKind};
use plotters::prelude::*;
use std::time::Duration;

struct Args {
    threads: Vec<usize>,
    budget: Duration,
    max_rounds: u64,
    out: String,
    timer: bool,
    smoke: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        threads: vec![2, 4, 8, 16],
        budget: Duration::from_millis(300),
        max_rounds: u64::MAX,
        out: "target/compare.svg".into(),
        timer: true,
        smoke: false,
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
            }
            "--out" => args.out = value("--out"),
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
    eprintln!("usage: compare [--threads 2,4,8,16] [--ms 300] [--smoke] [--out PATH] [--no-timer]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}

fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
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
        fmt_dur(args.budget),
        if args.smoke {
            " (smoke: at most 400 rounds)"
        } else {
            ""
        }
    );

    // ------------------------------------------------------------ barrier
    let mut results: Vec<(BarrierKind, Vec<(usize, Measurement)>)> =
        BarrierKind::ALL.iter().map(|&k| (k, Vec::new())).collect();
    for &threads in &args.threads {
        println!(
            "Barrier, {threads} threads{}",
            if threads > cores {
                " (oversubscribed)"
            } else {
                ""
            }
        );
        println!(
            "  {:<34} {:>12} {:>11} {:>13} {:>9}",
            "contender", "rounds/s", "per round", "CPU/round", "vs std"
        );
        let mut rows = Vec::new();
        for (kind, series) in &mut results {
            // Pure spinners with more threads than cores crawl (each round
            // needs every spinner scheduled): cap them, and say so.
            let capped = kind.spins_forever() && threads > cores;
            let max_rounds = if capped {
                args.max_rounds.min(2_000)
            } else {
                args.max_rounds
            };
            let m = common::run_barrier(*kind, threads, args.budget, max_rounds);
            series.push((threads, m));
            rows.push((*kind, m, capped));
        }
        let std_rate = rows
            .iter()
            .find(|r| r.0 == BarrierKind::Std)
            .map_or(1.0, |r| r.1.rounds_per_sec());
        for (kind, m, capped) in &rows {
            println!(
                "  {:<34} {:>12.0} {:>11} {:>13} {:>8.1}x{}",
                kind.name(),
                m.rounds_per_sec(),
                fmt_dur(m.wall_per_round()),
                fmt_dur(m.cpu_per_round()),
                m.rounds_per_sec() / std_rate,
                if *capped { "  (capped)" } else { "" }
            );
        }
        if threads == 2 {
            let m = common::ping_pong(args.budget, args.max_rounds.saturating_mul(1024));
            println!(
                "  {:<34} {:>12.0} {:>11} {:>13} {:>8.1}x  (the cache-line floor)",
                "atomic ping-pong (2 threads)",
                m.rounds_per_sec(),
                fmt_dur(m.wall_per_round()),
                fmt_dur(m.cpu_per_round()),
                m.rounds_per_sec() / std_rate,
            );
        }
        println!();
    }
    println!("  rounds/s: higher is better. CPU/round: all threads' CPU time per round;");
    println!(
        "  a spinner that wins by burning every core shows it here. vs std: rounds/s ratio.\n"
    );

    match draw_chart(&args.out, &results, cores) {
        Ok(()) => println!("chart: {}\n", args.out),
        Err(e) => eprintln!("compare: could not write the chart to {}: {e}\n", args.out),
    }

    // ------------------------------------------------------------ timer
    if args.timer {
        let samples = if args.smoke { 10 } else { 60 };
        let interval = Duration::from_millis(2);
        println!(
            "Timer: firing lateness (fired - (start + {})), {samples} timers each",
            fmt_dur(interval)
        );
        println!("  {:<48} {:>10} {:>10}", "contender", "p50", "p99");
        for kind in TimerKind::ALL {
            let mut late = common::lateness(kind, interval, samples);
            println!(
                "  {:<48} {:>10} {:>10}",
                kind.name(),
                fmt_dur(common::quantile(&mut late, 0.5)),
                fmt_dur(common::quantile(&mut late, 0.99))
            );
        }
        println!("\nTimer: cancel-to-joined latency, {samples} long timers each");
        println!("  {:<48} {:>10} {:>10}", "contender", "p50", "p99");
        for kind in TimerKind::ALL {
            // A sleeping thread cannot be woken: give it a short interval.
            let interval = if kind == TimerKind::Sleep {
                Duration::from_millis(20)
            } else {
                Duration::from_secs(3600)
            };
            let mut lat = common::cancel_to_joined(kind, interval, samples);
            println!(
                "  {:<48} {:>10} {:>10}{}",
                kind.name(),
                fmt_dur(common::quantile(&mut lat, 0.5)),
                fmt_dur(common::quantile(&mut lat, 0.99)),
                if kind == TimerKind::Sleep {
                    "  (sleeps out its 20 ms interval)"
                } else {
                    ""
                }
            );
        }
    }
}

fn draw_chart(
    path: &str,
    results: &[(BarrierKind, Vec<(usize, Measurement)>)],
    cores: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let rates = results
        .iter()
        .flat_map(|(_, s)| s.iter().map(|(_, m)| m.rounds_per_sec()));
    let (lo, hi) = rates.fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let counts = || {
        results
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.0 as f64))
    };
    let (min_t, max_t) = (
        counts().fold(f64::MAX, f64::min),
        counts().fold(0f64, f64::max),
    );

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Barrier rounds per second ({cores} cores; log scale)"),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            ((min_t / 1.3)..(max_t * 1.3)).log_scale(),
            ((lo / 2.0).max(0.1)..hi * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("rounds/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    let colors = [
        RGBColor(214, 39, 40),
        BLUE,
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        BLACK,
    ];
    for (i, (kind, series)) in results.iter().enumerate() {
        let color = colors[i % colors.len()];
        let points: Vec<(f64, f64)> = series
            .iter()
            .map(|(t, m)| (*t as f64, m.rounds_per_sec()))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.clone(),
                color.stroke_width(if i == 0 { 3 } else { 2 }),
            ))?
            .label(kind.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}
