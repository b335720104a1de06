//! Errors returned by [`Barrier::wait`](crate::Barrier::wait).

use core::fmt;

/// Why a [`Barrier::wait`](crate::Barrier::wait) did not pass the barrier.
///
/// Python's `threading.Barrier` raises `BrokenBarrierError` in both cases;
/// like Java's `CyclicBarrier` (`TimeoutException` vs
/// `BrokenBarrierException`), rallypoint tells the party whose own timeout
/// broke the barrier apart from the parties it took down with it.
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
