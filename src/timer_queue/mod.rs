//! [`TimerQueue`]: many timers on one driver thread, scheduled and
//! cancelled from any thread without a lock.
//!
//! # Design
//!
//! - **One allocation per timer**: a reference-counted node (`raw.rs`)
//!   holding the state word, the links, the due time and the closure. A
//!   [`ScheduledTimer`] is one counted reference; the queue holds another
//!   until it is done with the timer.
//! - **The state word** is `Timer`'s machine (`WAITING -> RUNNING -> FIRED`,
//!   `WAITING -> CANCELLED`) plus flags (`raw.rs` lists them). One CAS
//!   decides between firing and cancelling; a repeating timer goes
//!   `RUNNING -> WAITING` between runs, and a cancel during a run sets
//!   `STOPPED` so that no run starts again.
//! - **The inbox** is an intrusive Treiber stack: `schedule` pushes the new
//!   node with one CAS, and so does `cancel` for a node already in the
//!   driver's wheel (a "cancel message": the driver unlinks and frees it on
//!   its next turn, not at its due time). The driver takes the whole stack
//!   with one CAS. The stack's head also carries three tag bits: `PARKED`
//!   (the driver sleeps), `SHUTDOWN`, `DRIVING` (one driver at a time).
//! - **The wheel** (`wheel.rs`) belongs to the driver alone: nine levels of
//!   64 slots, 8.2 µs ticks, O(1) insert and remove; the driver sleeps until
//!   the exact nanosecond of the earliest timer.
//! - **Waking the driver**: it publishes the instant it sleeps until, then
//!   sets `PARKED` with a CAS that succeeds only on an empty inbox. A push
//!   that sees `PARKED` compares its due time with that instant and wakes
//!   the driver (a futex wake, and the waker of `set_driver_waker`) only if
//!   it is earlier, and only if no wake of this park has completed yet
//!   (`COVERED` in the futex word): a waker never counts on another one
//!   that may be stalled. A cancel wakes it only once the cancelled nodes
//!   add up to [`RECLAIM_BYTES`], so that memory comes back without a
//!   syscall per cancel and without waiting for a due time.
//!
//! # Memory ordering
//!
//! SAFETY.md, "TimerQueue: memory ordering", pairs every ordering; in
//! short: pushes are `Release` and the take is `Acquire` (the node's fields
//! and a canceller's CAS reach the driver); the state word's finishing
//! transitions are `Release` and `wait`'s loads `Acquire` (the function's
//! effects reach waiters); the driver's park CAS is `Release` and pushes
//! `Acquire` (the driver's sleep deadline reaches pushers); a canceller's
//! clearing of `INFLIGHT` is `Release` and the driver's check `Acquire`
//! (the canceller is done with the queue before it is freed).

#[allow(unsafe_code)] // The waker cell (SAFETY.md, "TimerQueue: the driver waker").
mod driver_waker;
#[allow(unsafe_code)] // The queue's nodes and lists (SAFETY.md, "TimerQueue").
mod raw;
mod wheel;

use self::raw::{
    phase, Every, Once, Owned, Repeat, SharedCell, Taken, Token, CANCELLED, FIRED, INFLIGHT,
    LINKED, PANICKED, PARKED, RUNNING, STOPPED, TAG_PARKED, TAG_SHUTDOWN, WAITING,
};
use crate::futex::{self, Deadline};
use crate::precision::{self, Precision};
use crate::sync::{AtomicU32, AtomicUsize, Ordering};
use crate::timer_phase::TimerState;
use crate::waiting::park_flagged;
use core::fmt;
use core::time::Duration;

/// Due "never" (`Duration::MAX`, or beyond ~584 years of uptime).
const NEVER: u64 = u64::MAX;

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
const COVERED: u32 = 1;
/// Bit 1 of `seq`: the current park sleeps in `fire_due`'s caller (woken
/// through the driver waker), not on the futex in `run` (woken by a futex
/// wake). Set by the park's epoch, so that a wake reads it from its own
/// bump and wakes only the sleeper there is.
const IN_CALLER: u32 = 2;
/// Every park and every wake moves `seq` on by this (bits 0 and 1 are
/// `COVERED` and `IN_CALLER`).
const STEP: u32 = 4;

/// A run or miss counter: 64 bits where the target has 64-bit atomics.
#[cfg(target_has_atomic = "64")]
type Counter = crate::sync::AtomicU64;
#[cfg(not(target_has_atomic = "64"))]
type Counter = AtomicU32;

#[inline]
fn counter_new() -> Counter {
    Counter::new(0)
}

#[inline]
fn counter_get(c: &Counter) -> u64 {
    // Relaxed: a snapshot; after `wait` the Acquire there orders it.
    #[allow(clippy::useless_conversion)]
    u64::from(c.load(Ordering::Relaxed))
}

#[inline]
fn counter_add(c: &Counter, n: u64) {
    // Relaxed: only the driver writes; published by the state word.
    #[cfg(target_has_atomic = "64")]
    c.fetch_add(n, Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "64"))]
    c.fetch_add(n as u32, Ordering::Relaxed);
}

/// Nanoseconds on the crate's monotonic clock, saturating at [`NEVER`].
#[inline]
fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(u64::from(d.subsec_nanos())))
        .unwrap_or(NEVER)
}

