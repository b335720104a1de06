//! The round race: `Barrier::wait`, `Phaser::arrive_and_wait` and the
//! barrier peers of `benches/common` at each thread count, repeated and
//! interleaved; the 2-thread floor beside them; the Barrier and Phaser
//! tables.

use crate::common::{self, BarrierKind, Measurement, PingPong, PING_PONG_CHUNK};
use crate::phaser_common::{self, RoundKind};
use crate::stats::{self, fmt_dur, median_by, ratios, summary, times};
use std::time::Duration;

/// The contenders, in the order each repetition runs them at each thread
/// count: the Phaser right after the Barrier, so that the two are measured
/// back to back.
pub(crate) const CONTENDERS: [RoundKind; 6] = [
    RoundKind::Other(BarrierKind::Rallypoint),
    RoundKind::Phaser,
    RoundKind::Other(BarrierKind::Std),
    RoundKind::Other(BarrierKind::Hurdles),
    RoundKind::Other(BarrierKind::Spin),
    RoundKind::Other(BarrierKind::Condvar),
];

/// Where a contender sits in [`CONTENDERS`].
fn index(kind: RoundKind) -> usize {
    CONTENDERS
        .iter()
        .position(|&k| k == kind)
        .expect("a contender")
}

/// Pure spinners: with more threads than cores each of their rounds needs
/// every spinner scheduled at once.
fn spins_forever(kind: RoundKind) -> bool {
    matches!(kind, RoundKind::Other(k) if k.spins_forever())
}

/// Rounds per measurement for a pure spinner with more threads than cores
/// (uncapped, one measurement can take minutes).
const SPINNER_CAP: u64 = 2_000;

/// How the race runs.
pub(crate) struct Settings {
    pub(crate) threads: Vec<usize>,
    pub(crate) budget: Duration,
    pub(crate) max_rounds: u64,
    pub(crate) repeat: usize,
    pub(crate) cores: usize,
}

/// What the race measured.
pub(crate) struct Race {
    settings: Settings,
    /// `runs[contender][thread count]`: one measurement per repetition.
    runs: Vec<Vec<Vec<Measurement>>>,
    /// Whether that contender ran capped at that thread count.
    capped: Vec<Vec<bool>>,
    /// One 2-thread ping-pong per repetition (when 2 is a thread count).
    floor: Vec<PingPong>,
}

/// Runs the race: every contender once per thread count, then the whole
/// race again `repeat` times, so that a burst of load hits every contender
/// alike.
pub(crate) fn run(settings: Settings) -> Race {
    let n = settings.threads.len();
    let mut runs = vec![vec![Vec::new(); n]; CONTENDERS.len()];
    let mut capped = vec![vec![false; n]; CONTENDERS.len()];
    let mut floor = Vec::new();
    for _ in 0..settings.repeat {
        for (ti, &threads) in settings.threads.iter().enumerate() {
            for (ki, &kind) in CONTENDERS.iter().enumerate() {
                capped[ki][ti] = spins_forever(kind) && threads > settings.cores;
                let max_rounds = if capped[ki][ti] {
                    settings.max_rounds.min(SPINNER_CAP)
                } else {
                    settings.max_rounds
                };
                runs[ki][ti].push(phaser_common::run_rounds(
                    kind,
                    threads,
                    settings.budget,
                    max_rounds,
                ));
            }
            if threads == 2 {
                floor.push(common::ping_pong(
                    settings.budget,
                    settings.max_rounds.saturating_mul(2 * PING_PONG_CHUNK),
                ));
            }
        }
    }
    Race {
        settings,
        runs,
        capped,
        floor,
    }
}

impl Race {
    /// Rounds/s of `kind` at thread count `ti`, one per repetition.
    fn rates(&self, kind: RoundKind, ti: usize) -> Vec<f64> {
        self.runs[index(kind)][ti]
            .iter()
            .map(Measurement::rounds_per_sec)
            .collect()
    }

    /// The `(median (min–max)` header suffix.
    fn of_runs(&self) -> String {
        if self.settings.repeat > 1 {
            format!(", median of {} runs (min–max)", self.settings.repeat)
        } else {
            String::new()
        }
    }

