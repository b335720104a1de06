//! Errors returned by [`Barrier::wait`](crate::Barrier::wait).

use core::fmt;

/// Why a [`Barrier::wait`](crate::Barrier::wait) did not pass the barrier.
///
/// Python's `threading.Barrier` raises `BrokenBarrierError` in both cases;
/// like Java's `CyclicBarrier` (`TimeoutException` vs
/// `BrokenBarrierException`), rallypoint tells the party whose own timeout
/// broke the barrier apart from the parties it took down with it.
///
/// # Examples
///
/// ```
/// use rallypoint::{Barrier, BarrierError};
/// use std::time::Duration;
///
/// let barrier = Barrier::new(2);
/// // Nobody else comes: this party's own timeout breaks the barrier...
/// assert_eq!(barrier.wait_timeout(Duration::from_millis(1)), Err(BarrierError::TimedOut));
/// // ...and every later wait fails at once until `reset()`.
/// assert_eq!(barrier.wait(), Err(BarrierError::Broken));
/// assert_eq!(BarrierError::Broken.to_string(), "barrier is broken");
/// barrier.reset();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BarrierError {
    /// The barrier is broken: `abort()` was called, another party's timeout
    /// elapsed, the action panicked, or `reset()` was called while this
    /// party waited. Every later `wait` fails the same way until `reset()`.
    Broken,
    /// This party's own timeout elapsed before its generation was complete;
    /// the barrier is now broken for everyone.
    TimedOut,
}

impl fmt::Display for BarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Broken => "barrier is broken",
            Self::TimedOut => "timed out waiting at the barrier (the barrier is now broken)",
        })
    }
}

impl core::error::Error for BarrierError {}
