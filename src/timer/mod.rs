//! [`Timer`]: Python's one-shot `threading.Timer`, as one atomic state word.
//! Its handles live beside it: [`TimerControl`] (`control.rs`, feature
//! `alloc`) and [`TimerHandle`] (`handle.rs`, feature `std`).
//!
//! # State word
//!
//! One `AtomicU32`, which is also the futex word every waiter parks on. Its
//! phase and `PARKED` are the timer phase machine of `timer_phase.rs`,
//! shared with `ScheduledTimer`:
//!
//! | bits | field     | meaning                                                  |
//! |------|-----------|----------------------------------------------------------|
//! | 0..2 | phase     | `WAITING` 0, `RUNNING` 1, `FIRED` 2, `CANCELLED` 3       |
//! | 2    | `PARKED`  | a `wait`er is parked (or about to): finishing must wake  |
//! | 3    | `CLAIMED` | `run` has been called (only the first call waits/fires) |
//!
//! Phases move `WAITING -> RUNNING -> FIRED` or `WAITING -> CANCELLED`, never
//! back. `WAITING -> RUNNING` (the runner, once the deadline passed) and
//! `WAITING -> CANCELLED` (`cancel`) are CASes on the same word, so exactly
//! one wins: `cancel()` returns `true` exactly when the function will never
//! run. Only the thread that won `WAITING -> RUNNING` touches the function.
//!
//! # Memory ordering
//!
//! - `RUNNING -> FIRED` is a `Release` swap, and `cancel`'s CAS is `AcqRel`;
//!   `wait`'s loads are `Acquire` and pair with them, so whatever the
//!   function (or the canceller) did happens-before `wait` returns.
//! - The runner's claim CAS needs no ordering for the function cell: the
//!   cell was written before the timer was shared (a happens-before edge
//!   given by the spawn or reference that shared it), and the CAS's place in
//!   the word's modification order alone makes the winner unique.
//! - A parker publishes `PARKED` (or `CLAIMED`) by RMW before it sleeps on
//!   the word with that exact value; the finishing RMW comes later in the
//!   word's modification order, sees the bit, and wakes. If it came first,
//!   the futex sees a changed value and does not sleep.

#[cfg(feature = "alloc")]
mod control;
#[cfg(feature = "std")]
mod handle;

#[cfg(feature = "alloc")]
pub use control::TimerControl;
#[cfg(feature = "std")]
pub use handle::TimerHandle;

#[cfg(feature = "alloc")]
use self::control::Control;
use crate::futex;
use crate::sync::{loom_const_fn, AtomicU32, Ordering};
use crate::take_cell::TakeCell;
use crate::time::{Deadline, Nanos};
use crate::timer_phase::{
    is_finished, phase, wait_until_finished, TimerState, CANCELLED, FIRED, FLAGS, PARKED, PHASE,
    RUNNING, WAITING,
};
use crate::unwind::on_unwind;
#[cfg(feature = "std")]
use crate::Precision;
#[cfg(feature = "alloc")]
use alloc::{boxed::Box, sync::Arc};
use core::fmt;
use core::time::Duration;
#[cfg(feature = "std")]
use std::thread;

/// `run` has been called.
const CLAIMED: u32 = FLAGS;

