//! Regression tests for Barrier defects found in review, each named after
//! the bug it pins. (The happens-before defect of timed waiters is pinned by
//! loom models: `timed_waiter_that_finds_the_release_*` in
//! `loom-tests/barrier.rs`.)
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use common::{poll, Gate};
use rallypoint::{Barrier, BarrierError};
use std::thread;
use std::time::{Duration, Instant};

/// `abort()` while the leader runs the action used to keep `SLEEPERS` and
/// wake nobody: a thread already parked arriving for the next generation
/// stayed parked until the action ended (or its own timeout). It must get
/// `Err(Broken)` promptly, while the finishing generation still passes.
#[test]
fn abort_during_the_action_fails_parked_arrivals_promptly() {
    let _dog = common::watchdog();
    let gate = Gate::default();
    let barrier = Barrier::with_action(2, || gate.hold());
    thread::scope(|s| {
        let first = s.spawn(|| barrier.wait());
        let second = s.spawn(|| barrier.wait());
        gate.wait_entered();
        // Arrives for the next generation; the current one is full, so it
        // spins, yields and then parks. Give it ample time to park.
        let next = s.spawn(|| {
            let start = Instant::now();
            (
                barrier.wait_timeout(Duration::from_secs(60)),
                start.elapsed(),
            )
        });
        thread::sleep(Duration::from_millis(200));
        assert!(
            !next.is_finished(),
            "the arrival must wait while the action runs"
        );

        barrier.abort();
        // What a pending abort reports: broken from now on, while the full
        // generation's other party is still blocked and will pass.
        assert!(barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 1);

        // Promptly: long before the action ends (it ends only when this
        // test opens the gate) or the arrival's 60 s timeout.
        let start = Instant::now();
        while !next.is_finished() && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(1));
        }
        let prompt = next.is_finished();
        gate.open(); // Never leave the action blocked, pass or fail.
        assert!(
            prompt,
            "a parked arrival was not failed by abort() during the action"
        );
        let (result, waited) = next.join().unwrap();
        assert_eq!(result, Err(BarrierError::Broken));
        assert!(
            waited < Duration::from_secs(10),
            "failed only after {waited:?}"
        );

        // The finishing generation passes; the next one is broken.
        let (a, b) = (first.join().unwrap(), second.join().unwrap());
        assert!(
            a.is_ok() && b.is_ok(),
            "finishing generation: {a:?} / {b:?}"
        );
    });
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    barrier.reset();
    assert!(!barrier.is_broken());
    gate.open();
    thread::scope(|s| {
        let other = s.spawn(|| barrier.wait());
        assert!(barrier.wait().is_ok());
        assert!(other.join().unwrap().is_ok());
    });
}

/// `reset()` during the action undoes a pending abort: the finishing
/// generation passes, and the barrier is usable again afterwards.
#[test]
fn reset_during_the_action_undoes_a_pending_abort() {
    let _dog = common::watchdog();
    let gate = Gate::default();
    let barrier = Barrier::with_action(2, || gate.hold());
    thread::scope(|s| {
        let first = s.spawn(|| barrier.wait());
        let second = s.spawn(|| barrier.wait());
        gate.wait_entered();
        barrier.abort();
        assert!(barrier.is_broken());
        barrier.reset();
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 1);
        gate.open();
        assert!(first.join().unwrap().is_ok() && second.join().unwrap().is_ok());
    });
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
}

/// A timed party whose own deadline passed while the barrier was broken by
/// someone else reports `TimedOut`, not `Broken` (rule 4).
#[test]
fn broken_party_whose_own_deadline_passed_reports_timed_out() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(3);
    thread::scope(|s| {
        let short = s.spawn(|| barrier.wait_timeout(Duration::from_millis(50)));
        poll("the short waiter", || barrier.n_waiting() == 1);
        // Arrives second, with a long timeout: broken by the short one.
        let long = barrier.wait_timeout(Duration::from_secs(60));
        assert_eq!(short.join().unwrap(), Err(BarrierError::TimedOut));
        assert_eq!(long, Err(BarrierError::Broken));
    });
}

/// The stalled-waiter wrap-around (narrow layout: a 19-bit `gen`).
///
/// A waiter of generation 0 parks; a signal handler then holds it (as a
/// preemption, a debugger or a slow handler would) while two other threads
/// run 2^19 generations, bringing a 19-bit `gen` back to 0. Before the fix,
/// the stalled waiter then read that later generation as its own: with the
/// barrier aborted there, it "departed" from it and returned `Err(Broken)`
/// for a generation that had passed (and, timed, could corrupt the word).
/// Now the generation that would bring `gen` back into its half waits for
/// it (`src/barrier/lag.rs`), and it returns `Ok`.
///
/// Runs on every layout: on the 64-bit one (45-bit `gen`) nothing waits and
/// the answer is the same. `cargo test` runs it; run the narrow layout with
/// `RUSTFLAGS="--cfg rallypoint_narrow_state"`.
// Not with the test-only 1-bit `gen` (`rallypoint_tiny_gen`), whose laps
// are two generations long: the loom models cover that.
#[cfg(all(target_os = "linux", not(miri), not(rallypoint_tiny_gen)))]
#[allow(unsafe_code)] // A signal handler, and pthread_kill to call it.
mod stalled_waiter {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// The signal handler holds its thread while this is true.
    static HOLD: AtomicBool = AtomicBool::new(false);
    /// The handler has started holding.
    static HELD: AtomicBool = AtomicBool::new(false);