/// The crate's monotonic clock (under loom: the model clock below).
#[inline]
fn clock() -> Duration {
    #[cfg(not(loom))]
    {
        futex::now()
    }
    #[cfg(loom)]
    {
        Duration::from_nanos(loom_clock::NOW.with(core::cell::Cell::get))
    }
}

#[inline]
fn now_ns() -> u64 {
    nanos(clock())
}

/// The due time `delay` from now; [`NEVER`] for `Duration::MAX` or on
/// overflow.
#[inline]
fn due_after(delay: Duration) -> u64 {
    if delay == Duration::MAX {
        return NEVER;
    }
    clock().checked_add(delay).map_or(NEVER, nanos)
}

/// Under loom the queue reads a clock the models set (loom has no time; the
/// wait layer's clock stays at zero). Not part of the API.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_clock {
    extern crate std;

    std::thread_local! {
        /// Nanoseconds. Thread-local to the OS thread, which loom's model
        /// threads share (they are coroutines on it) and other tests do not.
        pub(super) static NOW: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    }

    /// Sets the model clock.
    pub fn set(now: core::time::Duration) {
        NOW.with(|c| c.set(super::nanos(now)));
    }
}

/// Under loom, a model can make one thread's driver wakes stall for good
/// right after the `seq` bump (a preempted waker that never runs again):
/// the queue must still wake the driver through any other waker. Not part
/// of the API.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_stall {
    loom::thread_local! {
        static STALLED: core::cell::Cell<bool> = core::cell::Cell::new(false);
    }

    /// Makes the calling model thread's later driver wakes stall.
    pub fn stall_my_wakes() {
        STALLED.with(|c| c.set(true));
    }

    pub(super) fn stalled() -> bool {
        STALLED.with(core::cell::Cell::get)
    }
}

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

/// The instant the parked driver sleeps until, written by the driver alone
/// before it parks: a push of an earlier timer wakes it. Without 64-bit
/// atomics every push that sees the driver parked wakes it.
#[cfg(target_has_atomic = "64")]
struct SleepUntil(crate::sync::AtomicU64);

#[cfg(target_has_atomic = "64")]
impl SleepUntil {
    fn new() -> Self {
        Self(crate::sync::AtomicU64::new(NEVER))
    }
    fn set(&self, until: u64) {
        // Relaxed: published by the park CAS (Release).
        self.0.store(until, Ordering::Relaxed);
    }
    /// Whether a timer due at `due` is earlier than the driver's sleep.
    fn is_after(&self, due: u64) -> bool {
        // Relaxed: the push CAS (Acquire) that read PARKED ordered the
        // driver's `set` before this.
        due < self.0.load(Ordering::Relaxed)
    }
}

#[cfg(not(target_has_atomic = "64"))]
struct SleepUntil;

#[cfg(not(target_has_atomic = "64"))]
impl SleepUntil {
    fn new() -> Self {
        Self
    }
    fn set(&self, _: u64) {}
    fn is_after(&self, _: u64) -> bool {
        true
    }
}

/// A panic payload caught on a driver path (uninhabited without `std`,
/// where nothing is caught and a panic unwinds instead).
#[cfg(feature = "std")]
type Panic = raw::Payload;
#[cfg(not(feature = "std"))]
type Panic = core::convert::Infallible;

/// Runs code that may run user code (a closure's destructor, a panic
/// payload's): with `std` a panic is caught and returned; without `std` it
/// unwinds, and the callers are unwind-safe.
#[inline]
fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    #[cfg(feature = "std")]
    {
        extern crate std;
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
    }
    #[cfg(not(feature = "std"))]
    {
        Ok(f())
    }
}

/// Drops a caught payload on a path that must go on (its destructor is
/// user code too: a panic there is caught and the second payload leaked).
#[cfg(feature = "std")]
fn discard_panic(p: Option<Panic>) {
    if let Some(p) = p {
        if let Err(again) = catch(move || drop(p)) {
            core::mem::forget(again);
        }
    }
}

/// Without `std` nothing is caught, so there is nothing to drop.
#[cfg(not(feature = "std"))]
fn discard_panic(p: Option<Panic>) {
    if let Some(p) = p {
        match p {}
    }
}

/// Keeps the first of several caught panics.
#[cfg(feature = "std")]
fn keep_first(first: &mut Option<Panic>, p: Panic) {
    if first.is_none() {
        *first = Some(p);
    } else {
        discard_panic(Some(p));
    }
}

/// Which queue the current thread drives (`std`): a callback that would
/// block on its own queue's driver is refused with a panic instead of
/// hanging every timer of the queue.
#[cfg(all(feature = "std", not(loom)))]
mod current {
    extern crate std;
    use super::Shared;
    use core::cell::Cell;

    /// Nesting depth recorded (a callback of one queue may drive another,
    /// a nested `fire_due`, on the outer queue's driver thread); deeper
    /// levels are counted but not recorded.
    const DEPTH: usize = 4;

    std::thread_local! {
        static DRIVING: [Cell<*const Shared>; DEPTH] =
            const { [const { Cell::new(core::ptr::null()) }; DEPTH] };
        static LEVEL: Cell<usize> = const { Cell::new(0) };
    }

    /// This thread drives `shared` from now on (nested in what it drove).
    pub(super) fn enter(shared: *const Shared) -> *const Shared {
        let _ = LEVEL.try_with(|l| {
            let level = l.get();
            if level < DEPTH {
                let _ = DRIVING.try_with(|d| d[level].set(shared));
            }
            l.set(level + 1);
        });
        shared
    }