    fn oversubscribed(&self, threads: usize) -> &'static str {
        if threads > self.settings.cores {
            " (oversubscribed)"
        } else {
            ""
        }
    }

    /// Median rounds/s per thread count, one series per contender: the
    /// chart's lines.
    pub(crate) fn medians(&self) -> Vec<(&'static str, Vec<f64>)> {
        CONTENDERS
            .iter()
            .map(|&kind| {
                let per_threads = (0..self.settings.threads.len())
                    .map(|ti| stats::spread(&self.rates(kind, ti)).0)
                    .collect();
                (kind.name(), per_threads)
            })
            .collect()
    }

    /// One table per thread count: every barrier's rounds/s against
    /// std's, and the floor at 2 threads. Returns the widest max/min ratio
    /// of a contender's rates over the repetitions.
    pub(crate) fn print_barrier_tables(&self) -> f64 {
        let std = RoundKind::Other(BarrierKind::Std);
        let mut widest_spread = 1.0f64;
        for (ti, &threads) in self.settings.threads.iter().enumerate() {
            println!(
                "Barrier, {threads} threads{}{}",
                self.oversubscribed(threads),
                self.of_runs()
            );
            println!(
                "  {:<38} {:>28} {:>11} {:>13} {:>22}",
                "contender", "rounds/s", "per round", "CPU/round", "vs std"
            );
            let std_rates = self.rates(std, ti);
            for (ki, &kind) in CONTENDERS.iter().enumerate() {
                if kind == RoundKind::Phaser {
                    continue; // its own table
                }
                let ms = &self.runs[ki][ti];
                let rates = self.rates(kind, ti);
                let (_, lo, hi) = stats::spread(&rates);
                if lo > 0.0 {
                    widest_spread = widest_spread.max(hi / lo);
                }
                println!(
                    "  {:<38} {:>28} {:>11} {:>13} {:>22}{}",
                    kind.name(),
                    summary(&rates, |x| format!("{x:.0}")),
                    fmt_dur(median_by(ms, Measurement::wall_per_round)),
                    fmt_dur(median_by(ms, Measurement::cpu_per_round)),
                    summary(&ratios(&rates, &std_rates), times),
                    if self.capped[ki][ti] {
                        "  (capped)"
                    } else {
                        ""
                    }
                );
            }
            if threads == 2 {
                self.print_floor(ti);
            }
            println!();
        }
        println!("  rounds/s: higher is better. CPU/round: all threads' CPU time per round;");
        println!("  a spinner that wins by burning every core shows it here. vs std: rounds/s");
        println!("  ratio, computed per repetition (both measured back to back), then the median.");
        println!(
            "  (capped): a pure spinner with more threads than cores ran at most 2 000 rounds"
        );
        println!("  per measurement (each round needs every spinner scheduled at once; uncapped,");
        println!("  one measurement can take minutes). Its rate is still rounds / elapsed time.");
        if !self.floor.is_empty() {
            println!(
                "  floor: two threads bouncing one atomic word; one round here is one one-way"
            );
            println!("  hand-off of its cache line, in the fastest chunk of {PING_PONG_CHUNK} exchanges of any");
            println!(
                "  repetition (noise only adds time). No 2-thread barrier round can be shorter:"
            );
            println!("  each thread must hear once per round that the other arrived.");
        }
        println!();
        widest_spread
    }

    /// The floor row, and a note naming any contender whose fastest
    /// repetition beat it (then the floor measured too slow: say so rather
    /// than print a floor that is not one).
    fn print_floor(&self, ti: usize) {
        let best = self
            .floor
            .iter()
            .map(|p| p.best)
            .min()
            .expect("a ping-pong per repetition");
        let rate = 1.0 / best.as_secs_f64();
        println!(
            "  {:<38} {:>28} {:>11} {:>13} {:>22}",
            "floor: one-way hand-off (ping-pong)",
            format!("{rate:.0}"),
            fmt_dur(best),
            "",
            "",
        );
        let above: Vec<&str> = CONTENDERS
            .iter()
            .filter(|&&kind| stats::spread(&self.rates(kind, ti)).2 > rate)
            .map(|kind| kind.name())
            .collect();
        if !above.is_empty() {
            println!(
                "  NOTE: not a floor in this run: {} ran faster in some repetition.\n  \
                 No chunk of the ping-pong ran with both threads on a core throughout (a busy\n  \
                 machine); re-run on a quieter one for the floor.",
                above.join(", ")
            );
        }
    }

    /// The Phaser's rounds against the Barrier and the peers that stay
    /// meaningful at every thread count (std; hurdles, a spinner that
    /// yields), each ratio per repetition: the Phaser ran right after the
    /// Barrier in every one.
    pub(crate) fn print_phaser_table(&self) {
        let phaser = RoundKind::Phaser;
        let peers = [
            ("vs Barrier", BarrierKind::Rallypoint),
            ("vs std", BarrierKind::Std),
            ("vs hurdles", BarrierKind::Hurdles),
        ];
        println!(
            "Phaser::arrive_and_wait rounds, the same race{}",
            self.of_runs()
        );
        println!(
            "  {:<20} {:>28} {:>11} {:>13} {:>22} {:>22} {:>22}",
            "threads", "rounds/s", "per round", "CPU/round", peers[0].0, peers[1].0, peers[2].0
        );
        for (ti, &threads) in self.settings.threads.iter().enumerate() {
            let ms = &self.runs[index(phaser)][ti];
            let rates = self.rates(phaser, ti);
            let vs: Vec<String> = peers
                .iter()
                .map(|&(_, peer)| {
                    summary(
                        &ratios(&rates, &self.rates(RoundKind::Other(peer), ti)),
                        times,
                    )
                })
                .collect();
            println!(
                "  {:<20} {:>28} {:>11} {:>13} {:>22} {:>22} {:>22}",
                format!("{threads}{}", self.oversubscribed(threads)),
                summary(&rates, |x| format!("{x:.0}")),
                fmt_dur(median_by(ms, Measurement::wall_per_round)),
                fmt_dur(median_by(ms, Measurement::cpu_per_round)),
                vs[0],
                vs[1],
                vs[2]
            );
        }
        println!("  vs X: the Phaser's rounds/s over X's, per repetition (back to back), then the");
        println!("  median; above 1.00x the Phaser was faster. A Phaser round is a Barrier round");
        println!("  plus dynamic registration; what it costs over Barrier::wait shows here.\n");
    }
}