    extern "C" fn hold_here(_: libc::c_int) {
        HELD.store(true, Ordering::SeqCst);
        let nap = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        while HOLD.load(Ordering::SeqCst) {
            // SAFETY: nanosleep is async-signal-safe; `nap` outlives the call.
            unsafe { libc::nanosleep(&nap, std::ptr::null_mut()) };
        }
    }

    /// 2^19 generations: one full lap of the narrow layout's `gen`.
    const LAP: u64 = 1 << 19;

    /// On the way out, pass or fail: lets the held waiter go and breaks
    /// the barrier, so that a failed assertion fails the test instead of
    /// leaving every thread of the scope blocked (and the test hanging).
    struct Release<'a>(&'a Barrier);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            HOLD.store(false, Ordering::SeqCst);
            if thread::panicking() {
                self.0.abort();
            }
        }
    }

    fn stall_across_a_lap(timed: bool) {
        let barrier = Barrier::new(2);
        let done = AtomicU64::new(0);
        // SAFETY: installs a handler that only touches atomics and
        // nanosleep (async-signal-safe); SIGUSR2 is used by no other test.
        let previous = unsafe {
            libc::signal(
                libc::SIGUSR2,
                hold_here as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
        assert_ne!(previous, libc::SIG_ERR);
        HOLD.store(true, Ordering::SeqCst);
        HELD.store(false, Ordering::SeqCst);

        thread::scope(|s| {
            let _release = Release(&barrier);
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let barrier = &barrier;
            let late = s.spawn(move || {
                // SAFETY: pthread_self has no preconditions.
                tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
                if timed {
                    barrier.wait_timeout(Duration::from_secs(600))
                } else {
                    barrier.wait()
                }
            });
            let tid = tid_rx.recv().unwrap();
            poll("the late waiter to arrive", || barrier.n_waiting() == 1);
            thread::sleep(Duration::from_millis(100)); // Let it park.
                                                       // SAFETY: `tid` is a live thread of this scope (joined below).
            assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR2) }, 0);
            poll("the signal handler to hold the late waiter", || {
                HELD.load(Ordering::SeqCst)
            });

            // Generation 0 completes with the late waiter counted, then two
            // threads run LAP - 1 more, bringing `gen` back to 0, where the
            // first of them arrives once more and stays.
            assert!(barrier.wait().is_ok());
            let runners = [0, 1].map(|id| {
                let (barrier, done) = (barrier, &done);
                s.spawn(move || {
                    for _ in 0..LAP - 1 {
                        barrier.wait().expect("a lap generation failed");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    (id == 0).then(|| barrier.wait())
                })
            });
            let lapped =
                || done.load(Ordering::Relaxed) == 2 * (LAP - 1) && barrier.n_waiting() == 1;
            // Either the lap completes (the 64-bit layout, or the bug), or
            // its progress stops: the generation that would bring `gen` back
            // waits for the held waiter. Tell which, without hanging.
            let mut last = u64::MAX;
            let mut still_since = Instant::now();
            let started = Instant::now();
            let completed = loop {
                if lapped() {
                    break true;
                }
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    (last, still_since) = (now, Instant::now());
                } else if still_since.elapsed() > Duration::from_secs(3) {
                    // 3 s, not less: on a busy 2-core machine the runners
                    // can be descheduled for half a second, which a shorter
                    // limit misread as "stopped" (and failed the test on
                    // the 64-bit layout, whose lap always completes).
                    break false;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "the lap neither ended nor stopped"
                );
                thread::sleep(Duration::from_millis(5));
            };
            if completed {
                // `gen` is back at the held waiter's generation, with one
                // party waiting: break that generation, then let it go.
                barrier.abort();
                HOLD.store(false, Ordering::SeqCst);
            } else {
                assert!(
                    last >= 2 * (LAP / 2 - 1),
                    "progress stopped after only {last} waits, before half a lap"
                );
                // Stopped: the leader waits for the held straggler, the
                // other runner for the release. Both must park, not spin
                // (the held thread naps in 1 ms steps).
                let before = common::cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID);
                thread::sleep(Duration::from_secs(1));
                let used = common::cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - before;
                assert!(
                    used < Duration::from_millis(400),
                    "while the lap waited for the held waiter the process used \
                     {used:?} of CPU in 1 s: a waiter spins instead of parking"
                );
                HOLD.store(false, Ordering::SeqCst);
                poll("the lap to complete once the late waiter left", lapped);
                barrier.abort();
            }
            assert!(
                late.join().unwrap().is_ok(),
                "the late waiter misread a later generation as its own"
            );
            let [first, second] = runners.map(|r| r.join().unwrap());
            assert_eq!(first, Some(Err(BarrierError::Broken)));
            assert_eq!(second, None);
        });
        // The word is sane: reset, and a fresh generation passes.
        assert!(barrier.is_broken());
        barrier.reset();
        assert_eq!(barrier.n_waiting(), 0);
        thread::scope(|s| {
            let other = s.spawn(|| barrier.wait());
            assert!(barrier.wait().is_ok());
            assert!(other.join().unwrap().is_ok());
        });
        // SAFETY: restores the handler this test replaced.
        unsafe { libc::signal(libc::SIGUSR2, previous) };
    }

    /// Both variants share one signal; run them in one test, in turn.
    #[test]
    fn stalled_waiter_never_misreads_its_generation_after_gen_wraps() {
        // 2^19+ generations per lap: a longer leash than the default.
        let _dog = common::watchdog_for(std::time::Duration::from_secs(300));
        stall_across_a_lap(false);
        stall_across_a_lap(true);
    }
}
