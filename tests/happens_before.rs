//! The memory-ordering promises, checked on plain (non-atomic) memory.
//!
//! Every other test passes data through atomics, which no race detector
//! questions. Here the data lives in `UnsafeCell`s and the *only* thing that
//! orders a write before a read is rallypoint: a barrier generation, a
//! break, a timer firing. Run normally these tests check values; under
//! ThreadSanitizer (`.ci/run`, step "tsan") and Miri's data-race detector
//! they check the orderings themselves: weaken one `AcqRel`/`Acquire` on a
//! path below and both report a data race here (SAFETY.md, "How this is
//! verified", records that check).
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]
// Test code uses std.
// The point of this file: unsynchronised cells whose only ordering is the
// one rallypoint promises. Each access says which promise it relies on.
#![allow(unsafe_code)]

mod common;

use rallypoint::{Barrier, BarrierError, Timer};
use std::cell::UnsafeCell;
use std::thread;
use std::time::Duration;

/// A cell with no synchronisation of its own.
struct Plain<T>(UnsafeCell<T>);

// SAFETY: every access below is ordered by a rallypoint happens-before edge
// (the claim under test); a missing edge is a data race the detectors report.
unsafe impl<T: Send> Sync for Plain<T> {}

impl<T: Copy> Plain<T> {
    const fn new(v: T) -> Self {
        Self(UnsafeCell::new(v))
    }
    /// # Safety
    /// No write to this cell may be concurrent with the read.
    unsafe fn get(&self) -> T {
        // SAFETY: the caller rules out a concurrent write.
        unsafe { *self.0.get() }
    }
    /// # Safety
    /// No other access to this cell may be concurrent with the write.
    unsafe fn set(&self, v: T) {
        // SAFETY: the caller rules out any concurrent access.
        unsafe { *self.0.get() = v }
    }
}

const THREADS: usize = 4;
const ROUNDS: u64 = if cfg!(miri) { 8 } else { 500 };

/// Each round: every party writes its own slot, the leader's action sums
/// all slots into `total`, and after the barrier every party reads every
/// slot and `total`. A second wait keeps the next round's writes after this
/// round's reads.
#[test]
fn a_generation_orders_writes_before_the_action_and_the_action_before_every_return() {
    let _dog = common::watchdog();
    let slots: [Plain<u64>; THREADS] = std::array::from_fn(|_| Plain::new(0));
    let total = Plain::new(0u64);
    let barrier = Barrier::with_action(THREADS, || {
        // Every party wrote its slot before arriving and writes again only
        // after the next generation; the arrival CASes (AcqRel, a release
        // sequence on the state word) order all slot writes before the last
        // arrival, which runs this action.
        // SAFETY: ordered by the arrivals (see above).
        let sum = slots.iter().map(|s| unsafe { s.get() }).sum();
        // SAFETY: parties read `total` only after this generation's release.
        unsafe { total.set(sum) };
    });
    thread::scope(|s| {
        for (i, slot) in slots.iter().enumerate() {
            let (slots, total, barrier) = (&slots, &total, &barrier);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let mine = round * THREADS as u64 + i as u64;
                    // The others read this slot between this round's first
                    // and second wait only.
                    // SAFETY: ordered by this round's second wait (see above).
                    unsafe { slot.set(mine) };
                    barrier.wait().unwrap();
                    let expected: u64 = (0..THREADS as u64)
                        .map(|j| round * THREADS as u64 + j)
                        .sum();
                    // The action wrote `total` before the release this wait
                    // returned through (release CAS -> Acquire load).
                    // SAFETY: ordered by the release (see above).
                    assert_eq!(unsafe { total.get() }, expected, "round {round}");
                    for (j, other) in slots.iter().enumerate() {
                        // Party j wrote its slot before arriving in this
                        // generation and writes it again only after the
                        // second wait, which this party has not reached.
                        // SAFETY: ordered by both waits (see above).
                        let v = unsafe { other.get() };
                        assert_eq!(v, round * THREADS as u64 + j as u64, "round {round}");
                    }
                    barrier.wait().unwrap();
                }
            });
        }
    });
}

/// The same without an action (`NoAction` releases in the leader's arrival
/// CAS: a different code path).
#[test]
fn a_generation_without_an_action_orders_every_write_before_every_return() {
    let _dog = common::watchdog();
    let slots: [Plain<u64>; THREADS] = std::array::from_fn(|_| Plain::new(0));
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        for (i, slot) in slots.iter().enumerate() {
            let (slots, barrier) = (&slots, &barrier);
            s.spawn(move || {
                for round in 1..=ROUNDS {
                    // Read by the others only between this round's two waits.
                    // SAFETY: ordered by this round's second wait (see above).
                    unsafe { slot.set(round << 8 | i as u64) };
                    barrier.wait().unwrap();
                    for (j, other) in slots.iter().enumerate() {
                        // SAFETY: as in the test above.
                        assert_eq!(unsafe { other.get() }, round << 8 | j as u64);
                    }
                    barrier.wait().unwrap();
                }
            });
        }
    });
}

/// A break is a synchronisation point too: what `abort()`'s caller wrote
/// before aborting is visible to every waiter that returns `Err(Broken)`.
#[test]
fn abort_orders_the_aborters_writes_before_every_broken_return() {
    let _dog = common::watchdog();
    for round in 0..ROUNDS {
        let note = Plain::new(0u64);
        let barrier = Barrier::new(THREADS + 1);
        thread::scope(|s| {
            let waiters: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        assert_eq!(barrier.wait(), Err(BarrierError::Broken));
                        // Written before `abort()`, whose break CAS (AcqRel)
                        // this waiter's Acquire load observed.
                        // SAFETY: ordered by the break (see above).
                        unsafe { note.get() }
                    })
                })
                .collect();
            common::poll("every waiter to block", || barrier.n_waiting() == THREADS);
            // SAFETY: no waiter reads `note` before it sees the break below.
            unsafe { note.set(round + 1) };
            barrier.abort();
            for w in waiters {
                assert_eq!(w.join().unwrap(), round + 1);
            }
        });
    }
}

/// A timer's function runs before `wait()` returns, and anything written
/// before `run()`'s call is visible inside the function.
#[test]
fn a_fired_timer_orders_its_function_before_every_wait() {
    let _dog = common::watchdog();
    for round in 0..ROUNDS {
        let input = Plain::new(round);
        let output = Plain::new(0u64);
        let timer = Timer::new(Duration::from_micros(50), || {
            // SAFETY: written before the thread calling `run` was spawned.
            let v = unsafe { input.get() };
            // Read only after `wait()` returns (the FIRED store, Release,
            // observed by `wait`'s Acquire load).
            // SAFETY: ordered by the timer's finish (see above).
            unsafe { output.set(v * 2 + 1) };
        });
        thread::scope(|s| {
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        timer.wait();
                        // SAFETY: see the function above.
                        unsafe { output.get() }
                    })
                })
                .collect();
            s.spawn(|| assert!(timer.run()));
            for w in waiters {
                assert_eq!(w.join().unwrap(), round * 2 + 1);
            }
        });
    }
}
