//! [`TimerHandle`]: a [`Timer`] running on its own thread (feature `std`).

use super::control::TimerControl;
use crate::timer_phase::TimerState;
#[cfg(doc)]
use crate::Timer; // the docs' links
use core::time::Duration;
use std::thread::{self, JoinHandle};

/// A timer running on its own thread: Python's started `Timer`.
///
/// Returned by [`Timer::start`]. Dropping the handle detaches the
/// thread: the timer still fires, **but only while the process lives**.
/// Python keeps the interpreter alive until a (non-daemon) timer thread
/// ends; Rust does not: when `main` returns, the process exits and a
/// detached timer that has not fired yet never does. So keep the handle
/// and [`join`](Self::join) it (or [`wait`](Self::wait) on it) before
/// `main` returns.
///
/// # Examples
///
/// ```
/// use rallypoint::Timer;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let fired = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&fired);
/// let handle = Timer::new(Duration::from_millis(10), move || {
///     flag.store(true, Ordering::Release);
/// })
/// .start();
/// // Without this join, returning from `main` here could end the
/// // process before the timer fires.
/// handle.join().unwrap();
/// assert!(fired.load(Ordering::Acquire));
/// ```
#[derive(Debug)]
pub struct TimerHandle {
    control: TimerControl,
    thread: JoinHandle<()>,
}

impl TimerHandle {
    /// The handle of a timer started on `thread` (`Timer::start`).
    pub(super) fn new(control: TimerControl, thread: JoinHandle<()>) -> Self {
        Self { control, thread }
    }

    /// Cancels the timer: `true` exactly when the function will never
    /// run. The timer's thread wakes and exits at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || unreachable!()).start();
    /// assert!(handle.cancel());
    /// assert!(!handle.cancel()); // already cancelled
    /// handle.join().unwrap();
    /// ```
    pub fn cancel(&self) -> bool {
        self.control.cancel()
    }

    /// Waits for the timer's thread to exit.
    ///
    /// # Errors
    ///
    /// The function's panic payload, if it panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let ok = Timer::new(Duration::from_millis(1), || {}).start();
    /// assert!(ok.join().is_ok());
    ///
    /// let panics = Timer::new(Duration::from_millis(1), || panic!("boom")).start();
    /// assert!(panics.join().is_err());
    /// ```
    pub fn join(self) -> thread::Result<()> {
        self.thread.join()
    }

    /// Whether the timer's thread is still running (Python's
    /// `is_alive()`): true until it has exited.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || {}).start();
    /// assert!(handle.is_alive());
    /// handle.cancel();
    /// // The thread exits soon after; join waits for that.
    /// handle.join().unwrap();
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Whether the timer fired or was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_millis(1), || {}).start();
    /// handle.wait();
    /// assert!(handle.is_finished());
    /// handle.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.control.is_finished()
    }

    /// Where the timer is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::{Timer, TimerState}; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || {}).start();
    /// assert_eq!(handle.state(), TimerState::Waiting);
    /// handle.cancel();
    /// assert_eq!(handle.state(), TimerState::Cancelled);
    /// handle.join().unwrap();
    /// ```
    pub fn state(&self) -> TimerState {
        self.control.state()
    }

    /// The timer's interval.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || {}).start();
    /// assert_eq!(handle.interval(), Duration::from_secs(3600));
    /// handle.cancel();
    /// handle.join().unwrap();
    /// ```
    pub fn interval(&self) -> Duration {
        self.control.interval()
    }

    /// Blocks until the timer fired or was cancelled (the thread may
    /// still be exiting; use [`join`](Self::join) to wait for that).
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::{Timer, TimerState}; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_millis(5), || {}).start();
    /// handle.wait();
    /// assert_eq!(handle.state(), TimerState::Fired);
    /// handle.join().unwrap();
    /// ```
    pub fn wait(&self) {
        self.control.wait();
    }

    /// Like [`wait`](Self::wait), for at most `timeout`; returns whether
    /// the timer is finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || {}).start();
    /// assert!(!handle.wait_timeout(Duration::from_millis(1)));
    /// handle.cancel();
    /// assert!(handle.wait_timeout(Duration::from_secs(5)));
    /// handle.join().unwrap();
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.control.wait_timeout(timeout)
    }

    /// A cloneable handle to the same timer, for other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let handle = Timer::new(Duration::from_secs(3600), || unreachable!()).start();
    /// let control = handle.control();
    /// std::thread::spawn(move || assert!(control.cancel())).join().unwrap();
    /// handle.join().unwrap();
    /// ```
    pub fn control(&self) -> TimerControl {
        self.control.clone()
    }
}
