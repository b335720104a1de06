//! The loom model of the wait layer: one mutex and condition variable per
//! word (carried by `sync::AtomicU32` under loom), not one global lock.
//!
//! A waiter checks the value under the word's lock and sleeps on its
//! condition variable; wakers take the same lock before notifying, so a
//! check-then-sleep never misses a wake: the property the kernel's futex
//! bucket lock gives. The lock adds synchronisation a real futex does not
//! (SAFETY.md, "What loom does not cover"), so the algorithms must take all
//! their ordering from the atomics, and the value here is read `Relaxed`.
//!
//! Time is not modelled: a timed wait whose value is unchanged times out at
//! once, and `Deadline::has_passed` is always true, so every model explores
//! each timeout against every interleaving of the other threads.

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    let guard = word.lock.lock().unwrap();
    if word.atomic.load(Ordering::Relaxed) != expected {
        return true;
    }
    if deadline.is_some() {
        return false;
    }
    drop(word.cond.wait(guard).unwrap());
    true
}

pub(super) fn wake_all(word: &AtomicU32) {
    let _guard = word.lock.lock().unwrap();
    word.cond.notify_all();
}
