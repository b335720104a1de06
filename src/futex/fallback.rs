//! Any OS with `std` but without a futex-like call (illumos, Solaris, AIX,
//! Haiku, Hurd, QNX, VxWorks, Redox, …): park on a small fixed table of
//! `std::sync::Mutex` + `Condvar` buckets keyed by the word's address, as
//! `parking_lot_core` and libc++'s `atomic::wait` do, and measure deadlines
//! with `std::time::Instant` (the crate's clock here: `time/clock/instant.rs`).
//!
//! # Why no wake is lost
//!
//! A waiter locks its bucket, checks `*word == expected` *under the lock*,
//! and only then sleeps on the bucket's condition variable (which releases
//! the lock atomically with starting to sleep). A waker changes the word
//! first, then locks the same bucket and notifies. So either the waker's
//! lock comes after the waiter's check — the waiter already sleeps and is
//! notified — or before it: then the waker's store happens-before the
//! waiter's check (the store precedes the waker's unlock, which precedes the
//! waiter's lock), and the waiter sees the new value and does not sleep.
//! That is the kernel's futex guarantee, rebuilt from a lock.
//!
//! Several words share a bucket, so a wake must be `notify_all`: a
//! `notify_one` could wake a thread waiting on another word of the bucket
//! and leave this word's waiter asleep. A thread woken for another word
//! returns `true` ("spurious"), which the contract allows; callers re-check.
//!
//! The buckets' lock is the only lock in the crate, and it is taken only on
//! the slow path (a waiter that spun and yielded, then parks; a waker that
//! saw a sleeper), never on a fast path. The memory ordering the algorithms
//! rely on still comes from their own atomics (SAFETY.md, "2. Wait layer"):
//! the lock adds ordering, it never replaces any.
//!
//! Allocation: where std's `Mutex`/`Condvar` are pthread-based (most
//! futex-less Unixes), std boxes each one lazily, so a bucket's first use
//! allocates once; after that, parking allocates nothing. (On the Linux
//! host std's are futex-based, and `tests/no_alloc.rs` passes on this
//! backend.)
//!
//! On the Linux host the whole test suite runs on this backend with
//! `RUSTFLAGS="--cfg rallypoint_force_fallback"` (a CI step), and its unit
//! tests below run in every `cargo test`.

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Buckets in the table: enough that unrelated barriers and timers rarely
/// share one (a shared bucket costs only spurious wake-ups), small enough
/// to stay a few KiB. A power of two, for the hash below.
const BUCKETS: usize = 64;

/// One wait queue: the lock that orders "check the word" against "notify".
#[derive(Debug)]
struct Bucket {
    lock: Mutex<()>,
    cond: Condvar,
}

static TABLE: [Bucket; BUCKETS] = [const {
    Bucket {
        lock: Mutex::new(()),
        cond: Condvar::new(),
    }
}; BUCKETS];

/// The bucket of `word`: Fibonacci hashing of its address (the low two bits
/// are always zero for an `AtomicU32`, and multiplying mixes the others into
/// the top bits, which the shift keeps).
fn bucket(word: &AtomicU32) -> &'static Bucket {
    let addr = word as *const AtomicU32 as usize as u64;
    let hash = addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKETS.trailing_zeros());
    &TABLE[hash as usize]
}

/// Locks a bucket. Nothing panics while holding it (no user code runs under
/// it), but a poisoned lock still guards nothing but `()`, so it is used as
/// is rather than turned into a panic.
fn lock(bucket: &Bucket) -> MutexGuard<'_, ()> {
    bucket.lock.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    let bucket = bucket(word);
    let guard = lock(bucket);
    // Checked under the bucket's lock: see the module docs. Relaxed like
    // every backend's check: the callers' own loads carry the ordering.
    if word.load(Ordering::Relaxed) != expected {
        return true;
    }
    match deadline {
        None => {
            drop(
                bucket
                    .cond
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner),
            );
            true
        }
        Some(deadline) => {
            // The crate's clock (`time/clock.rs`: `Instant` where this is
            // the backend, the native clock where its unit tests run beside
            // a native backend).
            let left = deadline.remaining();
            if left.is_zero() {
                return false;
            }
            // `wait_timeout` takes a relative time; `left` was computed from
            // our clock just now. Its "timed out" flag is not trusted: our
            // clock decides (a deadline stretched by nothing, never early).
            drop(
                bucket
                    .cond
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner),
            );
            !deadline.has_passed()
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    let bucket = bucket(word);
    // Taking the lock orders this wake after any waiter's check-and-sleep
    // that came before it (module docs); then wake the whole bucket.
    let _guard = lock(bucket);
    bucket.cond.notify_all();
}

#[cfg(test)]
mod tests {
    //! This backend's own tests, run on every host (as `futex::fallback`
    //! beside the native backend). Every wait here is bounded: a lost
    //! wake-up fails an assertion instead of hanging the suite.
    use super::*;
    use crate::time::now;
    use core::sync::atomic::AtomicUsize;
    use core::time::Duration;
    use std::thread;
    use std::time::Instant;

    /// Longer than any healthy wake takes, even on a loaded machine.
    const BOUND: Duration = Duration::from_secs(10);