    pub(super) fn leave(_entered: *const Shared) {
        let _ = LEVEL.try_with(|l| {
            let level = l.get().saturating_sub(1);
            if level < DEPTH {
                let _ = DRIVING.try_with(|d| d[level].set(core::ptr::null()));
            }
            l.set(level);
        });
    }

    /// Whether this thread drives `shared` (runs its callbacks or drain),
    /// at any recorded nesting depth.
    pub(super) fn drives(shared: *const Shared) -> bool {
        DRIVING
            .try_with(|d| d.iter().any(|c| c.get() == shared))
            .unwrap_or(false)
    }
}

/// Without `std` (or under loom) the driving thread is not recorded.
#[cfg(not(all(feature = "std", not(loom))))]
mod current {
    use super::Shared;

    pub(super) fn enter(_: *const Shared) -> *const Shared {
        core::ptr::null()
    }
    pub(super) fn leave(_: *const Shared) {}
    pub(super) fn drives(_: *const Shared) -> bool {
        false
    }
}

/// The queue's state, boxed on first use (it must not move: nodes and
/// list heads point into it).
pub(super) struct Shared {
    /// The inbox head and its tags; hot for every schedule and cancel.
    inbox: raw::Inbox,
    /// Timers scheduled and not finished.
    len: AtomicUsize,
    /// Bytes of the nodes cancelled while the driver was parked, since its
    /// last take.
    garbage: AtomicUsize,
    /// Where the parked driver sleeps until.
    sleep_until: SleepUntil,
    /// The driver's futex word: a park epoch moved on by every park and
    /// every wake, with [`COVERED`] in bit 0.
    seq: AtomicU32,
    /// The epoch of the driver's latest park: `set_driver_waker` compares it
    /// with `seq` to see whether a wake of this park already happened
    /// (and may have reached no waker, or the one it replaces).
    park_epoch: AtomicU32,
    /// 1 once the shutdown drain is done; `shutdown` callers wait on it.
    drained: AtomicU32,
    /// The waker of an event loop or executor that drives the queue
    /// through `fire_due`.
    waker: driver_waker::DriverWaker,
    /// The wheel and the driver's lists.
    driver: wheel::Driver,
    /// Under loom, checks that the queue outlives every canceller's use.
    lifetime: raw::Lifetime,
}

impl Shared {
    fn new() -> Self {
        Self {
            inbox: raw::Inbox::new(),
            len: AtomicUsize::new(0),
            garbage: AtomicUsize::new(0),
            sleep_until: SleepUntil::new(),
            seq: AtomicU32::new(0),
            park_epoch: AtomicU32::new(0),
            drained: AtomicU32::new(0),
            waker: driver_waker::DriverWaker::new(),
            driver: wheel::Driver::new(),
            lifetime: raw::Lifetime::new(),
        }
    }

