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
//!   the driver (a futex wake) only if it is earlier. A cancel wakes it only
//!   once per [`RECLAIM_BATCH`] cancel messages, so that memory comes back
//!   without a syscall per cancel.
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

#[allow(unsafe_code)] // The queue's one unsafe module (SAFETY.md, "TimerQueue").
mod raw;
mod wheel;

use self::raw::{
    phase, Every, Once, Owned, Repeat, SharedCell, Taken, Token, CANCELLED, FIRED, INFLIGHT,
    LINKED, PANICKED, PARKED, RUNNING, STOPPED, TAG_PARKED, TAG_SHUTDOWN, WAITING,
};
use crate::futex::{self, Deadline};
use crate::precision::{self, Precision};
use crate::sync::{AtomicU32, AtomicUsize, Ordering};
use crate::timer::TimerState;
use core::fmt;
use core::time::Duration;

/// Due "never" (`Duration::MAX`, or beyond ~584 years of uptime).
const NEVER: u64 = u64::MAX;

/// A cancel wakes a sleeping driver once per this many cancel messages, so
/// that cancelled timers' memory comes back without a syscall per cancel
/// (each holds at most a node: the canceller drops the closure at once).
#[cfg(not(loom))]
pub(crate) const RECLAIM_BATCH: u32 = 64;
/// Under loom every cancel message to a parked driver wakes it, so that the
/// models explore that wake.
#[cfg(loom)]
pub(crate) const RECLAIM_BATCH: u32 = 1;

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

/// The instant the parked driver sleeps until: pushers of an earlier timer
/// lower it and wake the driver. Without 64-bit atomics every push that
/// sees the driver parked wakes it.
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
    /// Lowers it to `due`; whether this call did (and must wake).
    fn lower_to(&self, due: u64) -> bool {
        // Relaxed: the push CAS (Acquire) ordered the driver's `set`
        // before this; the wake that follows is a futex bump, ordered by
        // itself.
        due < self.0.load(Ordering::Relaxed) && self.0.fetch_min(due, Ordering::Relaxed) > due
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
    fn lower_to(&self, _: u64) -> bool {
        true
    }
}

