//! The Timer race: `Timer::start` against a `Condvar::wait_timeout` thread
//! (Python's `threading.Timer`) and a sleeping thread, from
//! `benches/common`: firing lateness and cancel-to-joined latency.

use crate::common::{self, TimerKind};
use crate::stats::fmt_dur;
use std::time::Duration;

/// Runs both measurements, `samples` timers per contender each, and prints
/// their p50 and p99.
pub(crate) fn race(samples: usize) {
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
