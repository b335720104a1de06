//! [`TimerQueue`]: many timers on one driver thread, scheduled and
//! cancelled from any thread without a lock.
//!
//! # Design
//!
//! - **One allocation per timer**: a reference-counted node (`entry.rs`)
//!   holding the state word, the links, the due time and the closure. A
//!   [`ScheduledTimer`] is one counted reference; the queue holds another
//!   until it is done with the timer.
//! - **The state word** is `Timer`'s machine (`WAITING -> RUNNING -> FIRED`,
//!   `WAITING -> CANCELLED`, `timer_phase.rs`) plus flags (`entry.rs`
//!   lists them). One CAS
//!   decides between firing and cancelling; a repeating timer goes
//!   `RUNNING -> WAITING` between runs, and a cancel during a run sets
//!   `STOPPED` so that no run starts again.
//! - **The inbox** (`inbox.rs`) is an intrusive Treiber stack: `schedule` pushes the new
//!   node with one CAS, and so does `cancel` for a node already in the
//!   driver's wheel (a "cancel message": the driver unlinks and frees it on
//!   its next turn, not at its due time). The driver takes the whole stack
//!   with one CAS. The stack's head also carries three tag bits: `PARKED`
//!   (the driver sleeps), `SHUTDOWN`, `DRIVING` (one driver at a time).
//! - **The wheel** (`wheel.rs`) belongs to the driver alone: nine levels of
//!   64 slots, 8.2 µs ticks, O(1) insert and remove; the driver sleeps until
//!   the exact nanosecond of the earliest timer.
//! - **Waking the driver** (`driver.rs`): it publishes the instant it sleeps until, then
//!   sets `PARKED` with a CAS that succeeds only on an empty inbox. A push
//!   that sees `PARKED` compares its due time with that instant and wakes
//!   the driver (a futex wake, and the waker of `set_driver_waker`) only if
//!   it is earlier, and only if no wake of this park has completed yet
//!   (`COVERED` in the futex word): a waker never counts on another one
//!   that may be stalled. A cancel wakes it only once the cancelled nodes
//!   add up to [`RECLAIM_BYTES`](driver::RECLAIM_BYTES), so that memory comes back without a
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
//!
//! # Files
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`TimerQueue`], the public API (and the global queue) |
//! | `handle.rs` | [`ScheduledTimer`], a timer's handle |
//! | `driver.rs` | the driver: a turn, parking and wake-ups, the shutdown drain |
//! | `shared.rs` | the queue's shared part, its lazily allocated box, a canceller's access to it |
//! | `wheel.rs` | the driver's timing wheel and holding lists |
//! | `list.rs` | the driver's intrusive lists |
//! | `inbox.rs` | the lock-free inbox and its tags (`PARKED`, `SHUTDOWN`, `DRIVING`) |
//! | `entry.rs` | the node, its state word and references, the claim on its body |
//! | `body.rs` | what a node runs: one-shot and repeating bodies, counters |
//! | `token.rs` | the driver's token and the fields only it touches |
//! | `driver_waker.rs` | the event loop's waker (`set_driver_waker`) |
//! | `current.rs` | which queue this thread drives |
//! | `panic.rs` | catching and resuming panics on the queue's paths |
//! | `loom_stall.rs` | loom only: a model's stalled waker |
//!
//! Imports run one way: each file imports only files below it in this
//! table (and the crate's `timer_phase`, `futex`, `sync`, `waiting`).

#[allow(unsafe_code)] // Running and dropping a body (SAFETY.md, "TimerQueue: the body").
mod body;
mod current;
mod driver;
#[allow(unsafe_code)] // The waker cell (SAFETY.md, "TimerQueue: the driver waker").
mod driver_waker;
#[allow(unsafe_code)] // The node and its references (SAFETY.md, "TimerQueue").
mod entry;
mod handle;
#[allow(unsafe_code)] // Pushed and taken nodes (SAFETY.md, "TimerQueue").
mod inbox;
#[allow(unsafe_code)] // Listed nodes (SAFETY.md, "TimerQueue").
mod list;
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_stall;
mod panic;
#[allow(unsafe_code)] // The shared part's box, a canceller's access (SAFETY.md, "TimerQueue").
mod shared;
#[allow(unsafe_code)] // The driver's cells (SAFETY.md, "TimerQueue: who owns what").
mod token;
mod wheel;

pub use self::handle::ScheduledTimer;

use self::body::{counter_new, Body, Every, Once, Repeat};
use self::driver::{Driving, COVERED};
use self::entry::Owned;
use self::inbox::{TAG_PARKED, TAG_SHUTDOWN};
use self::panic::Panic;
use self::shared::{Shared, SharedCell};
use crate::precision::{self, Precision};
use crate::sync::Ordering;
use crate::time::{due_after, nanos, now_ns};
use crate::timer_phase::{CANCELLED, WAITING};
use core::fmt;
use core::time::Duration;

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
        ///
        /// # Examples
        ///
        /// ```
        /// use rallypoint::TimerQueue;
        /// static QUEUE: TimerQueue = TimerQueue::new(); // nothing allocated yet
        /// assert!(QUEUE.is_empty());
        /// let local = TimerQueue::new();
        /// assert_eq!(local.len(), 0);
        /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Precision, TimerQueue};
    /// assert_eq!(TimerQueue::new().precision(), Precision::Default);
    /// ```
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

    fn schedule_body<B: Body>(&self, due: u64, extra: B::Extra, body: B) -> ScheduledTimer {
        let shared = self.shared();
        let (handle, queued) = Owned::new(shared.addr(), due, WAITING, extra, body);
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
        ScheduledTimer::new(handle)
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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let a = queue.schedule(Duration::from_secs(60), || {});
    /// let _b = queue.schedule(Duration::from_secs(60), || {});
    /// assert_eq!(queue.len(), 2);
    /// a.cancel();
    /// assert_eq!(queue.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared
            .get()
            .map_or(0, |s| s.len.load(Ordering::Relaxed))
    }

    /// Whether [`len`](Self::len) is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// assert!(queue.is_empty());
    /// let timer = queue.schedule(Duration::ZERO, || {});
    /// assert!(!queue.is_empty());
    /// queue.fire_due(); // runs it
    /// assert!(queue.is_empty() && timer.is_finished());
    /// ```
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
        panic::resume(self.shutdown_inner());
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
        if !drained_here && !without_std && !current::drives(shared.addr()) {
            shared.wait_drained();
        }
        panic
    }

    /// Whether [`shutdown`](Self::shutdown) was called (or the queue is
    /// being dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// let queue = TimerQueue::new();
    /// assert!(!queue.is_shut_down());
    /// queue.shutdown();
    /// assert!(queue.is_shut_down());
    /// ```
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
        panic::resume(panic);
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
