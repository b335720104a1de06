//! [`ScheduledTimer`]: the handle to a timer on a `TimerQueue`, one counted
//! reference to its node. Its cancel is one CAS on the node's state word
//! (plus one push if the driver already filed the node); its wait parks on
//! the same word, as `Timer`'s does (`timer_phase.rs`).

use super::body::counter_get;
use super::current;
use super::driver::RECLAIM_BYTES;
#[cfg(feature = "std")]
use super::entry::PANICKED;
use super::entry::{is_finished, Owned, INFLIGHT, LINKED, STOPPED};
use super::inbox::{TAG_PARKED, TAG_SHUTDOWN};
use super::shared::Cancel;
use crate::sync::Ordering;
use crate::time::Deadline;
use crate::timer_phase::{
    phase, wait_until_finished, TimerState, CANCELLED, FIRED, RUNNING, WAITING,
};
use core::fmt;
use core::time::Duration;

/// A timer scheduled on a [`TimerQueue`]: cancel it, wait for it, look at
/// it. Clones share the one timer; dropping it detaches (the timer still
/// runs).
///
/// [`TimerQueue`]: crate::TimerQueue
///
/// # Examples
///
/// ```
/// use rallypoint::{TimerQueue, TimerState};
/// use std::time::Duration;
/// let queue = TimerQueue::new();
/// let timer = queue.schedule(Duration::ZERO, || {});
/// let clone = timer.clone(); // the same timer, for another thread
/// assert!(clone.ptr_eq(&timer));
/// queue.fire_due();
/// assert_eq!(clone.state(), TimerState::Fired);
/// ```
#[derive(Clone)]
pub struct ScheduledTimer {
    node: Owned,
}

