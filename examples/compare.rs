//! rallypoint racing its peers: `cargo run --release --example compare`.
//!
//! Prints one table per primitive and writes an SVG chart of barrier
//! rounds/s by thread count. The barrier race is run `--repeat` times,
//! interleaved (every contender once per thread count, then again), and
//! each row shows the median with the min–max of the repetitions; one run's
//! ratios on a shared machine are not what the next run shows. About a
//! minute on 2 cores.
//!
//! ```text
//! --threads 2,4,8,16   thread counts for the barrier race
//! --ms 300             time budget per contender per thread count per repetition
//! --repeat 3           repetitions of the whole barrier race (medians, min–max)
//! --smoke              a few hundred rounds each, one repetition (CI: keeps it from rotting)
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
    repeat: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        threads: vec![2, 4, 8, 16],
        budget: Duration::from_millis(300),
        max_rounds: u64::MAX,
        out: "target/compare.svg".into(),
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
    eprintln!(
        "usage: compare [--threads 2,4,8,16] [--ms 300] [--repeat 3] [--smoke] [--out PATH] [--no-timer]"
    );
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
    let load_before = load_average();
    // runs[kind][thread count] = one measurement per repetition. The whole
    // race repeats, so a burst of load hits every contender alike.
    let mut runs: Vec<Vec<Vec<Measurement>>> =
        vec![vec![Vec::new(); args.threads.len()]; BarrierKind::ALL.len()];
    let mut capped = vec![vec![false; args.threads.len()]; BarrierKind::ALL.len()];
    let mut floor = Vec::new();
    for _ in 0..args.repeat {
        for (ti, &threads) in args.threads.iter().enumerate() {
            for (ki, &kind) in BarrierKind::ALL.iter().enumerate() {
                // Pure spinners with more threads than cores crawl (each
                // round needs every spinner scheduled): cap them, and say so.
                capped[ki][ti] = kind.spins_forever() && threads > cores;
                let max_rounds = if capped[ki][ti] {
                    args.max_rounds.min(2_000)
                } else {
                    args.max_rounds
                };
                runs[ki][ti].push(common::run_barrier(kind, threads, args.budget, max_rounds));
            }
            if threads == 2 {
                floor.push(common::ping_pong(
                    args.budget,
                    args.max_rounds.saturating_mul(1024),
                ));
            }
        }
    }
    let load_after = load_average();

    let std_index = BarrierKind::ALL
        .iter()
        .position(|&k| k == BarrierKind::Std)
        .expect("std is a contender");
    let mut widest_spread = 1.0f64;
    for (ti, &threads) in args.threads.iter().enumerate() {
        println!(
            "Barrier, {threads} threads{}{}",
            if threads > cores {
                " (oversubscribed)"
            } else {
                ""
            },
            if args.repeat > 1 {
                format!(", median of {} runs (min–max)", args.repeat)
            } else {
                String::new()
            }
        );
        println!(
            "  {:<34} {:>24} {:>11} {:>13} {:>20}",
            "contender", "rounds/s", "per round", "CPU/round", "vs std"
        );
        let std_runs = &runs[std_index][ti];
        for (ki, kind) in BarrierKind::ALL.iter().enumerate() {
            let ms = &runs[ki][ti];
            let rates: Vec<f64> = ms.iter().map(Measurement::rounds_per_sec).collect();
            // The ratio per repetition: both sides measured back to back.
            let ratios: Vec<f64> = ms
                .iter()
                .zip(std_runs)
                .map(|(m, s)| m.rounds_per_sec() / s.rounds_per_sec())
                .collect();
            let (rate, rate_lo, rate_hi) = spread(&rates);
            let (ratio, ratio_lo, ratio_hi) = spread(&ratios);
            if rate_lo > 0.0 {
                widest_spread = widest_spread.max(rate_hi / rate_lo);
            }
            let wall = median_by(ms, Measurement::wall_per_round);
            let cpu = median_by(ms, Measurement::cpu_per_round);
            println!(
                "  {:<34} {:>24} {:>11} {:>13} {:>20}{}",
                kind.name(),
                with_range(rate, rate_lo, rate_hi, args.repeat, |x| format!("{x:.0}")),
                fmt_dur(wall),
                fmt_dur(cpu),
                with_range(ratio, ratio_lo, ratio_hi, args.repeat, |x| format!(
                    "{x:.1}x"
                )),
                if capped[ki][ti] { "  (capped)" } else { "" }
            );
        }
        if threads == 2 && !floor.is_empty() {
            let rates: Vec<f64> = floor.iter().map(Measurement::rounds_per_sec).collect();
            let (rate, lo, hi) = spread(&rates);
            println!(
                "  {:<34} {:>24} {:>11} {:>13} {:>20}  (the cache-line floor)",
                "atomic ping-pong (2 threads)",
                with_range(rate, lo, hi, args.repeat, |x| format!("{x:.0}")),
                fmt_dur(median_by(&floor, Measurement::wall_per_round)),
                fmt_dur(median_by(&floor, Measurement::cpu_per_round)),
                "",
            );
        }
        println!();
    }
    println!("  rounds/s: higher is better. CPU/round: all threads' CPU time per round;");
    println!("  a spinner that wins by burning every core shows it here. vs std: rounds/s");
    println!("  ratio, computed per repetition (both measured back to back), then the median.");
    println!("  (capped): a pure spinner with more threads than cores ran at most 2 000 rounds");
    println!("  per measurement (each round needs every spinner scheduled at once; uncapped,");
    println!("  one measurement can take minutes). Its rate is still rounds / elapsed time.\n");
    let loaded = [load_before, load_after]
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
    if args.repeat > 1 && widest_spread > 2.0 {
        println!(
            "WARNING: a contender's rate varied {widest_spread:.1}x between repetitions: the\n\
             machine's load changed during the race. Quote medians with their min–max.\n"
        );
    }

    match draw_chart(&args.out, &args.threads, &runs, cores) {
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

/// The median, min and max of `xs` (not empty).
fn spread(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    (median, v[0], v[v.len() - 1])
}

/// The median of one duration of each measurement.
fn median_by(ms: &[Measurement], f: impl Fn(&Measurement) -> Duration) -> Duration {
    let secs: Vec<f64> = ms.iter().map(|m| f(m).as_secs_f64()).collect();
    Duration::from_secs_f64(spread(&secs).0)
}

/// `median (min–max)`, or the value alone for a single run.
fn with_range(median: f64, lo: f64, hi: f64, runs: usize, f: impl Fn(f64) -> String) -> String {
    if runs > 1 {
        format!("{} ({}–{})", f(median), f(lo), f(hi))
    } else {
        f(median)
    }
}

/// The 1-minute load average, where the OS reports one (Linux).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The chart: medians of rounds/s against thread count, both on log scales;
/// the x axis labelled at the thread counts measured, a dashed line where
/// threads start to outnumber cores, and the legend beside the plot.
fn draw_chart(
    path: &str,
    threads: &[usize],
    runs: &[Vec<Vec<Measurement>>],
    cores: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let medians: Vec<Vec<f64>> = runs
        .iter()
        .map(|per_threads| {
            per_threads
                .iter()
                .map(|ms| {
                    let rates: Vec<f64> = ms.iter().map(Measurement::rounds_per_sec).collect();
                    spread(&rates).0
                })
                .collect()
        })
        .collect();
    let (lo, hi) = medians
        .iter()
        .flatten()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    // x = log2(threads), so that 2, 4, 8, 16 are evenly spaced and labelled.
    let xs: Vec<f64> = threads.iter().map(|&t| (t as f64).log2()).collect();
    let (min_x, max_x) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(720);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("Barrier rounds per second, median ({cores} cores; log scales)"),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (min_x - 0.3)..(max_x + 0.3),
            ((lo / 2.0).max(0.1)..hi * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("rounds/s")
        // Ticks at whole powers of two (2, 4, 8, 16): label those only.
        .x_labels(((max_x - min_x).round() as usize + 2).max(2))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{:.0}", x.exp2())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    let colors = [
        RGBColor(214, 39, 40),
        BLUE,
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        BLACK,
    ];
    // Where threads start to outnumber cores: between `cores` and the next
    // thread count measured.
    let cores_x = (cores as f64).log2() + 0.15;
    if cores_x < max_x {
        let dashes = (0..40).map(|i| {
            let y0 = (lo / 2.0).max(0.1) * (hi * 4.0 / (lo / 2.0).max(0.1)).powf(i as f64 / 40.0);
            let y1 = (lo / 2.0).max(0.1)
                * (hi * 4.0 / (lo / 2.0).max(0.1)).powf((i as f64 + 0.5) / 40.0);
            PathElement::new(vec![(cores_x, y0), (cores_x, y1)], BLACK.mix(0.5))
        });
        chart.draw_series(dashes)?;
        chart.draw_series(std::iter::once(Text::new(
            format!("threads > {cores} cores →"),
            (cores_x + 0.05, hi * 1.6),
            ("sans-serif", 14),
        )))?;
    }
    for (i, kind) in BarrierKind::ALL.iter().enumerate() {
        let color = colors[i % colors.len()];
        let points: Vec<(f64, f64)> = xs.iter().copied().zip(medians[i].iter().copied()).collect();
        chart.draw_series(LineSeries::new(
            points.clone(),
            color.stroke_width(if i == 0 { 3 } else { 2 }),
        ))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
        // The legend, beside the plot rather than over the data.
        let y = 60 + 28 * i as i32;
        legend.draw(&PathElement::new(
            vec![(10, y), (40, y)],
            color.stroke_width(3),
        ))?;
        legend.draw(&Text::new(kind.name(), (48, y - 8), ("sans-serif", 15)))?;
    }
    root.present()?;
    Ok(())
}