    fn in_bound() -> Option<Deadline> {
        Some(Deadline::at(now() + BOUND))
    }

    #[test]
    fn stale_value_returns_at_once() {
        let word = AtomicU32::new(1);
        let start = Instant::now();
        assert!(wait(&word, 0, None));
        assert!(wait(&word, 0, in_bound()));
        assert!(start.elapsed() < BOUND);
    }

    #[test]
    fn timed_wait_is_never_early() {
        let word = AtomicU32::new(0);
        for ms in [0u64, 1, 5, 30] {
            let timeout = Duration::from_millis(ms);
            let start = Instant::now();
            let deadline = Deadline::at(now() + timeout);
            while wait(&word, 0, Some(deadline)) {}
            let elapsed = start.elapsed();
            assert!(
                elapsed >= timeout,
                "{timeout:?} wait returned after {elapsed:?}"
            );
            assert!(
                elapsed < timeout + BOUND,
                "{timeout:?} wait took {elapsed:?}"
            );
        }
    }

    /// Eight waiters on one word, plus eight on other words of (very likely)
    /// the same buckets: one `wake_all` must release all eight of the word,
    /// and none of the others (they return only as spurious wake-ups, then
    /// find their word unchanged).
    #[test]
    fn one_wake_releases_every_waiter_of_the_word_and_no_other() {
        let word = AtomicU32::new(0);
        let others: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];
        let parked = AtomicUsize::new(0);
        thread::scope(|s| {
            let waiters: alloc::vec::Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let deadline = in_bound();
                        parked.fetch_add(1, Ordering::SeqCst);
                        while word.load(Ordering::Acquire) == 0 {
                            if !wait(&word, 0, deadline) {
                                return false; // not woken within BOUND
                            }
                        }
                        true
                    })
                })
                .collect();
            let bystanders: alloc::vec::Vec<_> = others
                .iter()
                .map(|other| {
                    s.spawn(|| {
                        let deadline = Deadline::at(now() + Duration::from_millis(300));
                        while other.load(Ordering::Acquire) == 0 {
                            if !wait(other, 0, Some(deadline)) {
                                return false; // timed out: was never released
                            }
                        }
                        true
                    })
                })
                .collect();
            let start = Instant::now();
            while parked.load(Ordering::SeqCst) < 8 && start.elapsed() < BOUND {
                thread::yield_now();
            }
            thread::sleep(Duration::from_millis(20)); // let them park
            word.store(1, Ordering::Release);
            wake_all(&word);
            for (i, w) in waiters.into_iter().enumerate() {
                assert!(w.join().unwrap(), "waiter {i} was not woken by wake_all");
            }
            for (i, b) in bystanders.into_iter().enumerate() {
                assert!(!b.join().unwrap(), "bystander {i} saw its word change");
            }
        });
    }

    /// The lost-wake-up race, many times: a waiter that read the old value
    /// and is about to park, against a store + wake. Without the check under
    /// the bucket's lock the waiter sleeps through the wake and times out.
    #[test]
    fn store_then_wake_is_never_lost() {
        let rounds = if cfg!(miri) { 20 } else { 2_000 };
        for round in 0..rounds {
            let word = AtomicU32::new(0);
            thread::scope(|s| {
                let waiter = s.spawn(|| {
                    let deadline = in_bound();
                    while word.load(Ordering::Acquire) == 0 {
                        if !wait(&word, 0, deadline) {
                            return false;
                        }
                    }
                    true
                });
                if round % 2 == 0 {
                    thread::yield_now();
                }
                word.store(1, Ordering::Release);
                wake_all(&word);
                assert!(waiter.join().unwrap(), "round {round}: the wake was lost");
            });
        }
    }

    /// The same race made likely: the waiter has read the old value and is
    /// blocked on the bucket's lock (held here) when the word changes; then
    /// the lock is released and `wake_all` races the waiter for it. If the
    /// waiter did not re-check the word under the lock, losing that race
    /// would put it to sleep after the only wake (caught within 2 s).
    #[test]
    fn a_waiter_queued_on_the_bucket_lock_rechecks_the_word() {
        let rounds = if cfg!(miri) { 5 } else { 50 };
        for round in 0..rounds {
            let word = AtomicU32::new(0);
            thread::scope(|s| {
                let guard = lock(bucket(&word));
                let waiter = s.spawn(|| {
                    let deadline = Deadline::at(now() + Duration::from_secs(2));
                    while word.load(Ordering::Acquire) == 0 {
                        if !wait(&word, 0, Some(deadline)) {
                            return false;
                        }
                    }
                    true
                });
                thread::sleep(Duration::from_millis(2)); // it reaches the lock
                word.store(1, Ordering::Release);
                drop(guard);
                wake_all(&word);
                assert!(waiter.join().unwrap(), "round {round}: the wake was lost");
            });
        }
    }

    #[test]
    fn addresses_spread_over_buckets() {
        let words: [AtomicU32; 64] = [const { AtomicU32::new(0) }; 64];
        let mut used = alloc::collections::BTreeSet::new();
        for w in &words {
            used.insert(bucket(w) as *const Bucket as usize);
        }
        assert!(
            used.len() >= 16,
            "64 adjacent words hit only {} buckets",
            used.len()
        );
    }
}
