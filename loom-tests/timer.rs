//! Loom models of the Timer protocols: cancel racing the fire (and what a
//! `run()` returning `false` sees), cancel racing a second `run`, `wait` and `wait_timeout` racing the fire, a panicking function.
#![cfg(loom)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rallypoint::{Timer, TimerState};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{silence_expected_panic, BothOutcomes};

fn counting_timer(
    interval: Duration,
) -> (Arc<Timer<impl FnOnce() + Send + Sync>>, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let timer = Timer::new(interval, move || {
        c.fetch_add(1, Ordering::Relaxed);
    });
    (Arc::new(timer), count)
}

#[test]
fn cancel_racing_the_deadline_tells_the_truth() {
    loom::model(|| {
        // Finite interval: under loom its deadline counts as passed, so the
        // runner fires as soon as it looks, racing the cancel.
        let (timer, count) = counting_timer(Duration::from_millis(1));
        let t = Arc::clone(&timer);
        let runner = thread::spawn(move || t.run());
        let cancelled = timer.cancel();
        let fired = runner.join().unwrap();
        assert_ne!(fired, cancelled, "exactly one of fired / cancelled");
        assert_eq!(count.load(Ordering::Relaxed), usize::from(fired));
        let expected = if fired {
            TimerState::Fired
        } else {
            TimerState::Cancelled
        };
        assert_eq!(timer.state(), expected);
    });
}

#[test]
fn run_returning_false_sees_the_cancellers_writes() {
    loom::model(|| {
        // `run()` returning `false` because of a cancel synchronises with
        // that cancel (SAFETY.md, "Timer: memory ordering"), whichever of
        // its loads saw `CANCELLED`: the claim's `fetch_or`, or the failed
        // `WAITING -> RUNNING` CAS (the deadline counts as passed under
        // loom, so the runner tries to fire as soon as it has claimed).
        let (timer, count) = counting_timer(Duration::from_millis(1));
        let data = Arc::new(AtomicUsize::new(0));
        let (t, d) = (Arc::clone(&timer), Arc::clone(&data));
        let runner = thread::spawn(move || {
            let fired = t.run();
            // Relaxed: only the timer's Release/Acquire can make it visible.
            (fired, d.load(Ordering::Relaxed))
        });
        data.store(1, Ordering::Relaxed);
        let cancelled = timer.cancel();
        let (fired, seen) = runner.join().unwrap();
        assert_ne!(fired, cancelled, "exactly one of fired / cancelled");
        if !fired {
            assert_eq!(
                seen, 1,
                "run() returned false for a cancel but missed the canceller's write"
            );
        }
        assert_eq!(count.load(Ordering::Relaxed), usize::from(fired));
    });
}

