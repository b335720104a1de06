//! The driver: what the thread that holds the queue's `DRIVING` bit does
//! with the queue's [`Shared`] part (take the inbox, file and fire timers,
//! park and be woken, drain at shutdown), and [`Driving`], which holds that
//! role.
//!
//! How a push wakes the parked driver (the `PARKED` tag, the instant it
//! sleeps until, `COVERED` in `seq`) is in the timer queue's module doc,
//! "Waking the driver", and SAFETY.md, "TimerQueue: no lost wake-up".

use super::body::counter_add;
use super::current::{self, Queue};
use super::entry::{Owned, INFLIGHT, LINKED, PANICKED};
use super::inbox::{Taken, TAG_SHUTDOWN};
use super::list;
#[cfg(loom)]
use super::loom_stall;
#[cfg(feature = "std")]
use super::panic::keep_first;
use super::panic::{catch, discard_panic, Panic};
use super::shared::{Cancel, Shared};
use super::token::Token;
use crate::futex;
use crate::sync::Ordering;
use crate::time::{now_ns, Deadline, NEVER};
use crate::timer_phase::{phase, CANCELLED, FIRED, PARKED, RUNNING, WAITING};
use core::time::Duration;

/// A cancel wakes a parked driver once the nodes cancelled since its last
/// take add up to this many bytes, so that cancelled timers' memory comes
/// back without a syscall per cancel, and without waiting for a due time.
/// A node keeps its closure's size (the closure lives inline; the canceller
/// drops its captures at once), so one large closure wakes the driver by
/// itself.
#[cfg(not(loom))]
pub(crate) const RECLAIM_BYTES: usize = 4096;
/// Under loom every cancel seen by a parked driver wakes it, so that the
/// models explore that wake.
#[cfg(loom)]
pub(crate) const RECLAIM_BYTES: usize = 1;

/// Bit 0 of the driver's futex word `seq`: a wake of the driver's current
/// park has completed (SAFETY.md, "TimerQueue: no lost wake-up").
pub(super) const COVERED: u32 = 1;
/// Bit 1 of `seq`: the current park sleeps in `fire_due`'s caller (woken
/// through the driver waker), not on the futex in `run` (woken by a futex
/// wake). Set by the park's epoch, so that a wake reads it from its own
/// bump and wakes only the sleeper there is.
const IN_CALLER: u32 = 2;
/// Every park and every wake moves `seq` on by this (bits 0 and 1 are
/// `COVERED` and `IN_CALLER`).
const STEP: u32 = 4;

/// A repeating timer's next due time after a run that was due at `due`
/// ended at `now`, and how many periods it skips: fixed rate, the phase
/// kept (`due + k * period`), never a burst.
fn next_due(due: u64, period: u64, now: u64) -> (u64, u64) {
    let next = due.saturating_add(period);
    if next >= now || next == NEVER {
        return (next, 0);
    }
    // `now > due + period`: the runs at `due + k * period <= now - 1` for
    // k = 1..=late are missed; the one after `now - 1` is next (one due
    // exactly `now` still runs).
    let late = (now - due - 1) / period;
    let next = late
        .checked_add(1)
        .and_then(|k| k.checked_mul(period))
        .and_then(|d| due.checked_add(d))
        .unwrap_or(NEVER);
    (next, late)
}

