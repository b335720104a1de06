//! [`TimerControl`]: a shared handle to a started [`Timer`], of any
//! function type (feature `alloc`).

use crate::time::Deadline;
use crate::timer_phase::TimerState;
#[cfg(doc)]
use crate::Timer; // the docs' links
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

/// What a [`TimerControl`] can do to a timer of any function type.
pub(super) trait Control: Send + Sync {
    fn cancel(&self) -> bool;
    fn state(&self) -> TimerState;
    fn is_finished(&self) -> bool;
    fn wait_until(&self, deadline: Option<Deadline>) -> bool;
    fn interval(&self) -> Duration;
}

/// A shared handle to a started timer: cancel it, wait for it, look at it.
///
/// Returned by [`Timer::start_with`]; `TimerHandle` (feature `std`)
/// adds `join` and `is_alive` for a timer on its own thread. Dropping it
/// detaches: the timer still fires while the process lives (see
/// `TimerHandle` on returning from `main`).
///
/// # Examples
///
/// ```
/// use rallypoint::{Timer, TimerControl, TimerState};
/// use std::time::Duration;
///
/// let control: TimerControl = Timer::new(Duration::from_secs(3600), || unreachable!())
///     .start_with(|body| {
///         std::thread::spawn(body);
///     });
/// let other = control.clone(); // for another thread
/// std::thread::spawn(move || assert!(other.cancel())).join().unwrap();
/// assert_eq!(control.state(), TimerState::Cancelled);
/// ```
#[derive(Clone)]
pub struct TimerControl {
    timer: Arc<dyn Control>,
}

impl TimerControl {
    /// The control of a started timer (`Timer::start_with`).
    pub(super) fn new(timer: Arc<dyn Control>) -> Self {
        Self { timer }
    }

    /// [`Timer::cancel`]: `true` exactly when the function will never run.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let control = Timer::new(Duration::from_secs(3600), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// assert!(control.cancel());
    /// assert!(!control.cancel()); // already cancelled
    /// ```
    pub fn cancel(&self) -> bool {
        self.timer.cancel()
    }

    /// [`Timer::wait`]: blocks until fired or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::{Timer, TimerState}; use std::time::Duration;
    /// let control = Timer::new(Duration::from_millis(5), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// control.wait();
    /// assert_eq!(control.state(), TimerState::Fired);
    /// ```
    pub fn wait(&self) {
        self.timer.wait_until(None);
    }

    /// [`Timer::wait_timeout`]: returns whether the timer is finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let control = Timer::new(Duration::from_secs(3600), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// assert!(!control.wait_timeout(Duration::from_millis(1)));
    /// control.cancel();
    /// assert!(control.wait_timeout(Duration::from_secs(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.timer.wait_until(Deadline::after(timeout))
    }

    /// [`Timer::state`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::{Timer, TimerState}; use std::time::Duration;
    /// let control = Timer::new(Duration::from_secs(3600), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// assert_eq!(control.state(), TimerState::Waiting);
    /// control.cancel();
    /// assert_eq!(control.state(), TimerState::Cancelled);
    /// ```
    pub fn state(&self) -> TimerState {
        self.timer.state()
    }

    /// [`Timer::is_finished`]: fired or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let control = Timer::new(Duration::from_secs(3600), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// assert!(!control.is_finished());
    /// control.cancel();
    /// assert!(control.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.timer.is_finished()
    }

    /// [`Timer::interval`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use rallypoint::Timer; use std::time::Duration;
    /// let control = Timer::new(Duration::from_secs(3600), || {})
    ///     .start_with(|body| { std::thread::spawn(body); });
    /// assert_eq!(control.interval(), Duration::from_secs(3600));
    /// control.cancel();
    /// ```
    pub fn interval(&self) -> Duration {
        self.timer.interval()
    }
}

impl fmt::Debug for TimerControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerControl")
            .field("interval", &self.interval())
            .field("state", &self.state())
            .finish()
    }
}