/// A one-shot timer: runs a function once after an interval, unless
/// cancelled first. Python's `threading.Timer`, minus its races.
///
/// - [`cancel`](Self::cancel) tells you whether it won: `true` exactly when
///   the function will never run. A cancelled timer's thread wakes at once.
/// - [`wait`](Self::wait) returns once the timer is finished (fired or
///   cancelled), even if the function panicked.
/// - With `std`, `start` runs it on a new thread, measuring
///   the interval from the call to `start` (Python measures from whenever the
///   new thread gets going). Without `std`, hand [`run`](Self::run) a thread
///   of your own, or give the timer to your runtime's spawner with
///   `start_with` (feature `alloc`).
///
/// The whole state is one atomic word plus the interval (16 bytes) and the
/// function; `run`, `cancel`, `wait` and `state` never allocate or lock.
///
/// # Examples
///
/// ```
/// use rallypoint::{Timer, TimerState};
/// use std::time::Duration;
///
/// let timer = Timer::new(Duration::from_secs(3600), || println!("an hour passed"));
/// std::thread::scope(|s| {
///     let runner = s.spawn(|| timer.run());
///     assert!(timer.cancel()); // wakes the runner at once
///     assert!(!runner.join().unwrap());
/// });
/// assert_eq!(timer.state(), TimerState::Cancelled);
/// ```
///
/// # Misuse and bad input
///
/// | What | Outcome |
/// |---|---|
/// | `run` called twice, or from two threads | the first call waits and fires; every other returns `false` at once |
/// | `cancel` before `run`/`start`, or twice | the first returns `true` and the function never runs; later calls return `false` |
/// | the function panics | the timer is `Fired` (waiters return), the panic resumes in `run`'s caller; `TimerHandle::join` returns it as `Err` |
/// | `Duration::ZERO` / `Duration::MAX` | fires at once / never fires, waits until cancelled; no overflow |
/// | `start` or `start_with` after `run` | panics: a timer runs once (Python raises `RuntimeError` for a second `start`) |
/// | dropping a `TimerHandle` | detaches the thread; the timer still fires while the process lives (or can still be cancelled through a `TimerControl`). Unlike Python, returning from `main` ends the process and its timer threads: keep the handle and `join` it |
/// | dropping a timer that never fired | drops the function unrun |
///
/// Each row is a test in `tests/timer.rs`.
pub struct Timer<F> {
    /// The state word, also the futex word.
    state: AtomicU32,
    interval: Nanos,
    function: TakeCell<F>,
}

impl<F: FnOnce()> Timer<F> {
    loom_const_fn! {
        /// Creates a timer that will run `function` once `interval` has
        /// passed since [`run`](Self::run) (or `start`) is called.
        ///
        /// `Duration::ZERO` fires at once; `Duration::MAX` (or anything over
        /// ~584 years) never fires, and waits until cancelled. `const`, so a
        /// timer can live in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        /// let timer = rallypoint::Timer::new(Duration::ZERO, || {});
        /// assert!(timer.run());
        /// assert!(timer.is_finished());
        /// ```
        #[must_use]
        pub fn new(interval: Duration, function: F) -> Self {
            Self {
                state: AtomicU32::new(WAITING),
                interval: Nanos::from_duration(interval),
                function: TakeCell::new(function),
            }
        }
    }

    /// Runs the timer on the calling thread: blocks until `interval` has
    /// passed since this call, then runs the function and returns `true`;
    /// returns `false` as soon as the timer is cancelled.
    ///
    /// Only the first call waits or fires; any later or concurrent call
    /// returns `false` at once. This is the `no_std` entry point: a runtime
    /// hands the timer one of its own threads.
    ///
    /// # Panics
    ///
    /// If the function panics, the timer still finishes (`Fired`, waiters
    /// return) and the panic continues in the caller. On a target without an
    /// OS, panics if no clock was registered with `set_clock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let timer = rallypoint::Timer::new(Duration::from_millis(20), || {});
    /// assert!(timer.run());
    /// assert!(start.elapsed() >= Duration::from_millis(20));
    /// assert!(!timer.run()); // one-shot
    /// ```
    pub fn run(&self) -> bool {
        self.run_until(self.interval.deadline())
    }