#[test]
fn a_losing_cancel_sees_the_winning_cancellers_writes() {
    loom::model(|| {
        // No runner: the only way a cancel() returns false is the other
        // cancel's win, and that `false` synchronises with it (decided by
        // the first load or by the failed CAS, both Acquire).
        let (timer, count) = counting_timer(Duration::MAX);
        let data = Arc::new(AtomicUsize::new(0));
        let (t, d) = (Arc::clone(&timer), Arc::clone(&data));
        let other = thread::spawn(move || {
            let won = t.cancel();
            // Relaxed: only the timer's Release/Acquire can make it visible.
            (won, d.load(Ordering::Relaxed))
        });
        data.store(1, Ordering::Relaxed);
        let mine = timer.cancel();
        let (theirs, seen) = other.join().unwrap();
        assert_ne!(mine, theirs, "exactly one cancel wins");
        if mine {
            assert_eq!(
                seen, 1,
                "a cancel() that lost to another returned false without its write"
            );
        }
        assert_eq!(count.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn cancel_racing_two_runs() {
    loom::model(|| {
        let (timer, count) = counting_timer(Duration::from_millis(1));
        let runners: Vec<_> = (0..2)
            .map(|_| {
                let t = Arc::clone(&timer);
                thread::spawn(move || t.run())
            })
            .collect();
        let cancelled = timer.cancel();
        let fired = runners
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|&f| f)
            .count();
        assert!(fired <= 1);
        assert_eq!(count.load(Ordering::Relaxed), fired);
        assert_eq!(
            cancelled,
            fired == 0,
            "cancel() is true iff the function never ran"
        );
    });
}

#[test]
fn cancel_wakes_a_parked_runner() {
    loom::model(|| {
        // Duration::MAX: the runner parks untimed; only the cancel's wake can
        // release it (a lost wake-up is a loom deadlock).
        let (timer, count) = counting_timer(Duration::MAX);
        let t = Arc::clone(&timer);
        let runner = thread::spawn(move || t.run());
        assert!(timer.cancel());
        assert!(!runner.join().unwrap());
        assert_eq!(count.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn a_parked_runner_returning_false_sees_the_cancellers_writes() {
    loom::model(|| {
        // Duration::MAX: the runner claims and parks untimed, unless it
        // finds the cancel first. Its `false` must come with the
        // canceller's writes whichever load saw `CANCELLED`: the claim,
        // or the reload after the futex wait (which also returns at once
        // when the word already changed, before the canceller's wake).
        let (timer, count) = counting_timer(Duration::MAX);
        let data = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let (t, d, st) = (Arc::clone(&timer), Arc::clone(&data), Arc::clone(&started));
        let runner = thread::spawn(move || {
            st.store(1, Ordering::Relaxed);
            let fired = t.run();
            // Relaxed: only the timer's Release/Acquire can make it visible.
            (fired, d.load(Ordering::Relaxed))
        });
        // Loom does not run a new thread before this one's next step by
        // itself: let the runner start, so that it can claim and park.
        while started.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        data.store(1, Ordering::Relaxed);
        assert!(timer.cancel());
        let (fired, seen) = runner.join().unwrap();
        assert!(!fired);
        assert_eq!(
            seen, 1,
            "a parked runner's run() returned false but missed the canceller's write"
        );
        assert_eq!(count.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn wait_racing_the_fire_sees_the_functions_effects() {
    loom::model(|| {
        let (timer, count) = counting_timer(Duration::ZERO);
        let t = Arc::clone(&timer);
        let runner = thread::spawn(move || t.run());
        timer.wait();
        // Relaxed: only the timer's Release/Acquire can make this visible.
        assert_eq!(count.load(Ordering::Relaxed), 1);
        assert_eq!(timer.state(), TimerState::Fired);
        assert!(runner.join().unwrap());
    });
}

/// The timed return path: a `wait_timeout` that returns `true` sees the
/// function's effects. Under loom every finite deadline has passed at each
/// check, so the wait races the fire at every step; both outcomes must
/// occur across the executions.
#[test]
fn wait_timeout_returning_true_sees_the_functions_effects() {
    static OUTCOMES: BothOutcomes = BothOutcomes::new();
    loom::model(|| {
        let (timer, count) = counting_timer(Duration::ZERO);
        let t = Arc::clone(&timer);
        let runner = thread::spawn(move || t.run());
        let finished = timer.wait_timeout(Duration::from_secs(1));
        if finished {
            // Relaxed: only the timer's Release/Acquire can make this visible.
            assert_eq!(count.load(Ordering::Relaxed), 1);
        }
        OUTCOMES.record(finished);
        assert!(runner.join().unwrap());
    });
    OUTCOMES.assert_both("timed out", "finished");
}

#[test]
fn state_and_is_finished_publish_the_functions_effects() {
    for by_state in [false, true] {
        loom::model(move || {
            // A caller who sees `Fired` (or `is_finished()`) sees what the
            // function did: those loads are Acquire, pairing with the
            // FIRED swap (Release).
            let (timer, count) = counting_timer(Duration::ZERO);
            let t = Arc::clone(&timer);
            let runner = thread::spawn(move || t.run());
            let finished = || {
                if by_state {
                    timer.state() == TimerState::Fired
                } else {
                    timer.is_finished()
                }
            };
            while !finished() {
                thread::yield_now();
            }
            // Relaxed: only the timer's Release/Acquire can make it visible.
            assert_eq!(
                count.load(Ordering::Relaxed),
                1,
                "saw the timer finished (by_state: {by_state}) but not the function's write"
            );
            assert!(runner.join().unwrap());
        });
    }
}

#[test]
fn panicking_function_still_finishes_the_timer() {
    silence_expected_panic("timer function failed");
    loom::model(|| {
        let timer = Arc::new(Timer::new(Duration::ZERO, || {
            panic!("timer function failed")
        }));
        let t = Arc::clone(&timer);
        let runner = thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.run()))
        });
        timer.wait();
        assert_eq!(timer.state(), TimerState::Fired);
        assert!(runner.join().unwrap().is_err());
    });
}