    /// Wakes the parked driver (a futex wake for `run`, or the registered
    /// waker for `fire_due`'s caller: whichever sleeps, as the epoch its
    /// bump lands in says; no syscall without a futex sleeper) unless a wake of its current park has
    /// already completed. Never relies on another waker's progress: a
    /// waker stalled anywhere in here leaves `COVERED` clear, so the next
    /// one wakes the driver itself (SAFETY.md, "TimerQueue: no lost
    /// wake-up").
    fn wake_driver(&self) {
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
    fn turn(&self, tok: &Token<'_>) -> Result<Option<u64>, ShutDown> {
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
    fn next_deadline(&self, tok: &Token<'_>, now: u64) -> Option<u64> {
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
    fn take_inbox(&self, tok: &Token<'_>) -> usize {
        let (chain, tags) = self.inbox.take(tok);
        self.garbage.store(0, Ordering::Relaxed);
        for item in chain {
            match item {
                Taken::New(node) => self.adopt(tok, node),
                Taken::Message(message) => {
                    if let Some(node) = raw::unlink(tok, message) {
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
    fn sweep_deferred(&self, tok: &Token<'_>) -> bool {
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
        let payload = crate::sync::on_unwind(|| catch(|| claim.run()).err(), || ended(true));
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
    fn park(&self, tok: &Token<'_>, next: Option<u64>, in_caller: bool) -> Option<u32> {
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
    fn sleep(&self, tok: &Token<'_>, next: Option<u64>) {
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
        let panic = crate::sync::on_unwind(
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
    fn wait_drained(&self) {
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
            match node.try_cancel(s) {
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
struct ShutDown;

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
struct Driving<'a> {
    shared: &'a Shared,
    tok: Option<Token<'a>>,
    previous: *const Shared,
}

impl<'a> Driving<'a> {
    /// Becomes the driver, unless another thread is.
    fn try_new(shared: &'a Shared) -> Option<Self> {
        let tok = shared.inbox.try_drive()?;
        Some(Self::with(shared, tok))
    }

    fn with(shared: &'a Shared, tok: Token<'a>) -> Self {
        Self {
            shared,
            tok: Some(tok),
            previous: current::enter(shared),
        }
    }

    fn tok(&self) -> &Token<'a> {
        self.tok.as_ref().expect("driver token present until drop")
    }

    /// Gives the role up; a closure destructor's panic from the drain (if
    /// the queue was shut down) is returned.
    fn finish(mut self) -> Option<Panic> {
        self.release()
    }

    fn release(&mut self) -> Option<Panic> {
        let tok = self.tok.take()?;
        let shared = self.shared;
        let previous = self.previous;
        let panic = crate::sync::on_unwind(
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

/// Many timers on one driver thread: schedule and cancel from any thread
/// without a lock, with `Timer`'s truthful cancel.
///
/// A [`Timer`](crate::Timer) takes a thread per timer (Python's model);
/// a `TimerQueue` runs any number of timers on one thread that calls
/// [`run`](Self::run) (or on your event loop through
/// [`fire_due`](Self::fire_due)). Scheduling allocates the timer's one
/// node and pushes it with one CAS; cancelling is one CAS on the timer's
/// state word (plus one push if the driver already filed it), and its
/// memory comes back within a driver turn, not at its due time.
///
/// # Examples
///
/// ```
/// use rallypoint::{TimerQueue, TimerState};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let queue = Arc::new(TimerQueue::new());
/// let driver = {
///     let queue = Arc::clone(&queue);
///     std::thread::spawn(move || queue.run())
/// };
///
/// let fired = Arc::new(AtomicUsize::new(0));
/// let f = Arc::clone(&fired);
/// let soon = queue.schedule(Duration::from_millis(5), move || {
///     f.fetch_add(1, Ordering::SeqCst);
/// });
/// let timeout = queue.schedule(Duration::from_secs(30), || unreachable!());
/// assert!(timeout.cancel()); // true: it will never run
/// soon.wait();
/// assert_eq!(soon.state(), TimerState::Fired);
/// assert_eq!(fired.load(Ordering::SeqCst), 1);
///
/// queue.shutdown();
/// driver.join().unwrap();
/// ```
///
/// # Misuse and bad input
///
/// | What | Outcome |
/// |---|---|
/// | a second thread calls `run` or `fire_due` while one drives | returns at once (`fire_due`: `None`), fires nothing |
/// | `schedule` after `shutdown` | returns a timer that is already `Cancelled`; its function is dropped |
/// | `Duration::ZERO` / `Duration::MAX` | due at once / never due (waits until cancelled or shutdown) |
/// | `schedule_repeating` with period zero | panics with a message saying so |
/// | a function panics | with `std`: caught; the timer is `Fired`, `join` returns the payload, the driver goes on. Without `std`: the panic leaves `run`/`fire_due`, the timer is `Fired`, the queue stays usable |
/// | dropping a `ScheduledTimer` | detaches it: the timer still runs |
/// | dropping the queue | as `shutdown`; handles stay valid (their timers are finished) |
pub struct TimerQueue {
    shared: SharedCell,
    precision: Precision,
}

impl TimerQueue {
    crate::sync::loom_const_fn! {
        /// An empty queue, with [`Precision::Default`]. `const`, so a queue
        /// can live in a `static`; nothing is allocated until first use.
        #[must_use]
        pub fn new() -> Self {
            Self {
                shared: SharedCell::new(),
                precision: Precision::Default,
            }
        }
    }

    /// Sets how precisely [`run`](Self::run) wakes for deadlines (see
    /// [`Precision`]): on Linux, `Precise` sets the driving thread's timer
    /// slack to 1 ns while it runs (lateness p50 ~20 µs instead of ~70 µs,
    /// at the price of more wake-ups). Never early either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Precision, TimerQueue};
    /// static QUEUE: TimerQueue = TimerQueue::new().with_precision(Precision::Precise);
    /// assert_eq!(QUEUE.precision(), Precision::Precise);
    /// ```
    #[must_use]
    pub const fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The precision [`run`](Self::run) uses.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    #[inline]
    fn shared(&self) -> &Shared {
        self.shared.get_or_init(Shared::new)
    }

    /// Schedules `f` to run once, on the driving thread, no earlier than
    /// `delay` after this call. Returns at once.
    ///
    /// `Duration::ZERO` is due at once; `Duration::MAX` never falls due
    /// (the timer waits until cancelled or shutdown). After `shutdown` the
    /// returned timer is already `Cancelled`. Allocates the timer's one
    /// node; takes no lock; wakes the driver (one futex wake) only if this
    /// timer is due before the one it sleeps for.
    ///
    /// # Panics
    ///
    /// On a target without an OS, if no clock was registered with
    /// `set_clock` (every schedule reads the clock).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{TimerQueue, TimerState};
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let timer = queue.schedule(Duration::ZERO, || println!("fired"));
    /// assert_eq!(queue.fire_due(), None); // fired it; nothing else pending
    /// assert_eq!(timer.state(), TimerState::Fired);
    /// ```
    pub fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> ScheduledTimer {
        self.schedule_body(due_after(delay), (), Once(f))
    }

    /// Schedules `f` to run every `period`, at a fixed rate: the n-th run
    /// is due at `schedule time + n * period`, however late earlier runs
    /// were. Periods that have already passed when a run ends (a slow
    /// function, a late driver) are skipped, not run in a burst, and
    /// counted in [`ScheduledTimer::missed`].
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let tick = queue.schedule_repeating(Duration::from_millis(1), || {});
    /// while tick.runs() < 3 {
    ///     if let Some(wait) = queue.fire_due() {
    ///         std::thread::sleep(wait);
    ///     }
    /// }
    /// assert!(tick.cancel());
    /// ```
    pub fn schedule_repeating<F: FnMut() + Send + 'static>(
        &self,
        period: Duration,
        f: F,
    ) -> ScheduledTimer {
        assert!(
            !period.is_zero(),
            "rallypoint: TimerQueue::schedule_repeating needs a non-zero period"
        );
        let repeat = Repeat {
            period: nanos(period).max(1),
            runs: counter_new(),
            missed: counter_new(),
        };
        self.schedule_body(due_after(period), repeat, Every(f))
    }

    fn schedule_body<B: raw::Body>(&self, due: u64, extra: B::Extra, body: B) -> ScheduledTimer {
        let shared = self.shared();
        let (handle, queued) = Owned::new(shared, due, WAITING, extra, body);
        shared.len.fetch_add(1, Ordering::Relaxed);
        match shared.inbox.push_new(queued) {
            Ok(tags) => {
                if tags & TAG_PARKED != 0 && shared.sleep_until.is_after(due) {
                    shared.wake_driver();
                }
            }
            Err(queued) => {
                // Shut down: the timer is cancelled before anyone saw it.
                shared.len.fetch_sub(1, Ordering::Relaxed);
                let claimed = queued.claim(WAITING, CANCELLED, Ordering::Relaxed);
                debug_assert!(claimed.is_ok());
                drop(claimed);
            }
        }
        ScheduledTimer { node: handle }
    }

    /// Drives the queue on the calling thread until [`shutdown`]: fires
    /// timers when due and parks (a futex timed wait) until the exact due
    /// time of the earliest timer in between. A timer scheduled earlier
    /// than the one the driver sleeps for wakes it; later ones never do.
    ///
    /// Only one thread drives a queue at a time: if another thread is
    /// driving it (`run` or [`fire_due`](Self::fire_due)), this returns at
    /// once. Callbacks run on this thread, one after another: a callback
    /// that blocks delays every other timer of the queue. With `std` a
    /// panicking function is caught and reported through its timer
    /// ([`ScheduledTimer::join`]), and so is a closure whose destructor
    /// panics (dropped); the driver goes on. Without `std` the panic leaves
    /// `run` and the queue stays consistent.
    ///
    /// [`shutdown`]: Self::shutdown
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let queue = Arc::new(TimerQueue::new());
    /// let driver = std::thread::spawn({
    ///     let queue = Arc::clone(&queue);
    ///     move || queue.run()
    /// });
    /// queue.schedule(Duration::from_millis(1), || {}).wait();
    /// queue.shutdown(); // `run` returns
    /// driver.join().unwrap();
    /// ```
    pub fn run(&self) {
        let shared = self.shared();
        let Some(driving) = Driving::try_new(shared) else {
            return;
        };
        let _precision = precision::apply(self.precision);
        while let Ok(next) = shared.turn(driving.tok()) {
            if next.is_some_and(|n| n <= now_ns()) {
                continue; // due already (a slow pass, or a short period)
            }
            shared.sleep(driving.tok(), next);
        }
    }

    /// Fires the timers that are due now, on the calling thread, and
    /// returns the time until the next deadline: the exact due time of the
    /// earliest pending timer (`None` if nothing is pending, or another
    /// thread drives the queue, or it is shut down).
    ///
    /// For event loops and `no_std` ticks: call it when the returned time
    /// has passed. Each call fires only what was due when it started (a
    /// timer that a callback schedules for now, or a repeating timer due
    /// again, waits for the next call, which the returned `Duration::ZERO`
    /// asks for), so it always returns. A timer scheduled from another
    /// thread meanwhile that is due earlier than the returned time wakes
    /// the waker given to [`set_driver_waker`](Self::set_driver_waker).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    ///
    /// let queue = TimerQueue::new();
    /// let timer = queue.schedule(Duration::from_millis(2), || {});
    /// // A minimal event loop: sleep until the next deadline, fire, repeat.
    /// while let Some(wait) = queue.fire_due() {
    ///     assert!(wait <= Duration::from_millis(2));
    ///     std::thread::sleep(wait);
    /// }
    /// assert!(timer.is_finished());
    /// ```
    pub fn fire_due(&self) -> Option<Duration> {
        // Allocates on first use, so that even the first call leaves the
        // queue parked: a later schedule then wakes the driver waker.
        let shared = self.shared();
        let driving = Driving::try_new(shared)?;
        let tok = driving.tok();
        let mut next = shared.turn(tok).ok()?;
        // Leave the queue parked for the caller's sleep, so that an earlier
        // timer (or enough cancels) wakes the registered waker. Timers
        // pushed since the take are filed first (not fired: a second try,
        // then "call again now").
        let mut parked = false;
        for _ in 0..2 {
            if shared.park(tok, next, true).is_some() {
                parked = true;
                break;
            }
            if shared.take_inbox(tok) & TAG_SHUTDOWN != 0 {
                return None;
            }
            next = shared.next_deadline(tok, now_ns());
        }
        drop(driving);
        if !parked {
            return Some(Duration::ZERO);
        }
        next.map(|n| Duration::from_nanos(n.saturating_sub(now_ns())))
    }

    /// Registers the waker of whoever drives the queue through
    /// [`fire_due`](Self::fire_due) (an event loop, an executor's task):
    /// while nobody is inside `fire_due`, a `schedule` that is due earlier
    /// than the deadline `fire_due` last returned (or enough cancels to
    /// reclaim) wakes it, once per `fire_due` call. A thread parked in
    /// [`run`](Self::run) is woken through its futex as before.
    ///
    /// Call it before each sleep of the loop (cheap when `waker` wakes the
    /// same task as the registered one): if a wake is in progress the
    /// waker is not stored but woken at once, so that the loop looks again.
    /// Never blocks, takes no lock; clones `waker` only when it changes.
    ///
    /// # Panics
    ///
    /// A waker is foreign code: if its `wake_by_ref` panics, the panic
    /// reaches whichever call woke it (this one, or a `schedule`, `cancel`
    /// or `shutdown` on another thread). The queue stays consistent; a
    /// `schedule` whose wake panicked has already scheduled its timer (the
    /// handle is dropped by the unwinding, so the timer runs detached).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::sync::Arc;
    /// use std::task::{Wake, Waker};
    /// use std::time::Duration;
    ///
    /// /// Unparks the event loop's thread.
    /// struct Unpark(std::thread::Thread);
    /// impl Wake for Unpark {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.unpark();
    ///     }
    /// }
    ///
    /// let queue = Arc::new(TimerQueue::new());
    /// let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    /// let _hour = queue.schedule(Duration::from_secs(3600), || {});
    /// let mut wait = queue.fire_due().unwrap(); // the loop would sleep for an hour...
    /// assert!(wait > Duration::from_secs(3500));
    /// queue.set_driver_waker(&waker);
    /// let soon = {
    ///     let queue = Arc::clone(&queue);
    ///     std::thread::spawn(move || queue.schedule(Duration::from_millis(1), || {}))
    ///         .join()
    ///         .unwrap()
    /// };
    /// loop {
    ///     std::thread::park_timeout(wait); // ...but the 1 ms timer unparked it
    ///     wait = queue.fire_due().unwrap();
    ///     if soon.is_finished() {
    ///         break;
    ///     }
    ///     queue.set_driver_waker(&waker);
    /// }
    /// ```
    pub fn set_driver_waker(&self, waker: &core::task::Waker) {
        let shared = self.shared();
        if shared.waker.register(waker) {
            // A new waker. A wake of the current park that began before it
            // was stored reached the old waker, or none, and may have set
            // COVERED, which silences every later wake of this park: if
            // `seq` moved since the park, wake the new waker so that its
            // owner looks again (fire_due: a new epoch). A wake whose bump
            // this load misses reads the new waker: both sides RMW the
            // waker's state word, so one acquires the other.
            let bumped = shared.seq.load(Ordering::Relaxed) & !COVERED
                != shared.park_epoch.load(Ordering::Relaxed);
            if bumped && shared.inbox.tags() & TAG_PARKED != 0 {
                waker.wake_by_ref();
            }
        }
    }

    /// Timers scheduled and not yet finished (a snapshot).
    pub fn len(&self) -> usize {
        self.shared
            .get()
            .map_or(0, |s| s.len.load(Ordering::Relaxed))
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shuts the queue down: [`run`](Self::run) returns, every pending
    /// timer is cancelled (its waiters wake, its function is dropped
    /// unrun), and every later `schedule` returns a timer that is already
    /// `Cancelled`. Idempotent.
    ///
    /// Returns once every pending timer is cancelled. If no thread drives
    /// the queue, the calling thread does it; if one does (or another
    /// `shutdown` is draining), it is woken and this call waits for it, so
    /// it may wait for a function that is already running to return.
    /// Called from a callback of this queue (with `std`: without `std` the
    /// driving thread is not known, and this call would wait for itself),
    /// it returns at once and the drain runs when the callback returns.
    ///
    /// # Panics
    ///
    /// On [`TimerQueue::global()`], which other code in the process shares:
    /// it cannot be shut down. If a closure's destructor panics during a
    /// drain on this thread, the drain completes first, then the panic is
    /// resumed here.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{TimerQueue, TimerState};
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let timer = queue.schedule(Duration::from_secs(60), || unreachable!());
    /// queue.shutdown();
    /// assert_eq!(timer.state(), TimerState::Cancelled);
    /// assert!(!timer.cancel()); // the queue cancelled it
    /// assert!(queue.is_shut_down());
    /// ```
    pub fn shutdown(&self) {
        #[cfg(all(feature = "std", not(loom)))]
        assert!(
            !core::ptr::eq(self, &GLOBAL),
            "rallypoint: TimerQueue::global() cannot be shut down: other code in the process shares it"
        );
        if let Some(panic) = self.shutdown_inner() {
            #[cfg(feature = "std")]
            {
                extern crate std;
                std::panic::resume_unwind(panic);
            }
            #[cfg(not(feature = "std"))]
            match panic {}
        }
    }

    /// `shutdown`, returning a destructor's panic from a drain on this
    /// thread instead of resuming it.
    fn shutdown_inner(&self) -> Option<Panic> {
        let shared = self.shared();
        let (first, tok) = shared.inbox.shutdown();
        let drained_here = tok.is_some();
        let panic = tok.and_then(|tok| Driving::with(shared, tok).finish());
        if first {
            // `run` returns; an event loop's waker hears of it.
            shared.wake_driver();
        }
        let without_std = cfg!(not(all(feature = "std", not(loom))));
        if !drained_here && !without_std && !current::drives(shared) {
            shared.wait_drained();
        }
        panic
    }

    /// Whether [`shutdown`](Self::shutdown) was called (or the queue is
    /// being dropped).
    pub fn is_shut_down(&self) -> bool {
        self.shared
            .get()
            .is_some_and(|s| s.inbox.tags() & TAG_SHUTDOWN != 0)
    }
}

/// The process-wide queue behind [`TimerQueue::global`].
#[cfg(all(feature = "std", not(loom)))]
static GLOBAL: TimerQueue = TimerQueue::new();

#[cfg(all(feature = "std", not(loom)))]
impl TimerQueue {
    /// The process-wide queue, driven by a thread (`rallypoint-timers`)
    /// that starts on the first call. Every call returns the same queue.
    ///
    /// # Panics
    ///
    /// If the OS cannot create the driver thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// # if cfg!(miri) { return; } // Miri reports the driver thread outliving main.
    /// let timer = TimerQueue::global().schedule(Duration::from_millis(1), || {});
    /// timer.join().unwrap();
    /// assert!(core::ptr::eq(TimerQueue::global(), TimerQueue::global()));
    /// ```
    pub fn global() -> &'static TimerQueue {
        extern crate std;
        static START: std::sync::Once = std::sync::Once::new();
        START.call_once(|| {
            std::thread::Builder::new()
                .name("rallypoint-timers".into())
                .spawn(|| GLOBAL.run())
                .expect("rallypoint: failed to spawn the global timer thread");
        });
        &GLOBAL
    }
}

impl Default for TimerQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TimerQueue {
    fn drop(&mut self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        // `&mut self`: no thread is inside `run` or `fire_due`, so this
        // thread drains (or a drain already ran).
        let panic = self.shutdown_inner();
        // Free `Shared` only when nothing can reach it: every timer is
        // finished, so only a canceller still `INFLIGHT` can (SAFETY.md,
        // "TimerQueue: memory reclamation"). Its remaining work is ours
        // (a few instructions and a futex wake), so wait for it, unless it
        // may be calling a registered driver waker (foreign code): then,
        // if one is still in flight, leak the queue rather than wait.
        let free = match shared.inbox.try_drive() {
            Some(tok) => {
                let patient = !shared.waker.is_registered();
                let mut done = shared.sweep_deferred(&tok);
                while !done && patient {
                    #[cfg(loom)]
                    loom::thread::yield_now();
                    #[cfg(all(not(loom), feature = "std"))]
                    {
                        extern crate std;
                        std::thread::yield_now();
                    }
                    #[cfg(all(not(loom), not(feature = "std")))]
                    core::hint::spin_loop();
                    done = shared.sweep_deferred(&tok);
                }
                shared.inbox.release_drained(&tok);
                done
            }
            // The driver role is still held (cannot happen: every path
            // releases it, also on unwind). Never free what a driver uses.
            None => false,
        };
        let taken = self.shared.take();
        if free {
            drop(taken);
        } else {
            core::mem::forget(taken);
        }
        discard_panic_or_resume(panic);
    }
}

/// Resumes a drain's panic in `TimerQueue::drop` (after the queue is
/// freed), as dropping a collection whose element panics does.
fn discard_panic_or_resume(panic: Option<Panic>) {
    if let Some(panic) = panic {
        #[cfg(feature = "std")]
        {
            extern crate std;
            std::panic::resume_unwind(panic);
        }
        #[cfg(not(feature = "std"))]
        match panic {}
    }
}

impl fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("len", &self.len())
            .field("is_shut_down", &self.is_shut_down())
            .field("precision", &self.precision)
            .finish()
    }
}

/// A timer scheduled on a [`TimerQueue`]: cancel it, wait for it, look at
/// it. Clones share the one timer; dropping it detaches (the timer still
/// runs).
#[derive(Clone)]
pub struct ScheduledTimer {
    node: Owned,
}

impl ScheduledTimer {
    /// Cancels the timer.
    ///
    /// One-shot: returns `true` exactly when this call guaranteed that the
    /// function will never run (as [`Timer::cancel`](crate::Timer::cancel));
    /// `false` if it already started or finished, or was cancelled or
    /// discarded by `shutdown`. Repeating: `true` when this call stopped
    /// it: no run starts after `cancel` returns (a run in progress
    /// completes; [`wait`](Self::wait) waits for it).
    ///
    /// Never blocks, never allocates, takes no lock; drops the function
    /// at once if it was not running. The memory is reclaimed within a
    /// driver turn.
    pub fn cancel(&self) -> bool {
        let node = &self.node;
        let mut s = node.state().load(Ordering::Relaxed);
        loop {
            match phase(s) {
                WAITING => match node.try_cancel(s) {
                    Ok(cancel) => return Self::finish_cancel(&cancel, node.size()),
                    Err(actual) => s = actual,
                },
                RUNNING if s & STOPPED == 0 && node.repeat().is_some() => {
                    // AcqRel: Release publishes the canceller's writes to
                    // waiters (through the driver's finishing swap, an RMW
                    // later in the word's order); one CAS against the
                    // driver's requeue decides whether another run starts.
                    match node.state().compare_exchange(
                        s,
                        s | STOPPED,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(actual) => s = actual,
                    }
                }
                _ => return false,
            }
        }
    }

    /// The queue-side work of a winning cancel (under `INFLIGHT`);
    /// `false` if the queue was shut down (its drain cancels the timer
    /// anyway: `cancel` did not decide).
    fn finish_cancel(cancel: &raw::Cancel<'_>, size: usize) -> bool {
        let shared = cancel.queue();
        shared.len.fetch_sub(1, Ordering::Relaxed);
        let tags = if cancel.from() & LINKED == 0 {
            // Still in the inbox (a parked driver leaves later timers
            // there): the driver's next take frees it; only a wake tells it.
            shared.inbox.tags()
        } else {
            // A refused message: shut down; the drain finds the node in
            // its list instead.
            cancel.send_message().unwrap_or(TAG_SHUTDOWN)
        };
        if tags & TAG_SHUTDOWN != 0 {
            return false;
        }
        if tags & TAG_PARKED != 0 {
            // Relaxed: a hint that only times a wake (see RECLAIM_BYTES).
            let before = shared.garbage.fetch_add(size, Ordering::Relaxed);
            if before.saturating_add(size) >= RECLAIM_BYTES {
                shared.wake_driver();
            }
        }
        true
    }

    /// Where the timer is in its life (the same states as [`Timer`]'s):
    /// `Waiting` while pending, `Running` while the function runs, `Fired`
    /// once a one-shot function returned or panicked (or a repeating one
    /// panicked), `Cancelled` once cancelled or discarded by `shutdown`
    /// (repeating: once stopped and no run is in progress; a run in
    /// progress at the cancel that panics ends it `Fired`).
    ///
    /// [`Timer`]: crate::Timer
    pub fn state(&self) -> TimerState {
        // Acquire: a caller who sees a final state sees the function's
        // (or the canceller's) effects.
        let s = self.node.state().load(Ordering::Acquire);
        match phase(s) {
            // A cancel in flight has not finished (see `raw::is_finished`).
            _ if s & INFLIGHT != 0 => TimerState::Waiting,
            WAITING => TimerState::Waiting,
            RUNNING => TimerState::Running,
            FIRED => TimerState::Fired,
            _ => TimerState::Cancelled,
        }
    }

    /// Whether the timer is `Fired` or `Cancelled`.
    pub fn is_finished(&self) -> bool {
        // Acquire: as in `state`.
        raw::is_finished(self.node.state().load(Ordering::Acquire))
    }

    /// Whether the timer repeats.
    pub fn is_repeating(&self) -> bool {
        self.node.repeat().is_some()
    }

    /// Blocks until the timer is finished (never misses it).
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the timer is finished or `timeout` passes; returns
    /// whether it is finished.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Deadline::after(timeout))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        let state = self.node.state();
        // Acquire: pairs with the finishing transitions (Release).
        let mut s = state.load(Ordering::Acquire);
        // A `CANCELLED | INFLIGHT` word waits only for its canceller, not
        // for the driver.
        if !raw::is_finished(s) && phase(s) != CANCELLED && current::drives(self.node.queue_addr())
        {
            Self::refuse_wait_on_own_driver();
        }
        loop {
            if raw::is_finished(s) {
                return true;
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return false;
            }
            // Publish PARKED before sleeping on the word's exact value;
            // the finishing RMW comes later in the word's order and wakes
            // us.
            s = park_flagged(state, s, PARKED, deadline);
        }
    }

    #[cold]
    #[track_caller]
    fn refuse_wait_on_own_driver() -> ! {
        panic!(
            "rallypoint: ScheduledTimer::wait/join/wait_timeout called from a callback of its own queue \
             on a timer that is not finished: the driver thread that must finish it is the one waiting"
        )
    }

    /// Completed runs of the function (returned or panicked).
    pub fn runs(&self) -> u64 {
        match self.node.repeat() {
            Some(r) => counter_get(&r.runs),
            // Acquire: as in `state`.
            None => u64::from(phase(self.node.state().load(Ordering::Acquire)) == FIRED),
        }
    }

    /// Repeating timers: periods skipped because a run (or the driver) was
    /// so late that their due time had passed. Always 0 for one-shots.
    pub fn missed(&self) -> u64 {
        self.node.repeat().map_or(0, |r| counter_get(&r.missed))
    }

    /// Waits until the timer is finished.
    ///
    /// # Errors
    ///
    /// The panic payload if the function panicked (the first `join` of
    /// the clones gets the payload, later ones a message saying so).
    #[cfg(feature = "std")]
    pub fn join(self) -> std::thread::Result<()> {
        extern crate std;
        self.wait();
        // Acquire: pairs with the finishing swap (Release).
        if self.node.state().load(Ordering::Acquire) & PANICKED == 0 {
            return Ok(());
        }
        Err(self.node.take_panic().unwrap_or_else(|| {
            alloc::boxed::Box::new(
                "rallypoint: the timer's function panicked (another join took the payload)",
            )
        }))
    }

    /// Whether two handles name the same timer.
    pub fn ptr_eq(&self, other: &ScheduledTimer) -> bool {
        self.node.same(&other.node)
    }
}

impl fmt::Debug for ScheduledTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduledTimer")
            .field("state", &self.state())
            .field("runs", &self.runs())
            .field("missed", &self.missed())
            .finish()
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

    #[test]
    fn nanos_saturates() {
        assert_eq!(nanos(Duration::from_nanos(7)), 7);
        assert_eq!(nanos(Duration::MAX), NEVER);
        assert_eq!(due_after(Duration::MAX), NEVER);
    }
}