impl ScheduledTimer {
    /// The handle of a scheduled timer: the caller's reference to its node.
    pub(super) fn new(node: Owned) -> Self {
        Self { node }
    }

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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{TimerQueue, TimerState};
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let once = queue.schedule(Duration::from_secs(60), || unreachable!());
    /// assert!(once.cancel()); // it will never run
    /// assert!(!once.cancel()); // already cancelled
    ///
    /// let tick = queue.schedule_repeating(Duration::from_millis(1), || {});
    /// while tick.runs() == 0 {
    ///     if let Some(wait) = queue.fire_due() {
    ///         std::thread::sleep(wait);
    ///     }
    /// }
    /// assert!(tick.cancel()); // no run starts after this
    /// assert_eq!(tick.state(), TimerState::Cancelled);
    /// ```
    pub fn cancel(&self) -> bool {
        let node = &self.node;
        let mut s = node.state().load(Ordering::Relaxed);
        loop {
            match phase(s) {
                WAITING => match Cancel::try_new(node, s) {
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
    fn finish_cancel(cancel: &Cancel<'_>, size: usize) -> bool {
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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{TimerQueue, TimerState};
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let timer = queue.schedule(Duration::ZERO, || {});
    /// assert_eq!(timer.state(), TimerState::Waiting);
    /// queue.fire_due();
    /// assert_eq!(timer.state(), TimerState::Fired);
    /// ```
    pub fn state(&self) -> TimerState {
        // Acquire: a caller who sees a final state sees the function's
        // (or the canceller's) effects.
        let s = self.node.state().load(Ordering::Acquire);
        if s & INFLIGHT != 0 {
            // A cancel in flight has not finished (see `entry::is_finished`).
            return TimerState::Waiting;
        }
        TimerState::of(s)
    }

    /// Whether the timer is `Fired` or `Cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let timer = queue.schedule(Duration::from_secs(60), || {});
    /// assert!(!timer.is_finished());
    /// timer.cancel();
    /// assert!(timer.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        // Acquire: as in `state`.
        is_finished(self.node.state().load(Ordering::Acquire))
    }

    /// Whether the timer repeats.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// assert!(!queue.schedule(Duration::ZERO, || {}).is_repeating());
    /// assert!(queue.schedule_repeating(Duration::from_secs(1), || {}).is_repeating());
    /// ```
    pub fn is_repeating(&self) -> bool {
        self.node.repeat().is_some()
    }

    /// Blocks until the timer is finished (never misses it).
    ///
    /// # Panics
    ///
    /// Called from a callback of the timer's own queue (with `std`) on a
    /// timer that is not finished: the driver that must finish it is the
    /// thread that would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let queue = Arc::new(TimerQueue::new());
    /// let driver = std::thread::spawn({
    ///     let queue = Arc::clone(&queue);
    ///     move || queue.run()
    /// });
    /// let timer = queue.schedule(Duration::from_millis(2), || {});
    /// timer.wait(); // parks until the driver has run it
    /// assert!(timer.is_finished());
    /// queue.shutdown();
    /// driver.join().unwrap();
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the timer is finished or `timeout` passes; returns
    /// whether it is finished.
    ///
    /// # Panics
    ///
    /// Called from a callback of the timer's own queue (with `std`) on a
    /// timer that is not finished: the driver that must finish it is the
    /// thread that would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new(); // nobody drives it
    /// let timer = queue.schedule(Duration::ZERO, || {});
    /// assert!(!timer.wait_timeout(Duration::from_millis(1))); // due, but not run
    /// queue.fire_due();
    /// assert!(timer.wait_timeout(Duration::ZERO));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Deadline::after(timeout))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        let state = self.node.state();
        // Acquire: pairs with the finishing transitions (Release).
        let s = state.load(Ordering::Acquire);
        // A `CANCELLED | INFLIGHT` word waits only for its canceller, not
        // for the driver.
        if !is_finished(s) && phase(s) != CANCELLED && current::drives(self.node.queue_addr()) {
            Self::refuse_wait_on_own_driver();
        }
        wait_until_finished(state, s, deadline, is_finished)
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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let once = queue.schedule(Duration::ZERO, || {});
    /// assert_eq!(once.runs(), 0);
    /// queue.fire_due();
    /// assert_eq!(once.runs(), 1);
    /// ```
    pub fn runs(&self) -> u64 {
        match self.node.repeat() {
            Some(r) => counter_get(&r.runs),
            // Acquire: as in `state`.
            None => u64::from(phase(self.node.state().load(Ordering::Acquire)) == FIRED),
        }
    }

    /// Repeating timers: periods skipped because a run (or the driver) was
    /// so late that their due time had passed. Always 0 for one-shots.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let tick = queue.schedule_repeating(Duration::from_millis(1), || {});
    /// std::thread::sleep(Duration::from_millis(5)); // nobody drives meanwhile
    /// queue.fire_due(); // one run now; the periods since are skipped
    /// assert_eq!(tick.runs(), 1);
    /// assert!(tick.missed() >= 3);
    /// assert_eq!(queue.schedule(Duration::ZERO, || {}).missed(), 0);
    /// ```
    pub fn missed(&self) -> u64 {
        self.node.repeat().map_or(0, |r| counter_get(&r.missed))
    }

    /// Waits until the timer is finished.
    ///
    /// # Errors
    ///
    /// The panic payload if the function panicked (the first `join` of
    /// the clones gets the payload, later ones a message saying so).
    ///
    /// # Panics
    ///
    /// Called from a callback of the timer's own queue (with `std`) on a
    /// timer that is not finished: the driver that must finish it is the
    /// thread that would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let ok = queue.schedule(Duration::ZERO, || {});
    /// let panics = queue.schedule(Duration::ZERO, || panic!("boom"));
    /// queue.fire_due(); // catches the panic
    /// assert!(ok.join().is_ok());
    /// assert!(panics.join().is_err());
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::TimerQueue;
    /// use std::time::Duration;
    /// let queue = TimerQueue::new();
    /// let a = queue.schedule(Duration::from_secs(60), || {});
    /// let b = queue.schedule(Duration::from_secs(60), || {});
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&b));
    /// ```
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