/// The queue's state, boxed on first use (it must not move: nodes and
/// list heads point into it).
pub(super) struct Shared {
    /// The inbox head and its tags; hot for every schedule and cancel.
    inbox: raw::Inbox,
    /// Timers scheduled and not finished.
    len: AtomicUsize,
    /// Cancel messages sent while the driver was parked, since its last
    /// take.
    garbage: AtomicU32,
    /// Where the parked driver sleeps until.
    sleep_until: SleepUntil,
    /// The driver's futex word: bumped by every wake.
    seq: AtomicU32,
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
            garbage: AtomicU32::new(0),
            sleep_until: SleepUntil::new(),
            seq: AtomicU32::new(0),
            driver: wheel::Driver::new(),
            lifetime: raw::Lifetime::new(),
        }
    }

    /// Wakes the driver if it sleeps, or makes its next sleep return.
    fn notify(&self) {
        // Release: pairs with the driver's Acquire load of `seq` before it
        // parks (SAFETY.md, "TimerQueue: no lost wake-up").
        self.seq.fetch_add(1, Ordering::Release);
        futex::wake_all(&self.seq);
    }

    /// A push saw `PARKED`: wake the driver if `due` is earlier than its
    /// sleep.
    fn wake_for(&self, due: u64) {
        if self.sleep_until.lower_to(due) {
            self.notify();
        }
    }

    /// One driver turn: takes the inbox, fires what is due. Returns the
    /// next deadline (ns, `None` = nothing pending), or `Err` if shut down.
    fn turn(&self, tok: &Token<'_>) -> Result<Option<u64>, ShutDown> {
        loop {
            if self.take_inbox(tok) & TAG_SHUTDOWN != 0 {
                return Err(ShutDown);
            }
            self.sweep_deferred(tok);
            let now = now_ns();
            self.driver.advance(tok, now);
            if !self.fire(tok, now)? {
                let next = self.driver.next_deadline(tok);
                // Timers whose canceller was still INFLIGHT: look again
                // soon rather than at the next deadline (they are a
                // handful at most: one per canceller caught mid-cancel).
                #[cfg(not(loom))]
                if !self.driver.deferred.is_empty(tok) {
                    let soon = now.saturating_add(1_000_000);
                    return Ok(Some(next.map_or(soon, |n| n.min(soon))));
                }
                return Ok(next);
            }
        }
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
        // Acquire: pairs with the canceller's Release store clearing
        // INFLIGHT: its uses of the queue happen-before we free anything.
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

    /// Fires every timer in `current` due by `now`; whether it fired any.
    fn fire(&self, tok: &Token<'_>, now: u64) -> Result<bool, ShutDown> {
        self.driver.start_firing(tok);
        let mut fired = false;
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
                self.run_one(tok, node, s);
                fired = true;
            }
        }
        Ok(fired)
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
        #[cfg(feature = "std")]
        let payload = {
            extern crate std;
            std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| claim.run())).err()
        };
        #[cfg(not(feature = "std"))]
        let payload: Option<core::convert::Infallible> = {
            // A panic propagates to our caller; the claim's drop finishes
            // the timer as FIRED, this guard keeps `len` right.
            struct Len<'a>(&'a AtomicUsize);
            impl Drop for Len<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::Relaxed);
                }
            }
            let guard = Len(&self.len);
            claim.run();
            core::mem::forget(guard);
            None
        };
        let repeat = node.repeat();
        if let Some(r) = repeat {
            counter_add(&r.runs, 1);
        }
        match (payload, repeat) {
            #[allow(unused_variables, unreachable_code)]
            (Some(payload), _) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                #[cfg(feature = "std")]
                claim.set_panic(payload);
                claim.finish(FIRED, PANICKED);
                Ran::Finished
            }
            (None, None) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
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

    /// Sleeps until `next` (ns) or a wake.
    fn park(&self, tok: &Token<'_>, next: Option<u64>) {
        // Acquire: pairs with a waker's bump (Release); loaded before the
        // park CAS (SAFETY.md, "TimerQueue: no lost wake-up"), and before
        // `sleep_until` is set: a waker lowers `sleep_until` before its
        // bump, so every lowering whose bump this load (or the futex wait
        // that woke us) saw happens-before our `set` and cannot land after
        // it in the modification order, leaving a stale "wakes by 0" that
        // makes the next pusher skip its wake (loom:
        // `a_driver_parked_again_is_woken_again`).
        let seq = self.seq.load(Ordering::Acquire);
        self.sleep_until.set(next.unwrap_or(NEVER));
        if !self.inbox.park(tok) {
            return;
        }
        let deadline = next
            .filter(|&ns| ns != NEVER)
            .map(|ns| Deadline::at(Duration::from_nanos(ns)));
        futex::wait(&self.seq, seq, deadline);
    }

    /// Shutdown: cancels every timer the queue holds.
    fn drain(&self, tok: &Token<'_>) {
        self.take_inbox(tok);
        self.driver.drain(tok, |node| self.discard(tok, node));
    }

    /// Cancels a timer for the shutdown drain and releases it.
    fn discard(&self, tok: &Token<'_>, node: Owned) {
        let mut s = node.state().load(Ordering::Relaxed);
        while phase(s) == WAITING {
            // AcqRel: Release publishes the cancel to waiters; Acquire
            // pairs with the requeue or push that published the body.
            match node.claim(s, CANCELLED, Ordering::AcqRel) {
                Ok(claim) => {
                    self.len.fetch_sub(1, Ordering::Relaxed);
                    drop(claim); // wakes waiters, drops the body
                    break;
                }
                Err(actual) => s = actual,
            }
        }
        debug_assert_eq!(phase(node.state().load(Ordering::Relaxed)), CANCELLED);
        self.release(tok, node);
    }

    /// Gives up driving; drains first if shut down.
    fn release_driver<'a>(&'a self, tok: Token<'a>) {
        if let Err(tok) = self.inbox.try_release(tok) {
            self.drain(&tok);
            self.inbox.release_drained(tok);
        }
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

/// Holds the driver role; gives it up (draining if shut down) when dropped,
/// also when a function's panic unwinds (without `std`).
struct Driving<'a> {
    shared: &'a Shared,
    tok: Option<Token<'a>>,
}

