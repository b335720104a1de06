//! The thread waiter: how a thread sleeps until the word it waits on
//! changes, and how the thread that changes it wakes it, on the wait layer
//! (`futex/`).
//!
//! Whether to wake is decided elsewhere: by `StateWord::transition`
//! (`state_word.rs`) for the primitives with a `SLEEPERS` bit, by the flag
//! in the replaced value for [`park_flagged`]'s callers. A waiter of
//! another kind (an async task's waker) gets a file beside this one and is
//! woken from the same decisions.

use crate::futex;
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;

/// Sleeps on `seq` while it still holds `seen` (until woken, `deadline`, or
/// spuriously). Returns `false` only if the deadline passed.
#[inline]
pub(super) fn sleep(seq: &AtomicU32, seen: u32, deadline: Option<Deadline>) -> bool {
    futex::wait(seq, seen, deadline)
}

/// Wakes every thread sleeping on `seq`: bumps it (so that a sleeper about
/// to wait with the old value returns at once), then wakes the futex word.
#[inline]
pub(super) fn wake_all(seq: &AtomicU32) {
    // Release pairs with the Acquire load of `seq` in `StateWord::park`: a
    // parker that reads this bump also sees the state transition before it.
    seq.fetch_add(1, Ordering::Release);
    futex::wake_all(seq);
}

/// One step of sleeping on `word` until it changes, for the primitives
/// whose waiters sleep on the word they wait on and announce themselves with
/// a `flag` bit in it (`Timer`'s and `ScheduledTimer`'s `PARKED`,
/// `WaitCount`'s `WAITING`): the thread that changes the word sees the flag
/// in the value its RMW replaces and wakes the word.
///
/// `seen` is the caller's latest value of `word`. If `flag` is clear, sets
/// it with a CAS first; if that CAS fails, returns the value it found
/// without sleeping. Otherwise sleeps while the word still holds
/// `seen | flag` (until woken, `deadline`, or spuriously) and returns the
/// word's value after. Every value returned was read `Acquire`, so a caller
/// that decides from it (finished, count zero) synchronises with the
/// `Release` RMW that wrote it. The caller loops: check its condition and
/// deadline on the returned value, then call again.
///
/// No lost wake-up: the flag is in the word before the sleep, and the
/// kernel compares the word with `seen | flag` atomically with queueing the
/// sleeper; a change made after the CAS either lands before that compare
/// (no sleep) or sees the flag and wakes (SAFETY.md, "Waiting: no lost
/// wake-up").
#[inline]
pub(crate) fn park_flagged(
    word: &AtomicU32,
    seen: u32,
    flag: u32,
    deadline: Option<Deadline>,
) -> u32 {
    let mut s = seen;
    if s & flag == 0 {
        // Relaxed on success: the flag publishes nothing; the value this
        // step returns is re-read Acquire after the sleep. Acquire on
        // failure: the caller decides from the value returned.
        match word.compare_exchange(s, s | flag, Ordering::Relaxed, Ordering::Acquire) {
            Ok(_) => s |= flag,
            Err(actual) => return actual,
        }
    }
    futex::wait(word, s, deadline);
    // Acquire: pairs with the Release RMW that changed the word.
    word.load(Ordering::Acquire)
}
