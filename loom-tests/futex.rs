//! Loom model of the wait layer: no lost wake-up between "store, wake" and
//! "see old value, wait".
#![cfg(loom)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

// The wait layer is crate-internal; its behaviour is observable through the
// timer, whose state word *is* the futex word: `wait` parks on it untimed
// and `cancel` stores + wakes. A lost wake-up would deadlock, which loom
// reports.
#[test]
fn store_then_wake_never_loses_a_parked_waiter() {
    loom::model(|| {
        let timer = Arc::new(rallypoint::Timer::new(core::time::Duration::MAX, || {}));
        let waiter = {
            let timer = Arc::clone(&timer);
            thread::spawn(move || timer.wait())
        };
        assert!(timer.cancel());
        waiter.join().unwrap();
    });
}

#[test]
fn two_waiters_both_woken_by_one_wake_all() {
    loom::model(|| {
        let timer = Arc::new(rallypoint::Timer::new(core::time::Duration::MAX, || {}));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let timer = Arc::clone(&timer);
                thread::spawn(move || timer.wait())
            })
            .collect();
        assert!(timer.cancel());
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// The control: loom must *find* a missing happens-before edge. A flag
/// handed over with Relaxed store and load publishes nothing, and loom must
/// show an interleaving where the data is stale. If this stops panicking,
/// the models above prove nothing about orderings (a vacuous set-up: loom
/// not linked in, or not exploring weak memory).
#[test]
#[should_panic(expected = "stale data behind a Relaxed flag")]
fn loom_finds_a_relaxed_handoff_bug() {
    loom::model(|| {
        let data = Arc::new(AtomicU32::new(0));
        let flag = Arc::new(AtomicU32::new(0));
        let (d, f) = (Arc::clone(&data), Arc::clone(&flag));
        let t = thread::spawn(move || {
            d.store(1, Ordering::Relaxed);
            f.store(1, Ordering::Relaxed);
        });
        if flag.load(Ordering::Relaxed) == 1 {
            assert_eq!(
                data.load(Ordering::Relaxed),
                1,
                "stale data behind a Relaxed flag"
            );
        }
        t.join().unwrap();
    });
}
