//! Loom models of what happens *after* a break: every kind of break (abort,
//! a timeout, a panicking action, reset) wakes parties parked untimed, every
//! broken party departs (so `reset()` can finish), and the barrier then
//! passes a full generation again. A party left parked, or a count that
//! never drains, is a loom deadlock: a failure, not a hang.
//!
//! Under loom every finite deadline counts as passed (src/futex/loom.rs), so
//! a timed party here is one whose own deadline has passed.
#![cfg(loom)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use rallypoint::{Barrier, BarrierError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::silence_expected_panic;

/// Spins (loom-aware) until `f` holds.
fn until(mut f: impl FnMut() -> bool) {
    while !f() {
        thread::yield_now();
    }
}

/// A one-way signal from one thread to another.
#[derive(Default)]
struct Signal(AtomicBool);

impl Signal {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
    fn wait(&self) {
        until(|| self.0.load(Ordering::Acquire));
    }
}

/// reset() with a parked, untimed waiter: the waiter must be woken with
/// `Broken`, depart, and then both parties pass, while the reset's victim
/// may still be leaving when the next `wait` starts.
#[test]
fn reset_wakes_a_parked_untimed_waiter_then_a_generation_passes() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let victim = thread::spawn(move || (b.wait(), b.wait()));
        until(|| barrier.n_waiting() == 1);
        barrier.reset();
        let mine = barrier.wait();
        let (first, second) = victim.join().unwrap();
        assert_eq!(first, Err(BarrierError::Broken), "reset's victim");
        assert!(second.is_ok() && mine.is_ok(), "{second:?} / {mine:?}");
        assert!(!barrier.is_broken());
    });
}

/// abort() with a parked, untimed waiter, then reset() (possibly before the
/// victim has left), then a passing generation.
#[test]
fn abort_then_reset_then_a_generation_passes() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let reset_done = Arc::new(Signal::default());
        let (b, r) = (Arc::clone(&barrier), Arc::clone(&reset_done));
        let victim = thread::spawn(move || {
            let first = b.wait();
            r.wait();
            (first, b.wait())
        });
        until(|| barrier.n_waiting() == 1);
        barrier.abort();
        barrier.reset();
        reset_done.set();
        let mine = barrier.wait();
        let (first, second) = victim.join().unwrap();
        assert_eq!(first, Err(BarrierError::Broken), "abort's victim");
        assert!(second.is_ok() && mine.is_ok(), "{second:?} / {mine:?}");
    });
}

/// A timed party's timeout breaks the generation (it departs as it breaks),
/// then reset() and a passing generation. A timed-out party that stays
/// counted leaves reset() waiting for it forever: a deadlock.
#[test]
fn timeout_then_reset_then_a_generation_passes() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let reset_done = Arc::new(Signal::default());
        let (b, r) = (Arc::clone(&barrier), Arc::clone(&reset_done));
        let timed = thread::spawn(move || {
            let first = b.wait_timeout(Duration::from_secs(1));
            r.wait();
            (first, b.wait())
        });
        until(|| barrier.is_broken());
        barrier.reset();
        reset_done.set();
        let mine = barrier.wait();
        let (first, second) = timed.join().unwrap();
        assert_eq!(first, Err(BarrierError::TimedOut));
        assert!(second.is_ok() && mine.is_ok(), "{second:?} / {mine:?}");
    });
}

/// A panicking action breaks the generation; the other party (spinning or
/// parked untimed) gets `Broken`; reset() and a passing generation follow.
#[test]
fn action_panic_then_reset_then_a_generation_passes() {
    silence_expected_panic("action failed");
    loom::model(|| {
        let panic_next = Arc::new(AtomicBool::new(true));
        let p = Arc::clone(&panic_next);
        let barrier = Arc::new(Barrier::with_action(2, move || {
            if p.swap(false, Ordering::Relaxed) {
                panic!("action failed");
            }
        }));
        let reset_done = Arc::new(Signal::default());
        let (b, r) = (Arc::clone(&barrier), Arc::clone(&reset_done));
        let other = thread::spawn(move || {
            let first = catch_unwind(AssertUnwindSafe(|| b.wait()));
            r.wait();
            (first, b.wait())
        });
        let first = catch_unwind(AssertUnwindSafe(|| barrier.wait()));
        barrier.reset();
        reset_done.set();
        let mine = barrier.wait();
        let (their_first, second) = other.join().unwrap();
        match (first, their_first) {
            (Err(_), Ok(r)) | (Ok(r), Err(_)) => assert_eq!(r, Err(BarrierError::Broken)),
            _ => panic!("exactly one party (the leader) must see the panic"),
        }
        assert!(second.is_ok() && mine.is_ok(), "{second:?} / {mine:?}");
    });
}

/// A timeout breaks a 3-party generation while an untimed party is parked:
/// the break must wake it (two threads, so cheap at the full preemption
/// bound). A timeout break that keeps SLEEPERS leaves it parked: deadlock.
#[test]
fn timeout_wakes_a_parked_untimed_party() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let b = Arc::clone(&barrier);
        let untimed = thread::spawn(move || b.wait());
        let mine = barrier.wait_timeout(Duration::from_secs(1));
        let theirs = untimed.join().unwrap();
        match (mine, theirs) {
            // The timed party arrived first and timed out at once, or second
            // and broke the generation the untimed one waits in.
            (Err(BarrierError::TimedOut), Err(BarrierError::Broken)) => {}
            other => panic!("wrong outcome: {other:?}"),
        }
    });
}

/// A timed party that was counted in a generation which something else
/// then broke gets `TimedOut`, not `Broken`, when its own deadline has
/// passed (under loom, every finite deadline has).
///
/// The break (here a `reset()`) is the main thread's first step after the
/// spawn, with no polling in between: a `yield_now` poll for "counted" (as
/// this model once had, before an `abort()`) let loom run the timed party's
/// first look, which breaks the generation itself, before the break every
/// time, so `depart()` made to return `Broken` always passed (issue 19,
/// item 12). An untimed party counted first makes the reset a write
/// whenever it comes, and a reset, unlike an abort, never refuses the timed
/// party's arrival (it waits for the fresh generation instead), so every
/// execution must answer `TimedOut`: reset before the arrival (the party
/// waits at `RESETTING`, then times out), between the arrival and its first
/// look (it departs from the failed generation: the case this model is
/// for), or after it broke the generation itself.
#[test]
fn a_broken_party_whose_deadline_passed_gets_timed_out() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let b = Arc::clone(&barrier);
        let untimed = thread::spawn(move || b.wait());
        until(|| barrier.n_waiting() == 1);
        let b = Arc::clone(&barrier);
        let timed = thread::spawn(move || b.wait_timeout(Duration::from_secs(1)));
        barrier.reset();
        assert_eq!(timed.join().unwrap(), Err(BarrierError::TimedOut));
        assert_eq!(untimed.join().unwrap(), Err(BarrierError::Broken));
    });
}