    /// [`run`](Self::run) with the deadline already computed (by `start`).
    fn run_until(&self, deadline: Option<Deadline>) -> bool {
        // The claim decides who waits; the phase CAS below decides who
        // fires. Acquire: a `false` returned because the timer was already
        // cancelled is decided from a value that synchronises with the
        // cancel's Release (free on x86, where every RMW is a full fence).
        let mut s = self.state.fetch_or(CLAIMED, Ordering::Acquire);
        if s & CLAIMED != 0 || phase(s) != WAITING {
            return false;
        }
        s |= CLAIMED;
        loop {
            if phase(s) != WAITING {
                debug_assert_eq!(phase(s), CANCELLED);
                return false;
            }
            // Decide by our own clock, never by the wait's return alone.
            if deadline.is_some_and(Deadline::has_passed) {
                let running = (s & !PHASE) | RUNNING;
                // One CAS decides between firing and `cancel()`. Acquire
                // pairs with a cancel's Release only in the failure case,
                // which we then re-examine.
                match self
                    .state
                    .compare_exchange(s, running, Ordering::Acquire, Ordering::Acquire)
                {
                    Ok(_) => {
                        self.fire();
                        return true;
                    }
                    Err(actual) => {
                        s = actual;
                        continue;
                    }
                }
            }
            // Parks until the deadline, a cancel, or a waiter's PARKED bit.
            futex::wait(&self.state, s, deadline);
            // Acquire: pairs with `cancel`'s AcqRel CAS.
            s = self.state.load(Ordering::Acquire);
        }
    }

    /// Runs the function; we won `WAITING -> RUNNING`. Publishes `FIRED`
    /// and wakes waiters whether it returns or unwinds.
    fn fire(&self) {
        #[allow(unsafe_code)] // The crate's one cell (SAFETY.md, "1. Every `unsafe` site").
        // We won the only `WAITING -> RUNNING` CAS the word will ever see.
        // SAFETY: the one and only access to the cell (SAFETY.md, "Timer: the function cell").
        let function = unsafe { self.function.take() };
        on_unwind(function, || self.finish());
        self.finish();
    }

    /// `RUNNING -> FIRED`, waking parked waiters.
    fn finish(&self) {
        // Release: pairs with `wait`'s Acquire loads, publishing the
        // function's effects. Only PARKED can change while RUNNING.
        let old = self.state.swap(FIRED | CLAIMED, Ordering::Release);
        debug_assert_eq!(phase(old), RUNNING);
        if old & PARKED != 0 {
            futex::wake_all(&self.state);
        }
    }
}

impl<F> Timer<F> {
    /// The interval the timer was created with (`Duration::MAX` for ~584
    /// years or more).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = rallypoint::Timer::new(Duration::from_millis(250), || {});
    /// assert_eq!(timer.interval(), Duration::from_millis(250));
    /// ```
    #[inline]
    pub fn interval(&self) -> Duration {
        self.interval.to_duration()
    }

    /// Where the timer is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Timer, TimerState};
    /// let timer = Timer::new(std::time::Duration::ZERO, || {});
    /// assert_eq!(timer.state(), TimerState::Waiting);
    /// timer.run();
    /// assert_eq!(timer.state(), TimerState::Fired);
    /// ```
    pub fn state(&self) -> TimerState {
        // Acquire: a caller who sees Fired also sees the function's effects.
        TimerState::of(self.state.load(Ordering::Acquire))
    }