impl<'a> Driving<'a> {
    fn tok(&self) -> &Token<'a> {
        self.tok.as_ref().expect("driver token present until drop")
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        if let Some(tok) = self.tok.take() {
            self.shared.release_driver(tok);
        }
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
                if tags & TAG_PARKED != 0 {
                    shared.wake_for(due);
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
    /// timers when due and parks (a futex timed wait) until the next
    /// deadline in between. A timer scheduled earlier than the one the
    /// driver sleeps for wakes it; later ones never do.
    ///
    /// Only one thread drives a queue at a time: if another thread is
    /// driving it (`run` or [`fire_due`](Self::fire_due)), this returns at
    /// once. With `std` a panicking function is caught and reported
    /// through its timer ([`ScheduledTimer::join`]); without `std` the
    /// panic leaves `run` and the queue stays consistent.
    ///
    /// [`shutdown`]: Self::shutdown
    pub fn run(&self) {
        let shared = self.shared();
        let Some(tok) = shared.inbox.try_drive() else {
            return;
        };
        let _precision = precision::apply(self.precision);
        let driving = Driving {
            shared,
            tok: Some(tok),
        };
        while let Ok(next) = shared.turn(driving.tok()) {
            shared.park(driving.tok(), next);
        }
    }

    /// Fires every timer that is due now, on the calling thread, and
    /// returns the time until the next deadline (`None` if nothing is
    /// pending, or another thread drives the queue, or it is shut down).
    ///
    /// For event loops and `no_std` ticks: call it when the returned time
    /// has passed (timers scheduled from other threads meanwhile are seen
    /// at the next call; `run` is woken for them instead).
    pub fn fire_due(&self) -> Option<Duration> {
        let shared = self.shared.get()?;
        let tok = shared.inbox.try_drive()?;
        let driving = Driving {
            shared,
            tok: Some(tok),
        };
        let next = shared.turn(driving.tok()).ok()??;
        drop(driving);
        Some(Duration::from_nanos(next.saturating_sub(now_ns())))
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
    /// If no thread drives the queue, the calling thread cancels the
    /// pending timers before returning. If one does, it is woken and does
    /// so at once (a function already running completes; `wait` on a timer
    /// returns when it is finished).
    pub fn shutdown(&self) {
        let shared = self.shared();
        let (first, tok) = shared.inbox.shutdown();
        if let Some(tok) = tok {
            shared.drain(&tok);
            shared.inbox.release_drained(tok);
        } else if first {
            shared.sleep_until.lower_to(0);
            shared.notify();
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called (or the queue is
    /// being dropped).
    pub fn is_shut_down(&self) -> bool {
        self.shared
            .get()
            .is_some_and(|s| s.inbox.tags() & TAG_SHUTDOWN != 0)
    }
}

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
        static GLOBAL: TimerQueue = TimerQueue::new();
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
        self.shutdown();
        // Cancellers still touching the queue (a few instructions each)
        // must finish before it is freed.
        if let Some(tok) = shared.inbox.try_drive() {
            while !shared.sweep_deferred(&tok) {
                #[cfg(loom)]
                loom::thread::yield_now();
                #[cfg(all(not(loom), feature = "std"))]
                {
                    extern crate std;
                    std::thread::yield_now();
                }
                #[cfg(all(not(loom), not(feature = "std")))]
                core::hint::spin_loop();
            }
            shared.inbox.release_drained(tok);
        } else {
            debug_assert!(false, "a dropped queue has no driver");
        }
        drop(self.shared.take());
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
                    Ok(cancel) => {
                        Self::finish_cancel(&cancel);
                        return true;
                    }
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

    /// The queue-side work of a winning cancel (under `INFLIGHT`).
    fn finish_cancel(cancel: &raw::Cancel<'_>) {
        let shared = cancel.queue();
        shared.len.fetch_sub(1, Ordering::Relaxed);
        let tags = if cancel.from() & LINKED == 0 {
            // Still in the inbox (a parked driver leaves later timers
            // there): the driver's next take frees it; only a wake tells it.
            Some(shared.inbox.tags())
        } else {
            cancel.send_message()
        };
        if let Some(tags) = tags {
            if tags & TAG_PARKED != 0
                && shared
                    .garbage
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_add(1)
                    == RECLAIM_BATCH
                && shared.sleep_until.lower_to(0)
            {
                shared.notify();
            }
        }
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
        match phase(self.node.state().load(Ordering::Acquire)) {
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
        loop {
            if raw::is_finished(s) {
                return true;
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return false;
            }
            if s & PARKED == 0 {
                // Publish PARKED before sleeping on the word's exact value;
                // the finishing RMW comes later in the word's order and
                // wakes us.
                match state.compare_exchange(s, s | PARKED, Ordering::Relaxed, Ordering::Acquire) {
                    Ok(_) => s |= PARKED,
                    Err(actual) => {
                        s = actual;
                        continue;
                    }
                }
            }
            futex::wait(state, s, deadline);
            // Acquire: as above.
            s = state.load(Ordering::Acquire);
        }
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
