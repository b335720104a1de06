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

#[test]
fn relaxed_flag_handoff_model_sanity() {
    // A control model: loom must see this Relaxed store/load pair only
    // through real synchronisation (guards against a vacuous model setup).
    loom::model(|| {
        let flag = Arc::new(AtomicU32::new(0));
        let f = Arc::clone(&flag);
        let t = thread::spawn(move || f.store(1, Ordering::Release));
        let seen = flag.load(Ordering::Acquire);
        assert!(seen == 0 || seen == 1);
        t.join().unwrap();
    });
}