impl Shared {
    /// Wakes the parked driver (a futex wake for `run`, or the registered
    /// waker for `fire_due`'s caller: whichever sleeps, as the epoch its
    /// bump lands in says; no syscall without a futex sleeper) unless a wake of its current park has
    /// already completed. Never relies on another waker's progress: a
    /// waker stalled anywhere in here leaves `COVERED` clear, so the next
    /// one wakes the driver itself (SAFETY.md, "TimerQueue: no lost
    /// wake-up").
    pub(super) fn wake_driver(&self) {
        // Relaxed: only this word's own order matters (see the CAS below).
        if self.seq.load(Ordering::Relaxed) & COVERED != 0 {
            return;
        }
        // Relaxed: the bump makes the driver's futex compare fail or is
        // followed by the wake; nothing is published through it (pushed
        // nodes go through the inbox).
        let old = self.seq.fetch_add(STEP, Ordering::Relaxed);
        let bumped = old.wrapping_add(STEP);
        #[cfg(loom)]
        if loom_stall::stalled() {
            // A model's stalled waker: it never gets past here.
            return;
        }
        if old & IN_CALLER == 0 {
            futex::wake_all(&self.seq);
        } else {
            self.waker.wake();
        }
        // Mark the park covered, unless `seq` moved since our bump (another
        // wake, or the driver's next park: then this mark is not ours).
        let _ = self.seq.compare_exchange(
            bumped,
            bumped | COVERED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// One driver pass: takes the inbox, fires the timers due when the pass
    /// started (a timer they schedule or re-file for now waits for the next
    /// pass). Returns the next deadline (ns, `None` = nothing pending), or
    /// `Err` if shut down.
    pub(super) fn turn(&self, tok: &Token<'_>) -> Result<Option<u64>, ShutDown> {
        if self.take_inbox(tok) & TAG_SHUTDOWN != 0 {
            return Err(ShutDown);
        }
        self.sweep_deferred(tok);
        let now = now_ns();
        self.driver.advance(tok, now);
        self.fire(tok, now)?;
        Ok(self.next_deadline(tok, now))
    }

    /// The instant the driver next has something to do.
    pub(super) fn next_deadline(&self, tok: &Token<'_>, now: u64) -> Option<u64> {
        let next = self.driver.next_deadline(tok);
        // Timers whose canceller was still INFLIGHT: look again soon rather
        // than at the next deadline (a handful at most: one per canceller
        // caught mid-cancel).
        #[cfg(not(loom))]
        if !self.driver.deferred.is_empty(tok) {
            let soon = now.saturating_add(1_000_000);
            return Some(next.map_or(soon, |n| n.min(soon)));
        }
        let _ = now;
        next
    }

    /// Takes the inbox: files new timers, releases cancelled ones.
    pub(super) fn take_inbox(&self, tok: &Token<'_>) -> usize {
        let (chain, tags) = self.inbox.take(tok);
        self.garbage.store(0, Ordering::Relaxed);
        for item in chain {
            match item {
                Taken::New(node) => self.adopt(tok, node),
                Taken::Message(message) => {
                    if let Some(node) = list::unlink(tok, message) {
                        self.release(tok, node);
                    }
                }
            }
        }
        tags
    }

    /// Files a new timer in the wheel (`WAITING -> WAITING | LINKED`), or
    /// releases it if it was cancelled in the inbox.
    fn adopt(&self, tok: &Token<'_>, node: Owned) {
        let state = node.state();
        let mut s = state.load(Ordering::Relaxed);
        loop {
            if phase(s) != WAITING {
                debug_assert_eq!(phase(s), CANCELLED);
                self.release(tok, node);
                return;
            }
            // Release: our read of the node's inbox link happens-before a
            // canceller (AcqRel) that sees LINKED reuses it for a message.
            match state.compare_exchange_weak(s, s | LINKED, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        self.driver.insert(tok, node);
    }

    /// Drops the queue's reference to a cancelled timer, or keeps it in
    /// `deferred` while its canceller is still `INFLIGHT`.
    fn release(&self, tok: &Token<'_>, node: Owned) {
        // Acquire: pairs with the canceller's Release clearing INFLIGHT:
        // its uses of the queue happen-before we free anything.
        if node.state().load(Ordering::Acquire) & INFLIGHT != 0 {
            self.driver.deferred.push(tok, node);
        }
    }

    /// Releases deferred timers whose canceller is done; whether none is
    /// left.
    pub(super) fn sweep_deferred(&self, tok: &Token<'_>) -> bool {
        if self.driver.deferred.is_empty(tok) {
            return true;
        }
        self.driver.start_sweep(tok);
        while let Some(node) = self.driver.pop_sweep(tok) {
            self.release(tok, node);
        }
        self.driver.deferred.is_empty(tok)
    }

    /// Fires every timer in `current` due by `now`.
    fn fire(&self, tok: &Token<'_>, now: u64) -> Result<(), ShutDown> {
        self.driver.start_firing(tok);
        while let Some(node) = self.driver.pop_firing(tok) {
            let s = node.state().load(Ordering::Relaxed);
            if phase(s) == CANCELLED {
                // Its cancel message (on its way) releases it.
                self.driver.zombies.push(tok, node);
            } else if node.due(tok) > now {
                self.driver.keep_current(tok, node);
            } else if self.inbox.tags() & TAG_SHUTDOWN != 0 {
                // Shut down meanwhile: the drain discards it.
                self.driver.keep_current(tok, node);
                return Err(ShutDown);
            } else {
                // A closure's destructor that panics (the callback's own
                // panic is caught inside) must not stop the driver: with
                // `std` it is caught here and dropped; the node is already
                // finished or filed, and its reference was dropped.
                let r = catch(|| self.run_one(tok, node, s));
                discard_panic(r.err());
            }
        }
        Ok(())
    }

    /// Runs one due timer, then finishes or re-files it.
    fn run_one(&self, tok: &Token<'_>, node: Owned, s: u32) {
        match self.run_claimed(tok, &node, s) {
            Ran::Requeued => self.driver.insert(tok, node),
            Ran::Finished => drop(node),
            // Its cancel message (on its way) releases it.
            Ran::Cancelled => self.driver.zombies.push(tok, node),
        }
    }

    /// `WAITING -> RUNNING`, the run, then `FIRED`, `CANCELLED` (stopped
    /// during the run) or back to `WAITING` (repeating).
    fn run_claimed(&self, tok: &Token<'_>, node: &Owned, mut s: u32) -> Ran {
        let mut claim = loop {
            // Acquire: pairs with the Release of the previous run's requeue
            // and of the push that published the body.
            match node.claim(s, RUNNING | (s & PARKED), Ordering::Acquire) {
                Ok(claim) => break claim,
                Err(actual) if phase(actual) == WAITING => s = actual,
                Err(_) => return Ran::Cancelled,
            }
        };
        let repeat = node.repeat();
        // A run is counted and `len` kept right however it ends: without
        // `std` a panic unwinds from here (the claim's drop then finishes
        // the timer as FIRED).
        let ended = |panicked: bool| {
            if let Some(r) = repeat {
                counter_add(&r.runs, 1);
            }
            if panicked || repeat.is_none() {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        };
        let payload = crate::unwind::on_unwind(|| catch(|| claim.run()).err(), || ended(true));
        ended(payload.is_some());
        match (payload, repeat) {
            #[allow(unused_variables, unreachable_code)]
            (Some(payload), _) => {
                #[cfg(feature = "std")]
                claim.set_panic(payload);
                claim.finish(FIRED, PANICKED);
                Ran::Finished
            }
            (None, None) => {
                claim.finish(FIRED, 0);
                Ran::Finished
            }
            (None, Some(r)) => {
                let (next, missed) = next_due(node.due(tok), r.period, now_ns());
                if missed > 0 {
                    counter_add(&r.missed, missed);
                }
                node.set_due(tok, next);
                match claim.requeue() {
                    Ok(()) => Ran::Requeued,
                    Err((claim, _)) => {
                        // Cancelled during the run.
                        self.len.fetch_sub(1, Ordering::Relaxed);
                        claim.finish(CANCELLED, 0);
                        Ran::Finished
                    }
                }
            }
        }
    }

    /// Publishes the driver's sleep (`next`, ns) and sets `PARKED`: from
    /// here on a push of an earlier timer (or enough cancels) wakes the
    /// driver. Returns the futex value to sleep on, or `None` if the inbox
    /// is not empty (or the queue shut down): take it again first.
    /// `in_caller`: the driver sleeps in `fire_due`'s caller, not on the
    /// futex.
    pub(super) fn park(&self, tok: &Token<'_>, next: Option<u64>, in_caller: bool) -> Option<u32> {
        let epoch = self.new_epoch(if in_caller { IN_CALLER } else { 0 });
        // Relaxed: read by `set_driver_waker` only to decide a wake.
        self.park_epoch.store(epoch, Ordering::Relaxed);
        self.sleep_until.set(next.unwrap_or(NEVER));
        self.inbox.park(tok).then_some(epoch)
    }

    /// Starts a park epoch: moves `seq` on, clears `COVERED` and sets the
    /// sleeper's `mode` (`IN_CALLER` or 0).
    fn new_epoch(&self, mode: u32) -> u32 {
        let mut cur = self.seq.load(Ordering::Relaxed);
        loop {
            let next = (cur & !(COVERED | IN_CALLER)).wrapping_add(STEP) | mode;
            // Relaxed: published to pushers by the park CAS (Release) that
            // follows; a waker's mark CAS from an older value now fails.
            match self
                .seq
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Sleeps until `next` (ns) or a wake.
    pub(super) fn sleep(&self, tok: &Token<'_>, next: Option<u64>) {
        let Some(epoch) = self.park(tok, next, false) else {
            return;
        };
        let deadline = next
            .filter(|&ns| ns != NEVER)
            .map(|ns| Deadline::at(Duration::from_nanos(ns)));
        futex::wait(&self.seq, epoch, deadline);
    }

    /// The shutdown drain: cancels every timer the queue holds, then gives
    /// up the driver role for good and releases `shutdown` callers waiting
    /// for it. Unwind-safe: a closure destructor's panic is caught (`std`)
    /// and returned after the drain is complete; without `std` it unwinds,
    /// and the drain finishes on the way out (a second panicking destructor
    /// then aborts, as in any drop during unwinding). Either way every
    /// timer ends finished and the driver role is released.
    fn drain_and_release(&self, tok: Token<'_>) -> Option<Panic> {
        let panic = crate::unwind::on_unwind(
            || self.drain(&tok),
            || {
                let _ = self.drain(&tok);
                self.finish_drain(&tok);
            },
        );
        self.finish_drain(&tok);
        panic
    }

    fn drain(&self, tok: &Token<'_>) -> Option<Panic> {
        self.take_inbox(tok);
        #[cfg_attr(not(feature = "std"), allow(unused_mut))]
        let mut first = None;
        self.driver.drain(tok, |node| {
            let r = catch(|| self.discard(tok, node));
            #[cfg(feature = "std")]
            if let Err(p) = r {
                keep_first(&mut first, p);
            }
            #[cfg(not(feature = "std"))]
            if let Err(p) = r {
                match p {}
            }
        });
        first
    }

    fn finish_drain(&self, tok: &Token<'_>) {
        self.inbox.release_drained(tok);
        // Release: pairs with `wait_drained`'s Acquire: the drain's
        // cancels happen-before its callers return.
        self.drained.store(1, Ordering::Release);
        futex::wake_all(&self.drained);
    }

    /// Blocks until the shutdown drain is done.
    pub(super) fn wait_drained(&self) {
        // Acquire: pairs with `finish_drain`'s Release.
        while self.drained.load(Ordering::Acquire) == 0 {
            futex::wait(&self.drained, 0, None);
        }
    }

    /// Cancels a timer for the shutdown drain and releases it. The cancel
    /// goes through `INFLIGHT` like a handle's, so that whoever sees the
    /// timer finished also sees `len` without it.
    fn discard(&self, tok: &Token<'_>, node: Owned) {
        let mut s = node.state().load(Ordering::Relaxed);
        while phase(s) == WAITING {
            match Cancel::try_new(&node, s) {
                Ok(cancel) => {
                    self.len.fetch_sub(1, Ordering::Relaxed);
                    drop(cancel); // clears INFLIGHT, wakes waiters, drops the body
                    break;
                }
                Err(actual) => s = actual,
            }
        }
        debug_assert_eq!(phase(node.state().load(Ordering::Relaxed)), CANCELLED);
        self.release(tok, node);
    }
}

/// The queue was shut down.
#[derive(Debug)]
pub(super) struct ShutDown;

/// How a run ended, for the timer's queue reference.
#[derive(Debug)]
enum Ran {
    /// Back to `WAITING`: file it again.
    Requeued,
    /// Finished: drop the reference.
    Finished,
    /// Cancelled before it could start: keep it until its cancel message.
    Cancelled,
}

/// Holds the driver role: records this thread as the queue's driver and
/// gives the role up (draining if shut down) when finished or dropped,
/// also when a panic unwinds (without `std`).
pub(super) struct Driving<'a> {
    shared: &'a Shared,
    tok: Option<Token<'a>>,
    previous: Queue,
}

impl<'a> Driving<'a> {
    /// Becomes the driver, unless another thread is.
    pub(super) fn try_new(shared: &'a Shared) -> Option<Self> {
        let tok = shared.inbox.try_drive()?;
        Some(Self::with(shared, tok))
    }

    pub(super) fn with(shared: &'a Shared, tok: Token<'a>) -> Self {
        Self {
            shared,
            tok: Some(tok),
            previous: current::enter(shared.addr()),
        }
    }

    pub(super) fn tok(&self) -> &Token<'a> {
        self.tok.as_ref().expect("driver token present until drop")
    }

    /// Gives the role up; a closure destructor's panic from the drain (if
    /// the queue was shut down) is returned.
    pub(super) fn finish(mut self) -> Option<Panic> {
        self.release()
    }

    fn release(&mut self) -> Option<Panic> {
        let tok = self.tok.take()?;
        let shared = self.shared;
        let previous = self.previous;
        let panic = crate::unwind::on_unwind(
            || match shared.inbox.try_release(tok) {
                Ok(()) => None,
                Err(tok) => shared.drain_and_release(tok),
            },
            || current::leave(previous),
        );
        current::leave(previous);
        panic
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        // A driver path never propagates a destructor's panic (`std`).
        let panic = self.release();
        discard_panic(panic);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn next_due_keeps_the_phase_and_counts_misses() {
        assert_eq!(next_due(0, 10, 5), (10, 0));
        assert_eq!(next_due(0, 10, 10), (10, 0)); // due exactly now: runs
        assert_eq!(next_due(0, 10, 11), (20, 1));
        assert_eq!(next_due(0, 10, 20), (20, 1));
        assert_eq!(next_due(0, 10, 25), (30, 2));
        assert_eq!(next_due(100, 10, 1_000_000), (1_000_000, 99_989)); // due exactly now: runs
        assert_eq!(next_due(NEVER - 5, 10, 0), (NEVER, 0));
        assert_eq!(next_due(5, u64::MAX / 2, u64::MAX - 1).0, NEVER);
    }
}