    /// Whether the timer has fired (the function returned or panicked) or
    /// was cancelled: Python's `finished` event.
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = rallypoint::Timer::new(std::time::Duration::ZERO, || {});
    /// assert!(!timer.is_finished());
    /// timer.run();
    /// assert!(timer.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        // Acquire: as in `state`.
        is_finished(self.state.load(Ordering::Acquire))
    }

    /// Cancels the timer if the function has not started.
    ///
    /// Returns `true` exactly when this call guaranteed that the function
    /// will never run: the timer was waiting (counting down, or not yet
    /// started). Returns `false` if the function already started or
    /// finished, or the timer was already cancelled. A thread blocked in
    /// [`run`](Self::run) wakes at once. Allowed before `run`/`start`.
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = rallypoint::Timer::new(std::time::Duration::ZERO, || unreachable!());
    /// assert!(timer.cancel());
    /// assert!(!timer.cancel()); // already cancelled
    /// assert!(!timer.run());    // never fires
    /// ```
    pub fn cancel(&self) -> bool {
        // Acquire (here and on CAS failure): a `false` decided from a FIRED
        // or CANCELLED word synchronises with the Release that wrote it, so
        // the caller sees the function's (or the other canceller's) effects.
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if phase(s) != WAITING {
                return false;
            }
            let cancelled = (s & !(PHASE | PARKED)) | CANCELLED;
            // AcqRel: Release publishes the canceller's writes to waiters'
            // Acquire loads; one CAS decides between this and firing.
            match self
                .state
                .compare_exchange(s, cancelled, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // A runner sleeps on the word once CLAIMED is set.
                    if s & (CLAIMED | PARKED) != 0 {
                        futex::wake_all(&self.state);
                    }
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Blocks until the timer is finished: fired (the function returned or
    /// panicked) or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = rallypoint::Timer::new(Duration::from_millis(5), || {});
    /// std::thread::scope(|s| {
    ///     s.spawn(|| timer.run());
    ///     timer.wait();
    /// });
    /// assert!(timer.is_finished());
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the timer is finished or `timeout` passes; returns
    /// whether it is finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = rallypoint::Timer::new(Duration::MAX, || {});
    /// assert!(!timer.wait_timeout(Duration::from_millis(1)));
    /// timer.cancel();
    /// assert!(timer.wait_timeout(Duration::ZERO));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Deadline::after(timeout))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        // Acquire: pairs with the FIRED swap / cancel CAS (Release).
        let s = self.state.load(Ordering::Acquire);
        wait_until_finished(&self.state, s, deadline, is_finished)
    }
}

impl<F> Drop for Timer<F> {
    fn drop(&mut self) {
        // `&mut self`: no other thread can touch the timer any more.
        let s = self.state.load(Ordering::Relaxed);
        if phase(s) == WAITING || phase(s) == CANCELLED {
            #[allow(unsafe_code)]
            // Never taken: only the RUNNING winner takes it; `&mut self`
            // excludes every other access.
            // SAFETY: the one and only access to the cell (SAFETY.md, "Timer: the function cell").
            unsafe {
                self.function.drop_untaken()
            };
        }
    }
}

impl<F> fmt::Debug for Timer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("interval", &self.interval())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl<F: FnOnce() + Send> Control for Timer<F> {
    fn cancel(&self) -> bool {
        Timer::cancel(self)
    }
    fn state(&self) -> TimerState {
        Timer::state(self)
    }
    fn is_finished(&self) -> bool {
        Timer::is_finished(self)
    }
    fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        Timer::wait_until(self, deadline)
    }
    fn interval(&self) -> Duration {
        Timer::interval(self)
    }
}

#[cfg(feature = "alloc")]
impl<F: FnOnce() + Send + 'static> Timer<F> {
    /// Starts the timer on a thread of your runtime's choosing: the
    /// `no_std` + `alloc` counterpart of `start`.
    ///
    /// The interval is measured from this call. `spawn` receives the
    /// timer's body (which waits, then fires unless cancelled) and must
    /// run it once, on some thread that may block. Returns a handle that
    /// cancels, waits and observes the timer.
    ///
    /// # Panics
    ///
    /// If [`run`](Timer::run) was already called on this timer: a timer
    /// runs once. (Starting a cancelled timer is allowed; its body
    /// returns at once.)
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Timer, TimerState};
    /// use std::time::Duration;
    ///
    /// // Any spawner will do: a thread pool, an RTOS task, a kernel thread.
    /// let control = Timer::new(Duration::from_millis(5), || {})
    ///     .start_with(|body| {
    ///         std::thread::spawn(body);
    ///     });
    /// control.wait();
    /// assert_eq!(control.state(), TimerState::Fired);
    /// ```
    pub fn start_with(self, spawn: impl FnOnce(Box<dyn FnOnce() + Send>)) -> TimerControl {
        self.start_shared(spawn).0
    }

    /// Computes the deadline now, and gives `spawn` a body that runs the
    /// timer to it.
    fn start_shared<R>(
        self,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> R,
    ) -> (TimerControl, R) {
        // Relaxed: we own the timer (`self` by value), so no other thread
        // can reach the word; `run` set CLAIMED on this thread or before
        // the timer was moved here.
        assert!(
            self.state.load(Ordering::Relaxed) & CLAIMED == 0,
            "rallypoint: Timer::start/start_with called on a timer that was \
             already run; a timer runs once (create a new Timer to run again)"
        );
        let deadline = self.interval.deadline();
        let timer = Arc::new(self);
        let runner = Arc::clone(&timer);
        let spawned = spawn(Box::new(move || {
            runner.run_until(deadline);
        }));
        (TimerControl::new(timer), spawned)
    }
}

#[cfg(feature = "std")]
impl<F: FnOnce() + Send + 'static> Timer<F> {
    /// Runs the timer on a new thread, like Python's `Timer.start()`,
    /// measuring the interval from this call.
    ///
    /// # Panics
    ///
    /// If [`run`](Timer::run) was already called on this timer (a timer
    /// runs once; Python raises `RuntimeError` for a second `start`), or
    /// if the OS cannot create a thread. Starting a cancelled timer is
    /// allowed: its thread exits at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Timer;
    /// use std::time::Duration;
    ///
    /// let handle = Timer::new(Duration::from_secs(3600), || unreachable!()).start();
    /// assert!(handle.cancel()); // the thread wakes and exits at once
    /// handle.join().unwrap();
    /// ```
    pub fn start(self) -> TimerHandle {
        self.start_with_precision(Precision::Default)
    }

    /// [`start`](Self::start), choosing how precisely the timer's
    /// thread wakes for its deadline (see [`Precision`]; on Linux,
    /// `Precise` sets that thread's timer slack to 1 ns). Never early
    /// either way.
    ///
    /// # Panics
    ///
    /// If the OS cannot create a thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Precision, Timer};
    /// use std::time::Duration;
    ///
    /// let handle = Timer::new(Duration::from_millis(1), || {})
    ///     .start_with_precision(Precision::Precise);
    /// handle.join().unwrap();
    /// ```
    pub fn start_with_precision(self, precision: Precision) -> TimerHandle {
        let (control, thread) = self.start_shared(|body| {
            thread::Builder::new()
                .name("rallypoint-timer".into())
                .spawn(move || {
                    let _precision = crate::precision::apply(precision);
                    body();
                })
                .expect("rallypoint: failed to spawn the timer thread")
        });
        TimerHandle::new(control, thread)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn state_fits_in_sixteen_bytes_plus_the_function() {
        assert!(core::mem::size_of::<Timer<fn()>>() <= 16 + core::mem::size_of::<fn()>());
        let zst = || {};
        assert_eq!(core::mem::size_of_val(&Timer::new(Duration::ZERO, zst)), 16);
    }

    #[cfg(feature = "std")]
    #[test]
    #[should_panic(expected = "called on a timer that was already run")]
    fn start_after_run_panics() {
        let timer = Timer::new(Duration::ZERO, || {});
        assert!(timer.run());
        let _never = timer.start();
    }

    #[cfg(feature = "std")]
    #[test]
    fn start_after_cancel_is_allowed_and_exits_at_once() {
        let timer = Timer::new(Duration::from_secs(3600), || unreachable!());
        assert!(timer.cancel());
        let handle = timer.start();
        assert!(handle.wait_timeout(Duration::from_secs(10)));
        handle.join().unwrap();
    }

    #[test]
    fn phases_are_ordered_for_is_finished() {
        assert!(!is_finished(WAITING | CLAIMED | PARKED));
        assert!(!is_finished(RUNNING | CLAIMED));
        assert!(is_finished(FIRED));
        assert!(is_finished(CANCELLED | PARKED));
    }
}
